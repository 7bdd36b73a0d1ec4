//! Memberships under concurrency, limits, teams and switches.

use entity::{invitation, member, team_member};
use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::fixtures::{accept, Org, User};
use crate::harness::{assert_error, TestServer};

use super::verified_owner;

/// 20 concurrent accepts of one invitation: one membership.
async fn one_invitation_one_membership(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = verified_owner(&server, "once").await;
    let dave = User::verified(&server, "dave@example.com").await;
    let (_, inv) = o
        .invite(json!({"email": "dave@example.com", "role": "member"}))
        .await;
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (dave, id) = (dave.browser.clone(), inv["id"].clone());
            tokio::spawn(async move { accept(&dave, &id).await.0 })
        })
        .collect();
    let mut ok = 0;
    for a in attempts {
        let status = a.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 1);
    assert_eq!(
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&o.id))
            .count(&server.db)
            .await
            .unwrap(),
        2
    );
    let stored = invitation::Entity::find_by_id(inv["id"].as_str().unwrap())
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, "accepted");
}

/// Parallel accepts of different invitations never push the organization past its limit.
async fn the_membership_limit_holds(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.org.membership_limit = 3).await;
    let o = verified_owner(&server, "limited").await;
    let mut invitees = Vec::new();
    for i in 0..6 {
        let email = format!("p{i}@example.com");
        let b = User::verified(&server, &email).await;
        let (s, inv) = o.invite(json!({"email": email, "role": "member"})).await;
        assert_eq!(s, 200);
        invitees.push((b, inv["id"].clone()));
    }
    let attempts: Vec<_> = invitees
        .iter()
        .map(|(b, id)| {
            let (b, id) = (b.browser.clone(), id.clone());
            tokio::spawn(async move { accept(&b, &id).await })
        })
        .collect();
    let mut refused = 0;
    for a in attempts {
        let (s, body) = a.await.unwrap();
        if s != 200 {
            assert_error((s, body), 403, "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED").await;
            refused += 1;
        }
    }
    assert_eq!(refused, 4);
    assert_eq!(
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&o.id))
            .count(&server.db)
            .await
            .unwrap(),
        3
    );
}

/// An invitation naming one team places the new member in it and makes it the active team.
async fn invitations_with_a_team(db: TestDb) {
    let server = TestServer::start(&db).await;
    let o = verified_owner(&server, "teams").await;
    let erin = User::verified(&server, "erin@example.com").await;
    let (s, inv) = o
        .invite(json!({"email": "erin@example.com", "role": "member", "teamId": o.default_team}))
        .await;
    assert_eq!(
        (s, inv["teamId"].as_str()),
        (200, Some(o.default_team.as_str()))
    );
    let (s, _) = accept(&erin, &inv["id"]).await;
    assert_eq!(s, 200);
    let placed = team_member::Entity::find()
        .filter(team_member::Column::UserId.eq(&erin.id))
        .all(&server.db)
        .await
        .unwrap();
    assert_eq!(
        placed.iter().map(|t| t.team_id.clone()).collect::<Vec<_>>(),
        vec![o.default_team.clone()]
    );
    assert_eq!(
        erin.json("/get-session").await["session"]["activeTeamId"],
        json!(o.default_team)
    );
    assert_error(
        o.invite(json!({"email": "f@example.com", "role": "member", "teamId": "a,b"}))
            .await,
        400,
        "INVALID_TEAM_ID",
    )
    .await;
}

/// A server with the configurable limits and switches set: one organization per user, two
/// pending invitations per organization, cancel-on-re-invite, and accepting without
/// verification; and an organization there.
async fn with_switches(db: &TestDb) -> (TestServer, Org) {
    let server = TestServer::start_with(db, |c| {
        c.org.organization_limit = Some(1);
        c.org.invitation_limit = 2;
        c.org.cancel_pending_invitations_on_re_invite = true;
        c.org.require_email_verification_on_invitation = false;
    })
    .await;
    let o = verified_owner(&server, "switches").await;
    (server, o)
}

async fn the_organization_limit(db: TestDb) {
    let (_server, o) = with_switches(&db).await;
    assert_error(
        o.owner
            .post(
                "/organization/create",
                json!({"name": "Two", "slug": "two"}),
            )
            .await,
        403,
        "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS",
    )
    .await;
}

/// A re-invite cancels the pending invitation; canceled ones do not count against the limit of
/// pending invitations.
async fn re_invites_and_the_invitation_limit(db: TestDb) {
    let (server, o) = with_switches(&db).await;
    let (_, first) = o
        .invite(json!({"email": "u1@example.com", "role": "member"}))
        .await;
    let (s, second) = o
        .invite(json!({"email": "u1@example.com", "role": "admin"}))
        .await;
    assert_eq!(
        (s, second["role"].as_str()),
        (200, Some("admin")),
        "re-invite replaces the pending one"
    );
    let old = invitation::Entity::find_by_id(first["id"].as_str().unwrap())
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, "canceled");
    o.invite(json!({"email": "u2@example.com", "role": "member"}))
        .await;
    assert_error(
        o.invite(json!({"email": "u3@example.com", "role": "member"}))
            .await,
        403,
        "INVITATION_LIMIT_REACHED",
    )
    .await;
}

/// Verification not required: an unverified recipient may accept.
async fn accepting_unverified_when_switched_off(db: TestDb) {
    let (server, o) = with_switches(&db).await;
    let inv = o.invitation("u1@example.com", "admin").await;
    let unverified = User::sign_up(&server, "u1@example.com").await;
    let (s, accepted) = accept(&unverified, &inv["id"]).await;
    assert_eq!(
        (s, accepted["member"]["organizationId"].as_str()),
        (200, Some(o.id.as_str()))
    );
}

db_tests!(
    one_invitation_one_membership,
    the_membership_limit_holds,
    invitations_with_a_team,
    the_organization_limit,
    re_invites_and_the_invitation_limit,
    accepting_unverified_when_switched_off,
);
