//! The core auth routes over HTTP, on both databases.

use chrono::Duration;
use entity::{account, session, user};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::{assert_error, parts, set_cookies, Browser, TestServer, SECRET};

fn is_contract_date(v: &serde_json::Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// The token inside a `better-auth.session_token=<token>.<sig>` Set-Cookie.
fn cookie_token(cookies: &[String]) -> String {
    let c = cookies
        .iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .expect("session cookie");
    let value = c.split(';').next().unwrap().split_once('=').unwrap().1;
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap()
        .into_owned();
    decoded.rsplit_once('.').unwrap().0.to_owned()
}

async fn sign_up_creates_user_account_and_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let browser = server.browser();
    let r = browser
        .post(
            "/sign-up/email",
            json!({"name": "Alice", "email": "  Alice@Example.com ", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let cookies = set_cookies(&r);
    let (_, body) = parts(r).await;
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["name"], "Alice");
    assert_eq!(body["user"]["emailVerified"], false);
    assert!(body["user"]["image"].is_null());
    assert!(
        is_contract_date(&body["user"]["createdAt"]),
        "{}",
        body["user"]["createdAt"]
    );

    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(
            session_cookie.contains(attr),
            "{session_cookie} lacks {attr}"
        );
    }
    assert!(
        !session_cookie.contains("Secure"),
        "http deployments do not set Secure"
    );
    assert_eq!(cookie_token(&cookies), token);
    // encodeURIComponent of `token.signature`: '+', '/' and '=' escaped, '.' kept.
    let signed = crate::harness_signature(&token);
    let encoded = signed
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert!(
        session_cookie.starts_with(&format!("better-auth.session_token={encoded};")),
        "{session_cookie}"
    );

    // At rest: the session holds the token's SHA-256, the account an Argon2id hash.
    let stored = session::Entity::find()
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token, hex::encode(Sha256::digest(token.as_bytes())));
    let acct = account::Entity::find()
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (acct.provider_id.as_str(), acct.account_id.as_str()),
        ("credential", body["user"]["id"].as_str().unwrap())
    );
    assert!(acct
        .password
        .unwrap()
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    let me = browser.json("/get-session").await;
    assert_eq!(me["user"]["id"], body["user"]["id"]);
    assert_eq!(me["session"]["token"], token.as_str());
}

async fn sign_up_errors_change_nothing(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("bob@example.com", "password123").await;
    let cases = [
        (
            json!({"name": "B", "email": "BOB@example.com", "password": "password123"}),
            422,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
        ),
        (
            json!({"name": "B", "email": "not-an-email", "password": "password123"}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"name": "B", "email": "c@example.com", "password": "short12"}),
            400,
            "PASSWORD_TOO_SHORT",
        ),
        (
            json!({"name": "B", "email": "c@example.com", "password": "x".repeat(129)}),
            400,
            "PASSWORD_TOO_LONG",
        ),
        (
            json!({"email": "c@example.com", "password": "password123"}),
            400,
            "VALIDATION_ERROR",
        ),
    ];
    for (body, status, code) in cases {
        let (s, b2) = parts(b.post("/sign-up/email", body.clone()).await).await;
        assert_eq!(
            (s, b2["code"].as_str().unwrap_or_default()),
            (status, code),
            "{body}"
        );
        assert!(b2["message"].is_string());
    }
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 1);
    assert_eq!(account::Entity::find().count(&server.db).await.unwrap(), 1);
    assert_eq!(session::Entity::find().count(&server.db).await.unwrap(), 1);
}

async fn malformed_requests_get_contract_errors(db: TestDb) {
    let server = TestServer::start(&db).await;
    let url = server.url("/api/auth/sign-in/email");
    let bad_json = server
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts(bad_json).await,
        (
            400,
            json!({"message": "Invalid JSON in request body", "code": "BAD_REQUEST"})
        )
    );
    let text = server
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_error(text, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let huge = server
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b' '; 70_000])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_error(
        server
            .http
            .post(server.url("/api/auth/get-session"))
            .send()
            .await
            .unwrap(),
        405,
        "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
    )
    .await;
    assert_eq!(user::Entity::find().count(&server.db).await.unwrap(), 0);
}

