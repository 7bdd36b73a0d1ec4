//! Nobody grants more than they hold: only an owner makes owners (by role change or by
//! invitation) or changes an owner, and a member without `member:update` changes nobody.

use migration::db_tests;
use migration::testing::TestDb;
use service::error::OrgError;
use service::Error;

use super::{refused, World};

async fn roles_do_not_escalate(db: TestDb) {
    let w = World::new(&db, |_| {}).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "roles").await;
    let admin = w.user("admin@example.com").await;
    let member = w.user("member@example.com").await;
    w.add(&org, &admin, "admin").await.unwrap();
    w.add(&org, &member, "member").await.unwrap();
    let (owner_id, admin_id, member_id) = (
        w.member_id(&org, &owner).await,
        w.member_id(&org, &admin).await,
        w.member_id(&org, &member).await,
    );
    let set = |who, id: &str, role: &str| {
        let (who, id, role) = (who, id.to_owned(), role.to_owned());
        let (auth, org) = (&w.auth, org.clone());
        async move {
            auth.update_member_role(who, Some(org), &id, &[role])
                .await
                .map(|m| m.role)
        }
    };

    let to_owner = set(&admin, &member_id, "owner").await.unwrap_err();
    assert_eq!(refused(to_owner), OrgError::NotAllowedToUpdateMember);
    let self_to_owner = set(&admin, &admin_id, "owner").await.unwrap_err();
    assert_eq!(refused(self_to_owner), OrgError::NotAllowedToUpdateMember);
    let owner_changed = set(&admin, &owner_id, "member").await.unwrap_err();
    assert_eq!(refused(owner_changed), OrgError::NotAllowedToUpdateMember);
    let by_member = set(&member, &admin_id, "member").await.unwrap_err();
    assert_eq!(refused(by_member), OrgError::NotAllowedToUpdateMember);
    let invite_owner = w
        .invite(&admin, &org, "boss@example.com", "owner", &[])
        .await
        .unwrap_err();
    assert_eq!(refused(invite_owner), OrgError::NotAllowedToInviteWithRole);
    let invite_by_member = w
        .invite(&member, &org, "friend@example.com", "member", &[])
        .await
        .unwrap_err();
    assert_eq!(refused(invite_by_member), OrgError::NotAllowedToInvite);
    let unknown = set(&owner, &member_id, "superuser").await.unwrap_err();
    assert!(matches!(unknown, Error::RoleNotFound(r) if r == "superuser"));

    // What the roles allow, they allow.
    assert_eq!(set(&admin, &member_id, "admin").await.unwrap(), "admin");
    assert_eq!(set(&owner, &admin_id, "owner").await.unwrap(), "owner");
}

db_tests!(roles_do_not_escalate);
