//! Sign-up, and the contract's errors for bad requests.

use entity::{account, session, user};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::{assert_error, parts, set_cookies, TestServer};

use super::{cookie_token, is_contract_date};

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

db_tests!(
    sign_up_creates_user_account_and_session,
    sign_up_errors_change_nothing,
    malformed_requests_get_contract_errors,
);
