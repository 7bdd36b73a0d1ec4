//! Beyond the seed: what the periodic sweep reads. `session_expiresAt_idx` lets the sweep find
//! expired sessions without reading every session; `account_legacyPassword_idx` holds only the
//! password accounts whose hash is not Argon2 (Better Auth's scrypt), so asking whether any is
//! left reads an empty index instead of every account. See `docs/schema.md`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250101_000007_sweep_indexes"
    }
}

#[derive(DeriveIden)]
enum Session {
    Table,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Account {
    Table,
}

pub const SESSION_EXPIRY: &str = "session_expiresAt_idx";
pub const LEGACY_PASSWORDS: &str = "account_legacyPassword_idx";

/// The condition of [`LEGACY_PASSWORDS`], written out the same way by the query that uses it
/// (a partial index serves only a query whose condition states its own).
pub const LEGACY_PASSWORD_CONDITION: &str =
    r#""provider_id" = 'credential' AND "password" IS NOT NULL AND "password" NOT LIKE '$%'"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(SESSION_EXPIRY)
                    .table(Session::Table)
                    .col(Session::ExpiresAt)
                    .take(),
            )
            .await?;
        // PostgreSQL only: SQLite's planner keeps to the `(provider_id, account_id)` index even
        // when this one is empty. sea-query has no partial indexes, hence the statement.
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                r#"CREATE INDEX "{LEGACY_PASSWORDS}" ON "account" ("id") WHERE {LEGACY_PASSWORD_CONDITION}"#
            ))
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(LEGACY_PASSWORDS)
                    .table(Account::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(SESSION_EXPIRY)
                    .table(Session::Table)
                    .to_owned(),
            )
            .await
    }
}
