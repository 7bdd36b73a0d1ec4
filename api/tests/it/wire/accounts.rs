//! Account token routes and account info: selection and the caller's social accounts.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::fixtures::User;
use crate::harness::{assert_error, assert_error_for, parts, Browser, TestServer};

/// The account token routes read Better Auth's selection (`accountId`, or `useAccountCookie`)
/// before the session, with zod's messages.
async fn account_token_routes_read_the_selection_first(db: TestDb) {
    let server = TestServer::start(&db).await;
    let anonymous = server.browser();
    let (s, body) = parts(anonymous.post("/get-access-token", json!({})).await).await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "[body] Invalid input", "code": "VALIDATION_ERROR"})
        )
    );
    assert_error(
        anonymous
            .post("/get-access-token", json!({"accountId": "x"}))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

/// Alice and Bob, each with a password account. Returns Alice, Bob's user id, and the two
/// account ids.
async fn alice_and_bob_accounts(server: &TestServer) -> (User, String, String, String) {
    let alice = User::sign_up(server, "alice-acct@example.com").await;
    let bob = User::sign_up(server, "bob-acct@example.com").await;
    let account_of = |b: &Browser| {
        let b = b.clone();
        async move {
            b.json("/list-accounts").await[0]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (alices, bobs) = (account_of(&alice).await, account_of(&bob).await);
    (alice, bob.id, alices, bobs)
}

/// On the token routes, another user's account is not found, and the password account has no
/// provider to ask.
async fn account_token_routes_take_the_callers_social_accounts(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (alice, bob_id, alices, bobs) = alice_and_bob_accounts(&server).await;
    for route in ["/get-access-token", "/refresh-token"] {
        let (s, body) = parts(
            alice
                .post(route, json!({"accountId": alices, "providerId": "google"}))
                .await,
        )
        .await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": "[body] Unrecognized key: \"providerId\"", "code": "VALIDATION_ERROR"})
            ),
            "{route}"
        );
        assert_error_for(
            alice
                .post(route, json!({"accountId": bobs, "userId": bob_id}))
                .await,
            400,
            "ACCOUNT_NOT_FOUND",
            &route,
        )
        .await;
        assert_error_for(
            alice.post(route, json!({"useAccountCookie": true})).await,
            400,
            "ACCOUNT_NOT_FOUND",
            &route,
        )
        .await;
        let (s, body) = parts(alice.post(route, json!({"accountId": alices})).await).await;
        assert_eq!(
            (s, body),
            (
                400,
                json!({"message": "Provider credential is not supported.", "code": "PROVIDER_NOT_SUPPORTED"})
            ),
            "{route}"
        );
    }
}

/// `account-info` needs an account id, of the caller's, for a configured social provider.
async fn account_info_selects_as_better_auth(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (alice, _, alices, bobs) = alice_and_bob_accounts(&server).await;
    let (s, body) = parts(alice.get("/account-info").await).await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "[query] Invalid input", "code": "VALIDATION_ERROR"})
        )
    );
    assert_error(
        alice.get(&format!("/account-info?accountId={bobs}")).await,
        400,
        "ACCOUNT_NOT_FOUND",
    )
    .await;
    let (s, body) = parts(
        alice
            .get(&format!("/account-info?accountId={alices}"))
            .await,
    )
    .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"message": "Account is not associated with a configured social provider.", "code": "PROVIDER_NOT_CONFIGURED"})
        )
    );
}

db_tests!(
    account_token_routes_read_the_selection_first,
    account_token_routes_take_the_callers_social_accounts,
    account_info_selects_as_better_auth,
);
