//! Listing and revoking sessions.

use chrono::Duration;
use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};

use crate::harness::{assert_error, parts, Browser, TestServer};

/// Hal signed in in two browsers, Ivy in a third. Returns Hal's two, Ivy's and Ivy's token.
async fn hal_twice_and_ivy(server: &TestServer) -> (Browser, Browser, Browser, String) {
    let (a1, a2) = (server.browser(), server.browser());
    a1.sign_up("hal@example.com", "password123").await;
    a2.post(
        "/sign-in/email",
        json!({"email": "hal@example.com", "password": "password123"}),
    )
    .await;
    let other = server.browser();
    let other_token = other.sign_up("ivy@example.com", "password123").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (a1, a2, other, other_token)
}

/// `b`'s sessions as listed, with the token of `b`'s own session.
async fn listed_sessions(b: &Browser) -> (Vec<Value>, Value) {
    let list = b.json("/list-sessions").await;
    let own = b.json("/get-session").await["session"]["token"].clone();
    (list.as_array().unwrap().clone(), own)
}

/// The list shows the caller's own token and a revocation handle for each other session; a
/// handle revokes but never authenticates.
async fn listing_sessions_shows_handles(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a1, ..) = hal_twice_and_ivy(&server).await;
    let (list, own) = listed_sessions(&a1).await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().any(|s| s["token"] == own));
    let handle = list.iter().find(|s| s["token"] != own).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(handle.starts_with("rev_"));
    // A handle revokes but never authenticates.
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(&handle)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(r).await.1, serde_json::Value::Null);
}

/// A listed handle revokes that session; another user's token is not the caller's to revoke.
async fn revoking_one_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a1, a2, other, other_token) = hal_twice_and_ivy(&server).await;
    let (list, own) = listed_sessions(&a1).await;
    let handle = list.iter().find(|s| s["token"] != own).unwrap()["token"].clone();
    // Another user's token is not the caller's to revoke.
    assert_eq!(
        parts(
            a1.post("/revoke-session", json!({"token": other_token}))
                .await
        )
        .await,
        (200, json!({"status": true}))
    );
    assert_eq!(
        other.json("/get-session").await["user"]["email"],
        "ivy@example.com"
    );
    assert_eq!(
        parts(a1.post("/revoke-session", json!({"token": handle})).await)
            .await
            .0,
        200
    );
    assert_eq!(a2.json("/get-session").await, serde_json::Value::Null);
}

async fn revoking_other_sessions_then_all(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (a1, a2, ..) = hal_twice_and_ivy(&server).await;
    a1.post("/revoke-other-sessions", json!({})).await;
    assert_eq!(a2.json("/get-session").await, serde_json::Value::Null);
    assert!(a1.json("/get-session").await["user"].is_object());
    a1.post("/revoke-sessions", json!({})).await;
    assert_eq!(a1.json("/get-session").await, serde_json::Value::Null);
}

/// Unauthenticated and stale sessions.
async fn listing_sessions_needs_a_fresh_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (.., other, _) = hal_twice_and_ivy(&server).await;
    let (s, body) = parts(
        server
            .http
            .get(server.url("/api/auth/list-sessions"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, body),
        (
            401,
            json!({"message": "Unauthorized", "code": "UNAUTHORIZED"})
        )
    );
    server.clock.advance(Duration::days(2));
    assert_error(other.get("/list-sessions").await, 403, "SESSION_NOT_FRESH").await;
}

db_tests!(
    listing_sessions_shows_handles,
    revoking_one_session,
    revoking_other_sessions_then_all,
    listing_sessions_needs_a_fresh_session,
);
