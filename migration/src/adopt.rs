//! Adopting a database whose seed tables already exist, as a ZeroStarter / Better Auth deployment
//! leaves them (drizzle-kit created them, not this crate).
//!
//! Migration 1 does not create such tables again. It creates what it would create in a scratch
//! place (a throwaway schema inside the migration's transaction on PostgreSQL, an in-memory
//! database on SQLite), reads both shapes from the catalog the same way, and compares them:
//! columns with their types and nullability, primary keys, foreign keys with their `ON DELETE`,
//! and indexes by definition (columns, uniqueness, method, predicate), never by name. When they
//! match, the migration is recorded as applied and, in [`ADOPTIONS`], as adopted. Nothing existing
//! is dropped, altered or reordered: extra columns (nullable or defaulted), extra indexes, extra
//! tables and drizzle-kit's bookkeeping stay as they are. Column defaults are not compared:
//! orgauth writes every value itself, and Better Auth's own migrator creates none.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DbBackend, QueryResult, Statement,
};

use crate::m20250101_000001_seed_schema::create;

/// The seed's nine tables.
pub const SEED_TABLES: [&str; 9] = [
    "user",
    "session",
    "account",
    "verification",
    "organization",
    "team",
    "member",
    "team_member",
    "invitation",
];

/// Where orgauth records the migrations it adopted rather than ran. Created only on adoption.
pub const ADOPTIONS: &str = "orgauth_adoptions";

/// What a table looks like, in the terms the comparison uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableShape {
    columns: BTreeMap<String, Column>,
    primary_key: Vec<String>,
    foreign_keys: BTreeSet<ForeignKey>,
    indexes: BTreeSet<IndexDef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    kind: String,
    not_null: bool,
    has_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    to_table: String,
    to_columns: Vec<String>,
    on_delete: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct IndexDef {
    columns: Vec<String>,
    unique: bool,
    method: String,
    predicate: String,
}

impl std::fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({}) REFERENCES \"{}\" ({}) ON DELETE {}",
            self.columns.join(", "),
            self.to_table,
            self.to_columns.join(", "),
            self.on_delete
        )
    }
}

impl std::fmt::Display for IndexDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unique = if self.unique { "UNIQUE " } else { "" };
        write!(f, "{unique}index on ({})", self.columns.join(", "))?;
        if !self.method.is_empty() && self.method != "btree" {
            write!(f, " USING {}", self.method)?;
        }
        if !self.predicate.is_empty() {
            write!(f, " WHERE {}", self.predicate)?;
        }
        Ok(())
    }
}

/// The seed tables present in the connection's current schema.
pub async fn present_seed_tables<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let names: BTreeSet<String> = query(db, sql, vec![])
        .await?
        .iter()
        .map(|r| text(r, 0))
        .collect::<Result<_, _>>()?;
    Ok(SEED_TABLES
        .iter()
        .filter(|t| names.contains(**t))
        .map(|t| (*t).to_owned())
        .collect())
}

/// Every way `actual` falls short of `expected` for orgauth to work on it, one sentence each.
pub fn differences(
    expected: &BTreeMap<String, TableShape>,
    actual: &BTreeMap<String, TableShape>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (table, want) in expected {
        let Some(have) = actual.get(table) else {
            out.push(format!("table \"{table}\" is missing"));
            continue;
        };
        for (name, col) in &want.columns {
            match have.columns.get(name) {
                None => out.push(format!("column \"{table}\".\"{name}\" is missing")),
                Some(got) => {
                    if got.kind != col.kind {
                        out.push(format!(
                            "column \"{table}\".\"{name}\" is {}, orgauth needs {}",
                            got.kind, col.kind
                        ));
                    }
                    if got.not_null != col.not_null {
                        let needs = if col.not_null { "NOT NULL" } else { "nullable" };
                        let is = if got.not_null { "NOT NULL" } else { "nullable" };
                        out.push(format!(
                            "column \"{table}\".\"{name}\" is {is}, orgauth needs it {needs}"
                        ));
                    }
                }
            }
        }
        for (name, col) in &have.columns {
            if !want.columns.contains_key(name) && col.not_null && !col.has_default {
                out.push(format!(
                    "column \"{table}\".\"{name}\" is not orgauth's and is NOT NULL without a \
                     default, so orgauth's inserts into \"{table}\" would fail"
                ));
            }
        }
        if have.primary_key != want.primary_key {
            out.push(format!(
                "table \"{table}\" has the primary key ({}), orgauth needs ({})",
                have.primary_key.join(", "),
                want.primary_key.join(", ")
            ));
        }
        for fk in want.foreign_keys.difference(&have.foreign_keys) {
            out.push(format!("table \"{table}\" lacks the foreign key {fk}"));
        }
        for fk in have.foreign_keys.difference(&want.foreign_keys) {
            if fk.columns.iter().all(|c| want.columns.contains_key(c)) {
                out.push(format!(
                    "table \"{table}\" has the foreign key {fk}, which orgauth does not expect"
                ));
            }
        }
        for index in want.indexes.difference(&have.indexes) {
            out.push(format!("table \"{table}\" lacks a {index}"));
        }
    }
    out
}

