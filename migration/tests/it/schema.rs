use std::collections::BTreeSet;

use migration::testing::{self, Backend, TestDb};
use migration::{db_tests, Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

const DRIZZLE_EXPORT: &str = include_str!("../fixtures/drizzle-export.sql");

/// Every row of `sql`, each column read as text.
async fn rows(db: &DatabaseConnection, sql: &str, cols: usize) -> Vec<Vec<Option<String>>> {
    let stmt = Statement::from_string(db.get_database_backend(), sql);
    db.query_all_raw(stmt)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            (0..cols)
                .map(|i| r.try_get_by_index::<Option<String>>(i).unwrap())
                .collect()
        })
        .collect()
}

/// PostgreSQL's catalog of the public schema (without the migrations bookkeeping table), as text:
/// columns, constraints and indexes, each with its full definition.
async fn pg_catalog(db: &DatabaseConnection) -> Vec<Vec<Option<String>>> {
    let mut out = rows(
        db,
        "SELECT 'column', table_name::text, column_name::text, ordinal_position::text, data_type::text,
                is_nullable::text, column_default::text
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'
          ORDER BY table_name, ordinal_position",
        7,
    )
    .await;
    out.extend(
        rows(
            db,
            "SELECT 'constraint', conrelid::regclass::text, conname::text, contype::text,
                    pg_get_constraintdef(oid)
               FROM pg_constraint
              WHERE connamespace = 'public'::regnamespace
                AND conrelid::regclass::text <> 'seaql_migrations'
              ORDER BY 2, 3",
            5,
        )
        .await,
    );
    out.extend(
        rows(
            db,
            "SELECT 'index', tablename::text, indexname::text, indexdef::text
               FROM pg_indexes
              WHERE schemaname = 'public' AND tablename <> 'seaql_migrations'
              ORDER BY 2, 3",
            4,
        )
        .await,
    );
    out
}

async fn run_drizzle_export(db: &DatabaseConnection) {
    db.execute_unprepared(DRIZZLE_EXPORT)
        .await
        .expect("the seed's DDL runs");
}

/// Migration 1 on PostgreSQL is the seed's DDL: the catalogs agree row for row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_1_equals_the_drizzle_export() {
    testing::run(Backend::Postgres, |ours| async move {
        let db = ours.connect().await;
        Migrator::up(&db, Some(1)).await.unwrap();
        let migrated = pg_catalog(&db).await;
        testing::run(Backend::Postgres, move |seed| async move {
            let seed = seed.connect().await;
            run_drizzle_export(&seed).await;
            let expected = pg_catalog(&seed).await;
            // A few anchors, so an empty catalog on both sides cannot pass.
            let names: BTreeSet<_> = expected.iter().filter_map(|r| r[2].clone()).collect();
            for name in [
                "user_email_unique",
                "session_token_unique",
                "organization_slug_uidx",
                "teamMember_userId_idx",
                "team_member_team_id_team_id_fk",
                "user_pkey",
            ] {
                assert!(names.contains(name), "{name} missing from the seed catalog");
            }
            assert_eq!(
                expected
                    .iter()
                    .filter(|r| r[0].as_deref() == Some("column"))
                    .count(),
                65
            );
            for (i, (got, want)) in migrated.iter().zip(&expected).enumerate() {
                assert_eq!(got, want, "catalog row {i} differs");
            }
            assert_eq!(migrated.len(), expected.len(), "catalogs differ in size");
        })
        .await;
    })
    .await;
}

/// A backend-neutral view of a schema: what must agree between the seed and SQLite.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
enum Fact {
    Column {
        table: String,
        name: String,
        kind: String,
        not_null: bool,
        default: String,
        pk: bool,
    },
    ForeignKey {
        table: String,
        name: String,
        column: String,
        references: String,
        on_delete: String,
    },
    Index {
        table: String,
        name: String,
        unique: bool,
        columns: String,
    },
    Unique {
        table: String,
        name: String,
        columns: String,
    },
}

