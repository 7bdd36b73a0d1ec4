//! GitHub sign-in: unverified e-mail and banned users.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::Value;

use super::{accounts_of, server, sign_in_body, Browser, Github};

async fn github_unverified_email_is_not_linked(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let victim = Browser::new(&server).sign_up("victim@example.com").await;
    gh.profile("victim@example.com", false);
    let attacker = Browser::new(&server);
    let (_, landed) = attacker
        .dance("/sign-in/social", sign_in_body("github"))
        .await;
    assert_eq!(landed, "/auth-error?error=account_not_linked");
    assert_eq!(attacker.session_user().await, Value::Null);
    assert_eq!(
        accounts_of(&server, victim["id"].as_str().unwrap())
            .await
            .len(),
        1
    );
}

/// A banned user (the admin plugin's columns) signing in with a provider lands on the error
/// callback with Better Auth's `BANNED_USER`, without a session and without a new account row.
async fn github_sign_in_of_a_banned_user(db: TestDb) {
    let gh = Github::start().await;
    let server = server(&db, vec![gh.config()]).await;
    let user = Browser::new(&server).sign_up("banned@example.com").await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &server.db,
        "UPDATE \"user\" SET banned = true, ban_reason = 'spam'",
    )
    .await
    .unwrap();
    gh.profile("banned@example.com", true);
    let b = Browser::new(&server);
    let (_, landed) = b.dance("/sign-in/social", sign_in_body("github")).await;
    assert_eq!(landed, "/auth-error?error=BANNED_USER");
    assert_eq!(b.session_user().await, Value::Null);
    assert_eq!(
        accounts_of(&server, user["id"].as_str().unwrap())
            .await
            .len(),
        1,
        "the refused sign-in linked nothing"
    );
}

db_tests!(
    github_sign_in_of_a_banned_user,
    github_unverified_email_is_not_linked,
);
