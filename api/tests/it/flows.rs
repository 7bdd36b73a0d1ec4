//! Mail-driven flows over HTTP with real SMTP delivery to a local sink: password reset, e-mail
//! verification and change, account deletion.

use chrono::Duration;
use entity::{session, user, verification};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fixtures::{reset_link, reset_token, reset_token_of, Org, User};
use crate::harness::{assert_error, assert_error_for, parts, Browser, TestServer, ORIGIN};
use crate::smtp::MailSink;

/// A link from a mail, pointed at the test server (mails use the configured base URL).
fn local(server: &TestServer, link: &str) -> String {
    assert!(
        link.starts_with(ORIGIN),
        "links are built from BETTER_AUTH_URL: {link}"
    );
    format!("{}{}", server.base, &link[ORIGIN.len()..])
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

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

async fn verifying_an_address(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("rita@example.com", "password123").await;
    assert!(
        server.mail.to("rita@example.com").is_empty(),
        "no mail on sign-up unless configured"
    );
    assert_error(
        b.post(
            "/send-verification-email",
            json!({"email": "other@example.com"}),
        )
        .await,
        400,
        "EMAIL_MISMATCH",
    )
    .await;
    assert_eq!(
        parts(
            b.post(
                "/send-verification-email",
                json!({"email": "rita@example.com", "callbackURL": "/verified"})
            )
            .await
        )
        .await,
        (200, json!({"status": true}))
    );
    let mail = server.mail.wait("rita@example.com", 1).await;
    let link = MailSink::link(&mail, &format!("{ORIGIN}/api/auth/verify-email?token="));
    assert!(link.ends_with("&callbackURL=%2Fverified"), "{link}");
    let r = no_redirects()
        .get(local(&server, &link))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (302, "/verified")
    );
    assert_eq!(b.json("/get-session").await["user"]["emailVerified"], true);
    let again = no_redirects()
        .get(local(&server, &link))
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["location"], "/verified?error=INVALID_TOKEN");
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let json_answer = parts(
        server
            .get(&format!("/api/auth/verify-email?token={token}"))
            .await,
    )
    .await;
    assert_eq!(
        json_answer,
        (
            401,
            json!({"message": "Invalid token", "code": "INVALID_TOKEN"})
        )
    );
    assert_error(
        b.post(
            "/send-verification-email",
            json!({"email": "rita@example.com"}),
        )
        .await,
        400,
        "EMAIL_ALREADY_VERIFIED",
    )
    .await;
}

/// Without a session: always success; mail only to an existing unverified user.
async fn asking_for_verification_without_a_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    assert_eq!(
        parts(
            anonymous
                .post(
                    "/send-verification-email",
                    json!({"email": "ghost@example.com"})
                )
                .await
        )
        .await
        .0,
        200
    );
    assert!(server.mail.to("ghost@example.com").is_empty());
}

async fn required_verification_gates_sign_in(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.require_email_verification = true;
        c.send_verification_on_sign_up = true;
    })
    .await;
    let b = server.browser();
    let signed_up = b.sign_up("sam@example.com", "password123").await;
    assert!(
        signed_up["token"].is_null(),
        "no session before verification"
    );
    let sign_in = json!({"email": "sam@example.com", "password": "password123"});
    assert_error(
        b.post("/sign-in/email", sign_in.clone()).await,
        403,
        "EMAIL_NOT_VERIFIED",
    )
    .await;
    let wrong = parts(
        b.post(
            "/sign-in/email",
            json!({"email": "sam@example.com", "password": "password124"}),
        )
        .await,
    )
    .await;
    assert_eq!(wrong.0, 401, "the 403 comes only after the password check");
    // A second sign-up with the address answers like a new one, stores nothing, and tells the owner.
    let again = parts(
        server
            .browser()
            .post(
                "/sign-up/email",
                json!({"name": "Imposter", "email": "sam@example.com", "password": "password456"}),
            )
            .await,
    )
    .await;
    assert_eq!(again.0, 200);
    assert!(again.1["token"].is_null());
    assert_ne!(again.1["user"]["id"], signed_up["user"]["id"]);
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 1);
    let notice = server.mail.wait("sam@example.com", 2).await;
    assert!(
        notice.text.contains("Someone tried to create an account"),
        "{}",
        notice.text
    );
    let mail = server.mail.wait("sam@example.com", 1).await;
    let link = MailSink::link(&mail, &format!("{ORIGIN}/api/auth/verify-email?token="));
    let verified = parts(
        server
            .http
            .get(local(&server, &link).replace("&callbackURL=%2F", ""))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(verified, (200, json!({"status": true, "user": null})));
    assert_eq!(b.post("/sign-in/email", sign_in).await.status(), 200);
}

