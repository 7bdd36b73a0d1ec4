//! orgauth's schema migrations.
//!
//! Migration 1 is the seed's schema exactly (the DDL Drizzle emits for ZeroStarter), so a database
//! created by a ZeroStarter / Better Auth deployment can be adopted as it is. Everything orgauth adds
//! comes in later migrations, each described in `docs/schema.md`.

pub use sea_orm_migration::prelude::*;

mod m20250101_000001_seed_schema;
mod m20250101_000002_unique_memberships;
mod m20250101_000003_unique_provider_accounts;
pub use m20250101_000002_unique_memberships::{MEMBER_UNIQUE, TEAM_MEMBER_UNIQUE};
pub use m20250101_000003_unique_provider_accounts::ACCOUNT_UNIQUE;
#[cfg(feature = "testing")]
pub mod testing;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_seed_schema::Migration),
            Box::new(m20250101_000002_unique_memberships::Migration),
            Box::new(m20250101_000003_unique_provider_accounts::Migration),
        ]
    }
}
