//! Beyond the seed: at most one membership per (organization, user) and per (team, user).
//! Better Auth checks for duplicates with a SELECT before its INSERT, which two concurrent
//! requests both pass; a unique index makes the duplicate impossible and lets the service turn
//! the violation into a domain error where the INSERT runs. See `docs/schema.md`.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250101_000002_unique_memberships"
    }
}

#[derive(DeriveIden)]
enum Member {
    Table,
    OrganizationId,
    UserId,
}

#[derive(DeriveIden)]
enum TeamMember {
    Table,
    TeamId,
    UserId,
}

pub const MEMBER_UNIQUE: &str = crate::constraints::MEMBER.name();
pub const TEAM_MEMBER_UNIQUE: &str = crate::constraints::TEAM_MEMBER.name();

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        crate::adopt::refuse_duplicates(db, "member", &["organization_id", "user_id"]).await?;
        crate::adopt::refuse_duplicates(db, "team_member", &["team_id", "user_id"]).await?;
        manager
            .create_index(
                Index::create()
                    .name(MEMBER_UNIQUE)
                    .table(Member::Table)
                    .col(Member::OrganizationId)
                    .col(Member::UserId)
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(TEAM_MEMBER_UNIQUE)
                    .table(TeamMember::Table)
                    .col(TeamMember::TeamId)
                    .col(TeamMember::UserId)
                    .unique()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(TEAM_MEMBER_UNIQUE)
                    .table(TeamMember::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(MEMBER_UNIQUE)
                    .table(Member::Table)
                    .to_owned(),
            )
            .await
    }
}