async fn changing_the_email(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("tom@example.com", "password123").await;
    server
        .browser()
        .sign_up("taken@example.com", "password123")
        .await;
    let (s, body) = parts(
        b.post("/change-email", json!({"newEmail": "TOM@example.com"}))
            .await,
    )
    .await;
    assert_eq!((s, body), (400, json!({"message": "Email is the same"})));
    assert_eq!(
        parts(
            b.post("/change-email", json!({"newEmail": "taken@example.com"}))
                .await
        )
        .await,
        (200, json!({"status": true}))
    );
    assert_eq!(
        parts(
            b.post("/change-email", json!({"newEmail": "Tom.New@example.com"}))
                .await
        )
        .await,
        (200, json!({"status": true}))
    );
    let mail = server.mail.wait("tom.new@example.com", 1).await;
    assert!(server.mail.to("taken@example.com").is_empty());
    assert_eq!(
        b.json("/get-session").await["user"]["email"],
        "tom@example.com",
        "nothing changes before the link"
    );
    let link = MailSink::link(&mail, &format!("{ORIGIN}/api/auth/verify-email?token="));
    let (s, body) = parts(
        server
            .http
            .get(local(&server, &link).replace("&callbackURL=%2F", ""))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            body["user"]["email"].as_str(),
            body["user"]["emailVerified"].as_bool()
        ),
        (Some("tom.new@example.com"), Some(true))
    );
    assert_eq!(
        b.json("/get-session").await["user"]["email"],
        "tom.new@example.com"
    );
    assert_eq!(
        server
            .browser()
            .post(
                "/sign-in/email",
                json!({"email": "tom.new@example.com", "password": "password123"})
            )
            .await
            .status(),
        200
    );
}

async fn changing_the_email_needs_a_fresh_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("tom@example.com", "password123").await;
    server.clock.advance(Duration::days(2));
    assert_error(
        b.post("/change-email", json!({"newEmail": "tom3@example.com"}))
            .await,
        403,
        "SESSION_NOT_FRESH",
    )
    .await;
}

async fn change_email_can_be_switched_off(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.change_email_enabled = false;
        c.delete_user_enabled = false;
    })
    .await;
    let b = server.browser();
    b.sign_up("uma@example.com", "password123").await;
    assert_error(
        b.post("/change-email", json!({"newEmail": "uma2@example.com"}))
            .await,
        400,
        "CHANGE_EMAIL_DISABLED",
    )
    .await;
    assert_error(
        b.post("/delete-user", json!({"password": "password123"}))
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 1);
}

async fn deleting_the_account_with_its_password(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("vic@example.com", "password123").await;
    assert_error(
        b.post("/delete-user", json!({"password": "wrong-password"}))
            .await,
        400,
        "INVALID_PASSWORD",
    )
    .await;
    let r = b
        .post("/delete-user", json!({"password": "password123"}))
        .await;
    assert_eq!(crate::harness::set_cookies(&r).len(), 3);
    assert_eq!(
        parts(r).await,
        (200, json!({"success": true, "message": "User deleted"}))
    );
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 0);
    assert_eq!(session::Entity::find().count(&server.db).await.unwrap(), 0);
}

