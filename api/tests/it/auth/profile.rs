//! The user's profile, password and accounts, and Better Auth's stored credentials.

use entity::{account, session};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::harness::{assert_error, parts, TestServer, SECRET};

async fn updating_the_profile(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("jack@example.com", "password123").await;
    assert_eq!(
        parts(
            b.post(
                "/update-user",
                json!({"name": "Jack J", "image": "https://img/x.png", "emailVerified": true})
            )
            .await
        )
        .await,
        (200, json!({"status": true}))
    );
    let me = b.json("/get-session").await;
    assert_eq!(
        (
            me["user"]["name"].as_str(),
            me["user"]["image"].as_str(),
            me["user"]["emailVerified"].as_bool()
        ),
        (Some("Jack J"), Some("https://img/x.png"), Some(false))
    );
    b.post("/update-user", json!({"image": null})).await;
    assert!(b.json("/get-session").await["user"]["image"].is_null());
    assert_error(
        b.post("/update-user", json!({"email": "x@example.com"}))
            .await,
        400,
        "EMAIL_CAN_NOT_BE_UPDATED",
    )
    .await;
    assert_eq!(
        parts(b.post("/update-user", json!({"unknown": 1})).await).await,
        (400, json!({"message": "No fields to update"}))
    );
}

async fn changing_the_password(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let other = server.browser();
    b.sign_up("kim@example.com", "password123").await;
    other
        .post(
            "/sign-in/email",
            json!({"email": "kim@example.com", "password": "password123"}),
        )
        .await;
    assert_error(
        b.post(
            "/change-password",
            json!({"currentPassword": "wrong-password", "newPassword": "new-password-1"}),
        )
        .await,
        400,
        "INVALID_PASSWORD",
    )
    .await;
    assert_error(
        b.post(
            "/change-password",
            json!({"currentPassword": "password123", "newPassword": "short"}),
        )
        .await,
        400,
        "PASSWORD_TOO_SHORT",
    )
    .await;
    let r = b.post("/change-password", json!({"currentPassword": "password123", "newPassword": "new-password-1", "revokeOtherSessions": true})).await;
    let (s, body) = parts(r).await;
    assert_eq!(s, 200);
    assert_eq!(body["token"].as_str().unwrap().len(), 32);
    assert_eq!(
        b.json("/get-session").await["session"]["token"],
        body["token"],
        "the caller continues on the new session"
    );
    assert_eq!(other.json("/get-session").await, serde_json::Value::Null);
    assert_eq!(session::Entity::find().count(&server.db).await.unwrap(), 1);
    let old = parts(
        server
            .browser()
            .post(
                "/sign-in/email",
                json!({"email": "kim@example.com", "password": "password123"}),
            )
            .await,
    )
    .await
    .0;
    let new = parts(
        server
            .browser()
            .post(
                "/sign-in/email",
                json!({"email": "kim@example.com", "password": "new-password-1"}),
            )
            .await,
    )
    .await
    .0;
    assert_eq!((old, new), (401, 200));
}

async fn better_auth_users_sign_in_and_are_upgraded(db: TestDb) {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let id = b.sign_up("lee@example.com", "whatever-123").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let acct = account::Entity::find()
        .filter(account::Column::UserId.eq(&id))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    let mut active = acct.into_active_model();
    active.password = Set(Some(crate::BETTER_AUTH_SCRYPT.into()));
    active.update(&server.db).await.unwrap();
    let r = b
        .post(
            "/sign-in/email",
            json!({"email": "lee@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let upgraded = account::Entity::find()
        .filter(account::Column::UserId.eq(&id))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert!(upgraded.password.unwrap().starts_with("$argon2id$"));
    assert_eq!(
        b.post(
            "/sign-in/email",
            json!({"email": "lee@example.com", "password": "password123"})
        )
        .await
        .status(),
        200
    );
}

async fn listing_accounts(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let id = b.sign_up("mia@example.com", "password123").await["user"]["id"].clone();
    let accounts = b.json("/list-accounts").await;
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    let a = &accounts[0];
    assert_eq!(
        (
            &a["providerId"],
            &a["accountId"],
            &a["userId"],
            &a["scopes"]
        ),
        (&json!("credential"), &id, &id, &json!([]))
    );
    assert!(a.get("password").is_none());
}

/// `ORGAUTH_SESSION_TOKENS=plain`: tokens stored as Better Auth stores them, listed as they are.
async fn plain_token_storage_matches_better_auth(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.session_tokens = service::config::TokenStorage::Plain
    })
    .await;
    let (b1, b2) = (server.browser(), server.browser());
    let t1 = b1.sign_up("ned@example.com", "password123").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let t2 = parts(
        b2.post(
            "/sign-in/email",
            json!({"email": "ned@example.com", "password": "password123"}),
        )
        .await,
    )
    .await
    .1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored: Vec<String> = session::Entity::find()
        .all(&server.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.token)
        .collect();
    assert!(stored.contains(&t1) && stored.contains(&t2));
    let listed: Vec<String> = b1
        .json("/list-sessions")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["token"].as_str().unwrap().to_owned())
        .collect();
    assert!(listed.contains(&t1) && listed.contains(&t2));
    let _ = SECRET;
}

db_tests!(
    updating_the_profile,
    changing_the_password,
    better_auth_users_sign_in_and_are_upgraded,
    listing_accounts,
    plain_token_storage_matches_better_auth,
);
