//! Teams hold at most the configured number of members on every way in (add-team-member, an
//! invitation's teams at invitation and at acceptance), and only members of their organization.

use migration::db_tests;
use migration::testing::TestDb;
use service::error::OrgError;

use super::{refused, World};

async fn team_capacity_holds_on_every_way_in(db: TestDb) {
    let w = World::new(&db, |c| c.org.maximum_members_per_team = Some(2)).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "teams").await;
    let team = w
        .again(&owner)
        .await
        .session
        .active_team_id
        .expect("the default team");
    let (a, b) = (w.user("a@example.com").await, w.user("b@example.com").await);
    w.add(&org, &a, "member").await.unwrap();
    w.add(&org, &b, "member").await.unwrap();
    let invitation = w
        .invite(&owner, &org, "late@example.com", "member", &[&team])
        .await
        .unwrap();

    // The owner is in the default team: one more fits.
    w.auth
        .add_team_member(&owner, Some(org.clone()), &team, &a.user.id)
        .await
        .unwrap();
    let full = w
        .auth
        .add_team_member(&owner, Some(org.clone()), &team, &b.user.id)
        .await
        .unwrap_err();
    assert_eq!(refused(full), OrgError::TeamMemberLimitReached);
    // Adding someone already in it is no admission.
    let again = w
        .auth
        .add_team_member(&owner, Some(org.clone()), &team, &a.user.id)
        .await
        .unwrap();
    assert_eq!(again.user_id, a.user.id);
    let invited = w
        .invite(&owner, &org, "other@example.com", "member", &[&team])
        .await
        .unwrap_err();
    assert_eq!(refused(invited), OrgError::TeamMemberLimitReached);
    // An invitation sent while there was room cannot overfill the team either; nothing of the
    // refused acceptance stays.
    let late = w.user("late@example.com").await;
    let accept = w
        .auth
        .accept_invitation(&late, &invitation)
        .await
        .unwrap_err();
    assert_eq!(refused(accept), OrgError::TeamMemberLimitReached);
    assert!(w
        .auth
        .membership(&org, &late.user.id)
        .await
        .unwrap()
        .is_none());
}

/// Only members of the team's organization are put in it, and a team of another organization is
/// not found.
async fn teams_hold_members_of_their_organization(db: TestDb) {
    let w = World::new(&db, |_| {}).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "home").await;
    let team = w.again(&owner).await.session.active_team_id.unwrap();
    let stranger = w.user("stranger@example.com").await;
    let not_member = w
        .auth
        .add_team_member(&owner, Some(org.clone()), &team, &stranger.user.id)
        .await
        .unwrap_err();
    assert_eq!(refused(not_member), OrgError::UserNotAMember);
    let elsewhere = w.organization(&stranger, "elsewhere").await;
    let their_team = w.again(&stranger).await.session.active_team_id.unwrap();
    w.add(&org, &stranger, "member").await.unwrap();
    let foreign = w
        .auth
        .add_team_member(&owner, Some(org.clone()), &their_team, &stranger.user.id)
        .await
        .unwrap_err();
    assert_eq!(refused(foreign), OrgError::TeamNotFound);
    let not_theirs = w
        .auth
        .add_team_member(&stranger, Some(elsewhere), &their_team, &owner.user.id)
        .await
        .unwrap_err();
    assert_eq!(refused(not_theirs), OrgError::UserNotAMember);
}

db_tests!(
    team_capacity_holds_on_every_way_in,
    teams_hold_members_of_their_organization,
);
