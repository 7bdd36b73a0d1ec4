//! orgauth's schema migrations.
//!
//! Migration 1 is the seed's schema exactly (the DDL Drizzle emits for ZeroStarter). On a database
//! where a ZeroStarter / Better Auth deployment already created those tables, it adopts them
//! instead (see [`adopt`]). Everything orgauth adds comes in later migrations, each described in
//! `docs/schema.md`.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
pub use sea_orm_migration::MigrationStatus;

pub mod adopt;
pub mod constraints;
pub mod invariants;
mod m20250101_000001_seed_schema;
mod m20250101_000002_unique_memberships;
mod m20250101_000003_unique_provider_accounts;
mod m20250101_000004_organization_order_indexes;
mod m20250101_000005_admin_columns;
mod m20250101_000006_rate_limit;
mod m20250101_000007_sweep_indexes;
mod m20250101_000008_cache_notify;
pub use m20250101_000002_unique_memberships::{MEMBER_UNIQUE, TEAM_MEMBER_UNIQUE};
pub use m20250101_000003_unique_provider_accounts::ACCOUNT_UNIQUE;
pub use m20250101_000005_admin_columns::ADMIN_COLUMNS;
pub use m20250101_000006_rate_limit::RATE_LIMIT_KEY_UNIQUE;
pub use m20250101_000007_sweep_indexes::LEGACY_PASSWORD_CONDITION;
pub use m20250101_000008_cache_notify::CHANNEL as CACHE_CHANNEL;
#[cfg(feature = "testing")]
pub mod testing;

/// orgauth's migrations. `up` applies the pending ones in one transaction that holds a lock, so
/// servers starting together on one database migrate it once: the others wait, then find nothing
/// pending. A failure leaves the database as it was.
pub struct Migrator;

/// The migrations themselves, applied by [`Migrator::up`] inside its transaction.
struct Steps;

/// The advisory lock's key on PostgreSQL (any constant; this one spells "orgauth").
const LOCK_KEY: i64 = 0x006f_7267_6175_7468;

#[async_trait::async_trait]
impl MigratorTrait for Steps {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_seed_schema::Migration),
            Box::new(m20250101_000002_unique_memberships::Migration),
            Box::new(m20250101_000003_unique_provider_accounts::Migration),
            Box::new(m20250101_000004_organization_order_indexes::Migration),
            Box::new(m20250101_000005_admin_columns::Migration),
            Box::new(m20250101_000006_rate_limit::Migration),
            Box::new(m20250101_000007_sweep_indexes::Migration),
            Box::new(m20250101_000008_cache_notify::Migration),
        ]
    }
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Steps::migrations()
    }

    async fn up<'c, C>(db: C, steps: Option<u32>) -> Result<(), DbErr>
    where
        C: IntoSchemaManagerConnection<'c>,
    {
        let db = db.into_database_executor();
        // SQLite: BEGIN IMMEDIATE takes the write lock at once (a second process waits out its
        // busy timeout for it). PostgreSQL: a transaction-scoped advisory lock.
        let txn = db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"))
                .await?;
        }
        Steps::up(&txn, steps).await?;
        txn.commit().await
    }
}
