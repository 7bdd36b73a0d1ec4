//! An organization past the listed 100: pages and counts come from SQL, oldest first, and
//! `get-full-organization` shows the first 100 members and invitations.

use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::ConnectionTrait;

use crate::fixtures::{Org, User};
use crate::harness::{parts, TestServer};

async fn large_organizations_page_in_order(db: TestDb) {
    let server = TestServer::start(&db).await;
    let owner = User::sign_up(&server, "big-owner@example.com").await;
    let Org {
        id: org_id, owner, ..
    } = Org::create(&server, owner, "Big", "big").await;
    // 250 more members (each with a provider account) and 150 pending invitations, each a second apart, after the owner.
    let mut sql = String::new();
    for i in 0..250 {
        sql.push_str(&format!(
            "INSERT INTO \"user\" (id, name, email, email_verified, created_at, updated_at) \
             VALUES ('bu{i:03}', 'U{i}', 'bu{i:03}@example.com', true, '2030-01-01 00:00:00', '2030-01-01 00:00:00');
             INSERT INTO account (id, account_id, provider_id, user_id, created_at, updated_at) \
             VALUES ('ba{i:03}', 'bu{i:03}', 'github', 'bu{i:03}', '2030-01-01 00:00:00', '2030-01-01 00:00:00');
             INSERT INTO member (id, organization_id, user_id, role, created_at) \
             VALUES ('bm{i:03}', '{org_id}', 'bu{i:03}', 'member', '2030-01-01 00:{:02}:{:02}');",
            i / 60,
            i % 60
        ));
    }
    for i in 0..150 {
        sql.push_str(&format!(
            "INSERT INTO invitation (id, organization_id, email, role, status, expires_at, created_at, inviter_id) \
             SELECT 'bi{i:03}', '{org_id}', 'guest{i:03}@example.com', 'member', 'pending', '2099-01-01 00:00:00', \
                    '2030-01-01 00:{:02}:{:02}', id FROM \"user\" WHERE email = 'big-owner@example.com';",
            i / 60,
            i % 60
        ));
    }
    server.db.execute_unprepared(&sql).await.unwrap();

    let (s, page) = parts(
        owner
            .get(&format!(
                "/organization/list-members?organizationId={org_id}&limit=100&offset=100"
            ))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["total"], 251);
    let members = page["members"].as_array().unwrap();
    assert_eq!(members.len(), 100);
    // The owner came first; offset 100 starts at the 100th added member.
    assert_eq!(members[0]["userId"], "bu099");
    assert_eq!(members[99]["userId"], "bu198");

    let (_, first) = parts(
        owner
            .get(&format!(
                "/organization/list-members?organizationId={org_id}&limit=3"
            ))
            .await,
    )
    .await;
    assert_eq!(first["total"], 251);
    let ids: Vec<_> = first["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids[1..], ["bu000", "bu001"]);

    let (s, full) = parts(
        owner
            .get(&format!(
                "/organization/get-full-organization?organizationId={org_id}"
            ))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(full["members"].as_array().unwrap().len(), 100);
    assert_eq!(full["members"][99]["userId"], "bu098");
    let invitations = full["invitations"].as_array().unwrap();
    assert_eq!(invitations.len(), 100);
    assert_eq!(invitations[0]["id"], "bi000");
    assert_eq!(invitations[99]["id"], "bi099");
    let (_, limited) = parts(
        owner
            .get(&format!(
                "/organization/get-full-organization?organizationId={org_id}&membersLimit=5"
            ))
            .await,
    )
    .await;
    assert_eq!(limited["members"].as_array().unwrap().len(), 5);
}

db_tests!(large_organizations_page_in_order);
