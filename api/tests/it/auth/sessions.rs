//! Sign-in, sessions, bearer tokens and sign-out.

use chrono::Duration;
use entity::session;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::{assert_error, parts, set_cookies, TestServer};

use super::cookie_token;

async fn sign_in_is_uniform_on_failure(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("carol@example.com", "password123").await;
    let wrong = parts(
        b.post(
            "/sign-in/email",
            json!({"email": "carol@example.com", "password": "password124"}),
        )
        .await,
    )
    .await;
    let unknown = parts(
        b.post(
            "/sign-in/email",
            json!({"email": "nobody@example.com", "password": "password124"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        wrong,
        (
            401,
            json!({"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD"})
        )
    );
    assert_eq!(unknown, wrong);
    assert_error(
        b.post("/sign-in/email", json!({"email": "carol", "password": "x"}))
            .await,
        400,
        "INVALID_EMAIL",
    )
    .await;

    let fresh = server.browser();
    let r = fresh.post("/sign-in/email", json!({"email": "CAROL@example.com", "password": "password123", "callbackURL": "/dashboard"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["location"], "/dashboard");
    let (_, body) = parts(r).await;
    assert_eq!(
        (body["redirect"].as_bool(), body["url"].as_str()),
        (Some(true), Some("/dashboard"))
    );
    let plain = parts(
        fresh
            .post(
                "/sign-in/email",
                json!({"email": "carol@example.com", "password": "password123"}),
            )
            .await,
    )
    .await
    .1;
    assert_eq!(plain["redirect"], false);
    assert!(
        plain.get("url").is_none(),
        "url is omitted without callbackURL"
    );
    assert_ne!(
        plain["token"], body["token"],
        "every sign-in gets a new token"
    );
}

async fn remember_me_false_is_a_browser_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("dan@example.com", "password123").await;
    let r = b
        .post(
            "/sign-in/email",
            json!({"email": "dan@example.com", "password": "password123", "rememberMe": false}),
        )
        .await;
    let cookies = set_cookies(&r);
    let token = cookie_token(&cookies);
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .unwrap();
    assert!(!session_cookie.contains("Max-Age"), "{session_cookie}");
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("better-auth.dont_remember=")));
    let row = session::Entity::find()
        .filter(session::Column::Token.eq(hex::encode(Sha256::digest(token.as_bytes()))))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.expires_at - row.created_at, Duration::days(1));
    // Never extended, even when a refresh would be due.
    server.clock.advance(Duration::hours(23));
    let r = b.get("/get-session").await;
    assert!(set_cookies(&r).is_empty());
    assert_eq!(
        parts(r).await.1["session"]["expiresAt"],
        crate::harness_date(row.expires_at)
    );
}

async fn sessions_slide_and_expire(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let token = b.sign_up("erin@example.com", "password123").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = b.json("/get-session").await["session"]["expiresAt"].clone();
    server.clock.advance(Duration::hours(2));
    let r = b.get("/get-session").await;
    assert!(set_cookies(&r).is_empty(), "no refresh before updateAge");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(parts(r).await.1["session"]["expiresAt"], first);

    server.clock.advance(Duration::days(1));
    let skipped = b.get("/get-session?disableRefresh=false").await;
    assert!(
        set_cookies(&skipped).is_empty(),
        "disableRefresh (any value) skips the renewal"
    );
    assert_eq!(parts(skipped).await.1["session"]["expiresAt"], first);
    let r = b.get("/get-session").await;
    let cookies = set_cookies(&r);
    assert_eq!(
        cookie_token(&cookies),
        token,
        "the refresh re-sends the same token"
    );
    let renewed = parts(r).await.1["session"]["expiresAt"].clone();
    assert_ne!(renewed, first);

    server.clock.advance(Duration::days(8));
    let r = b.get("/get-session").await;
    let cleared = set_cookies(&r);
    assert_eq!(cleared.len(), 3, "{cleared:?}");
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(parts(r).await, (200, serde_json::Value::Null));
    assert_eq!(
        session::Entity::find().count(&server.db).await.unwrap(),
        0,
        "the expired row is deleted"
    );
}

async fn bearer_tokens_and_tampering(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let r = b
        .post(
            "/sign-up/email",
            json!({"name": "F", "email": "f@example.com", "password": "password123"}),
        )
        .await;
    let auth_token = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    let token = parts(r).await.1["token"].as_str().unwrap().to_owned();
    assert_eq!(auth_token, crate::harness_signature(&token));
    for bearer in [auth_token.clone(), token.clone()] {
        let me: serde_json::Value = server
            .http
            .get(server.url("/api/auth/get-session"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["user"]["email"], "f@example.com");
    }
    let forged = format!("better-auth.session_token={token}.{}", "A".repeat(43) + "=");
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert!(
        set_cookies(&r).is_empty(),
        "a bad signature is ignored, not cleared"
    );
    assert_eq!(parts(r).await, (200, serde_json::Value::Null));
    // The stored digest is not a credential.
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(&digest)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(r).await.1, serde_json::Value::Null);
}

async fn sign_out_ends_the_session_server_side(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let token = b.sign_up("gina@example.com", "password123").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = b.post("/sign-out", json!({})).await;
    assert_eq!(set_cookies(&r).len(), 3);
    assert_eq!(parts(r).await, (200, json!({"success": true})));
    let replay = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(replay).await.1, serde_json::Value::Null);
    assert_eq!(session::Entity::find().count(&server.db).await.unwrap(), 0);
    let anonymous = server
        .http
        .post(server.url("/api/auth/sign-out"))
        .send()
        .await
        .unwrap();
    assert_eq!(parts(anonymous).await, (200, json!({"success": true})));
}

/// Session lookups arriving together are answered by one batched statement: under concurrency
/// each request still gets exactly its own session (a token asked for twice gets it twice), an
/// unknown token gets none, and a session ended a moment before is not found.
async fn concurrent_lookups_each_find_their_own_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut users = Vec::new();
    for i in 0..12 {
        let email = format!("batch{i}@example.com");
        let token = server.browser().sign_up(&email, "password123").await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        users.push((email, token));
    }
    let ended = users.pop().unwrap();
    let r = server
        .http
        .post(server.url("/api/auth/sign-out"))
        .bearer_auth(&ended.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut asks: Vec<(Option<String>, String)> = Vec::new();
    for _ in 0..4 {
        asks.extend(users.iter().map(|(e, t)| (Some(e.clone()), t.clone())));
        asks.push((None, ended.1.clone()));
        asks.push((None, "no-such-token".to_owned()));
    }
    let requests: Vec<_> = asks
        .iter()
        .map(|(_, token)| {
            let request = server
                .http
                .get(server.url("/api/auth/get-session"))
                .bearer_auth(token);
            tokio::spawn(async move { parts(request.send().await.unwrap()).await })
        })
        .collect();
    let mut answers = Vec::new();
    for r in requests {
        answers.push(r.await.unwrap());
    }
    for ((email, _), (status, body)) in asks.iter().zip(answers) {
        assert_eq!(status, 200);
        match email {
            Some(email) => assert_eq!(body["user"]["email"], json!(email)),
            None => assert_eq!(body, serde_json::Value::Null),
        }
    }
}

db_tests!(
    concurrent_lookups_each_find_their_own_session,
    sign_in_is_uniform_on_failure,
    remember_me_false_is_a_browser_session,
    sessions_slide_and_expire,
    bearer_tokens_and_tampering,
    sign_out_ends_the_session_server_side,
);
