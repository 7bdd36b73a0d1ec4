//! `/verify-password`: the caller's password, rate-limited as sign-in.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use api::rate_limit::RateLimitConfig;

use crate::harness::{assert_error, parts, TestServer};

use super::signed_in;

/// `verify-password`: `{"status":true}` for the right password, Better Auth's 400
/// `INVALID_PASSWORD` otherwise, 401 without a session; wrong guesses count against the account.
async fn verify_password_checks_the_callers_password(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    assert_error(
        anonymous
            .post("/verify-password", json!({"password": "password123"}))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    let user = server.browser();
    user.sign_up("verify@example.com", "password123").await;
    let (s, body) = parts(
        user.post("/verify-password", json!({"password": "password123"}))
            .await,
    )
    .await;
    assert_eq!((s, body), (200, json!({"status": true})));
    assert_error(
        user.post("/verify-password", json!({})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    let long = "x".repeat(129);
    assert_error(
        user.post("/verify-password", json!({"password": long}))
            .await,
        400,
        "PASSWORD_TOO_LONG",
    )
    .await;
    for i in 0..5 {
        let (s, body) = parts(
            user.post(
                "/verify-password",
                json!({"password": format!("guess-{i}")}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": "Invalid password", "code": "INVALID_PASSWORD"})
            ),
            "guess {i}"
        );
    }
    // The sixth check waits, right password or not: the same throttle as sign-in.
    assert_error(
        user.post("/verify-password", json!({"password": "password123"}))
            .await,
        429,
        "TOO_MANY_REQUESTS",
    )
    .await;
    assert!(signed_in(&user).await, "a wrong password ends no session");
}

/// `verify-password` is rate limited as sign-in is: three per ten seconds per client.
async fn verify_password_is_rate_limited_as_sign_in(db: TestDb) {
    let server = TestServer::start_rate_limited(&db, RateLimitConfig::default(), None).await;
    let user = server.browser();
    user.sign_up("verify-rl@example.com", "password123").await;
    for _ in 0..3 {
        let r = user
            .post("/verify-password", json!({"password": "password123"}))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = user
        .post("/verify-password", json!({"password": "password123"}))
        .await;
    assert_eq!(r.status(), 429);
}

db_tests!(
    verify_password_checks_the_callers_password,
    verify_password_is_rate_limited_as_sign_in,
);
