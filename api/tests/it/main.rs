//! HTTP tests through the real router and server, on SQLite and PostgreSQL.

mod admin;
mod adoption;
mod auth;
mod client_address;
mod connections;
mod db_faults;
mod fixtures;
mod flows;
mod guessing;
mod harness;
mod health;
mod invitations;
mod large;
mod members;
mod model;
mod no_store;
mod nul;
mod numbers;
mod org_domain;
mod organization;
mod origin;
mod paging;
mod replicas;
mod resilience;
mod security;
mod session_cache;
mod smtp;
mod social;
mod teams;
mod topologies;
mod wire;

/// Better Auth's scrypt hash of `password123` (the contract's example, §6).
pub const BETTER_AUTH_SCRYPT: &str = "0fb4ac8671a313077212579ff2aac7a1:e2d60698e41cc515f2e25df584dffc30ade236ce7e180fcdf7113f7645673657488b6db1ecf54b35f1e666ad7a33ce966384d7abeb75d0950cdcfc5ac398926d";

/// `token.signature` as the server signs it, computed here with the test secret.
pub fn harness_signature(token: &str) -> String {
    api::cookies::sign(harness::SECRET, token)
}

/// A stored time in the contract's format.
pub fn harness_date(t: chrono::NaiveDateTime) -> String {
    api::auth::dto::date(t)
}