fn s(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

async fn seed_facts(db: &DatabaseConnection) -> BTreeSet<Fact> {
    let mut facts = BTreeSet::new();
    let pk_cols: BTreeSet<(String, String)> = rows(
        db,
        "SELECT tc.table_name::text, kcu.column_name::text
           FROM information_schema.table_constraints tc
           JOIN information_schema.key_column_usage kcu USING (constraint_name, table_schema)
          WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'",
        2,
    )
    .await
    .into_iter()
    .map(|r| (s(&r[0]), s(&r[1])))
    .collect();
    for r in rows(
        db,
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
                column_default::text
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'",
        5,
    )
    .await
    {
        let kind = match s(&r[2]).as_str() {
            "timestamp without time zone" => "timestamp".to_owned(),
            other => other.to_owned(),
        };
        let default = match s(&r[4]).as_str() {
            "now()" => "now".to_owned(),
            d => d.trim_end_matches("::text").to_owned(),
        };
        let pk = pk_cols.contains(&(s(&r[0]), s(&r[1])));
        facts.insert(Fact::Column {
            table: s(&r[0]),
            name: s(&r[1]),
            kind,
            not_null: s(&r[3]) == "NO",
            default,
            pk,
        });
    }
    for r in rows(
        db,
        "SELECT conrelid::regclass::text, conname::text, contype::text,
                (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(conkey) WITH ORDINALITY k(att, n)
                   JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.att),
                confrelid::regclass::text,
                (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(confkey) WITH ORDINALITY k(att, n)
                   JOIN pg_attribute a ON a.attrelid = confrelid AND a.attnum = k.att),
                confdeltype::text
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'u')
            AND conrelid::regclass::text <> 'seaql_migrations'",
        7,
    )
    .await
    {
        let table = s(&r[0]).trim_matches('"').to_owned();
        if s(&r[2]) == "u" {
            facts.insert(Fact::Unique { table, name: s(&r[1]), columns: s(&r[3]) });
        } else {
            let on_delete = if s(&r[6]) == "c" { "cascade" } else { "no action" }.to_owned();
            let references = format!("{}.{}", s(&r[4]).trim_matches('"'), s(&r[5]));
            facts.insert(Fact::ForeignKey { table, name: s(&r[1]), column: s(&r[3]), references, on_delete });
        }
    }
    for r in rows(
        db,
        "SELECT t.relname::text, i.relname::text, ix.indisunique::text,
                (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(ix.indkey) WITH ORDINALITY k(att, n)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.att)
           FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = 'public' AND NOT ix.indisprimary
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)
            AND t.relname <> 'seaql_migrations'",
        4,
    )
    .await
    {
        facts.insert(Fact::Index {
            table: s(&r[0]),
            name: s(&r[1]),
            unique: s(&r[2]) == "true",
            columns: s(&r[3]),
        });
    }
    facts
}

async fn sqlite_facts(db: &DatabaseConnection) -> BTreeSet<Fact> {
    let mut facts = BTreeSet::new();
    let tables = rows(
        db,
        "SELECT name, sql FROM sqlite_master
          WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'",
        2,
    )
    .await;
    for t in &tables {
        let (table, ddl) = (s(&t[0]), s(&t[1]));
        for c in rows(
            db,
            &format!(
                "SELECT name, type, CAST(\"notnull\" AS TEXT), dflt_value, CAST(pk AS TEXT) FROM pragma_table_info('{table}')"
            ),
            5,
        )
        .await
        {
            let kind = match s(&c[1]).to_lowercase().as_str() {
                "timestamp_text" => "timestamp".to_owned(),
                other => other.to_owned(),
            };
            let default = match s(&c[3]).as_str() {
                "CURRENT_TIMESTAMP" => "now".to_owned(),
                d => d.to_lowercase(),
            };
            facts.insert(Fact::Column {
                table: table.clone(),
                name: s(&c[0]),
                kind,
                not_null: s(&c[2]) == "1" || s(&c[4]) == "1",
                default,
                pk: s(&c[4]) == "1",
            });
        }
        // SQLite keeps constraint names only in the table's DDL: read them from there.
        let named = |kind: &str| -> Vec<String> {
            ddl.split("CONSTRAINT \"")
                .skip(1)
                .filter(|part| {
                    part.split_once('"')
                        .is_some_and(|(_, rest)| rest.trim_start().starts_with(kind))
                })
                .map(|part| part.split_once('"').unwrap().0.to_owned())
                .collect()
        };
        let fk_names = named("FOREIGN KEY");
        let fks = rows(
            db,
            &format!("SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list('{table}') ORDER BY id DESC"),
            4,
        )
        .await;
        assert_eq!(
            fk_names.len(),
            fks.len(),
            "{table}: every foreign key is named"
        );
        for (f, name) in fks.iter().zip(fk_names) {
            facts.insert(Fact::ForeignKey {
                table: table.clone(),
                name,
                column: s(&f[0]),
                references: format!("{}.{}", s(&f[1]), s(&f[2])),
                on_delete: s(&f[3]).to_lowercase(),
            });
        }
        let unique_names = named("UNIQUE");
        for il in rows(
            db,
            &format!(
                "SELECT name, CAST(\"unique\" AS TEXT), origin FROM pragma_index_list('{table}')"
            ),
            3,
        )
        .await
        {
            let columns = rows(
                db,
                &format!(
                    "SELECT name FROM pragma_index_info('{}') ORDER BY seqno",
                    s(&il[0])
                ),
                1,
            )
            .await
            .iter()
            .map(|r| s(&r[0]))
            .collect::<Vec<_>>()
            .join(",");
            match s(&il[2]).as_str() {
                "u" => {
                    let name = unique_names.iter().find(|n| {
                        ddl.contains(&format!("CONSTRAINT \"{n}\" UNIQUE (\"{columns}\")"))
                    });
                    facts.insert(Fact::Unique {
                        table: table.clone(),
                        name: name
                            .cloned()
                            .unwrap_or_else(|| format!("unnamed on {columns}")),
                        columns,
                    });
                }
                "c" => {
                    facts.insert(Fact::Index {
                        table: table.clone(),
                        name: s(&il[0]),
                        unique: s(&il[1]) == "1",
                        columns,
                    });
                }
                _ => {}
            }
        }
    }
    facts
}

