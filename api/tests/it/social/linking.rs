//! Linking social accounts, and a provider's proof of the e-mail revoking unproven access.

use std::time::Duration;

use entity::{account, user};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use service::social::ProviderConfig;

use crate::fixtures::reset_token_of;
use crate::harness::{assert_error, parts, TestServer, ORIGIN};

use super::{accounts_of, google, location, server, sign_in_body, Browser, Github, OidcProvider};

async fn link_social_then_unlink(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let bob = Browser::new(&server);
    let bob_user = bob.sign_up("bob@example.com").await;
    let bob_id = bob_user["id"].as_str().unwrap();

    // GitHub says another address: not linked.
    gh.profile("someone-else@example.com", true);
    let body = json!({"provider": "github", "callbackURL": "/settings", "errorCallbackURL": "/settings/error"});
    let (_, landed) = bob.dance("/link-social", body.clone()).await;
    assert_eq!(landed, "/settings/error?error=email_doesn't_match");
    assert_eq!(accounts_of(&server, bob_id).await.len(), 1);

    gh.profile("bob@example.com", false);
    let (_, landed) = bob.dance("/link-social", body.clone()).await;
    assert_eq!(landed, "/settings");
    assert_eq!(
        bob.session_user().await["id"],
        bob_id,
        "still signed in as Bob"
    );
    let (_, listed) = parts(bob.get("/list-accounts").await).await;
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);

    // Someone else cannot link the same GitHub account.
    let carol = Browser::new(&server);
    carol.sign_up("bob-too@example.com").await;
    let (_, landed) = carol.dance("/link-social", body.clone()).await;
    assert_eq!(
        landed,
        "/settings/error?error=account_already_linked_to_different_user"
    );

    // Two ways to sign in: either may go, the last may not.
    let id_of =
        |provider: &str| listed.iter().find(|a| a["providerId"] == provider).unwrap()["id"].clone();
    let (status, _) = parts(
        bob.post("/unlink-account", json!({"accountId": id_of("github")}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_error(
        bob.post("/unlink-account", json!({"accountId": id_of("credential")}))
            .await,
        400,
        "FAILED_TO_UNLINK_LAST_ACCOUNT",
    )
    .await;

    // link-social needs a session.
    let (status, _) = parts(
        Browser::new(&server)
            .post("/link-social", json!({"provider": "github"}))
            .await,
    )
    .await;
    assert_eq!(status, 401);
}

/// The first mail to `to` whose text contains `needle`, waiting up to 10 s (other notices may
/// reach the same address in any order).
async fn mail_with(server: &TestServer, to: &str, needle: &str) -> crate::smtp::Delivered {
    for _ in 0..200 {
        if let Some(m) = server
            .mail
            .to(to)
            .into_iter()
            .find(|m| m.text.contains(needle))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} with {needle:?}: {:?}", server.mail.to(to));
}

/// A password sign-in's status, from a fresh client.
async fn password_sign_in(server: &TestServer, email: &str, password: &str) -> u16 {
    Browser::new(server)
        .post(
            "/sign-in/email",
            json!({"email": email, "password": password}),
        )
        .await
        .status()
        .as_u16()
}

/// The user a raw session token opens, or null.
async fn user_of_token(server: &TestServer, token: &str) -> Value {
    let r = server
        .http
        .get(server.url("/api/auth/get-session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    parts(r).await.1["user"].clone()
}

/// Signs up `email` with `password` in `browser`; the user and the session token.
async fn sign_up_with(browser: &Browser, email: &str, password: &str) -> (Value, String) {
    let (status, body) = parts(
        browser
            .post(
                "/sign-up/email",
                json!({"name": "Someone", "email": email, "password": password}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (
        body["user"].clone(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// Someone signs up with the victim's address and a password of theirs (verification is not
/// required), and starts moving the account to their own address. The victim later signs in
/// with GitHub, which vouches for the address: they keep the account, and everything the
/// pre-registrant set up before the address was proven stops working.
async fn github_proof_revokes_a_pre_registration(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let attacker = Browser::new(&server);
    let (user, attacker_token) =
        sign_up_with(&attacker, "victim@example.com", "attacker-pass-1").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["emailVerified"], false);
    let (status, _) = parts(
        attacker
            .post(
                "/change-email",
                json!({"newEmail": "attacker@example.com", "callbackURL": "/moved"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let change = server.mail.wait("attacker@example.com", 1).await;
    let change_link =
        crate::smtp::MailSink::link(&change, &format!("{ORIGIN}/api/auth/verify-email"));
    let (status, _) = parts(
        Browser::new(&server)
            .post(
                "/request-password-reset",
                json!({"email": "victim@example.com"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let reset_prefix = format!("{ORIGIN}/api/auth/reset-password/");
    let reset = mail_with(&server, "victim@example.com", &reset_prefix).await;
    let reset_token = reset_token_of(&crate::fixtures::reset_link(&reset));

    gh.profile("victim@example.com", true);
    let victim = Browser::new(&server);
    let (_, landed) = victim
        .dance("/sign-in/social", sign_in_body("github"))
        .await;
    assert_eq!(landed, "/dashboard", "an existing user, not a new one");
    let me = victim.session_user().await;
    assert_eq!(me["id"], user_id.as_str(), "the victim keeps the account");
    assert_eq!(me["emailVerified"], true);

    // The pre-registrant's password, session and pending links no longer work.
    assert_eq!(
        password_sign_in(&server, "victim@example.com", "attacker-pass-1").await,
        401
    );
    assert_eq!(attacker.session_user().await, Value::Null);
    assert_eq!(user_of_token(&server, &attacker_token).await, Value::Null);
    let followed = attacker.visit(&change_link).await;
    assert_eq!(
        location(&followed),
        "/moved?error=INVALID_TOKEN",
        "the address change the pre-registrant asked for is void"
    );
    assert_error(
        attacker
            .post(
                "/reset-password",
                json!({"newPassword": "attacker-pass-2", "token": reset_token}),
            )
            .await,
        400,
        "INVALID_TOKEN",
    )
    .await;
    let providers: Vec<String> = accounts_of(&server, &user_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    assert_eq!(providers, vec!["github".to_owned()]);
    let stored = user::Entity::find_by_id(&user_id)
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.email, "victim@example.com");

    // The victim still gets in, and was told a sign-in method was linked.
    assert_eq!(victim.session_user().await["id"], user_id.as_str());
    let notice = mail_with(
        &server,
        "victim@example.com",
        "A new sign-in method was linked",
    )
    .await;
    assert!(notice.text.contains("GitHub") || notice.text.contains("github"));
}

/// A user whose address was verified keeps their password and sessions when a provider that
/// vouches for the address is linked at sign-in; they are told by mail.
async fn a_verified_user_is_linked_as_before(db: TestDb) {
    let mut op = OidcProvider::start().await;
    let server = server(&db, vec![google(&op)]).await;
    let owner = Browser::new(&server);
    let (user, token) = sign_up_with(&owner, "vera@example.com", "vera-pass-123").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    sea_orm::ConnectionTrait::execute_unprepared(
        &server.db,
        "UPDATE \"user\" SET email_verified = true",
    )
    .await
    .unwrap();
    op.claims("sub-vera", "vera@example.com", true).await;
    let other = Browser::new(&server);
    let (_, landed) = other.dance("/sign-in/social", sign_in_body("google")).await;
    assert_eq!(landed, "/dashboard");
    assert_eq!(other.session_user().await["id"], user_id.as_str());
    assert_eq!(user_of_token(&server, &token).await["id"], user_id.as_str());
    assert_eq!(
        password_sign_in(&server, "vera@example.com", "vera-pass-123").await,
        200
    );
    assert_eq!(accounts_of(&server, &user_id).await.len(), 2);
    mail_with(
        &server,
        "vera@example.com",
        "A new sign-in method was linked",
    )
    .await;
}

/// The proof also counts when it comes later: through a provider account linked while it did
/// not vouch for the address and that now does, or through `link-social` (where the caller's own
/// session and password stay).
async fn a_later_proof_revokes_unproven_access(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;

    // Linked while GitHub did not vouch: nothing revoked, nothing verified.
    let bob = Browser::new(&server);
    let (bob_user, bob_token) = sign_up_with(&bob, "bob@example.com", "bob-pass-1234").await;
    let bob_id = bob_user["id"].as_str().unwrap().to_owned();
    gh.profile("bob@example.com", false);
    let body = json!({"provider": "github", "callbackURL": "/settings"});
    let (_, landed) = bob.dance("/link-social", body.clone()).await;
    assert_eq!(landed, "/settings");
    assert_eq!(accounts_of(&server, &bob_id).await.len(), 2);
    assert_eq!(bob.session_user().await["emailVerified"], false);
    assert_eq!(
        password_sign_in(&server, "bob@example.com", "bob-pass-1234").await,
        200
    );
    // GitHub now vouches; signing in with it proves the address.
    gh.profile("bob@example.com", true);
    let again = Browser::new(&server);
    let (_, landed) = again.dance("/sign-in/social", sign_in_body("github")).await;
    assert_eq!(landed, "/dashboard");
    assert_eq!(again.session_user().await["emailVerified"], true);
    assert_eq!(user_of_token(&server, &bob_token).await, Value::Null);
    assert_eq!(bob.session_user().await, Value::Null);
    assert_eq!(
        password_sign_in(&server, "bob@example.com", "bob-pass-1234").await,
        401
    );
    assert_eq!(accounts_of(&server, &bob_id).await.len(), 1);

    // link-social with a provider that vouches: the proof comes to the browser holding the
    // session, so that session and the password stay; other sessions and other provider accounts
    // (linked while the address was unproven) go.
    // Bob goes, and with him the GitHub account Carol's link will name.
    sea_orm::ConnectionTrait::execute_unprepared(
        &server.db,
        &format!("DELETE FROM \"user\" WHERE id = '{bob_id}'"),
    )
    .await
    .unwrap();
    let carol = Browser::new(&server);
    let (carol_user, carol_token) =
        sign_up_with(&carol, "carol@example.com", "carol-pass-12").await;
    let carol_id = carol_user["id"].as_str().unwrap().to_owned();
    sea_orm::ActiveModelTrait::insert(
        account::ActiveModel {
            account_id: sea_orm::Set("acme-carol".into()),
            provider_id: sea_orm::Set("acme".into()),
            user_id: sea_orm::Set(carol_id.clone()),
            ..Default::default()
        },
        &server.db,
    )
    .await
    .unwrap();
    let elsewhere = Browser::new(&server);
    assert_eq!(
        elsewhere
            .post(
                "/sign-in/email",
                json!({"email": "carol@example.com", "password": "carol-pass-12"})
            )
            .await
            .status(),
        200
    );
    gh.profile("carol@example.com", true);
    let (_, landed) = carol.dance("/link-social", body).await;
    assert_eq!(landed, "/settings");
    let me = carol.session_user().await;
    assert_eq!(me["id"], carol_id.as_str(), "still signed in");
    assert_eq!(me["emailVerified"], true);
    assert_eq!(
        user_of_token(&server, &carol_token).await["id"],
        carol_id.as_str()
    );
    assert_eq!(elsewhere.session_user().await, Value::Null);
    assert_eq!(
        password_sign_in(&server, "carol@example.com", "carol-pass-12").await,
        200
    );
    let mut providers: Vec<String> = accounts_of(&server, &carol_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    providers.sort();
    assert_eq!(
        providers,
        vec!["credential".to_owned(), "github".to_owned()]
    );
    mail_with(
        &server,
        "carol@example.com",
        "A new sign-in method was linked",
    )
    .await;
}

/// A `link-social` the pre-registrant started before the address was proven cannot finish after
/// it: the session that started it is gone, so their provider account is not linked.
async fn a_link_started_before_the_proof_fails(db: TestDb) {
    let gh = Github::start().await;
    let mut op = OidcProvider::start().await;
    let mut acme = ProviderConfig::oidc("acme", &op.discovery_url(), "acme-client", "acme-secret");
    acme.trust_email = false;
    let server = server(&db, vec![gh.config(), acme]).await;
    let attacker = Browser::new(&server);
    let (user, _) = sign_up_with(&attacker, "target@example.com", "attacker-pass-1").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    // The pre-registrant starts linking an account of theirs that carries the address.
    op.claims("sub-attacker", "target@example.com", false).await;
    let (status, started) = parts(
        attacker
            .post(
                "/link-social",
                json!({"provider": "acme", "callbackURL": "/settings", "errorCallbackURL": "/settings/error"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{started}");
    // Meanwhile the owner proves the address with GitHub.
    gh.profile("target@example.com", true);
    let owner = Browser::new(&server);
    let (_, landed) = owner.dance("/sign-in/social", sign_in_body("github")).await;
    assert_eq!(landed, "/dashboard");
    // The pre-registrant finishes: refused, nothing linked.
    let at_provider = attacker
        .http
        .get(started["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let landed = attacker.visit(&location(&at_provider)).await;
    assert_eq!(
        location(&landed),
        "/settings/error?error=unable_to_link_account"
    );
    let providers: Vec<String> = accounts_of(&server, &user_id)
        .await
        .into_iter()
        .map(|a| a.provider_id)
        .collect();
    assert_eq!(providers, vec!["github".to_owned()]);
}

db_tests!(
    link_social_then_unlink,
    github_proof_revokes_a_pre_registration,
    a_verified_user_is_linked_as_before,
    a_later_proof_revokes_unproven_access,
    a_link_started_before_the_proof_fails,
);