async fn sign_in_is_uniform_on_failure(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("carol@example.com", "password123").await;
    let wrong = parts(
        b.post(
            "/sign-in/email",
            json!({"email": "carol@example.com", "password": "password124"}),
        )
        .await,
    )
    .await;
    let unknown = parts(
        b.post(
            "/sign-in/email",
            json!({"email": "nobody@example.com", "password": "password124"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        wrong,
        (
            401,
            json!({"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD"})
        )
    );
    assert_eq!(unknown, wrong);
    assert_error(
        b.post("/sign-in/email", json!({"email": "carol", "password": "x"}))
            .await,
        400,
        "INVALID_EMAIL",
    )
    .await;

    let fresh = server.browser();
    let r = fresh.post("/sign-in/email", json!({"email": "CAROL@example.com", "password": "password123", "callbackURL": "/dashboard"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["location"], "/dashboard");
    let (_, body) = parts(r).await;
    assert_eq!(
        (body["redirect"].as_bool(), body["url"].as_str()),
        (Some(true), Some("/dashboard"))
    );
    let plain = parts(
        fresh
            .post(
                "/sign-in/email",
                json!({"email": "carol@example.com", "password": "password123"}),
            )
            .await,
    )
    .await
    .1;
    assert_eq!(plain["redirect"], false);
    assert!(
        plain.get("url").is_none(),
        "url is omitted without callbackURL"
    );
    assert_ne!(
        plain["token"], body["token"],
        "every sign-in gets a new token"
    );
}

async fn remember_me_false_is_a_browser_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("dan@example.com", "password123").await;
    let r = b
        .post(
            "/sign-in/email",
            json!({"email": "dan@example.com", "password": "password123", "rememberMe": false}),
        )
        .await;
    let cookies = set_cookies(&r);
    let token = cookie_token(&cookies);
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .unwrap();
    assert!(!session_cookie.contains("Max-Age"), "{session_cookie}");
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("better-auth.dont_remember=")));
    let row = session::Entity::find()
        .filter(session::Column::Token.eq(hex::encode(Sha256::digest(token.as_bytes()))))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.expires_at - row.created_at, Duration::days(1));
    // Never extended, even when a refresh would be due.
    server.clock.advance(Duration::hours(23));
    let r = b.get("/get-session").await;
    assert!(set_cookies(&r).is_empty());
    assert_eq!(
        parts(r).await.1["session"]["expiresAt"],
        crate::harness_date(row.expires_at)
    );
}

async fn sessions_slide_and_expire(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let token = b.sign_up("erin@example.com", "password123").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = b.json("/get-session").await["session"]["expiresAt"].clone();
    server.clock.advance(Duration::hours(2));
    let r = b.get("/get-session").await;
    assert!(set_cookies(&r).is_empty(), "no refresh before updateAge");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(parts(r).await.1["session"]["expiresAt"], first);

    server.clock.advance(Duration::days(1));
    let skipped = b.get("/get-session?disableRefresh=false").await;
    assert!(
        set_cookies(&skipped).is_empty(),
        "disableRefresh (any value) skips the renewal"
    );
    assert_eq!(parts(skipped).await.1["session"]["expiresAt"], first);
    let r = b.get("/get-session").await;
    let cookies = set_cookies(&r);
    assert_eq!(
        cookie_token(&cookies),
        token,
        "the refresh re-sends the same token"
    );
    let renewed = parts(r).await.1["session"]["expiresAt"].clone();
    assert_ne!(renewed, first);

    server.clock.advance(Duration::days(8));
    let r = b.get("/get-session").await;
    let cleared = set_cookies(&r);
    assert_eq!(cleared.len(), 3, "{cleared:?}");
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(parts(r).await, (200, serde_json::Value::Null));
    assert_eq!(
        session::Entity::find().count(&server.db).await.unwrap(),
        0,
        "the expired row is deleted"
    );
}

async fn bearer_tokens_and_tampering(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let r = b
        .post(
            "/sign-up/email",
            json!({"name": "F", "email": "f@example.com", "password": "password123"}),
        )
        .await;
    let auth_token = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    let token = parts(r).await.1["token"].as_str().unwrap().to_owned();
    assert_eq!(auth_token, crate::harness_signature(&token));
    for bearer in [auth_token.clone(), token.clone()] {
        let me: serde_json::Value = server
            .http
            .get(server.url("/api/auth/get-session"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["user"]["email"], "f@example.com");
    }
    let forged = format!("better-auth.session_token={token}.{}", "A".repeat(43) + "=");
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert!(
        set_cookies(&r).is_empty(),
        "a bad signature is ignored, not cleared"
    );
    assert_eq!(parts(r).await, (200, serde_json::Value::Null));
    // The stored digest is not a credential.
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(&digest)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(r).await.1, serde_json::Value::Null);
}

async fn sign_out_ends_the_session_server_side(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let token = b.sign_up("gina@example.com", "password123").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = b.post("/sign-out", json!({})).await;
    assert_eq!(set_cookies(&r).len(), 3);
    assert_eq!(parts(r).await, (200, json!({"success": true})));
    let replay = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(parts(replay).await.1, serde_json::Value::Null);
    assert_eq!(session::Entity::find().count(&server.db).await.unwrap(), 0);
    let anonymous = server
        .http
        .post(server.url("/api/auth/sign-out"))
        .send()
        .await
        .unwrap();
    assert_eq!(parts(anonymous).await, (200, json!({"success": true})));
}

/// Session lookups arriving together are answered by one batched statement: under concurrency
/// each request still gets exactly its own session (a token asked for twice gets it twice), an
/// unknown token gets none, and a session ended a moment before is not found.
async fn concurrent_lookups_each_find_their_own_session(db: TestDb) {
    let server = TestServer::start(&db).await;
    let mut users = Vec::new();
    for i in 0..12 {
        let email = format!("batch{i}@example.com");
        let token = server.browser().sign_up(&email, "password123").await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        users.push((email, token));
    }
    let ended = users.pop().unwrap();
    let r = server
        .http
        .post(server.url("/api/auth/sign-out"))
        .bearer_auth(&ended.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut asks: Vec<(Option<String>, String)> = Vec::new();
    for _ in 0..4 {
        asks.extend(users.iter().map(|(e, t)| (Some(e.clone()), t.clone())));
        asks.push((None, ended.1.clone()));
        asks.push((None, "no-such-token".to_owned()));
    }
    let requests: Vec<_> = asks
        .iter()
        .map(|(_, token)| {
            let request = server
                .http
                .get(server.url("/api/auth/get-session"))
                .bearer_auth(token);
            tokio::spawn(async move { parts(request.send().await.unwrap()).await })
        })
        .collect();
    let mut answers = Vec::new();
    for r in requests {
        answers.push(r.await.unwrap());
    }
    for ((email, _), (status, body)) in asks.iter().zip(answers) {
        assert_eq!(status, 200);
        match email {
            Some(email) => assert_eq!(body["user"]["email"], json!(email)),
            None => assert_eq!(body, serde_json::Value::Null),
        }
    }
}

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
    concurrent_lookups_each_find_their_own_session,
    sign_up_creates_user_account_and_session,
    sign_up_errors_change_nothing,
    malformed_requests_get_contract_errors,
    sign_in_is_uniform_on_failure,
    remember_me_false_is_a_browser_session,
    sessions_slide_and_expire,
    bearer_tokens_and_tampering,
    sign_out_ends_the_session_server_side,
    listing_sessions_shows_handles,
    revoking_one_session,
    revoking_other_sessions_then_all,
    listing_sessions_needs_a_fresh_session,
    updating_the_profile,
    changing_the_password,
    better_auth_users_sign_in_and_are_upgraded,
    listing_accounts,
    plain_token_storage_matches_better_auth,
);