/// The shape of the seed tables present in the connection's current schema.
pub async fn shape<C: ConnectionTrait>(db: &C) -> Result<BTreeMap<String, TableShape>, DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => pg_shape(db).await,
        _ => sqlite_shape(db).await,
    }
}

/// The shape migration 1 gives the seed tables on this backend, built where it touches nothing:
/// on PostgreSQL in a schema made and dropped inside the caller's transaction, on SQLite in an
/// in-memory database.
pub async fn expected_shape(
    manager: &SchemaManager<'_>,
) -> Result<BTreeMap<String, TableShape>, DbErr> {
    let db = manager.get_connection();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let scratch = "orgauth_adoption_check";
            let path = text(
                &query(db, "SELECT current_setting('search_path')", vec![]).await?[0],
                0,
            )?;
            db.execute_unprepared(&format!(
                "DROP SCHEMA IF EXISTS {scratch} CASCADE; CREATE SCHEMA {scratch}; \
                 SET LOCAL search_path TO {scratch}"
            ))
            .await?;
            let built = async {
                create(manager).await?;
                shape(db).await
            }
            .await;
            let restore = format!(
                "SET LOCAL search_path TO {path}; DROP SCHEMA {scratch} CASCADE",
                path = if path.trim().is_empty() {
                    "DEFAULT"
                } else {
                    &path
                }
            );
            db.execute_unprepared(&restore).await?;
            built
        }
        _ => {
            let mut opts = ConnectOptions::new("sqlite::memory:");
            opts.max_connections(1).sqlx_logging(false);
            let scratch = Database::connect(opts).await?;
            create(&SchemaManager::new(&scratch)).await?;
            let built = shape(&scratch).await;
            scratch.close().await?;
            built
        }
    }
}

/// Fails, naming up to ten offending keys, when `table` holds rows that share `columns`: a unique
/// index on them cannot be created, and the rows are the deployment's to reconcile, not ours.
pub async fn refuse_duplicates<C: ConnectionTrait>(
    db: &C,
    table: &str,
    columns: &[&str],
) -> Result<(), DbErr> {
    let cols = columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let key = columns
        .iter()
        .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), 'NULL')"))
        .collect::<Vec<_>>()
        .join(" || ', ' || ");
    let sql = format!(
        "SELECT '(' || {key} || ') x' || CAST(COUNT(*) AS TEXT) FROM \"{table}\" \
         GROUP BY {cols} HAVING COUNT(*) > 1 ORDER BY 1 LIMIT 10"
    );
    let dups: Vec<String> = query(db, &sql, vec![])
        .await?
        .iter()
        .map(|r| text(r, 0))
        .collect::<Result<_, _>>()?;
    if dups.is_empty() {
        return Ok(());
    }
    Err(DbErr::Migration(format!(
        "\"{table}\" has several rows for the same ({}): {}; keep one row for each and run the \
         migration again (nothing was changed)",
        columns.join(", "),
        dups.join(", ")
    )))
}

/// Records that `version` was adopted, not run.
pub async fn record<C: ConnectionTrait>(db: &C, version: &str) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS {ADOPTIONS} (version text PRIMARY KEY NOT NULL, \
         adopted_at text NOT NULL)"
    ))
    .await?;
    let now = match db.get_database_backend() {
        DbBackend::Postgres => {
            "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        }
        _ => "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
    };
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        format!(
            "INSERT INTO {ADOPTIONS} (version, adopted_at) VALUES ({}, {now})",
            placeholder(db, 1)
        ),
        [version.into()],
    );
    db.execute_raw(stmt).await?;
    Ok(())
}

