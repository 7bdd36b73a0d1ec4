//! Service tests on SQLite and PostgreSQL.

mod db;
mod invariants;
mod password;
