//! The periodic sweep on both databases: what it removes and keeps, whether a Better Auth scrypt
//! hash is left, and that its statements read indexes (migration 7's) instead of whole tables.

use chrono::{Duration, Utc};
use migration::testing::TestDb;
use migration::{db_tests, LEGACY_PASSWORD_CONDITION};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use service::credentials::scrypt_hashes_present;
use service::maintenance::{sweep, Swept};

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

async fn sweeps_what_expired_and_sees_scrypt_hashes(db: TestDb) {
    let conn = db.migrated().await;
    let now = Utc::now();
    let at = |d: Duration| format!("'{}'", (now + d).naive_utc().format("%Y-%m-%d %H:%M:%S"));
    let (past, future) = (at(-Duration::hours(1)), at(Duration::hours(1)));
    exec(&conn, &format!(r#"INSERT INTO "user" (id, name, email, updated_at) VALUES ('u1', 'A', 'a@example.com', {past})"#)).await;
    for (id, expires) in [("s1", &past), ("s2", &future)] {
        exec(&conn, &format!("INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id) VALUES ('{id}', {expires}, 't{id}', {past}, {past}, 'u1')")).await;
    }
    for (id, expires) in [("v1", &past), ("v2", &future)] {
        exec(&conn, &format!("INSERT INTO verification (id, identifier, value, expires_at) VALUES ('{id}', 'i', 'x', {expires})")).await;
    }
    // An Argon2 password and an OAuth account without one: no scrypt hash.
    exec(&conn, &format!("INSERT INTO account (id, account_id, provider_id, user_id, password, updated_at) VALUES ('a1', 'u1', 'credential', 'u1', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5', {past})")).await;
    exec(&conn, &format!("INSERT INTO account (id, account_id, provider_id, user_id, updated_at) VALUES ('a2', '42', 'github', 'u1', {past})")).await;
    assert!(!scrypt_hashes_present(&conn).await.unwrap());

    let swept = sweep(&conn, now, Duration::minutes(1)).await.unwrap();
    assert_eq!(
        swept,
        Swept {
            sessions: 1,
            verifications: 1,
            rate_limits: 0,
        }
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM session WHERE id = 's2'").await,
        1
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM verification WHERE id = 'v2'").await,
        1
    );

    // Better Auth's `<salt hex>:<key hex>` is found, whether it is the only password or not.
    exec(
        &conn,
        "UPDATE account SET password = 'ab12:cd34' WHERE id = 'a1'",
    )
    .await;
    assert!(scrypt_hashes_present(&conn).await.unwrap());
}

/// The plan of `sql`, one line per step.
async fn plan(db: &DatabaseConnection, sql: &str) -> String {
    let txn = db.begin().await.unwrap();
    let explain = match db.get_database_backend() {
        DbBackend::Postgres => {
            // On tiny tables a scan is cheapest; what is asked here is whether the index serves.
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            format!("EXPLAIN {sql}")
        }
        _ => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    let rows = txn
        .query_all_raw(Statement::from_string(db.get_database_backend(), explain))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|r| {
            r.try_get_by_index::<String>(0)
                .or_else(|_| r.try_get_by_index::<String>(3))
                .unwrap()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn sweep_statements_read_their_indexes(db: TestDb) {
    let conn = db.migrated().await;
    let expired = plan(
        &conn,
        r#"DELETE FROM "session" WHERE "session"."expires_at" < '2026-01-01 00:00:00'"#,
    )
    .await;
    assert!(expired.contains("session_expiresAt_idx"), "{expired}");
    let legacy = plan(
        &conn,
        &format!(
            r#"SELECT "account"."id" FROM "account" WHERE {LEGACY_PASSWORD_CONDITION} LIMIT 1"#
        ),
    )
    .await;
    // SQLite has no such index (its planner would not use it): an index on provider_id serves.
    let wanted = match conn.get_database_backend() {
        DbBackend::Postgres => "account_legacyPassword_idx",
        _ => "USING INDEX account_providerId_accountId_uidx",
    };
    assert!(legacy.contains(wanted), "{legacy}");
}

db_tests!(
    sweeps_what_expired_and_sees_scrypt_hashes,
    sweep_statements_read_their_indexes
);