/// Removes `version`'s adoption record (a rollback that found it adopted).
pub async fn forget<C: ConnectionTrait>(db: &C, version: &str) -> Result<(), DbErr> {
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        format!(
            "DELETE FROM {ADOPTIONS} WHERE version = {}",
            placeholder(db, 1)
        ),
        [version.into()],
    );
    db.execute_raw(stmt).await?;
    Ok(())
}

/// The migrations recorded as adopted, with when.
pub async fn adopted<C: ConnectionTrait>(db: &C) -> Result<BTreeMap<String, String>, DbErr> {
    let exists = match db.get_database_backend() {
        DbBackend::Postgres => format!(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_name = '{ADOPTIONS}'"
        ),
        _ => format!("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{ADOPTIONS}'"),
    };
    if query(db, &exists, vec![]).await?.is_empty() {
        return Ok(BTreeMap::new());
    }
    query(
        db,
        &format!("SELECT version, adopted_at FROM {ADOPTIONS}"),
        vec![],
    )
    .await?
    .iter()
    .map(|r| Ok((text(r, 0)?, text(r, 1)?)))
    .collect()
}

async fn pg_shape<C: ConnectionTrait>(db: &C) -> Result<BTreeMap<String, TableShape>, DbErr> {
    let tables: Vec<sea_orm_migration::sea_orm::Value> =
        SEED_TABLES.iter().map(|t| (*t).to_owned().into()).collect();
    let in_list = (1..=tables.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut shapes: BTreeMap<String, TableShape> = BTreeMap::new();
    let columns = format!(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
                a.attnotnull::text, a.atthasdef::text
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
          WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
            AND a.attnum > 0 AND NOT a.attisdropped AND c.relname IN ({in_list})"
    );
    for r in query(db, &columns, tables.clone()).await? {
        shapes.entry(text(&r, 0)?).or_default().columns.insert(
            text(&r, 1)?,
            Column {
                kind: text(&r, 2)?,
                not_null: text(&r, 3)? == "true",
                has_default: text(&r, 4)? == "true",
            },
        );
    }
    let names = |keys: &str, rel: &str| {
        format!(
            "COALESCE((SELECT string_agg(a.attname::text, ',' ORDER BY k.n)
                 FROM unnest({keys}) WITH ORDINALITY k(att, n)
                 JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.att), '')"
        )
    };
    let constraints = format!(
        "SELECT c.relname::text, con.contype::text, {}, COALESCE(f.relname::text, ''), {},
                con.confdeltype::text
           FROM pg_constraint con
           JOIN pg_class c ON c.oid = con.conrelid
           LEFT JOIN pg_class f ON f.oid = con.confrelid
          WHERE c.relnamespace = current_schema()::regnamespace AND con.contype IN ('p', 'f')
            AND c.relname IN ({in_list})",
        names("con.conkey", "con.conrelid"),
        names("con.confkey", "con.confrelid"),
    );
    for r in query(db, &constraints, tables.clone()).await? {
        let shape = shapes.entry(text(&r, 0)?).or_default();
        let columns = split(&text(&r, 2)?);
        if text(&r, 1)? == "p" {
            shape.primary_key = columns;
        } else {
            shape.foreign_keys.insert(ForeignKey {
                columns,
                to_table: text(&r, 3)?,
                to_columns: split(&text(&r, 4)?),
                on_delete: pg_action(&text(&r, 5)?).to_owned(),
            });
        }
    }
    let indexes = format!(
        "SELECT t.relname::text, ix.indisunique::text, am.amname::text,
                COALESCE(pg_get_expr(ix.indpred, ix.indrelid), ''),
                (SELECT string_agg(pg_get_indexdef(ix.indexrelid, k, true), ',' ORDER BY k)
                   FROM generate_series(1, ix.indnkeyatts) k)
           FROM pg_index ix
           JOIN pg_class t ON t.oid = ix.indrelid
           JOIN pg_class i ON i.oid = ix.indexrelid
           JOIN pg_am am ON am.oid = i.relam
          WHERE t.relnamespace = current_schema()::regnamespace AND NOT ix.indisprimary
            AND t.relname IN ({in_list})"
    );
    for r in query(db, &indexes, tables).await? {
        shapes
            .entry(text(&r, 0)?)
            .or_default()
            .indexes
            .insert(IndexDef {
                unique: text(&r, 1)? == "true",
                method: text(&r, 2)?,
                predicate: text(&r, 3)?,
                columns: split(&text(&r, 4)?),
            });
    }
    Ok(shapes)
}

