//! orgauth's business rules, free of HTTP: database connections, time, passwords, sessions,
//! users and their accounts, e-mail flows, social sign-in, and the organization domain
//! ([`org`]: organizations, members, invitations, teams, roles). The routes' rules are methods of
//! [`Auth`], which holds what they need; the steps they share take the connection or transaction
//! they run in, so several compose in one transaction. Errors say what happened ([`Error`]); which
//! HTTP status that is, is the api's business.

pub mod admin;
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
pub mod lookups;
pub mod magic_link;
pub mod mail;
pub mod maintenance;
pub mod metrics;
pub mod org;
pub mod password;
pub mod rate_limit;
pub mod recovery;
pub mod session;
pub mod session_cache;
pub mod social;
pub mod token;
pub mod unproven;
pub mod verification;

pub use error::{Error, Result};
/// Roles and permissions, where the configuration reads them.
pub use org::access;

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
    /// Sessions and users this replica has served (`ORGAUTH_SESSION_CACHE`; PostgreSQL only).
    pub session_cache: Option<session_cache::SessionCache>,
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
        // On SQLite the settings refuse it (one process has nothing to share).
        let session_cache = cfg
            .session_cache
            .as_ref()
            .filter(|_| db.get_database_backend() == sea_orm::DbBackend::Postgres)
            .map(|limits| {
                let pool = db.get_postgres_connection_pool().clone();
                session_cache::SessionCache::start(pool, limits)
            });
        Self {
            session_cache,
            lookups: lookups::Lookups::new(db.clone()),
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
