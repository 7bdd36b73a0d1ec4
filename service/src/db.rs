//! Opening the database: PostgreSQL with the seed's connection settings, or an embedded SQLite
//! file tuned so that cascades work and concurrent requests wait instead of failing.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// The default: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://orgauth.db?mode=rwc";

/// How long a request waits for a pooled connection, and then for a lock, unless
/// `PoolSize::acquire_timeout` says otherwise. SQLite's is shorter: a request queued behind its
/// single connection may meet both waits in full (see [`connect`]).
const POSTGRES_WAIT: Duration = Duration::from_secs(10);
const SQLITE_WAIT: Duration = Duration::from_secs(5);

/// Why the database could not be opened. Messages never repeat the URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not one orgauth can use; the reason names what is wrong.
    #[error("invalid DATABASE_URL: {0}")]
    InvalidUrl(String),
    /// The URL is well formed but the database did not answer.
    #[error("cannot connect to the database: {0}")]
    Unreachable(String),
}

/// Pool sizing and waiting; everything else follows the seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolSize {
    /// Connections at most; `None` picks the backend's default (see [`connect`]).
    pub max_connections: Option<u32>,
    /// How long a request waits for a free connection, and then for a lock (PostgreSQL's
    /// `lock_timeout`, SQLite's busy timeout), before it fails (the API answers 503). `None`: 10 s
    /// on PostgreSQL, 5 s on SQLite.
    pub acquire_timeout: Option<Duration>,
}

/// Which backend a URL names, checked before anything is opened.
pub fn backend_of(url: &str) -> Result<DbBackend, ConnectError> {
    if url.starts_with("sqlite:") {
        url.parse::<SqliteConnectOptions>()
            .map_err(|_| ConnectError::InvalidUrl("not a valid sqlite: URL".into()))?;
        Ok(DbBackend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url.parse::<PgConnectOptions>()
            .map_err(|_| ConnectError::InvalidUrl("not a valid postgres:// URL".into()))?;
        Ok(DbBackend::Postgres)
    } else {
        Err(ConnectError::InvalidUrl(
            "expected a URL starting with sqlite:, postgres:// or postgresql://".into(),
        ))
    }
}

/// Opens a pool and checks that the database answers.
///
/// PostgreSQL, as the seed configures Bun's client: 10 s to connect, idle connections closed after
/// 30 s, no maximum lifetime; TLS as the URL's `sslmode` asks (with `verify-full`, the certificate
/// and host name are verified; `sslrootcert` names a CA file). Pool of 10 unless told otherwise.
/// `lock_timeout` is the acquire timeout too: a request blocked behind a lock someone holds
/// (another client's `LOCK TABLE`, a stuck transaction) fails in that time instead of holding its
/// connection, and the pool with it, for as long as the lock lasts.
///
/// SQLite: `foreign_keys=ON` (the cascades depend on it), WAL, `synchronous=NORMAL` (durable with
/// WAL), and a busy timeout equal to the acquire timeout. One connection unless told otherwise:
/// SQLite has a single writer, and a lone connection never meets `SQLITE_BUSY` when a read
/// transaction turns into a write. While another process holds the write lock, the request holding
/// the connection fails after the busy timeout and those queued behind it after their acquire
/// timeout, or after the busy timeout if the connection reaches them first: no request waits longer
/// than the two together (10 s by default).
pub async fn connect(url: &str, size: PoolSize) -> Result<DatabaseConnection, ConnectError> {
    let backend = backend_of(url)?;
    let mut options = ConnectOptions::new(url);
    options
        .connect_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(30))
        .max_lifetime(None)
        // A ping before every checkout would double the round trips of a one-query request.
        .test_before_acquire(false)
        .sqlx_logging(false);
    match backend {
        DbBackend::Sqlite => {
            let wait = size.acquire_timeout.unwrap_or(SQLITE_WAIT);
            options
                .max_connections(size.max_connections.unwrap_or(1))
                .acquire_timeout(wait);
            options.map_sqlx_sqlite_opts(move |o| {
                o.foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(wait)
            });
            options.map_sqlx_sqlite_pool_opts(|pool| {
                pool.after_release(|conn, _| {
                    Box::pin(async move { Ok(!in_transaction(conn).await) })
                })
            });
        }
        _ => {
            let wait = size.acquire_timeout.unwrap_or(POSTGRES_WAIT);
            let millis = wait.as_millis().max(1).to_string();
            options
                .max_connections(size.max_connections.unwrap_or(10))
                .acquire_timeout(wait)
                .map_sqlx_postgres_opts(move |o| o.options([("lock_timeout", &millis)]));
        }
    }
    let db = Database::connect(options)
        .await
        .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    ping(&db)
        .await
        .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    Ok(db)
}

/// Whether a SQLite connection handed back to the pool is still inside a transaction, by SQLite's
/// account or by the driver's; if so the pool closes it (which rolls back whatever is open) and
/// opens a fresh one.
///
/// Every transaction ends before its connection is released, but SQLite ends one by itself on
/// some errors (`SQLITE_FULL`, `SQLITE_IOERR`: "the transaction may or may not be rolled back
/// automatically"), and the driver's count of open transactions then stays one too high: its
/// next `BEGIN` is a `SAVEPOINT`, and after one more failed statement its rollback is `ROLLBACK
/// TO`, which leaves a transaction open that every later commit only nests in. Seen with the disk
/// full: later sign-ups were answered 200, never committed, lost when the process ended, and the
/// write lock stayed held (bench/faults/sqlite-faults.sh).
async fn in_transaction(conn: &mut sea_orm::sqlx::SqliteConnection) -> bool {
    use sea_orm::sqlx::sqlite::SqliteTransactionManager;
    use sqlx_core::transaction::TransactionManager;
    // Locking the handle waits for the rollbacks the connection still has queued.
    let sqlite_open = match conn.lock_handle().await {
        // SAFETY: the handle is valid and used by no one else while locked; the call only reads
        // the connection's autocommit flag.
        Ok(mut handle) => unsafe {
            libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) == 0
        },
        Err(_) => true,
    };
    let depth = SqliteTransactionManager::get_transaction_depth(conn);
    if sqlite_open || depth != 0 {
        tracing::warn!(
            sqlite_open,
            depth,
            "closing a SQLite connection left inside a transaction"
        );
        return true;
    }
    false
}

/// One round trip to the database; what readiness means.
pub async fn ping(db: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}
