//! Service tests on SQLite and PostgreSQL.

mod db;
mod invariants;
mod org;
mod password;
mod sweep;
mod unique;
