//! Adoption: a database whose seed tables a ZeroStarter / Better Auth deployment created is
//! adopted by migration 1 (recorded, nothing created or altered), then migrations 2 and 3 apply;
//! a database of another shape gets every difference listed and no change at all.

use std::collections::BTreeMap;

use migration::testing::{self, Backend, TestDb};
use migration::{adopt, Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

const DRIZZLE_EXPORT: &str = include_str!("../fixtures/drizzle-export.sql");
const REFERENCE_1_7: &str = include_str!("../fixtures/better-auth-1.7-reference.sql");

/// Better Auth 1.7's own additions to the seed's tables (its migration also drops the slug index).
const BETTER_AUTH_1_7: &str = r#"
ALTER TABLE "team" ADD COLUMN "member_count" integer NOT NULL DEFAULT 0;
ALTER TABLE "team_member" ADD COLUMN "membership_key" text UNIQUE;
DROP INDEX "organization_slug_uidx";
"#;

/// The admin plugin's columns, as ZeroStarter's database has them.
const ADMIN_PLUGIN: &str = r#"
ALTER TABLE "user" ADD COLUMN "role" text;
ALTER TABLE "user" ADD COLUMN "banned" boolean DEFAULT false;
ALTER TABLE "user" ADD COLUMN "ban_reason" text;
ALTER TABLE "user" ADD COLUMN "ban_expires" timestamp;
ALTER TABLE "session" ADD COLUMN "impersonated_by" text;
"#;

const MIGRATIONS: [&str; 8] = [
    "m20250101_000001_seed_schema",
    "m20250101_000002_unique_memberships",
    "m20250101_000003_unique_provider_accounts",
    "m20250101_000004_organization_order_indexes",
    "m20250101_000005_admin_columns",
    "m20250101_000006_rate_limit",
    "m20250101_000007_sweep_indexes",
    "m20250101_000008_cache_notify",
];

/// How many migrations come after migration 5 (the admin columns).
const AFTER_5: u32 = (MIGRATIONS.len() - 5) as u32;

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn texts(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// Every table, column and index of the database, as the catalog describes them.
async fn catalog(db: &DatabaseConnection) -> Vec<String> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let mut out = texts(
                db,
                "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
                       || ' ' || COALESCE(column_default, '-')
                   FROM information_schema.columns WHERE table_schema = 'public'
                  ORDER BY table_name, ordinal_position",
            )
            .await;
            out.extend(
                texts(
                    db,
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
                )
                .await,
            );
            out.extend(
                texts(
                    db,
                    "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                      WHERE connamespace = 'public'::regnamespace ORDER BY conname",
                )
                .await,
            );
            out
        }
        _ => {
            texts(
                db,
                "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name",
            )
            .await
        }
    }
}

/// Rows a live deployment has: they must come through adoption untouched.
async fn some_rows(db: &DatabaseConnection) {
    let now = "'2026-01-01 00:00:00'";
    exec(db, &format!(
        "INSERT INTO \"user\" (id, name, email, email_verified, created_at, updated_at) VALUES ('u1', 'Ada', 'ada@example.com', true, {now}, {now});
         INSERT INTO organization (id, name, slug, created_at) VALUES ('o1', 'Acme', 'acme', {now});
         INSERT INTO member (id, organization_id, user_id, role, created_at) VALUES ('m1', 'o1', 'u1', 'owner', {now});
         INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id) VALUES ('s1', '2099-01-01 00:00:00', 'tok', {now}, {now}, 'u1');"
    )).await;
}

