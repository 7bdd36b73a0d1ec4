//! orgauth's business rules, free of HTTP: database connections, time, passwords, sessions and
//! users (and, as the issues land, organizations, members, invitations and teams). Functions take
//! `&impl ConnectionTrait` so callers can compose several steps in one transaction.

pub mod access;
pub mod audit;
pub mod better_auth_columns;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod db;
pub mod deletion;
pub mod email;
pub mod error;
pub mod guessing;
pub mod invariants;
pub mod invitations;
pub mod lookups;
pub mod mail;
pub mod maintenance;
pub mod members;
pub mod organization;
pub mod password;
pub mod recovery;
pub mod session;
pub mod social;
pub mod teams;
pub mod token;
pub mod unproven;
pub mod verification;

pub use error::{Error, Result};

use std::sync::Arc;

/// What the rules need at hand: the database, the password pool, the settings and the clock.
/// Cheap to clone; one per process.
#[derive(Clone)]
pub struct Auth {
    pub db: sea_orm::DatabaseConnection,
    pub hasher: password::Hasher,
    pub cfg: Arc<config::AuthConfig>,
    pub clock: Arc<dyn clock::Clock>,
    pub mailer: mail::Mailer,
    /// The hottest reads, batched (see [`lookups`]).
    pub lookups: lookups::Lookups,
    /// Social sign-in providers and the cipher of their tokens.
    pub social: Arc<social::Social>,
    /// Failed password checks per account (see [`guessing`]).
    pub guessing: Arc<guessing::Guessing>,
}

impl Auth {
    pub fn new(
        db: sea_orm::DatabaseConnection,
        hasher: password::Hasher,
        cfg: config::AuthConfig,
        clock: Arc<dyn clock::Clock>,
        mailer: mail::Mailer,
    ) -> Self {
        hasher.set_scrypt_in_use(cfg.scrypt_hashes_present);
        Self {
            lookups: lookups::Lookups::new(db.clone(), cfg.columns.ban),
            social: Arc::new(social::Social::new(&cfg)),
            guessing: Arc::new(guessing::Guessing::new(cfg.account_guessing.clone())),
            db,
            hasher,
            cfg: Arc::new(cfg),
            clock,
            mailer,
        }
    }
}
