//! Per-account protection against password guessing (security checklist B5/B6): failures are
//! counted per submitted address, whoever sends them, so a guess spread over many clients slows
//! down; the owner is never locked out of what they already have, and a password reset clears it.
//! The test servers have no per-address rate limit, as if every attempt came from another client.

use chrono::Duration;
use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};

use crate::fixtures::reset_token;
use crate::harness::{assert_error, parts, Browser, TestServer};

/// Status, `Retry-After`, `X-Retry-After` and body of a password sign-in from a fresh client.
async fn attempt(server: &TestServer, email: &str, password: &str) -> (u16, Option<u64>, Value) {
    let r = server
        .http
        .post(server.url("/api/auth/sign-in/email"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap())
    };
    let (retry, x_retry) = (header("retry-after"), header("x-retry-after"));
    assert_eq!(retry, x_retry, "both headers say the same");
    let (status, body) = parts(r).await;
    (status, retry, body)
}

fn throttled() -> Value {
    json!({"message": "Too many requests. Please try again later.", "code": "TOO_MANY_REQUESTS"})
}

/// A server where `owner@` signed up (and is signed in) and then five wrong guesses at their
/// password were answered 401. Returns the server and the owner's browser.
async fn after_five_wrong_guesses(db: &TestDb) -> (TestServer, Browser) {
    let server = TestServer::start(db).await;
    let owner = server.browser();
    owner.sign_up("owner@example.com", "password123").await;
    for i in 0..5 {
        let (status, _, _) = attempt(&server, "owner@example.com", &format!("guess-{i}")).await;
        assert_eq!(status, 401, "guess {i}");
    }
    (server, owner)
}

/// Five wrong guesses are answered; then even the right password waits 30 s, for an address
/// with or without an account; the owner's session is untouched.
async fn guessing_one_account_is_throttled_not_locked(db: TestDb) {
    let (server, owner) = after_five_wrong_guesses(&db).await;
    assert_eq!(
        attempt(&server, "owner@example.com", "password123").await,
        (429, Some(30), throttled())
    );
    // An address without an account is throttled the same way: the answer tells nothing.
    for i in 0..5 {
        let (status, _, _) = attempt(&server, "nobody@example.com", &format!("guess-{i}")).await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        attempt(&server, "nobody@example.com", "password123").await,
        (429, Some(30), throttled())
    );
    // The owner's session is untouched.
    assert_eq!(
        owner.json("/get-session").await["user"]["email"],
        "owner@example.com"
    );
}

/// The wait doubles with every failure after it, up to five minutes; once it is over the right
/// password signs in, and that clears the count.
async fn the_wait_doubles_until_a_sign_in_clears_it(db: TestDb) {
    let (server, _) = after_five_wrong_guesses(&db).await;
    attempt(&server, "owner@example.com", "password123").await;
    server.clock.advance(Duration::seconds(29));
    assert_eq!(
        attempt(&server, "owner@example.com", "password123").await,
        (429, Some(1), throttled())
    );
    let mut waits = Vec::new();
    let mut wait = 1;
    for i in 0..6 {
        server.clock.advance(Duration::seconds(wait));
        let (status, _, _) = attempt(&server, "owner@example.com", &format!("again-{i}")).await;
        assert_eq!(status, 401);
        let (status, retry, _) = attempt(&server, "owner@example.com", "password123").await;
        assert_eq!(status, 429);
        wait = retry.unwrap() as i64;
        waits.push(wait);
    }
    assert_eq!(waits, vec![60, 120, 240, 300, 300, 300]);

    // Once the wait is over the right password signs in, and that clears the count.
    server.clock.advance(Duration::seconds(300));
    assert_eq!(
        attempt(&server, "owner@example.com", "password123").await.0,
        200
    );
    for i in 0..5 {
        assert_eq!(
            attempt(&server, "owner@example.com", &format!("later-{i}"))
                .await
                .0,
            401
        );
    }
    assert_eq!(
        attempt(&server, "owner@example.com", "password123").await.1,
        Some(30)
    );
}

/// Failures are forgotten 15 minutes after the last one.
async fn failures_are_forgotten_after_15_minutes(db: TestDb) {
    let server = TestServer::start(&db).await;
    for i in 0..4 {
        assert_eq!(
            attempt(&server, "window@example.com", &format!("a-{i}"))
                .await
                .0,
            401
        );
    }
    server.clock.advance(Duration::minutes(15));
    for i in 0..5 {
        assert_eq!(
            attempt(&server, "window@example.com", &format!("b-{i}"))
                .await
                .0,
            401
        );
    }
    assert_eq!(attempt(&server, "window@example.com", "b-5").await.0, 429);
}

/// While the account is throttled, a password reset still works, and it clears the count.
async fn a_password_reset_clears_the_throttle(db: TestDb) {
    let server = TestServer::start(&db).await;
    server
        .browser()
        .sign_up("reset@example.com", "password123")
        .await;
    for i in 0..5 {
        attempt(&server, "reset@example.com", &format!("guess-{i}")).await;
    }
    assert_eq!(
        attempt(&server, "reset@example.com", "password123").await.0,
        429
    );
    let b = server.browser();
    let (status, _) = parts(
        b.post(
            "/request-password-reset",
            json!({"email": "reset@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let token = reset_token(&server, "reset@example.com", 1).await;
    let (status, _) = parts(
        b.post(
            "/reset-password",
            json!({"newPassword": "brand-new-pass", "token": token}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        attempt(&server, "reset@example.com", "brand-new-pass")
            .await
            .0,
        200
    );
}

/// `change-password` checks a password too: its failures count against the same account.
async fn change_password_failures_count(db: TestDb) {
    let server = TestServer::start(&db).await;
    let owner = server.browser();
    owner.sign_up("chg@example.com", "password123").await;
    for i in 0..5 {
        let guess =
            json!({"currentPassword": format!("guess-{i}"), "newPassword": "new-password-1"});
        assert_error(
            owner.post("/change-password", guess).await,
            400,
            "INVALID_PASSWORD",
        )
        .await;
    }
    let (status, body) = parts(
        owner
            .post(
                "/change-password",
                json!({"currentPassword": "password123", "newPassword": "new-password-1"}),
            )
            .await,
    )
    .await;
    assert_eq!((status, body), (429, throttled()));
    assert_eq!(
        attempt(&server, "chg@example.com", "password123").await.0,
        429
    );
    assert_eq!(
        owner.json("/get-session").await["user"]["email"],
        "chg@example.com"
    );
}

/// Guesses sent all at once cannot outrun the count: at most five passwords are checked.
async fn a_burst_checks_at_most_five_passwords(db: TestDb) {
    let server = TestServer::start(&db).await;
    server
        .browser()
        .sign_up("burst@example.com", "password123")
        .await;
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let http = server.http.clone();
            let url = server.url("/api/auth/sign-in/email");
            tokio::spawn(async move {
                http.post(url)
                    .json(&json!({"email": "burst@example.com", "password": format!("guess-{i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        (1..=5).contains(&checked) && checked + refused == 20,
        "{statuses:?}"
    );
}

db_tests!(
    guessing_one_account_is_throttled_not_locked,
    the_wait_doubles_until_a_sign_in_clears_it,
    failures_are_forgotten_after_15_minutes,
    a_password_reset_clears_the_throttle,
    change_password_failures_count,
    a_burst_checks_at_most_five_passwords,
);