/// Migrates `db`, then checks: migration 1 adopted, 2 and 3 applied, the rows and every column
/// that was there still there.
async fn adopts(db: &DatabaseConnection) {
    some_rows(db).await;
    let before = catalog(db).await;
    Migrator::up(db, None)
        .await
        .expect("the tables are adopted");
    let adopted = adopt::adopted(db).await.unwrap();
    // Migration 5 records each admin column it found in place as `<name> <table>.<column>`.
    assert_eq!(
        adopted
            .keys()
            .filter(|k| !k.contains(' '))
            .collect::<Vec<_>>(),
        [MIGRATIONS[0]],
        "only migration 1 is adopted"
    );
    let status: BTreeMap<_, _> = Migrator::get_migration_with_status(db)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.name().to_owned(), m.status().to_string()))
        .collect();
    for name in MIGRATIONS {
        assert_eq!(status[name], "Applied", "{name}");
    }
    let after = catalog(db).await;
    // On SQLite a table's stored `CREATE TABLE` text grows when migration 5 adds an admin column
    // to it: those two tables are compared column by column instead.
    let grown = |l: &String| {
        db.get_database_backend() == DbBackend::Sqlite
            && (l.starts_with("table user ") || l.starts_with("table session "))
    };
    let lost: Vec<_> = before
        .iter()
        .filter(|l| !after.contains(l) && !grown(l))
        .collect();
    for table in before.iter().filter(|l| grown(l)) {
        let name = table.split(' ').nth(1).unwrap();
        let now = after
            .iter()
            .find(|l| l.starts_with(&format!("table {name} ")))
            .unwrap();
        let columns = |sql: &str| -> Vec<String> {
            let body = &sql[sql.find('(').unwrap() + 1..sql.rfind(')').unwrap()];
            body.split(", ").map(|c| c.trim().to_owned()).collect()
        };
        let kept = columns(now);
        for c in columns(table) {
            assert!(kept.contains(&c), "{name}: {c} changed or dropped");
        }
    }
    assert!(lost.is_empty(), "adoption changed or dropped: {lost:#?}");
    assert!(
        after.iter().any(|l| l.contains(migration::MEMBER_UNIQUE)),
        "migration 2 ran on the adopted tables"
    );
    assert_eq!(
        texts(db, "SELECT email FROM \"user\"").await,
        ["ada@example.com"]
    );
    assert_eq!(texts(db, "SELECT token FROM session").await, ["tok"]);
    // A second run finds nothing to do.
    Migrator::up(db, None).await.unwrap();
    assert_eq!(catalog(db).await, after);
}