async fn sqlite_shape<C: ConnectionTrait>(db: &C) -> Result<BTreeMap<String, TableShape>, DbErr> {
    let mut shapes = BTreeMap::new();
    for table in present_seed_tables(db).await? {
        let mut shape = TableShape::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let info = format!(
            "SELECT name, lower(type), \"notnull\", dflt_value IS NOT NULL, pk \
             FROM pragma_table_info('{table}')"
        );
        for r in query(db, &info, vec![]).await? {
            let name = text(&r, 0)?;
            let pk_pos: i64 = int(&r, 4)?;
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            shape.columns.insert(
                name,
                Column {
                    kind: text(&r, 1)?,
                    not_null: int(&r, 2)? == 1 || pk_pos > 0,
                    has_default: int(&r, 3)? == 1,
                },
            );
        }
        pk.sort();
        shape.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let fks = format!(
            "SELECT id, \"from\", \"table\", \"to\", upper(on_delete) \
             FROM pragma_foreign_key_list('{table}') ORDER BY id, seq"
        );
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for r in query(db, &fks, vec![]).await? {
            let fk = by_id.entry(int(&r, 0)?).or_insert_with(|| ForeignKey {
                columns: vec![],
                to_table: String::new(),
                to_columns: vec![],
                on_delete: String::new(),
            });
            fk.columns.push(text(&r, 1)?);
            fk.to_table = text(&r, 2)?;
            fk.to_columns.push(text(&r, 3)?);
            fk.on_delete = text(&r, 4)?;
        }
        shape.foreign_keys = by_id.into_values().collect();
        let list = format!(
            "SELECT name, \"unique\", partial FROM pragma_index_list('{table}') WHERE origin <> 'pk'"
        );
        for r in query(db, &list, vec![]).await? {
            let name = text(&r, 0)?;
            let cols = format!(
                "SELECT COALESCE(name, '<expression>') FROM pragma_index_info('{}') ORDER BY seqno",
                name.replace('\'', "''")
            );
            let columns = query(db, &cols, vec![])
                .await?
                .iter()
                .map(|c| text(c, 0))
                .collect::<Result<_, _>>()?;
            let predicate = if int(&r, 2)? == 1 {
                // The predicate lives only in the index's SQL.
                let sql = format!(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{}'",
                    name.replace('\'', "''")
                );
                let sql = text(&query(db, &sql, vec![]).await?[0], 0)?;
                sql.rsplit_once(" WHERE ")
                    .map(|(_, p)| p.trim().to_owned())
                    .unwrap_or(sql)
            } else {
                String::new()
            };
            shape.indexes.insert(IndexDef {
                columns,
                unique: int(&r, 1)? == 1,
                method: String::new(),
                predicate,
            });
        }
        shapes.insert(table, shape);
    }
    Ok(shapes)
}

fn pg_action(code: &str) -> &'static str {
    match code {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => "NO ACTION",
    }
}

fn split(list: &str) -> Vec<String> {
    if list.is_empty() {
        return vec![];
    }
    list.split(',').map(str::to_owned).collect()
}

fn placeholder<C: ConnectionTrait>(db: &C, n: usize) -> String {
    match db.get_database_backend() {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

async fn query<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: Vec<sea_orm_migration::sea_orm::Value>,
) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
}

fn text(row: &QueryResult, i: usize) -> Result<String, DbErr> {
    row.try_get_by_index::<String>(i)
        .map_err(|e| DbErr::Custom(format!("reading the catalog: {e}")))
}

fn int(row: &QueryResult, i: usize) -> Result<i64, DbErr> {
    row.try_get_by_index::<i64>(i)
        .map_err(|e| DbErr::Custom(format!("reading the catalog: {e}")))
}
