//! Sign-in through the OpenID provider: new and returning users, and linking by e-mail.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::{json, Value};
use service::social::ProviderConfig;

use crate::harness::parts;

use super::{accounts_of, google, server, sign_in_body, users, Browser, OidcProvider};

async fn oidc_new_user_then_returning_user(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    op.claims("sub-new-1", "New@Example.com", true).await;

    let browser = Browser::new(&server);
    let (_, landed) = browser
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/welcome", "a new user lands on newUserCallbackURL");
    let me = browser.session_user().await;
    assert_eq!(me["email"], "new@example.com");
    assert_eq!(me["emailVerified"], true);
    assert_eq!(me["name"], "Oidc User");
    let accounts = accounts_of(&server, me["id"].as_str().unwrap()).await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (
            accounts[0].provider_id.as_str(),
            accounts[0].account_id.as_str()
        ),
        ("google", "sub-new-1")
    );
    for sealed in [
        &accounts[0].access_token,
        &accounts[0].refresh_token,
        &accounts[0].id_token,
    ] {
        assert!(
            sealed.as_deref().unwrap().starts_with("enc.v1."),
            "{sealed:?}"
        );
    }
    // The tokens handed back are not what is stored.
    let (status, token) = parts(
        browser
            .post("/get-access-token", json!({"providerId": "google"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let access = token["accessToken"].as_str().unwrap();
    assert!(
        access.len() > 20
            && !accounts[0]
                .access_token
                .as_deref()
                .unwrap()
                .contains(access)
    );
    let (_, listed) = parts(browser.get("/list-accounts").await).await;
    assert_eq!(listed[0]["providerId"], "google");
    assert!(listed[0].get("accessToken").is_none());

    // Signing in again, in another browser: the same user, no new rows, the plain callback URL.
    let again = Browser::new(&server);
    let (_, landed) = again.dance("/sign-in/social", sign_in_body("google")).await;
    assert_eq!(landed, "/dashboard");
    assert_eq!(again.session_user().await["id"], me["id"]);
    assert_eq!(users(&server).await, 1);
    assert_eq!(
        accounts_of(&server, me["id"].as_str().unwrap()).await.len(),
        1
    );
}

async fn oidc_links_a_verified_email_only(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    let owner = Browser::new(&server);
    let alice = owner.sign_up("alice@example.com").await;
    let alice_id = alice["id"].as_str().unwrap();

    // The provider does not vouch for the address: refused, nothing linked, no session.
    op.claims("sub-alice", "alice@example.com", false).await;
    let stranger = Browser::new(&server);
    let (_, landed) = stranger
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/auth-error?error=account_not_linked");
    assert_eq!(stranger.session_user().await, Value::Null);
    assert_eq!(accounts_of(&server, alice_id).await.len(), 1);
    assert_eq!(users(&server).await, 1);

    // It does: linked to Alice, signed in as Alice, her address now verified. It was never
    // verified before, so the password and session set up before this proof are gone (see
    // github_proof_revokes_a_pre_registration).
    op.claims("sub-alice", "alice@example.com", true).await;
    let (_, landed) = stranger
        .dance("/sign-in/social", sign_in_body("google"))
        .await;
    assert_eq!(landed, "/dashboard");
    let me = stranger.session_user().await;
    assert_eq!(me["id"], alice_id);
    assert_eq!(me["emailVerified"], true);
    let providers: Vec<String> = accounts_of(&server, alice_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    assert_eq!(providers, vec!["google".to_owned()]);
    assert_eq!(owner.session_user().await, Value::Null);
}

async fn oidc_linking_by_email_can_be_switched_off(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let mut acme = ProviderConfig::oidc("acme", &op.discovery_url(), "acme-client", "acme-secret");
    acme.trust_email = false;
    let server = server(&db, vec![acme]).await;
    let alice = Browser::new(&server).sign_up("alice@example.com").await;
    op.claims("sub-alice", "alice@example.com", true).await;
    let browser = Browser::new(&server);
    let (_, landed) = browser.dance("/sign-in/social", sign_in_body("acme")).await;
    assert_eq!(landed, "/auth-error?error=account_not_linked");
    assert_eq!(
        accounts_of(&server, alice["id"].as_str().unwrap())
            .await
            .len(),
        1
    );

    // A new address still signs up, but unverified: the provider is not trusted to say so.
    op.claims("sub-carol", "carol@example.com", true).await;
    let (_, landed) = browser.dance("/sign-in/social", sign_in_body("acme")).await;
    assert_eq!(landed, "/welcome");
    assert_eq!(browser.session_user().await["emailVerified"], false);
}

db_tests!(
    oidc_new_user_then_returning_user,
    oidc_links_a_verified_email_only,
    oidc_linking_by_email_can_be_switched_off,
);
