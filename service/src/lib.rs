//! orgauth's business rules, free of HTTP: database connections, time, and (as the issues land)
//! sessions, credentials, organizations, members, invitations and teams. Functions take
//! `&impl ConnectionTrait` so callers can compose several steps in one transaction.

pub mod clock;
pub mod db;
pub mod password;
