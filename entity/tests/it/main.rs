//! Entity tests on SQLite and PostgreSQL: cascades, automatic timestamps and ids, and every
//! `Related` impl used in a real query.

mod fixture;
mod model;
