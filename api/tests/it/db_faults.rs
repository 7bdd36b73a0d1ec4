//! Database faults a request meets half-way: the connection PostgreSQL terminated (as a restart or
//! an administrator does), SQLite's write lock held by another process. Each is answered 503 with
//! Retry-After, which says "try again", never 500, which says "this request is broken"; and the
//! server serves again once the fault is gone, without a restart. bench/faults/ has the same
//! faults under load, with figures.

use migration::testing::{self, Backend, TestDb};
use sea_orm::sqlx::{Connection, Executor, SqliteConnection};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::harness::{parts, TestServer};

/// Asserts the database-unavailable answer: 503, Retry-After, `SERVICE_UNAVAILABLE`.
async fn assert_unavailable(r: reqwest::Response, case: &str) {
    let retry = r.headers().get("retry-after").cloned();
    let (status, body) = parts(r).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE")),
        "{case}: {body}"
    );
    assert!(retry.is_some(), "{case}: 503 without Retry-After");
}

/// Every pooled connection terminated by `pg_terminate_backend`: the request that meets one gets
/// 503 (it got 500), and the pool replaces the dead connections by itself.
async fn a_terminated_connection_answers_503(db: TestDb) {
    // Without the session cache, whose listener and heartbeats would meet the dead connections
    // before the request does.
    let server = TestServer::start_with(&db, |c| c.session_cache = None).await;
    let b = server.browser();
    b.sign_up("ada@example.com", "password123").await;
    assert_eq!(parts(b.get("/get-session").await).await.0, 200);
    let admin = sea_orm::Database::connect(&db.url).await.unwrap();
    let terminated = admin
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap()
        .rows_affected();
    assert!(terminated > 0, "the server's pool had no connection open");
    // A sign-up whose first statement meets a dead connection (a session check may start with a
    // transaction, whose failure was already a connection error).
    let sign_up = json!({"name": "Bea", "email": "bea@example.com", "password": "password123"});
    assert_unavailable(
        b.post("/sign-up/email", sign_up).await,
        "first request after",
    )
    .await;
    // Each dead connection fails one request at most; then a fresh one serves.
    let mut served = false;
    for _ in 0..=terminated {
        let r = b.get("/get-session").await;
        if r.status() == 200 {
            served = true;
            break;
        }
        assert_unavailable(r, "while the pool replaces its connections").await;
    }
    assert!(
        served,
        "the pool did not recover from terminated connections"
    );
}

/// Another process holding SQLite's write lock past the busy timeout: a sign-up gets 503 (it got
/// 500), writes nothing, and succeeds once the lock is released.
async fn a_held_sqlite_write_lock_answers_503(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    let mut holder = SqliteConnection::connect(&db.url).await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();
    let sign_up = json!({"name": "Bo", "email": "bo@example.com", "password": "password123"});
    assert_unavailable(
        b.post("/sign-up/email", sign_up.clone()).await,
        "write lock held",
    )
    .await;
    holder.execute("ROLLBACK").await.unwrap();
    let users = server
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            server.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM \"user\"",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(users, 0, "the refused sign-up left a user behind");
    assert_eq!(parts(b.post("/sign-up/email", sign_up).await).await.0, 200);
}

/// The database full (its size capped on the server's only connection, as a full disk does): the
/// sign-up that meets `SQLITE_FULL` gets 503 (it got 500); every sign-up answered 200 is committed
/// (another connection sees it) and the write lock is free. (The real disk full also ended
/// transactions behind the driver's back; service/tests/it/db.rs has that case.)
async fn a_full_sqlite_database_loses_nothing(db: TestDb) {
    let server = TestServer::start(&db).await;
    let b = server.browser();
    b.sign_up("ann@example.com", "password123").await;
    // Packed, then capped at its size (a cap is never below the file's size): the first write
    // that needs a new page is full.
    server.db.execute_unprepared("VACUUM").await.unwrap();
    server
        .db
        .execute_unprepared("PRAGMA max_page_count = 1")
        .await
        .unwrap();
    let sign_up = |n: usize| json!({"name": "N", "email": format!("n{n}@example.com"), "password": "password123"});
    let (mut answered, mut full) = (1, None);
    for n in 0..60 {
        let (status, body) = parts(b.post("/sign-up/email", sign_up(n)).await).await;
        match status {
            200 => answered += 1,
            503 => {
                assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
                full.get_or_insert(n);
            }
            other => panic!("sign-up {n}: {other} {body}"),
        }
        if full.is_some_and(|f| n >= f + 3) {
            break;
        }
    }
    assert!(full.is_some(), "the capped database never filled");
    let mut other = SqliteConnection::connect(&db.url).await.unwrap();
    other
        .execute("BEGIN IMMEDIATE")
        .await
        .expect("the write lock was left held");
    other.execute("ROLLBACK").await.unwrap();
    let stored: i64 = sea_orm::sqlx::query_scalar("SELECT COUNT(*) FROM \"user\"")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(
        stored, answered,
        "sign-ups answered 200 that are not in the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sqlite_database() {
    testing::run(Backend::Sqlite, a_full_sqlite_database_loses_nothing).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_postgres_connection() {
    testing::run(Backend::Postgres, a_terminated_connection_answers_503).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_sqlite_write_lock() {
    testing::run(Backend::Sqlite, a_held_sqlite_write_lock_answers_503).await
}
