//! Beyond the seed: Better Auth's `rateLimit` table as its Drizzle schema names it, `rate_limit`
//! (`id`, `key` unique, `count`, `last_request` in milliseconds), where replicas share their
//! rate-limit counters (`ORGAUTH_RATE_LIMIT_STORAGE=database`) and claim the periodic sweep. A
//! database where Better Auth already created it is adopted: the table is left as it is, recorded
//! in [`crate::adopt::ADOPTIONS`], and only a unique index on `key` is added when it has none
//! (the counters' upsert needs one). See `docs/schema.md`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

pub struct Migration;

pub const NAME: &str = "m20250101_000006_rate_limit";

/// Better Auth's (Drizzle's) name for the unique constraint on `key`.
pub const RATE_LIMIT_KEY_UNIQUE: &str = "rate_limit_key_unique";
/// The unique index added to an adopted table that has none on `key`.
const ADOPTED_KEY_INDEX: &str = "rate_limit_key_uidx";
/// The sweep deletes windows by their start.
const LAST_REQUEST_INDEX: &str = "rate_limit_last_request_idx";

impl MigrationName for Migration {
    fn name(&self) -> &str {
        NAME
    }
}

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    Id,
    Key,
    Count,
    LastRequest,
}

/// Whether some unique index covers exactly `rate_limit(key)`.
async fn key_is_unique<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT count(*) FROM pg_index i
               JOIN pg_class t ON t.oid = i.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
              WHERE n.nspname = current_schema() AND t.relname = 'rate_limit'
                AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
                AND a.attname = 'key'"
        }
        _ => {
            "SELECT count(*) FROM pragma_index_list('rate_limit') l
              WHERE l.\"unique\" = 1 AND l.partial = 0
                AND (SELECT count(*) FROM pragma_index_info(l.name)) = 1
                AND (SELECT name FROM pragma_index_info(l.name)) = 'key'"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| DbErr::Custom("no answer counting indexes".into()))?;
    Ok(row.try_get_by_index::<i64>(0)? > 0)
}

/// The adoption record, and the one of the index added to an adopted table.
fn adopted_table() -> String {
    format!("{NAME} rate_limit")
}
fn adopted_index() -> String {
    format!("{NAME} rate_limit ({ADOPTED_KEY_INDEX})")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.has_table("rate_limit").await? {
            crate::adopt::record(db, &adopted_table()).await?;
            if !key_is_unique(db).await? {
                manager
                    .create_index(
                        Index::create()
                            .name(ADOPTED_KEY_INDEX)
                            .table(RateLimit::Table)
                            .col(RateLimit::Key)
                            .unique()
                            .take(),
                    )
                    .await?;
            } else {
                // Nothing added: `down` leaves the table whole.
                return Ok(());
            }
            return crate::adopt::record(db, &adopted_index()).await;
        }
        manager
            .create_table(
                Table::create()
                    .table(RateLimit::Table)
                    .col(
                        ColumnDef::new(RateLimit::Id)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RateLimit::Key).text().not_null())
                    .col(ColumnDef::new(RateLimit::Count).integer().not_null())
                    .col(
                        ColumnDef::new(RateLimit::LastRequest)
                            .big_integer()
                            .not_null(),
                    )
                    .index(
                        Index::create()
                            .name(RATE_LIMIT_KEY_UNIQUE)
                            .col(RateLimit::Key)
                            .unique(),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LAST_REQUEST_INDEX)
                    .table(RateLimit::Table)
                    .col(RateLimit::LastRequest)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let adopted = crate::adopt::adopted(db).await?;
        if adopted.contains_key(&adopted_table()) {
            if adopted.contains_key(&adopted_index()) {
                manager
                    .drop_index(
                        Index::drop()
                            .name(ADOPTED_KEY_INDEX)
                            .table(RateLimit::Table)
                            .to_owned(),
                    )
                    .await?;
                crate::adopt::forget(db, &adopted_index()).await?;
            }
            return crate::adopt::forget(db, &adopted_table()).await;
        }
        manager
            .drop_table(Table::drop().table(RateLimit::Table).take())
            .await
    }
}
