//! Beyond the seed: Better Auth's admin plugin columns, `user.role`, `user.banned`,
//! `user.ban_reason`, `user.ban_expires` and `session.impersonated_by`, exactly as its schema
//! declares them (all nullable; `banned` defaults to false). A ZeroStarter database already has
//! them (it registers `admin()`): a column that exists is adopted as it is, never altered, and
//! recorded in [`crate::adopt::ADOPTIONS`] so that `down` drops only what `up` added. See
//! `docs/schema.md` and `docs/admin.md` §2.

use sea_orm_migration::prelude::*;

pub struct Migration;

pub const NAME: &str = "m20250101_000005_admin_columns";

impl MigrationName for Migration {
    fn name(&self) -> &str {
        NAME
    }
}

/// `(table, column)` of each admin column, in the order Better Auth's migrator adds them.
pub const ADMIN_COLUMNS: [(&str, &str); 5] = [
    ("user", "role"),
    ("user", "banned"),
    ("user", "ban_reason"),
    ("user", "ban_expires"),
    ("session", "impersonated_by"),
];

/// The adoption record of a column this migration found in place.
fn adopted_name(table: &str, column: &str) -> String {
    format!("{NAME} {table}.{column}")
}

fn definition(column: &str) -> ColumnDef {
    let mut def = ColumnDef::new(Alias::new(column));
    match column {
        "banned" => def.boolean().null().default(false),
        "ban_expires" => def.timestamp().null(),
        _ => def.text().null(),
    };
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in ADMIN_COLUMNS {
            if manager.has_column(table, column).await? {
                crate::adopt::record(manager.get_connection(), &adopted_name(table, column))
                    .await?;
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(definition(column))
                        .take(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let adopted = crate::adopt::adopted(db).await?;
        for (table, column) in ADMIN_COLUMNS.iter().rev() {
            let name = adopted_name(table, column);
            if adopted.contains_key(&name) {
                crate::adopt::forget(db, &name).await?;
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(*table))
                        .drop_column(Alias::new(*column))
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
