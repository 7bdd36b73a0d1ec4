//! Redirect targets and the referer, as Better Auth.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use serde_json::Value;

use crate::harness::{assert_error_for, parts, TestServer, ORIGIN};

/// Redirect targets: on a POST the body's `callbackURL` wins over the query's, and the query's
/// other targets are not looked at; a Referer that is not a URL is an untrusted origin.
async fn redirect_targets_and_referer_as_better_auth(db: TestDb) {
    let server = TestServer::start(&db).await;
    let user = server.browser();
    user.sign_up("targets@example.com", "password123").await;
    let sign_in = |query: &'static str, body: Value| {
        let server = &server;
        async move {
            parts(
                server
                    .http
                    .post(server.url(&format!("/api/auth/sign-in/email{query}")))
                    .header("origin", ORIGIN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let creds = |extra: Value| {
        let mut body = json!({"email": "targets@example.com", "password": "password123"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (s, body) = sign_in(
        "?callbackURL=https://evil.example/x",
        creds(json!({"callbackURL": "/home"})),
    )
    .await;
    assert_eq!(
        (s, body["url"].as_str()),
        (200, Some("/home")),
        "the body's callbackURL wins"
    );
    let (s, _) = sign_in(
        "?errorCallbackURL=https://evil.example&newUserCallbackURL=https://evil.example&redirectTo=https://evil.example",
        creds(json!({})),
    )
    .await;
    assert_eq!(s, 200, "other query targets are not targets");
    let (s, body) = sign_in("?callbackURL=https://evil.example/x", creds(json!({}))).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("INVALID_CALLBACK_URL")),
        "without one in the body, the query's counts"
    );
    let (s, body) = sign_in(
        "",
        creds(json!({"errorCallbackURL": "https://evil.example"})),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("INVALID_ERROR_CALLBACK_URL"))
    );

    // A cookie-bearing POST without Origin and with a Referer that is not a URL.
    for referer in ["not a url", "https://evil.example/page"] {
        assert_error_for(
            server
                .http
                .post(server.url("/api/auth/update-user"))
                .header("cookie", "better-auth.session_token=x")
                .header("referer", referer)
                .json(&json!({"name": "x"}))
                .send()
                .await
                .unwrap(),
            403,
            "INVALID_ORIGIN",
            &referer,
        )
        .await;
    }
}

db_tests!(redirect_targets_and_referer_as_better_auth,);