/// From a fresh session without a password; a stale one must re-authenticate.
async fn deleting_without_a_password_needs_a_fresh_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let c = server.browser();
    c.sign_up("wes@example.com", "password123").await;
    server.clock.advance(Duration::days(2));
    c.post(
        "/sign-in/email",
        json!({"email": "wes@example.com", "password": "password123"}),
    )
    .await;
    let stale = server.browser();
    stale
        .post(
            "/sign-in/email",
            json!({"email": "wes@example.com", "password": "password123"}),
        )
        .await;
    server.clock.advance(Duration::days(2));
    assert_error(
        stale.post("/delete-user", json!({})).await,
        400,
        "SESSION_EXPIRED",
    )
    .await;
    let fresh = server.browser();
    fresh
        .post(
            "/sign-in/email",
            json!({"email": "wes@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(
        parts(fresh.post("/delete-user", json!({})).await).await.0,
        200
    );
    assert!(user::Entity::find()
        .filter(user::Column::Email.eq("wes@example.com"))
        .one(&server.db)
        .await
        .unwrap()
        .is_none());
}

async fn deletion_confirmed_by_mail(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.delete_user_verification = true).await;
    let b = server.browser();
    b.sign_up("xena@example.com", "password123").await;
    let r = b
        .post("/delete-user", json!({"callbackURL": "/goodbye"}))
        .await;
    assert_eq!(
        parts(r).await,
        (
            200,
            json!({"success": true, "message": "Verification email sent"})
        )
    );
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 1);
    let mail = server.mail.wait("xena@example.com", 1).await;
    let link = local(
        &server,
        &MailSink::link(
            &mail,
            &format!("{ORIGIN}/api/auth/delete-user/callback?token="),
        ),
    );
    // Opened without a session (a mail scanner): nothing is deleted.
    let r = no_redirects().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Opened by another signed-in user: nothing is deleted either.
    let other = signed_in_without_redirects(&server, "yves@example.com", true).await;
    let r = other.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 2);
    // Opened where its owner is signed in: their account goes.
    let owner = signed_in_without_redirects(&server, "xena@example.com", false).await;
    let r = owner.get(&link).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (302, "/goodbye")
    );
    assert!(user::Entity::find()
        .filter(user::Column::Email.eq("xena@example.com"))
        .one(&server.db)
        .await
        .unwrap()
        .is_none());
    let again = other.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 404);
}

/// A client with its own cookies, following no redirects, signed in as `email` (signed up first
/// when `new`).
async fn signed_in_without_redirects(
    server: &TestServer,
    email: &str,
    new: bool,
) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", ORIGIN.parse().unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let (path, body) = match new {
        true => (
            "sign-up/email",
            json!({"name": "Other", "email": email, "password": "password123"}),
        ),
        false => (
            "sign-in/email",
            json!({"email": email, "password": "password123"}),
        ),
    };
    let r = client
        .post(server.url(&format!("/api/auth/{path}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path} {email}");
    client
}

/// Deleting one's account never leaves an organization without an owner: refused, naming the
/// organizations, while another member has no owner role; an organization with nobody else in
/// it goes with its owner.
async fn deleting_the_only_owner(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = User::sign_up(&server, "alice@example.com").await;
    let solo = Org::create(&server, alice, "Solo", "solo").await;
    let shared = Org::create(&server, solo.owner, "Shared", "shared").await;
    let bob = User::sign_up(&server, "bob@example.com").await;
    let bob_member = shared.add(&server, &bob, "member").await;
    let alice = shared.owner;
    let (s, body) = parts(
        alice
            .post("/delete-user", json!({"password": "password123"}))
            .await,
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["code"], "YOU_ARE_THE_ONLY_OWNER_OF_AN_ORGANIZATION");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("Shared (shared)"), "{message}");
    assert!(!message.contains("Solo"), "{message}");
    assert_eq!(
        entity::organization::Entity::find()
            .count(&server.db)
            .await
            .unwrap(),
        2,
        "nothing was deleted"
    );
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 2);

    entity::member::Entity::update_many()
        .col_expr(entity::member::Column::Role, Expr::value("owner"))
        .filter(entity::member::Column::Id.eq(bob_member))
        .exec(&server.db)
        .await
        .unwrap();
    let (s, body) = parts(
        alice
            .post("/delete-user", json!({"password": "password123"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let left: Vec<String> = entity::organization::Entity::find()
        .all(&server.db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.slug)
        .collect();
    assert_eq!(
        left,
        ["shared"],
        "the organization nobody else was in went with its owner"
    );
}

db_tests!(
    a_reset_request_answers_alike,
    the_reset_link_lands_on_the_callback,
    a_reset_sets_the_password_once,
    a_reset_token_is_used_once_under_concurrency,
    a_reset_token_expires_after_an_hour,
    a_newer_reset_request_voids_the_older_link,
    verifying_an_address,
    asking_for_verification_without_a_session,
    required_verification_gates_sign_in,
    changing_the_email,
    changing_the_email_needs_a_fresh_session,
    change_email_can_be_switched_off,
    deleting_the_account_with_its_password,
    deleting_without_a_password_needs_a_fresh_session,
    deletion_confirmed_by_mail,
    deleting_the_only_owner,
);
