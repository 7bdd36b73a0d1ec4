//! Changing the e-mail address.

use chrono::Duration;
use entity::user;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::harness::{assert_error, parts, TestServer, ORIGIN};
use crate::smtp::MailSink;

use super::local;

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

db_tests!(
    changing_the_email,
    changing_the_email_needs_a_fresh_session,
    change_email_can_be_switched_off,
);
