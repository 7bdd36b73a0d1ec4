//! Organization routes: the slug over the id, members of another organization, the full organization's invitations.

use migration::db_tests;
use migration::testing::TestDb;
use serde_json::json;

use crate::fixtures::Org;
use crate::harness::{assert_error, parts, TestServer};

use super::organization;

/// With both `organizationId` and `organizationSlug`, the slug wins, as in Better Auth.
async fn the_slug_wins_over_the_id(db: TestDb) {
    let server = TestServer::start(&db).await;
    let Org { owner, id, .. } = organization(&server, "slug@example.com", "slug-wins").await;
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
    let Org {
        owner: alice,
        id: mine,
        ..
    } = organization(&server, "alice-w@example.com", "alice-org").await;
    let bob = organization(&server, "bob-w@example.com", "bob-org")
        .await
        .owner;
    let (_, members) = parts(
        bob.get("/organization/list-members?organizationSlug=bob-org")
            .await,
    )
    .await;
    let bobs_member = members["members"][0]["id"].as_str().unwrap().to_owned();
    assert_error(
        alice
            .post(
                "/organization/update-member-role",
                json!({"memberId": bobs_member, "role": "member", "organizationId": mine}),
            )
            .await,
        403,
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
    )
    .await;
    assert_error(
        alice
            .post(
                "/organization/update-member-role",
                json!({"memberId": "nobody", "role": "member", "organizationId": mine}),
            )
            .await,
        400,
        "MEMBER_NOT_FOUND",
    )
    .await;
    let (_, still) = parts(
        bob.get("/organization/list-members?organizationSlug=bob-org")
            .await,
    )
    .await;
    assert_eq!(still["members"][0]["role"], "owner");
}

/// `get-full-organization` lists invitations of every status to those who may invite.
async fn full_organization_lists_invitations_of_every_status(db: TestDb) {
    // Invitees accept without verifying their address here (Better Auth's default).
    let server = TestServer::start_with(&db, |c| {
        c.org.require_email_verification_on_invitation = false
    })
    .await;
    let Org { owner, id: org, .. } =
        organization(&server, "full-owner@example.com", "full-statuses").await;
    let mut ids = Vec::new();
    for who in ["accepts", "rejects", "canceled", "pending"] {
        let (s, inv) = parts(
            owner
                .post(
                    "/organization/invite-member",
                    json!({"email": format!("{who}@example.com"), "role": "member", "organizationId": org}),
                )
                .await,
        )
        .await;
        assert_eq!(s, 200, "{inv}");
        ids.push(inv["id"].as_str().unwrap().to_owned());
    }
    for (who, route, id) in [
        ("accepts", "accept-invitation", &ids[0]),
        ("rejects", "reject-invitation", &ids[1]),
    ] {
        let invitee = server.browser();
        invitee
            .sign_up(&format!("{who}@example.com"), "password123")
            .await;
        let r = invitee
            .post(
                &format!("/organization/{route}"),
                json!({"invitationId": id}),
            )
            .await;
        assert_eq!(r.status(), 200, "{route}");
    }
    let r = owner
        .post(
            "/organization/cancel-invitation",
            json!({"invitationId": ids[2]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let full = owner
        .json(&format!(
            "/organization/get-full-organization?organizationId={org}"
        ))
        .await;
    let mut seen: Vec<(String, String)> = full["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .cloned()
        .zip(["accepted", "rejected", "canceled", "pending"].map(str::to_owned))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
}

db_tests!(
    the_slug_wins_over_the_id,
    updating_a_member_of_another_organization,
    full_organization_lists_invitations_of_every_status,
);
