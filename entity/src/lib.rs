//! SeaORM models of the orgauth schema.
//!
//! `generated/` is the output of `scripts/generate-entities.sh` (`sea-orm-cli generate entity`
//! against a migrated database) and is never edited by hand; CI regenerates it and fails on any
//! difference. What we add lives beside it: [`behavior`] (ids and timestamps filled on save).

mod generated;
pub use generated::*;

pub mod behavior;
