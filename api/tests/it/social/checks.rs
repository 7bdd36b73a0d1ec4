//! The redirect dance's checks: state, nonce, provider errors and the start request.

use std::collections::HashMap;

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};

use crate::harness::{assert_error, parts, ORIGIN};

use super::{google, location, server, sign_in_body, users, Browser, Github, OidcProvider};

async fn state_is_single_use_and_bound_to_the_browser(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-1", "one@example.com", true).await;
    let browser = Browser::new(&server);
    let (callback, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/welcome");

    // Replayed: the state is used up.
    let attacker = Browser::new(&server);
    let replay = attacker.visit(&callback).await;
    assert_eq!(
        location(&replay),
        format!("{ORIGIN}/api/auth/error?error=please_restart_the_process")
    );
    assert_eq!(attacker.session_user().await, Value::Null);

    // A fresh authorization completed in another browser (no state cookie there): refused.
    let (status, started) = parts(
        browser
            .post("/sign-in/social", sign_in_body("google"))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let at_provider = browser
        .http
        .get(started["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let stolen = attacker.visit(&location(&at_provider)).await;
    assert_eq!(
        location(&stolen),
        format!("{ORIGIN}/api/auth/error?error=state_mismatch")
    );
    assert_eq!(attacker.session_user().await, Value::Null);
    // And its owner cannot use it afterwards either.
    let late = browser.visit(&location(&at_provider)).await;
    assert_eq!(
        location(&late),
        format!("{ORIGIN}/api/auth/error?error=please_restart_the_process")
    );
    assert_eq!(users(&server).await, 1);
}

async fn a_wrong_nonce_is_rejected(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-1", "one@example.com", true).await;
    op.control(json!({"tamperNonce": true})).await;
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/auth-error?error=invalid_id_token");
    assert_eq!(browser.session_user().await, Value::Null);
    assert_eq!(users(&server).await, 0);
}

async fn provider_errors_reach_the_error_callback(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.control(json!({"error": "access_denied"})).await;
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/auth-error?error=access_denied");

    // Without errorCallbackURL: orgauth's own error page.
    let (_, landed) = browser
        .dance("/sign-in/social", json!({"provider": "google"}))
        .await;
    assert_eq!(
        landed,
        format!("{ORIGIN}/api/auth/error?error=access_denied")
    );
    let page = browser.visit(&landed).await;
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<code>access_denied</code>"));
    assert_eq!(users(&server).await, 0);
}

async fn start_is_checked(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let browser = Browser::new(&server);
    assert_error(
        browser
            .post("/sign-in/social", json!({"provider": "gitlab"}))
            .await,
        404,
        "PROVIDER_NOT_FOUND",
    )
    .await;
    assert_error(
        browser
            .post(
                "/sign-in/social",
                json!({"provider": "github", "callbackURL": "https://evil.example/x"}),
            )
            .await,
        403,
        "INVALID_CALLBACK_URL",
    )
    .await;
    assert_error(
        browser
            .post(
                "/sign-in/social",
                json!({"provider": "github", "errorCallbackURL": "https://evil.example/x"}),
            )
            .await,
        403,
        "INVALID_ERROR_CALLBACK_URL",
    )
    .await;

    // The answer: the provider's URL with PKCE S256 and the state; Location as well; a state cookie.
    let r = browser
        .post("/sign-in/social", json!({"provider": "github"}))
        .await;
    let cookies = crate::harness::set_cookies(&r);
    let header = location(&r);
    let (status, body) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(body["url"], header.as_str());
    let url = url::Url::parse(&header).unwrap();
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["redirect_uri"],
        format!("{ORIGIN}/api/auth/callback/github")
    );
    assert!(q["state"].len() >= 32);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("better-auth.state=") && c.contains("HttpOnly")),
        "{cookies:?}"
    );

    // A form_post callback goes to the GET form with the same fields.
    let form = browser
        .http
        .post(format!("{}/api/auth/callback/github", server.base))
        .form(&[("code", "abc"), ("state", "xyz")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 302);
    assert_eq!(
        location(&form),
        format!("{ORIGIN}/api/auth/callback/github?code=abc&state=xyz")
    );
}

db_tests!(
    state_is_single_use_and_bound_to_the_browser,
    a_wrong_nonce_is_rejected,
    provider_errors_reach_the_error_callback,
    start_is_checked,
);
