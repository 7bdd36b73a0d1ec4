//! Account deletion, by password, fresh session or mail.

use chrono::Duration;
use entity::{session, user};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::fixtures::{Org, User};
use crate::harness::{assert_error, parts, TestServer, ORIGIN};
use crate::smtp::MailSink;

use super::{local, no_redirects};

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
    deleting_the_account_with_its_password,
    deleting_without_a_password_needs_a_fresh_session,
    deletion_confirmed_by_mail,
    deleting_the_only_owner,
);
