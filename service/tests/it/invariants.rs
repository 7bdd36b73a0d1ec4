//! The invariant checker (`service::invariants`): silent on a sound store, and naming each broken
//! invariant once rows break it.

use migration::db_tests;
use migration::testing::TestDb;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use service::invariants::{check, Scope};

fn scope(exclusive: bool) -> Scope {
    Scope {
        exclusive,
        creator_role: "owner".into(),
    }
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.unwrap();
}

/// The names of the invariants broken in `db`, sorted, each once.
async fn broken(db: &DatabaseConnection, exclusive: bool) -> Vec<String> {
    let mut names: Vec<String> = check(db, &scope(exclusive))
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.invariant)
        .collect();
    names.sort();
    names.dedup();
    names
}

const T: &str = "'2026-01-01 00:00:00'";

async fn user(db: &DatabaseConnection, id: &str, with_password: bool) {
    exec(
        db,
        &format!(
            "INSERT INTO \"user\" (id, name, email, email_verified, created_at, updated_at) \
             VALUES ('{id}', 'U', '{id}@example.com', false, {T}, {T})"
        ),
    )
    .await;
    if with_password {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        exec(
            db,
            &format!(
                "INSERT INTO account (id, account_id, provider_id, user_id, password, created_at, updated_at) \
                 VALUES ('acct-{id}', '{id}', 'credential', '{id}', '{hash}', {T}, {T})"
            ),
        )
        .await;
    }
}

/// A store orgauth wrote soundly, by hand: users with passwords, an organization with its owner
/// and a member, a team of members, sessions pointing inside it, one reset link.
async fn sound_store(db: &DatabaseConnection) {
    for id in ["alice", "bob"] {
        user(db, id, true).await;
    }
    exec(
        db,
        &format!(
            "INSERT INTO organization (id, name, slug, created_at) VALUES ('org', 'O', 'o', {T})"
        ),
    )
    .await;
    exec(db, &format!("INSERT INTO member (id, organization_id, user_id, role, created_at) VALUES ('m1', 'org', 'alice', 'admin,owner', {T}), ('m2', 'org', 'bob', 'member', {T})")).await;
    exec(db, &format!("INSERT INTO team (id, name, organization_id, created_at) VALUES ('team', 'T', 'org', {T})")).await;
    exec(db, &format!("INSERT INTO team_member (id, team_id, user_id, created_at) VALUES ('tm1', 'team', 'bob', {T})")).await;
    let digest = "a".repeat(64);
    exec(db, &format!("INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id, active_organization_id, active_team_id) VALUES ('s1', {T}, '{digest}', {T}, {T}, 'bob', 'org', 'team')")).await;
    exec(db, &format!("INSERT INTO verification (id, identifier, value, expires_at, created_at, updated_at) VALUES ('v1', 'reset-password:{digest}', 'alice', {T}, {T}, {T})")).await;
}

async fn a_sound_store_breaks_nothing(t: TestDb) {
    t.hold_to_invariants();
    let db = t.migrated().await;
    assert!(broken(&db, true).await.is_empty(), "empty store");
    sound_store(&db).await;
    assert_eq!(broken(&db, true).await, Vec::<String>::new());
}

async fn each_broken_invariant_is_named(t: TestDb) {
    t.hold_to_invariants();
    let db = t.migrated().await;
    sound_store(&db).await;
    // The owner leaves without a successor; a user has no way to sign in; a team member is not
    // a member of the organization; a session points at an organization its user is not in.
    exec(&db, "DELETE FROM member WHERE id = 'm1'").await;
    user(&db, "carol", false).await;
    exec(&db, &format!("INSERT INTO team_member (id, team_id, user_id, created_at) VALUES ('tm2', 'team', 'carol', {T})")).await;
    exec(&db, &format!("INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id, active_organization_id) VALUES ('s2', {T}, 'plain-token', {T}, {T}, 'carol', 'org')")).await;
    exec(&db, &format!("INSERT INTO verification (id, identifier, value, expires_at, created_at, updated_at) VALUES ('v2', 'reset-password:{}', 'alice', {T}, {T}, {T})", "b".repeat(64))).await;
    exec(
        &db,
        "UPDATE account SET password = 'hunter2' WHERE user_id = 'bob'",
    )
    .await;
    exec(&db, "INSERT INTO invitation (id, organization_id, email, status, expires_at, created_at, inviter_id) VALUES ('i1', 'org', 'x@example.com', 'maybe', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 'bob')").await;
    assert_eq!(
        broken(&db, true).await,
        [
            "malformed_password_hash",
            "organization_without_owner",
            "plain_session_token",
            "session_in_foreign_organization",
            "several_reset_links",
            "team_member_outside_organization",
            "unknown_invitation_status",
            "user_without_account",
        ]
    );
    // Outside exclusive mode, the plain forms and Better Auth's several reset links are allowed.
    assert_eq!(
        broken(&db, false).await,
        [
            "malformed_password_hash",
            "organization_without_owner",
            "session_in_foreign_organization",
            "team_member_outside_organization",
            "unknown_invitation_status",
            "user_without_account",
        ]
    );
    // Emptied, or the harness's own check after every test would (rightly) fail this one.
    for table in [
        "invitation",
        "verification",
        "session",
        "team_member",
        "team",
        "member",
        "account",
        "organization",
        "\"user\"",
    ] {
        exec(&db, &format!("DELETE FROM {table}")).await;
    }
}

db_tests!(a_sound_store_breaks_nothing, each_broken_invariant_is_named);
