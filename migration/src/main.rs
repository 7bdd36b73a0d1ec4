//! The migration CLI that `sea-orm-cli migrate` runs (`cargo run -p migration -- up`).
use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migration::Migrator).await;
}
