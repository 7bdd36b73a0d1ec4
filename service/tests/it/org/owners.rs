//! An organization always keeps an owner: the last one cannot leave, be removed or be demoted,
//! and only an owner acts on an owner.

use migration::db_tests;
use migration::testing::TestDb;
use service::error::OrgError;

use super::{refused, World};

async fn the_last_owner_stays(db: TestDb) {
    let w = World::new(&db, |_| {}).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "kept").await;
    let admin = w.user("admin@example.com").await;
    w.add(&org, &admin, "admin").await.unwrap();
    let owner_id = w.member_id(&org, &owner).await;

    let leave = w.auth.leave_organization(&owner, &org).await.unwrap_err();
    assert_eq!(refused(leave), OrgError::OnlyOwner);
    let demote = w
        .auth
        .update_member_role(&owner, Some(org.clone()), &owner_id, &["admin".into()])
        .await
        .unwrap_err();
    assert_eq!(refused(demote), OrgError::WithoutAnOwner);
    let removed_by_admin = w
        .auth
        .remove_member(&admin, Some(org.clone()), &owner_id)
        .await
        .unwrap_err();
    assert_eq!(refused(removed_by_admin), OrgError::OnlyOwner);
    let removed_by_self = w
        .auth
        .remove_member(&owner, Some(org.clone()), "owner@example.com")
        .await
        .unwrap_err();
    assert_eq!(refused(removed_by_self), OrgError::OnlyOwner);
}

/// With a second owner, either may go, and then the other is the last.
async fn a_second_owner_lets_the_first_go(db: TestDb) {
    let w = World::new(&db, |_| {}).await;
    let first = w.user("first@example.com").await;
    let org = w.organization(&first, "two-owners").await;
    let second = w.user("second@example.com").await;
    w.add(&org, &second, "admin").await.unwrap();
    let second_id = w.member_id(&org, &second).await;
    w.auth
        .update_member_role(&first, Some(org.clone()), &second_id, &["owner".into()])
        .await
        .unwrap();
    let left = w.auth.leave_organization(&first, &org).await.unwrap();
    assert_eq!(left.user_id, first.user.id);
    let last = w.auth.leave_organization(&second, &org).await.unwrap_err();
    assert_eq!(refused(last), OrgError::OnlyOwner);
}

db_tests!(the_last_owner_stays, a_second_owner_lets_the_first_go);
