use std::time::Duration;

use migration::testing::{self, Backend, TestDb};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use service::db::{connect, ConnectError, PoolSize};

async fn scalar(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
        .or_else(|_| row.try_get_by_index::<bool>(0).map(|v| v.to_string()))
        .unwrap()
}

/// SQLite is opened with foreign keys on (the cascades need them), WAL, NORMAL sync and a busy
/// timeout, on one connection by default.
#[tokio::test]
async fn sqlite_is_tuned() {
    testing::run(Backend::Sqlite, |t: TestDb| async move {
        let db = connect(&t.url, PoolSize::default()).await.unwrap();
        assert_eq!(scalar(&db, "PRAGMA foreign_keys").await, "1");
        assert_eq!(scalar(&db, "PRAGMA journal_mode").await, "wal");
        assert_eq!(scalar(&db, "PRAGMA busy_timeout").await, "5000");
        assert_eq!(scalar(&db, "PRAGMA synchronous").await, "1");
        assert_eq!(
            db.get_sqlite_connection_pool()
                .options()
                .get_max_connections(),
            1
        );
    })
    .await;
}

/// PostgreSQL pools as the seed configures its client: 10 s to connect, 30 s idle, no lifetime cap.
#[tokio::test]
async fn postgres_pool_follows_the_seed() {
    testing::run(Backend::Postgres, |t: TestDb| async move {
        let db = connect(
            &t.url,
            PoolSize {
                max_connections: Some(7),
                ..PoolSize::default()
            },
        )
        .await
        .unwrap();
        let options = db.get_postgres_connection_pool().options();
        assert_eq!(options.get_acquire_timeout(), Duration::from_secs(10));
        assert_eq!(options.get_idle_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(options.get_max_lifetime(), None);
        assert_eq!(options.get_max_connections(), 7);
    })
    .await;
}

/// SQLite ends a transaction by itself on some errors (a full disk), behind the driver's back;
/// here a raw `ROLLBACK` does the same. The pool must not hand that connection out again: with
/// the driver's count of transactions off by one, a later failed statement left a transaction
/// open, and every commit after it only released a savepoint inside it, so nothing was
/// committed and the write lock stayed held.
#[tokio::test]
async fn sqlite_drops_a_connection_whose_transaction_ended_underneath() {
    testing::run(Backend::Sqlite, |t: TestDb| async move {
        use sea_orm::sqlx::{Connection, Executor, SqliteConnection};
        use sea_orm::TransactionTrait;
        let db = connect(&t.url, PoolSize::default()).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (v TEXT PRIMARY KEY)")
            .await
            .unwrap();
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("ROLLBACK").await.unwrap();
        drop(txn);
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("INSERT INTO t VALUES ('a')")
            .await
            .unwrap();
        assert!(txn
            .execute_unprepared("INSERT INTO t VALUES ('a')")
            .await
            .is_err());
        drop(txn);
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("INSERT INTO t VALUES ('b')")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        let mut other = SqliteConnection::connect(&t.url).await.unwrap();
        other
            .execute("BEGIN IMMEDIATE")
            .await
            .expect("the write lock is still held");
        other.execute("ROLLBACK").await.unwrap();
        let committed: Vec<String> = sea_orm::sqlx::query_scalar("SELECT v FROM t")
            .fetch_all(&mut other)
            .await
            .unwrap();
        assert_eq!(
            committed,
            ["b"],
            "the committed write is not in the database"
        );
    })
    .await;
}

/// An acquire timeout bounds both waits a request can meet: for a pooled connection, and for a
/// lock another client holds (`lock_timeout`), so a blocked query gives its connection back.
#[tokio::test]
async fn postgres_acquire_timeout_bounds_lock_waits() {
    testing::run(Backend::Postgres, |t: TestDb| async move {
        let db = connect(
            &t.url,
            PoolSize {
                acquire_timeout: Some(Duration::from_secs(3)),
                ..PoolSize::default()
            },
        )
        .await
        .unwrap();
        let options = db.get_postgres_connection_pool().options();
        assert_eq!(options.get_acquire_timeout(), Duration::from_secs(3));
        assert_eq!(scalar(&db, "SHOW lock_timeout").await, "3s");
        let default = connect(&t.url, PoolSize::default()).await.unwrap();
        assert_eq!(scalar(&default, "SHOW lock_timeout").await, "10s");
    })
    .await;
}

/// TLS is used when the URL asks for it, and `sslmode=verify-full` refuses a certificate that
/// does not chain to a trusted root (the local server's is self-signed).
#[tokio::test]
async fn postgres_tls_follows_sslmode() {
    testing::run(Backend::Postgres, |t: TestDb| async move {
        let plain = connect(&t.url, PoolSize::default()).await.unwrap();
        if scalar(&plain, "SHOW ssl").await != "on" {
            panic!("this test needs a PostgreSQL server with ssl=on (Debian's default)");
        }
        let sep = if t.url.contains('?') { '&' } else { '?' };
        let tls = connect(
            &format!("{}{sep}sslmode=require", t.url),
            PoolSize::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            scalar(
                &tls,
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            )
            .await,
            "true"
        );
        let verified = connect(
            &format!("{}{sep}sslmode=verify-full", t.url),
            PoolSize {
                max_connections: Some(1),
                ..PoolSize::default()
            },
        )
        .await;
        match verified {
            Err(ConnectError::Unreachable(reason)) => {
                assert!(
                    reason.to_lowercase().contains("certificate")
                        || reason.contains("tls")
                        || reason.contains("timed out"),
                    "{reason}"
                )
            }
            other => panic!("verify-full must refuse a self-signed certificate, got {other:?}"),
        }
    })
    .await;
}

/// A URL orgauth cannot use is refused before any connection, without echoing it.
#[tokio::test]
async fn bad_urls_are_refused_clearly() {
    for url in [
        "mysql://root:hunter2@localhost/db",
        "",
        "sqlite",
        "postgres://[bad",
    ] {
        match connect(url, PoolSize::default()).await {
            Err(e @ ConnectError::InvalidUrl(_)) => {
                assert!(!e.to_string().contains("hunter2"), "{e}")
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }
}
