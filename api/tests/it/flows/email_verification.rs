//! E-mail verification.

use entity::user;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::harness::{assert_error, parts, TestServer, ORIGIN};
use crate::smtp::MailSink;

use super::{local, no_redirects};

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

db_tests!(
    verifying_an_address,
    asking_for_verification_without_a_session,
    required_verification_gates_sign_in,
);
