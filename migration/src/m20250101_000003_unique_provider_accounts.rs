//! Beyond the seed: one account row per provider account, `(provider_id, account_id)` unique.
//! A social sign-in looks the provider account up and inserts it when it is new; two concurrent
//! callbacks for the same provider account would both find nothing and insert twice, linking
//! one identity to two users. The unique index makes the second insert fail instead. See
//! `docs/schema.md`.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250101_000003_unique_provider_accounts"
    }
}

/// Column names are the seed's (`account_id` included).
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Account {
    Table,
    ProviderId,
    AccountId,
}

pub const ACCOUNT_UNIQUE: &str = crate::constraints::ACCOUNT.name();

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::adopt::refuse_duplicates(
            manager.get_connection(),
            "account",
            &["provider_id", "account_id"],
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(ACCOUNT_UNIQUE)
                    .table(Account::Table)
                    .col(Account::ProviderId)
                    .col(Account::AccountId)
                    .unique()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(ACCOUNT_UNIQUE)
                    .table(Account::Table)
                    .to_owned(),
            )
            .await
    }
}