/// A PostgreSQL database made by `ddl` is adopted.
async fn postgres_adopts(ddl: &'static [&'static str]) {
    testing::run(Backend::Postgres, move |t| async move {
        let db = t.connect().await;
        for sql in ddl {
            exec(&db, sql).await;
        }
        adopts(&db).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adopts_the_drizzle_export() {
    postgres_adopts(&[DRIZZLE_EXPORT]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adopts_better_auth_1_7_columns_without_the_slug_index() {
    postgres_adopts(&[DRIZZLE_EXPORT, BETTER_AUTH_1_7]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adopts_the_admin_plugin_columns() {
    postgres_adopts(&[DRIZZLE_EXPORT, BETTER_AUTH_1_7, ADMIN_PLUGIN]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adopts_the_better_auth_reference_schema() {
    postgres_adopts(&[REFERENCE_1_7]).await;
}

/// A SQLite database with the seed's tables that orgauth did not record (as another server
/// sharing the file would leave it).
async fn sqlite_unrecorded(db: &DatabaseConnection) {
    Migrator::up(db, Some(1)).await.unwrap();
    exec(db, "DROP TABLE seaql_migrations").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_adopts_existing_tables_with_extra_columns() {
    testing::run(Backend::Sqlite, |t| async move {
        let db = t.connect().await;
        sqlite_unrecorded(&db).await;
        exec(
            &db,
            "ALTER TABLE team ADD COLUMN member_count integer NOT NULL DEFAULT 0",
        )
        .await;
        exec(
            &db,
            "ALTER TABLE \"user\" ADD COLUMN banned boolean DEFAULT false",
        )
        .await;
        exec(&db, "DROP INDEX organization_slug_uidx").await;
        adopts(&db).await;
    })
    .await;
}

/// The seed's tables as another server leaves them, unrecorded: drizzle-kit's DDL on PostgreSQL.
async fn adoptable(t: &TestDb) -> DatabaseConnection {
    let db = t.connect().await;
    match t.backend {
        Backend::Postgres => exec(&db, DRIZZLE_EXPORT).await,
        Backend::Sqlite => sqlite_unrecorded(&db).await,
    }
    db
}

/// The catalog without sea-orm's bookkeeping table, which sea-orm creates (empty) before the
/// migrations' transaction on SQLite.
async fn catalog_without_bookkeeping(db: &DatabaseConnection) -> Vec<String> {
    let mut lines = catalog(db).await;
    lines.retain(|l| !l.contains("seaql_migrations"));
    lines
}

/// Breaks the seed's shape in several ways at once; all of them are reported together and the
/// database is left exactly as it was.
async fn refuses_another_shape(t: TestDb) {
    let db = t.connect().await;
    match t.backend {
        Backend::Postgres => {
            exec(&db, DRIZZLE_EXPORT).await;
            exec(
                &db,
                r#"
                ALTER TABLE "user" ALTER COLUMN "email_verified" TYPE text;
                ALTER TABLE "session" DROP COLUMN "user_agent";
                ALTER TABLE "member" DROP CONSTRAINT "member_user_id_user_id_fk";
                DROP INDEX "member_userId_idx";
                ALTER TABLE "organization" ADD COLUMN "plan" text NOT NULL;
                ALTER TABLE "team" ALTER COLUMN "updated_at" SET NOT NULL;
                DROP TABLE "verification";
            "#,
            )
            .await;
        }
        Backend::Sqlite => {
            sqlite_unrecorded(&db).await;
            exec(
                &db,
                r#"
                ALTER TABLE "session" DROP COLUMN "user_agent";
                DROP INDEX "member_userId_idx";
                ALTER TABLE "organization" ADD COLUMN "plan" text NOT NULL DEFAULT 'x';
                ALTER TABLE "account" ADD COLUMN "tenant" text NOT NULL DEFAULT 'x';
                DROP TABLE "verification";
            "#,
            )
            .await;
        }
    }
    let before = catalog_without_bookkeeping(&db).await;
    let err = Migrator::up(&db, None)
        .await
        .expect_err("another shape is refused")
        .to_string();
    let expected: &[&str] = match t.backend {
        Backend::Postgres => &[
            "table \"verification\" is missing",
            "column \"user\".\"email_verified\" is text, orgauth needs boolean",
            "column \"session\".\"user_agent\" is missing",
            "table \"member\" lacks the foreign key (user_id) REFERENCES \"user\" (id) ON DELETE CASCADE",
            "table \"member\" lacks a index on (user_id)",
            "column \"organization\".\"plan\" is not orgauth's and is NOT NULL without a default",
            "column \"team\".\"updated_at\" is NOT NULL, orgauth needs it nullable",
            "7 difference(s)",
        ],
        Backend::Sqlite => &[
            "table \"verification\" is missing",
            "column \"session\".\"user_agent\" is missing",
            "table \"member\" lacks a index on (user_id)",
            "3 difference(s)",
        ],
    };
    for line in expected {
        assert!(err.contains(line), "{line:?} not in: {err}");
    }
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(
        catalog_without_bookkeeping(&db).await,
        before,
        "a refused adoption changes nothing"
    );
    assert!(adopt::adopted(&db).await.unwrap().is_empty());
}

/// Duplicate memberships in an adoptable database stop migration 2, name the keys, and leave the database as it was: migration 1 is not recorded either.
async fn duplicates_stop_migration_2_on_an_adopted_database(t: TestDb) {
    let db = adoptable(&t).await;
    some_rows(&db).await;
    exec(
        &db,
        "INSERT INTO member (id, organization_id, user_id, role, created_at)
         VALUES ('m2', 'o1', 'u1', 'member', '2026-01-01 00:00:00')",
    )
    .await;
    let before = catalog_without_bookkeeping(&db).await;
    let err = Migrator::up(&db, None)
        .await
        .expect_err("duplicate memberships are refused")
        .to_string();
    assert!(
        err.contains(
            "\"member\" has several rows for the same (organization_id, user_id): (o1, u1) x2"
        ),
        "{err}"
    );
    assert_eq!(catalog_without_bookkeeping(&db).await, before);
    assert!(adopt::adopted(&db).await.unwrap().is_empty());
    assert_eq!(
        texts(&db, "SELECT id FROM member ORDER BY id").await,
        ["m1", "m2"]
    );
}

/// Two servers starting at once on one database: both succeed, and each migration runs once.
async fn concurrent_starts_migrate_once(t: TestDb) {
    let setup = adoptable(&t).await;
    setup.close().await.unwrap();
    let (a, b) = (t.connect().await, t.connect().await);
    let (ra, rb) = tokio::join!(Migrator::up(&a, None), Migrator::up(&b, None));
    ra.expect("first server migrates");
    rb.expect("second server migrates");
    assert_eq!(
        texts(&a, "SELECT version FROM seaql_migrations ORDER BY version").await,
        MIGRATIONS
    );
    assert_eq!(adopt::adopted(&a).await.unwrap().len(), 1);
}

/// Concurrent starts on an empty database create the schema once.
async fn concurrent_starts_on_an_empty_database(t: TestDb) {
    let (a, b) = (t.connect().await, t.connect().await);
    let (ra, rb) = tokio::join!(Migrator::up(&a, None), Migrator::up(&b, None));
    ra.expect("first server migrates");
    rb.expect("second server migrates");
    assert_eq!(
        texts(&a, "SELECT version FROM seaql_migrations ORDER BY version").await,
        MIGRATIONS
    );
    assert!(adopt::adopted(&a).await.unwrap().is_empty());
}

/// Rolling back stops at an adopted migration 1: orgauth never drops tables it did not create.
async fn down_keeps_adopted_tables(t: TestDb) {
    let db = adoptable(&t).await;
    some_rows(&db).await;
    Migrator::up(&db, None).await.unwrap();
    let err = Migrator::down(&db, None)
        .await
        .expect_err("migration 1 is not rolled back")
        .to_string();
    assert!(err.contains("does not drop them"), "{err}");
    assert_eq!(
        texts(&db, "SELECT email FROM \"user\"").await,
        ["ada@example.com"]
    );
}

/// The admin columns of `db`, as `table.column`.
async fn admin_columns(db: &DatabaseConnection) -> Vec<String> {
    let mut out = Vec::new();
    for (table, column) in migration::ADMIN_COLUMNS {
        let sql = match db.get_database_backend() {
            DbBackend::Postgres => format!(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' AND column_name = '{column}'"
            ),
            _ => format!("SELECT name FROM pragma_table_info('{table}') WHERE name = '{column}'"),
        };
        if !texts(db, &sql).await.is_empty() {
            out.push(format!("{table}.{column}"));
        }
    }
    out
}

const ALL_ADMIN_COLUMNS: [&str; 5] = [
    "user.role",
    "user.banned",
    "user.ban_reason",
    "user.ban_expires",
    "session.impersonated_by",
];

/// A ZeroStarter database that has the admin plugin's columns: migration 5 adopts them (records
/// each, alters nothing: `adopts` compares the catalog), and rolling it back keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_admin_columns_adopted_are_kept_by_down() {
    testing::run(Backend::Postgres, |t| async move {
        let db = t.connect().await;
        exec(&db, DRIZZLE_EXPORT).await;
        exec(&db, ADMIN_PLUGIN).await;
        adopts(&db).await;
        let adopted = adopt::adopted(&db).await.unwrap();
        for column in ALL_ADMIN_COLUMNS {
            assert!(
                adopted.contains_key(&format!("{} {column}", MIGRATIONS[4])),
                "{column} recorded as adopted: {adopted:?}"
            );
        }
        let before = catalog(&db).await;
        // The later migrations first: what is compared is migration 5's own rollback.
        Migrator::down(&db, Some(AFTER_5)).await.unwrap();
        let before_5 = catalog(&db).await;
        Migrator::down(&db, Some(1)).await.unwrap();
        assert_eq!(admin_columns(&db).await, ALL_ADMIN_COLUMNS);
        assert_eq!(catalog(&db).await, before_5, "down altered adopted columns");
        assert!(adopt::adopted(&db)
            .await
            .unwrap()
            .keys()
            .all(|k| !k.starts_with(MIGRATIONS[4])));
        // Up again adopts them again, and restores the later migrations.
        Migrator::up(&db, None).await.unwrap();
        assert_eq!(catalog(&db).await, before);
    })
    .await;
}

/// Some admin columns present (a partial earlier setup): migration 5 adds the others, and its
/// rollback drops exactly those.
async fn admin_columns_partly_present(t: TestDb) {
    let db = adoptable(&t).await;
    exec(
        &db,
        "ALTER TABLE \"user\" ADD COLUMN banned boolean DEFAULT false",
    )
    .await;
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(admin_columns(&db).await, ALL_ADMIN_COLUMNS);
    Migrator::down(&db, Some(AFTER_5 + 1)).await.unwrap();
    assert_eq!(admin_columns(&db).await, ["user.banned"]);
}

/// A fresh database gets every admin column, nullable, `banned` defaulting to false; its rollback
/// removes them all.
async fn admin_columns_fresh(t: TestDb) {
    let db = t.connect().await;
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(admin_columns(&db).await, ALL_ADMIN_COLUMNS);
    exec(
        &db,
        "INSERT INTO \"user\" (id, name, email, email_verified, created_at, updated_at) \
         VALUES ('u1', 'Ada', 'ada@example.com', true, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    )
    .await;
    let row = texts(
        &db,
        "SELECT CAST(COALESCE(role, 'null') AS text) || ' ' || CAST(banned AS text) || ' ' \
         || CAST(COALESCE(ban_reason, 'null') AS text) FROM \"user\"",
    )
    .await;
    let banned_false = match t.backend {
        Backend::Postgres => "false",
        Backend::Sqlite => "0",
    };
    assert_eq!(row, [format!("null {banned_false} null")]);
    Migrator::down(&db, Some(AFTER_5 + 1)).await.unwrap();
    assert!(admin_columns(&db).await.is_empty());
    assert!(adopt::adopted(&db).await.unwrap().is_empty());
}

/// Better Auth's own `rate_limit` table (here without a unique key, as some of its versions make
/// it) is adopted with its rows: only a unique index on `key` is added, and rolling back removes
/// that index and nothing else.
async fn a_better_auth_rate_limit_table_is_adopted(t: TestDb) {
    let db = t.connect().await;
    Migrator::up(&db, Some(5)).await.unwrap();
    exec(
        &db,
        "CREATE TABLE rate_limit (id text PRIMARY KEY NOT NULL, key text NOT NULL, \
         count integer NOT NULL, last_request bigint NOT NULL)",
    )
    .await;
    exec(
        &db,
        "INSERT INTO rate_limit VALUES ('r1', '192.0.2.1|/sign-in/email', 2, 1000)",
    )
    .await;
    Migrator::up(&db, None).await.unwrap();
    let adopted = adopt::adopted(&db).await.unwrap();
    assert!(adopted.contains_key(&format!("{} rate_limit", MIGRATIONS[5])));
    assert!(adopted.contains_key(&format!(
        "{} rate_limit (rate_limit_key_uidx)",
        MIGRATIONS[5]
    )));
    let duplicate = "INSERT INTO rate_limit VALUES ('r2', '192.0.2.1|/sign-in/email', 1, 1000)";
    db.execute_unprepared(duplicate)
        .await
        .expect_err("the key is unique now");
    // Migration 6 and those after it.
    Migrator::down(&db, Some(AFTER_5)).await.unwrap();
    assert_eq!(texts(&db, "SELECT id FROM rate_limit").await, ["r1"]);
    assert!(adopt::adopted(&db).await.unwrap().is_empty());
    exec(&db, duplicate).await;
}

migration::db_tests!(
    a_better_auth_rate_limit_table_is_adopted,
    admin_columns_partly_present,
    admin_columns_fresh,
    refuses_another_shape,
    duplicates_stop_migration_2_on_an_adopted_database,
    concurrent_starts_migrate_once,
    concurrent_starts_on_an_empty_database,
    down_keeps_adopted_tables
);
