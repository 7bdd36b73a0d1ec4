//! Invitations over HTTP with real SMTP delivery: invite, get, accept, reject, cancel, list, and
//! the rules that must hold under concurrency.

use serde_json::{json, Value};

use crate::fixtures::{Org, User};
use crate::harness::{expect_ok, TestServer};

mod answering;
mod limits;
mod permissions;

/// `owner-{slug}@example.com`, verified, creates the organization `slug`.
async fn verified_owner(server: &TestServer, slug: &str) -> Org {
    let owner = User::verified(server, &format!("owner-{slug}@example.com")).await;
    Org::create(server, owner, slug, slug).await
}

/// The organization "life", Bob (signed up, not verified) and his invitation as an admin,
/// addressed to `Bob@Example.com`.
async fn bob_invited(server: &TestServer) -> (Org, User, Value) {
    let o = verified_owner(server, "life").await;
    let bob = User::sign_up(server, "bob@example.com").await;
    let inv = expect_ok(
        o.invite(json!({"email": "Bob@Example.com", "role": "admin"}))
            .await,
    )
    .await;
    (o, bob, inv)
}
