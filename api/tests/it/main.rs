//! HTTP tests through the real router and server, on SQLite and PostgreSQL.

mod harness;
mod health;