/// Migration 1 on SQLite has the seed's columns, types, nullability, defaults, primary keys,
/// named unique constraints, named foreign keys with their cascades, and named indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_1_matches_the_seed() {
    testing::run(Backend::Postgres, |seed| async move {
        let seed = seed.connect().await;
        run_drizzle_export(&seed).await;
        let expected = seed_facts(&seed).await;
        assert_eq!(
            expected
                .iter()
                .filter(|f| matches!(f, Fact::ForeignKey { .. }))
                .count(),
            9
        );
        assert_eq!(
            expected
                .iter()
                .filter(|f| matches!(f, Fact::Index { .. }))
                .count(),
            11
        );
        testing::run(Backend::Sqlite, move |ours| async move {
            let db = ours.connect().await;
            Migrator::up(&db, Some(1)).await.unwrap();
            let got = sqlite_facts(&db).await;
            let missing: Vec<_> = expected.difference(&got).collect();
            let extra: Vec<_> = got.difference(&expected).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "missing {missing:#?}\nextra {extra:#?}"
            );
        })
        .await;
    })
    .await;
}

/// The whole schema as the backend describes it, for before/after comparisons.
async fn snapshot(db: &DatabaseConnection) -> Vec<Vec<Option<String>>> {
    match db.get_database_backend() {
        DbBackend::Postgres => pg_catalog(db).await,
        _ => {
            rows(
                db,
                "SELECT type, name, sql FROM sqlite_master WHERE name <> 'seaql_migrations' ORDER BY type, name",
                3,
            )
            .await
        }
    }
}

async fn down_then_up_restores_the_schema(db: TestDb) {
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.unwrap();
    let before = snapshot(&conn).await;
    assert!(
        before.len() > 20,
        "a migrated schema has tables and indexes"
    );
    Migrator::down(&conn, None).await.unwrap();
    let empty: Vec<_> = snapshot(&conn)
        .await
        .into_iter()
        .filter(|r| !s(&r[1]).starts_with("sqlite_"))
        .collect();
    assert!(empty.is_empty(), "down removes everything: {empty:?}");
    Migrator::up(&conn, None).await.unwrap();
    assert_eq!(snapshot(&conn).await, before);
}

