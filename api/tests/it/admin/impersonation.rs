//! Impersonation: Better Auth's cookies and session marking, and orgauth's rules — not oneself,
//! not nested, admins only with `user:impersonate-admins`, a lifetime the session row keeps.

use entity::session;
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{admin, server, with_role};
use crate::fixtures::User;
use crate::harness::{assert_error, expect_ok, parts, set_cookies};

async fn impersonate_then_stop(db: TestDb) {
    let server = server(&db).await;
    let boss = with_role(&server, "boss@example.com", "admin").await;
    let target = User::sign_up(&server, "target@example.com").await;
    let r = boss
        .post("/admin/impersonate-user", json!({"userId": target.id}))
        .await;
    let cookies = set_cookies(&r);
    let body = expect_ok(r).await;
    assert_eq!(body["user"]["id"], json!(target.id));
    assert_eq!(body["session"]["impersonatedBy"], json!(boss.id));
    let names: Vec<&str> = cookies
        .iter()
        .map(|c| c.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "better-auth.session_token",
            "better-auth.session_data",
            "better-auth.dont_remember",
            "better-auth.admin_session",
            "better-auth.session_token",
            "better-auth.dont_remember",
        ]
    );
    assert!(!cookies[4].contains("Max-Age"), "{}", cookies[4]);
    // The impersonation session is the target's, one hour long.
    let me = boss.json("/get-session").await;
    assert_eq!(
        (&me["user"]["id"], &me["session"]["impersonatedBy"]),
        (&json!(target.id), &json!(boss.id))
    );
    let row = session::Entity::find()
        .filter(session::Column::ImpersonatedBy.eq(&boss.id))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.expires_at - row.created_at).num_seconds(), 3600);
    // As the target, the admin routes answer with the target's permissions.
    let (status, _) = parts(boss.get("/admin/list-users").await).await;
    assert_eq!(status, 403);
    // No nesting.
    let other = User::sign_up(&server, "other@example.com").await;
    assert_error(
        admin(&boss, "impersonate-user", json!({"userId": other.id})).await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
    )
    .await;
    // Stop: back to the admin's own session; the impersonation session is gone.
    let r = boss.post("/admin/stop-impersonating", json!({})).await;
    let cookies = set_cookies(&r);
    let body = expect_ok(r).await;
    assert_eq!(body["user"]["id"], json!(boss.id));
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("better-auth.admin_session=;")));
    assert_eq!(
        boss.json("/get-session").await["user"]["id"],
        json!(boss.id)
    );
    assert!(session::Entity::find()
        .filter(session::Column::ImpersonatedBy.eq(&boss.id))
        .one(&server.db)
        .await
        .unwrap()
        .is_none());
    // Not impersonating now.
    let (status, body) = admin(&boss, "stop-impersonating", json!({})).await;
    assert_eq!(
        (status, body),
        (400, json!({"message": "You are not impersonating anyone"}))
    );
}

/// No nesting even for whoever may impersonate admins: an owner acting as an admin cannot
/// impersonate again from that session.
async fn impersonation_cannot_be_nested(db: TestDb) {
    let server = server(&db).await;
    let owner = with_role(&server, "owner@example.com", "owner").await;
    let admin1 = with_role(&server, "admin1@example.com", "admin").await;
    let target = User::sign_up(&server, "target@example.com").await;
    expect_ok(
        owner
            .post("/admin/impersonate-user", json!({"userId": admin1.id}))
            .await,
    )
    .await;
    assert_error(
        admin(&owner, "impersonate-user", json!({"userId": target.id})).await,
        400,
        "YOU_CANNOT_IMPERSONATE_WHILE_IMPERSONATING",
    )
    .await;
}

async fn who_may_be_impersonated(db: TestDb) {
    let server = server(&db).await;
    let owner = with_role(&server, "owner@example.com", "owner").await;
    let admin1 = with_role(&server, "admin1@example.com", "admin").await;
    let admin2 = with_role(&server, "admin2@example.com", "admin").await;
    for (caller, target, status, code) in [
        (&admin1, &admin2.id, 403, "YOU_CANNOT_IMPERSONATE_ADMINS"),
        (&admin1, &owner.id, 403, "YOU_CANNOT_IMPERSONATE_ADMINS"),
        (&owner, &owner.id, 400, "YOU_CANNOT_IMPERSONATE_YOURSELF"),
        (&admin1, &"nobody".to_string(), 404, "USER_NOT_FOUND"),
        (&admin1, &"a b".to_string(), 400, "VALIDATION_ERROR"),
    ] {
        let (s, body) = admin(caller, "impersonate-user", json!({"userId": target})).await;
        assert_eq!((s, body["code"].as_str()), (status, Some(code)), "{body}");
    }
    assert_eq!(
        session::Entity::find()
            .filter(session::Column::ImpersonatedBy.is_not_null())
            .all(&server.db)
            .await
            .unwrap()
            .len(),
        0,
        "nothing was opened"
    );
    // The owner holds `impersonate-admins`.
    expect_ok(
        owner
            .post("/admin/impersonate-user", json!({"userId": admin1.id}))
            .await,
    )
    .await;
    // A banned user cannot be impersonated.
    let banned = User::sign_up(&server, "banned@example.com").await;
    expect_ok(
        admin1
            .post("/admin/ban-user", json!({"userId": banned.id}))
            .await,
    )
    .await;
    assert_error(
        admin(&admin1, "impersonate-user", json!({"userId": banned.id})).await,
        403,
        "BANNED_USER",
    )
    .await;
}

/// The lifetime is the row's: dropping `dont_remember` does not turn the impersonation into a
/// sliding session, and it ends after an hour.
async fn the_impersonation_lifetime_is_kept(db: TestDb) {
    let server = server(&db).await;
    let boss = with_role(&server, "boss@example.com", "admin").await;
    let target = User::sign_up(&server, "target@example.com").await;
    let body = expect_ok(
        boss.post("/admin/impersonate-user", json!({"userId": target.id}))
            .await,
    )
    .await;
    let token = body["session"]["token"].as_str().unwrap().to_owned();
    // A client with only the token (no `dont_remember`), after the update age would slide it.
    server.clock.advance(chrono::Duration::minutes(59));
    let bare = reqwest::Client::new();
    let me: serde_json::Value = bare
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["id"], json!(target.id));
    let row = session::Entity::find()
        .filter(session::Column::ImpersonatedBy.eq(&boss.id))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.expires_at - row.created_at).num_seconds(),
        3600,
        "not slid"
    );
    server.clock.advance(chrono::Duration::minutes(2));
    let after: serde_json::Value = bare
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after, json!(null));
}

db_tests!(
    impersonate_then_stop,
    impersonation_cannot_be_nested,
    who_may_be_impersonated,
    the_impersonation_lifetime_is_kept,
);
