//! Beyond the seed: members and invitations of an organization in their listed order,
//! `(organization_id, created_at, id)`. `list-members`, `get-full-organization` and
//! `list-invitations` show an organization's first rows oldest first; with these indexes a page
//! reads only its own rows, so a 10,000-member organization costs what a 50-member one does
//! (the seed's `organization_id` indexes would make every page sort the whole organization).
//! See `docs/schema.md`.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250101_000004_organization_order_indexes"
    }
}

#[derive(DeriveIden)]
enum Member {
    Table,
    OrganizationId,
    CreatedAt,
    Id,
}

#[derive(DeriveIden)]
enum Invitation {
    Table,
    OrganizationId,
    CreatedAt,
    Id,
}

pub const MEMBER_ORDER: &str = "member_organizationId_createdAt_idx";
pub const INVITATION_ORDER: &str = "invitation_organizationId_createdAt_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(MEMBER_ORDER)
                    .table(Member::Table)
                    .col(Member::OrganizationId)
                    .col(Member::CreatedAt)
                    .col(Member::Id)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INVITATION_ORDER)
                    .table(Invitation::Table)
                    .col(Invitation::OrganizationId)
                    .col(Invitation::CreatedAt)
                    .col(Invitation::Id)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INVITATION_ORDER)
                    .table(Invitation::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(MEMBER_ORDER)
                    .table(Member::Table)
                    .to_owned(),
            )
            .await
    }
}
