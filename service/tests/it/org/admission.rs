//! Who may join: the membership limit holds on every way in (the operator's `add-member`,
//! accepting an invitation), and nobody is a member twice.

use migration::db_tests;
use migration::testing::TestDb;
use service::error::OrgError;

use super::{refused, World};

/// With a membership limit of 2, the owner and one more: the operator's command and an
/// invitation are refused alike, and a refused accept leaves the invitation to be answered.
async fn the_membership_limit_holds_on_every_way_in(db: TestDb) {
    let w = World::new(&db, |c| c.org.membership_limit = 2).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "limited").await;
    let second = w.user("second@example.com").await;
    let third = w.user("third@example.com").await;
    let invitation = w
        .invite(&owner, &org, "third@example.com", "member", &[])
        .await
        .unwrap();
    w.add(&org, &second, "member").await.unwrap();

    let by_operator = w.add(&org, &third, "member").await.unwrap_err();
    assert_eq!(refused(by_operator), OrgError::MembershipLimitReached);
    let by_invitation = w
        .auth
        .accept_invitation(&third, &invitation)
        .await
        .unwrap_err();
    assert_eq!(refused(by_invitation), OrgError::MembershipLimitReached);

    // Room again: the same invitation is still pending and admits them.
    let second_id = w.member_id(&org, &second).await;
    w.auth
        .remove_member(&owner, Some(org.clone()), &second_id)
        .await
        .unwrap();
    let (accepted, member) = w.auth.accept_invitation(&third, &invitation).await.unwrap();
    assert_eq!(
        (accepted.status.as_str(), member.role.as_str()),
        ("accepted", "member")
    );
}

/// A member is admitted once, whichever way they come again.
async fn a_member_is_admitted_once(db: TestDb) {
    let w = World::new(&db, |_| {}).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "once").await;
    let member = w.user("member@example.com").await;
    w.add(&org, &member, "member").await.unwrap();
    let again = w.add(&org, &member, "admin").await.unwrap_err();
    assert_eq!(refused(again), OrgError::AlreadyAMember);
    let owner_again = w.add(&org, &owner, "member").await.unwrap_err();
    assert_eq!(refused(owner_again), OrgError::AlreadyAMember);
    let invited = w
        .invite(&owner, &org, "member@example.com", "admin", &[])
        .await
        .unwrap_err();
    assert_eq!(refused(invited), OrgError::AlreadyAMember);
}

/// The organization limit counts the organizations a user belongs to, however they joined.
async fn the_organization_limit_counts_memberships(db: TestDb) {
    let w = World::new(&db, |c| c.org.organization_limit = Some(2)).await;
    let owner = w.user("owner@example.com").await;
    let other = w.user("other@example.com").await;
    let first = w.organization(&owner, "first").await;
    w.organization(&other, "theirs").await;
    w.add("theirs", &owner, "member").await.unwrap();
    let e = w.create(&owner, "third").await.unwrap_err();
    assert_eq!(refused(e), OrgError::OrganizationLimitReached);
    let theirs = w
        .again(&other)
        .await
        .session
        .active_organization_id
        .unwrap();
    w.auth.leave_organization(&owner, &theirs).await.unwrap();
    w.create(&owner, "third").await.unwrap();
    assert!(w
        .auth
        .membership(&first, &owner.user.id)
        .await
        .unwrap()
        .is_some());
}

db_tests!(
    the_membership_limit_holds_on_every_way_in,
    a_member_is_admitted_once,
    the_organization_limit_counts_memberships,
);
