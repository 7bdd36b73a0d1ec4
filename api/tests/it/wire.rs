//! Answers that follow Better Auth 1.7.25 where orgauth used to differ (issue 17).

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::harness::{parts, Browser, TestServer};

async fn organization(b: &Browser, slug: &str) -> String {
    let (s, org) = parts(
        b.post("/organization/create", json!({"name": slug, "slug": slug}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{org}");
    org["id"].as_str().unwrap().to_owned()
}

/// With both `organizationId` and `organizationSlug`, the slug wins, as in Better Auth.
async fn the_slug_wins_over_the_id(db: TestDb) {
    let server = TestServer::start(&db).await;
    let owner = server.browser();
    owner.sign_up("slug@example.com", "password123").await;
    let id = organization(&owner, "slug-wins").await;
    for route in ["get-full-organization", "get-organization"] {
        let (s, body) = parts(
            owner
                .get(&format!(
                    "/organization/{route}?organizationId=no-such-id&organizationSlug=slug-wins"
                ))
                .await,
        )
        .await;
        assert_eq!(
            (s, body["id"].as_str()),
            (200, Some(id.as_str())),
            "{route}: {body}"
        );
    }
}

/// An admin naming a member of another organization in `update-member-role`: 403
/// `YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER`, as Better Auth; an unknown id stays 400.
async fn updating_a_member_of_another_organization(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = server.browser();
    alice.sign_up("alice-w@example.com", "password123").await;
    let mine = organization(&alice, "alice-org").await;
    let bob = server.browser();
    bob.sign_up("bob-w@example.com", "password123").await;
    organization(&bob, "bob-org").await;
    let (_, members) = parts(
        bob.get("/organization/list-members?organizationSlug=bob-org")
            .await,
    )
    .await;
    let bobs_member = members["members"][0]["id"].as_str().unwrap().to_owned();
    let (s, body) = parts(
        alice
            .post(
                "/organization/update-member-role",
                json!({"memberId": bobs_member, "role": "member", "organizationId": mine}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER"))
    );
    let (s, body) = parts(
        alice
            .post(
                "/organization/update-member-role",
                json!({"memberId": "nobody", "role": "member", "organizationId": mine}),
            )
            .await,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (400, Some("MEMBER_NOT_FOUND")));
    let (_, still) = parts(
        bob.get("/organization/list-members?organizationSlug=bob-org")
            .await,
    )
    .await;
    assert_eq!(still["members"][0]["role"], "owner");
}

db_tests!(
    the_slug_wins_over_the_id,
    updating_a_member_of_another_organization
);
