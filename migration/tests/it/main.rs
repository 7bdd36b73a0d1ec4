//! Migration tests: the migrated schema is the seed's, on PostgreSQL and SQLite; down and up are
//! inverse; migration 2's unique memberships hold.

mod adopt;
mod schema;