/// Migration 2: a second membership of the same user in the same organization or team is refused
/// by the database itself.
async fn duplicate_memberships_are_refused(db: TestDb) {
    let conn = db.migrated().await;
    let now = "'2026-01-01 00:00:00'";
    for sql in [
        format!("INSERT INTO \"user\" (id, name, email, updated_at) VALUES ('u1', 'A', 'a@example.com', {now})"),
        format!("INSERT INTO organization (id, name, slug, created_at) VALUES ('o1', 'O', 'o', {now})"),
        format!("INSERT INTO team (id, name, organization_id, created_at) VALUES ('t1', 'T', 'o1', {now})"),
        format!("INSERT INTO member (id, organization_id, user_id, created_at) VALUES ('m1', 'o1', 'u1', {now})"),
        "INSERT INTO team_member (id, team_id, user_id) VALUES ('tm1', 't1', 'u1')".to_owned(),
    ] {
        conn.execute_unprepared(&sql).await.unwrap();
    }
    let dup_member = conn
        .execute_unprepared(&format!(
            "INSERT INTO member (id, organization_id, user_id, created_at) VALUES ('m2', 'o1', 'u1', {now})"
        ))
        .await
        .expect_err("a duplicate member is refused");
    assert!(
        dup_member
            .to_string()
            .contains("member_organizationId_userId_uidx")
            || dup_member
                .to_string()
                .contains("UNIQUE constraint failed: member.organization_id, member.user_id"),
        "{dup_member}"
    );
    let dup_team_member = conn
        .execute_unprepared(
            "INSERT INTO team_member (id, team_id, user_id) VALUES ('tm2', 't1', 'u1')",
        )
        .await
        .expect_err("a duplicate team member is refused");
    assert!(
        dup_team_member
            .to_string()
            .contains("teamMember_teamId_userId_uidx")
            || dup_team_member
                .to_string()
                .contains("UNIQUE constraint failed: team_member.team_id, team_member.user_id"),
        "{dup_team_member}"
    );
}

async fn duplicate_provider_accounts_are_refused(db: TestDb) {
    let conn = db.migrated().await;
    let now = "'2026-01-01 00:00:00'";
    for sql in [
        format!("INSERT INTO \"user\" (id, name, email, updated_at) VALUES ('u1', 'A', 'a@example.com', {now})"),
        format!("INSERT INTO \"user\" (id, name, email, updated_at) VALUES ('u2', 'B', 'b@example.com', {now})"),
        format!("INSERT INTO account (id, account_id, provider_id, user_id, updated_at) VALUES ('a1', '42', 'github', 'u1', {now})"),
        // The same provider account id at another provider is another identity.
        format!("INSERT INTO account (id, account_id, provider_id, user_id, updated_at) VALUES ('a2', '42', 'google', 'u2', {now})"),
    ] {
        conn.execute_unprepared(&sql).await.unwrap();
    }
    let dup = conn
        .execute_unprepared(&format!(
            "INSERT INTO account (id, account_id, provider_id, user_id, updated_at) VALUES ('a3', '42', 'github', 'u2', {now})"
        ))
        .await
        .expect_err("a provider account linked twice is refused");
    assert!(
        dup.to_string()
            .contains("account_providerId_accountId_uidx")
            || dup
                .to_string()
                .contains("UNIQUE constraint failed: account.provider_id, account.account_id"),
        "{dup}"
    );
}

/// Three replicas starting together on a fresh database each run `Migrator::up` at once: all
/// succeed (the lock makes the others wait, then find nothing pending), with one set of tables and
/// each migration recorded once.
async fn concurrent_migrators_migrate_once(db: TestDb) {
    let (a, b, c) = tokio::join!(db.connect(), db.connect(), db.connect());
    let (ra, rb, rc) = tokio::join!(
        Migrator::up(&a, None),
        Migrator::up(&b, None),
        Migrator::up(&c, None)
    );
    for r in [ra, rb, rc] {
        r.expect("every migrator succeeds");
    }
    let recorded = rows(
        &a,
        "SELECT version, count(*) FROM seaql_migrations GROUP BY version ORDER BY version",
        1,
    )
    .await;
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(recorded.iter().map(|r| s(&r[0])).collect::<Vec<_>>(), names);
    let once = rows(
        &a,
        "SELECT version FROM seaql_migrations GROUP BY version HAVING count(*) > 1",
        1,
    )
    .await;
    assert!(once.is_empty(), "{once:?}");
    // The tables are there, once each, and usable.
    for table in ["user", "member", "rate_limit"] {
        let n = rows(&a, &format!("SELECT count(*) FROM \"{table}\""), 0).await;
        assert_eq!(n.len(), 1);
    }
}

db_tests!(
    concurrent_migrators_migrate_once,
    down_then_up_restores_the_schema,
    duplicate_memberships_are_refused,
    duplicate_provider_accounts_are_refused
);
