//! Every response that carries a session token, in its body or in a cookie, says
//! `Cache-Control: no-store` (and `Pragma: no-cache`), once; the social routes are in `social.rs`.

use chrono::Duration;
use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::harness::TestServer;

/// The response's `Cache-Control` and `Pragma` values.
pub fn caching(r: &reqwest::Response) -> (Vec<String>, Vec<String>) {
    let values = |name: &str| {
        r.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    (values("cache-control"), values("pragma"))
}

pub fn no_store() -> (Vec<String>, Vec<String>) {
    (vec!["no-store".into()], vec!["no-cache".into()])
}

async fn token_responses_are_not_stored(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();

    let r = b
        .post(
            "/sign-up/email",
            json!({"name": "N", "email": "ns@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "sign-up");

    let r = b
        .post(
            "/sign-in/email",
            json!({"email": "ns@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "sign-in");
    // A refused sign-in too (the header does not depend on the outcome).
    let r = b
        .post(
            "/sign-in/email",
            json!({"email": "ns@example.com", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(caching(&r), no_store(), "refused sign-in");

    let r = b.get("/list-sessions").await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "list-sessions");

    let r = b.get("/get-session").await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "get-session");
    // Renewed: the cookie goes out again, the headers still once.
    server.clock.advance(Duration::days(2));
    let r = b.get("/get-session").await;
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("session_token=")));
    assert_eq!(caching(&r), no_store(), "renewed get-session");

    // A new session's token in change-password's answer.
    let b = server.browser();
    b.sign_up("cp@example.com", "password123").await;
    let r = b
        .post(
            "/change-password",
            json!({"currentPassword": "password123", "newPassword": "new-password-1", "revokeOtherSessions": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "change-password");

    // Routes without tokens are left alone.
    assert_eq!(caching(&server.get("/api/auth/ok").await), (vec![], vec![]));
}

db_tests!(token_responses_are_not_stored);
