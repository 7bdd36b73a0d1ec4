//! Fresh databases for this workspace's tests: a temporary SQLite file, or a newly created
//! PostgreSQL database on the server named by `TEST_POSTGRES_URL`, dropped when the test ends
//! (also when it panics). Without `TEST_POSTGRES_URL` the PostgreSQL variant of a test is skipped
//! with a notice; `.ci/run` always sets it and fails when PostgreSQL is unreachable. A test whose
//! store orgauth wrote ([`TestDb::hold_to_invariants`]) must leave it sound: the invariants every
//! orgauth store keeps ([`crate::invariants::STORE`]) are checked before the database goes.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sea_orm_migration::sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use sea_orm_migration::MigratorTrait;

use crate::Migrator;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database created for one test. Cheap to clone: it is its URL.
#[derive(Clone, Debug)]
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// Set by [`TestDb::hold_to_invariants`]: the store is checked after the test.
    checked: Arc<AtomicBool>,
}

impl TestDb {
    fn new(backend: Backend, url: String) -> Self {
        Self {
            backend,
            url,
            checked: Arc::default(),
        }
    }

    /// This test writes its store through orgauth (a test server), so the store must keep
    /// orgauth's invariants: they are checked when the test has passed. Tests that write rows
    /// directly (the model, schema and adoption tests plant duplicates and bare users on purpose)
    /// do not call this.
    pub fn hold_to_invariants(&self) {
        self.checked.store(true, Ordering::Relaxed);
    }

    /// A plain SeaORM connection (the server's own tuned connection lives in `service::db`).
    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// A connection to a database with every migration applied.
    pub async fn migrated(&self) -> DatabaseConnection {
        let db = self.connect().await;
        Migrator::up(&db, None)
            .await
            .expect("migrate the test database");
        db
    }

    pub fn db_backend(&self) -> DbBackend {
        match self.backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }
}

/// The PostgreSQL server for tests, if configured.
pub fn postgres_server_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs `test` against a fresh database of `backend`, then removes the database.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().join("test.db");
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let db = TestDb::new(backend, url.clone());
            let outcome = tokio::spawn(test(db.clone())).await;
            if outcome.is_ok() && db.checked.load(Ordering::Relaxed) {
                assert_sound(&url).await;
            }
            drop(dir);
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        Backend::Postgres => {
            let Some(server) = postgres_server_url() else {
                eprintln!(
                    "skipped: TEST_POSTGRES_URL is not set, so the PostgreSQL variant did not run"
                );
                return;
            };
            let name = format!("orgauth_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&server).await.unwrap_or_else(|e| {
                panic!("TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}")
            });
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            let url = with_database(&server, &name);
            let db = TestDb::new(backend, url.clone());
            let outcome = tokio::spawn(test(db.clone())).await;
            if outcome.is_ok() && db.checked.load(Ordering::Relaxed) {
                assert_sound(&url).await;
            }
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .expect("drop the test database");
            admin.close().await.ok();
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

/// Panics, naming each broken invariant, unless the store at `url` keeps the invariants every
/// orgauth store keeps. A database the test never migrated is left alone.
async fn assert_sound(url: &str) {
    let db = Database::connect(url)
        .await
        .expect("reconnect to the test database");
    let backend = db.get_database_backend();
    let probe = Statement::from_string(backend, "SELECT 1 FROM \"user\" LIMIT 1");
    if db.query_all_raw(probe).await.is_err() {
        return;
    }
    let broken: Vec<String> =
        crate::invariants::broken_rows(&db, crate::invariants::STORE, "owner")
            .await
            .expect("an invariant query runs")
            .into_iter()
            .map(|(name, detail)| format!("{name}: {detail}"))
            .collect();
    db.close().await.ok();
    assert!(
        broken.is_empty(),
        "the test left the store unsound:\n{}",
        broken.join("\n")
    );
}

/// Declares, for each `async fn name(db: TestDb)`, a module `name` with two tests: `sqlite` and
/// `postgres`, each on a fresh database.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::testing::run($crate::testing::Backend::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::testing::run($crate::testing::Backend::Postgres, super::$name).await
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h/", "x"), "postgres://u@h/x");
    }
}
