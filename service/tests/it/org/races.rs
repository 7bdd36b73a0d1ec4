//! Requests that change one organization at the same moment: each is decided as if it ran alone
//! (they serialise on the organization's lock), so the rules hold between them too.

use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ConnectionTrait, Statement};
use service::error::OrgError;

use super::{refused, World};

/// Team memberships of users who are not members of the team's organization.
const STRAYS: &str = "SELECT COUNT(*) FROM team_member tm JOIN team t ON t.id = tm.team_id \
    WHERE NOT EXISTS (SELECT 1 FROM member m \
        WHERE m.organization_id = t.organization_id AND m.user_id = tm.user_id)";

/// `remove-member` and `add-team-member` for the same user at the same moment: whichever comes
/// second sees the first's outcome, so a removed member is never left in a team.
async fn a_removed_member_is_never_left_in_a_team(db: TestDb) {
    let w = World::new(&db, |_| {}).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "racing").await;
    let team = w.again(&owner).await.session.active_team_id.unwrap();
    for round in 0..12 {
        let user = w.user(&format!("u{round}@example.com")).await;
        w.add(&org, &user, "member").await.unwrap();
        let member_id = w.member_id(&org, &user).await;
        let (removed, added) = tokio::join!(
            w.auth.remove_member(&owner, Some(org.clone()), &member_id),
            w.auth
                .add_team_member(&owner, Some(org.clone()), &team, &user.user.id),
        );
        removed.unwrap();
        if let Err(e) = added {
            assert_eq!(refused(e), OrgError::UserNotAMember, "round {round}");
        }
    }
    let db = &w.auth.db;
    let strays = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), STRAYS))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(strays, 0, "team members who are not members");
}

/// Concurrent admissions never pass the membership limit.
async fn concurrent_admissions_keep_the_limit(db: TestDb) {
    let w = World::new(&db, |c| c.org.membership_limit = 3).await;
    let owner = w.user("owner@example.com").await;
    let org = w.organization(&owner, "crowded").await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(w.user(&format!("c{i}@example.com")).await);
    }
    let mut admissions = tokio::task::JoinSet::new();
    for user in users {
        let (auth, org) = (w.auth.clone(), org.clone());
        admissions.spawn(async move {
            auth.add_member(&org, &user.user.email, &["member".into()])
                .await
        });
    }
    let outcomes = admissions.join_all().await;
    let admitted = outcomes.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 2, "{outcomes:?}");
    for refusal in outcomes.into_iter().filter_map(Result::err) {
        assert_eq!(refused(refusal), OrgError::MembershipLimitReached);
    }
}

db_tests!(
    a_removed_member_is_never_left_in_a_team,
    concurrent_admissions_keep_the_limit,
);
