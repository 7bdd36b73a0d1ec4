//! Provider tokens: refresh, account info, and what is (not) stored.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::harness::{assert_error, parts};

use super::{google, server, sign_in_body, Browser, Github, OidcProvider};

async fn oidc_tokens_refresh_and_account_info(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-tok", "tok@example.com", true).await;
    let browser = Browser::new(&server);
    browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    let select = json!({"providerId": "google"});

    let (_, first) = parts(browser.post("/get-access-token", select.clone()).await).await;
    let (_, again) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert_eq!(
        first["accessToken"], again["accessToken"],
        "not expired: not refreshed"
    );
    assert!(first["accessTokenExpiresAt"].is_string());

    // Expired: get-access-token refreshes it.
    server.clock.advance(chrono::Duration::hours(2));
    let (status, refreshed) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["accessToken"], first["accessToken"]);

    // refresh-token refreshes whatever the expiry.
    let (status, forced) = parts(browser.post("/refresh-token", select.clone()).await).await;
    assert_eq!(status, 200, "{forced}");
    assert_ne!(forced["accessToken"], refreshed["accessToken"]);
    assert!(forced["refreshToken"].is_string());
    assert_eq!(forced["providerId"], "google");
    assert_eq!(forced["accountId"], "sub-tok");

    let (status, info) = parts(browser.get("/account-info?providerId=google").await).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["user"]["id"], "sub-tok");
    assert_eq!(info["user"]["email"], "tok@example.com");
    assert_eq!(info["account"]["providerId"], "google");

    op.control(json!({"failRefresh": true})).await;
    assert_error(
        browser.post("/refresh-token", select.clone()).await,
        400,
        "FAILED_TO_REFRESH_ACCESS_TOKEN",
    )
    .await;
    let (status, _) = parts(
        browser
            .post("/get-access-token", json!({"providerId": "github"}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "no such account");
    let (status, _) = parts(
        Browser::new(&server)
            .post("/get-access-token", select)
            .await,
    )
    .await;
    assert_eq!(status, 401);
}

async fn github_sign_in_tokens_and_last_account(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    gh.profile("octo@example.com", true);
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("github"))
        .await;
    assert_eq!(landed, "/welcome");
    let me = browser.session_user().await;
    assert_eq!(
        (&me["email"], &me["name"]),
        (&json!("octo@example.com"), &json!("Octo Cat"))
    );
    assert_eq!(me["emailVerified"], true);
    let (_, listed) = parts(browser.get("/list-accounts").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["accountId"], "4242");
    assert_eq!(listed[0]["scopes"], json!(["read:user", "user:email"]));

    // The only way to sign in cannot be unlinked.
    assert_error(
        browser
            .post("/unlink-account", json!({"accountId": listed[0]["id"]}))
            .await,
        400,
        "FAILED_TO_UNLINK_LAST_ACCOUNT",
    )
    .await;

    let select = json!({"accountId": "4242"});
    let (_, first) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert!(first["accessToken"].as_str().unwrap().starts_with("gho_"));
    server.clock.advance(chrono::Duration::hours(9));
    let (status, refreshed) = parts(browser.post("/get-access-token", select.clone()).await).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["accessToken"], first["accessToken"]);
    assert_eq!(gh.state.lock().unwrap().refreshes, 1);

    let (status, info) = parts(browser.get("/account-info?accountId=4242").await).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["user"]["id"], "4242");
    assert_eq!(info["user"]["email"], "octo@example.com");
    assert_eq!(info["data"]["login"], "octocat");
}

/// The callback that signs the user in (its cookie carries the session token) and the routes that
/// answer with a provider's tokens are never stored by a cache.
async fn token_responses_are_not_stored(db: TestDb) {
    use crate::no_store::{caching, no_store};
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    gh.profile("cache@example.com", true);
    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance_to_callback("/sign-in/social", sign_in_body("github"))
        .await;
    assert!(landed
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("session_token=")));
    assert_eq!(caching(&landed), no_store(), "the callback");
    let select = json!({"accountId": "4242"});
    let r = browser.post("/get-access-token", select.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "get-access-token");
    let r = browser.post("/refresh-token", select).await;
    assert_eq!(r.status(), 200);
    assert_eq!(caching(&r), no_store(), "refresh-token");
    // A callback that signs nobody in (a replayed state) is not stored either.
    let r = Browser::new(&server)
        .get("/callback/github?code=x&state=unknown")
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(caching(&r), no_store(), "a failed callback");
}

db_tests!(
    oidc_tokens_refresh_and_account_info,
    github_sign_in_tokens_and_last_account,
    token_responses_are_not_stored,
);
