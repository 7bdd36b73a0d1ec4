//! Password reset by mail.

use chrono::Duration;
use entity::{session, verification};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::fixtures::{reset_link, reset_token, reset_token_of};
use crate::harness::{assert_error, assert_error_for, parts, Browser, TestServer};

use super::{local, no_redirects};

/// Olga (signed in twice) asks for a reset link through a request with a forged Host, with
/// `/reset` to land on; another address without an account asks too. Returns Olga's browser,
/// her other browser, the two answers and the link mailed to her.
struct OlgaReset {
    b: Browser,
    other: Browser,
    answers: [(u16, Value); 2],
    link: String,
}

async fn olga_asks_for_a_reset(server: &TestServer) -> OlgaReset {
    let (b, other) = (server.browser(), server.browser());
    b.sign_up("olga@example.com", "password123").await;
    other
        .post(
            "/sign-in/email",
            json!({"email": "olga@example.com", "password": "password123"}),
        )
        .await;
    let r = server
        .http
        .post(server.url("/api/auth/request-password-reset"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .json(&json!({"email": "OLGA@example.com", "redirectTo": "/reset"}))
        .send()
        .await
        .unwrap();
    let for_olga = parts(r).await;
    let for_nobody = parts(
        b.post(
            "/request-password-reset",
            json!({"email": "nobody@example.com"}),
        )
        .await,
    )
    .await;
    let link = reset_link(&server.mail.wait("olga@example.com", 1).await);
    OlgaReset {
        b,
        other,
        answers: [for_olga, for_nobody],
        link,
    }
}

/// The answer is the same with and without an account; only an account gets mail, with a link
/// built from the configured URL whatever the Host said.
async fn a_reset_request_answers_alike(db: TestDb) {
    let server = TestServer::start(&db).await;
    let OlgaReset { answers, link, .. } = olga_asks_for_a_reset(&server).await;
    let ok = json!({"status": true, "message": "If this email exists in our system, check your email for the reset link"});
    assert_eq!(answers[0], (200, ok.clone()));
    assert_eq!(answers[1], (200, ok));
    assert!(link.ends_with("?callbackURL=%2Freset"), "{link}");
    assert!(server.mail.to("nobody@example.com").is_empty());
}

/// The mailed link lands on the callback with the token, sends no Referer, and the token is
/// stored hashed.
async fn the_reset_link_lands_on_the_callback(db: TestDb) {
    let server = TestServer::start(&db).await;
    let OlgaReset { link, .. } = olga_asks_for_a_reset(&server).await;
    let token = reset_token_of(&link);
    let landing = no_redirects()
        .get(local(&server, &link))
        .send()
        .await
        .unwrap();
    assert_eq!(landing.status(), 302);
    assert_eq!(
        landing.headers()["location"],
        format!("/reset?token={token}").as_str()
    );
    assert_eq!(landing.headers()["referrer-policy"], "no-referrer");
    // The secret is stored hashed.
    let rows = verification::Entity::find().all(&server.db).await.unwrap();
    assert!(rows
        .iter()
        .all(|r| !r.identifier.contains(&token) && !r.value.contains(&token)));
}

/// A reset checks the new password, sets it, ends every session, and works once.
async fn a_reset_sets_the_password_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    let OlgaReset { b, other, link, .. } = olga_asks_for_a_reset(&server).await;
    let token = reset_token_of(&link);
    assert_error(
        b.post(
            "/reset-password",
            json!({"newPassword": "short", "token": token}),
        )
        .await,
        400,
        "PASSWORD_TOO_SHORT",
    )
    .await;
    assert_eq!(
        parts(
            b.post(
                "/reset-password",
                json!({"newPassword": "brand-new-pass", "token": token})
            )
            .await
        )
        .await,
        (200, json!({"status": true}))
    );
    assert_eq!(
        session::Entity::find().count(&server.db).await.unwrap(),
        0,
        "a reset ends every session"
    );
    assert_eq!(other.json("/get-session").await, serde_json::Value::Null);
    assert_error(
        b.post(
            "/reset-password",
            json!({"newPassword": "another-pass-1", "token": token}),
        )
        .await,
        400,
        "INVALID_TOKEN",
    )
    .await;
    let old = server
        .browser()
        .post(
            "/sign-in/email",
            json!({"email": "olga@example.com", "password": "password123"}),
        )
        .await
        .status();
    let new = server
        .browser()
        .post(
            "/sign-in/email",
            json!({"email": "olga@example.com", "password": "brand-new-pass"}),
        )
        .await
        .status();
    assert_eq!((old.as_u16(), new.as_u16()), (401, 200));
    // The landing link no longer works either.
    let landing = no_redirects()
        .get(local(&server, &link))
        .send()
        .await
        .unwrap();
    assert_eq!(landing.headers()["location"], "/reset?error=INVALID_TOKEN");
}

/// 20 concurrent resets with one token: exactly one wins, and the stored password is the winner's.
async fn a_reset_token_is_used_once_under_concurrency(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("pia@example.com", "password123").await;
    b.post(
        "/request-password-reset",
        json!({"email": "pia@example.com"}),
    )
    .await;
    let token = reset_token(&server, "pia@example.com", 1).await;
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let http = server.http.clone();
            let url = server.url("/api/auth/reset-password");
            let token = token.clone();
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .json(&json!({"newPassword": format!("concurrent-{i:02}"), "token": token}))
                    .send()
                    .await
                    .unwrap();
                (i, r.status().as_u16())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for a in attempts {
        let (i, status) = a.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        if status == 200 {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let signed_in = server.browser().post("/sign-in/email", json!({"email": "pia@example.com", "password": format!("concurrent-{:02}", winners[0])})).await;
    assert_eq!(signed_in.status(), 200);
}

/// quinn@, signed up, who asks for a reset link `times` times.
async fn quinn_asks_for_resets(server: &TestServer, times: usize) -> Browser {
    let b = server.browser();
    b.sign_up("quinn@example.com", "password123").await;
    for _ in 0..times {
        b.post(
            "/request-password-reset",
            json!({"email": "quinn@example.com"}),
        )
        .await;
    }
    b
}

async fn a_reset_token_expires_after_an_hour(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = quinn_asks_for_resets(&server, 1).await;
    let first = reset_token(&server, "quinn@example.com", 1).await;
    server.clock.advance(Duration::seconds(3601));
    assert_error_for(
        b.post(
            "/reset-password",
            json!({"newPassword": "new-password-1", "token": first}),
        )
        .await,
        400,
        "INVALID_TOKEN",
        "expired after an hour",
    )
    .await;
}

async fn a_newer_reset_request_voids_the_older_link(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = quinn_asks_for_resets(&server, 2).await;
    // A newer request voids the older link: of the two mailed, exactly one works (the one
    // issued last; the two requests run concurrently in the background, so either may be it).
    let (second, third) = (
        reset_token(&server, "quinn@example.com", 1).await,
        reset_token(&server, "quinn@example.com", 2).await,
    );
    let mut usable = Vec::new();
    for token in [&second, &third] {
        // Opening a link checks it without using it up.
        let r = no_redirects()
            .get(server.url(&format!(
                "/api/auth/reset-password/{token}?callbackURL=%2Fcb"
            )))
            .send()
            .await
            .unwrap();
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        if !location.contains("error=INVALID_TOKEN") {
            usable.push(token.clone());
        }
    }
    assert_eq!(usable.len(), 1, "one link, the newest, works: {usable:?}");
    assert_eq!(
        parts(
            b.post(
                "/reset-password",
                json!({"newPassword": "new-password-2", "token": usable[0]})
            )
            .await
        )
        .await
        .0,
        200
    );
}

db_tests!(
    a_reset_request_answers_alike,
    the_reset_link_lands_on_the_callback,
    a_reset_sets_the_password_once,
    a_reset_token_is_used_once_under_concurrency,
    a_reset_token_expires_after_an_hour,
    a_newer_reset_request_voids_the_older_link,
);
