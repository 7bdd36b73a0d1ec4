//! orgauth's HTTP edge: poem + poem-openapi routes (Better Auth's core in [`auth`], its
//! organization plugin in [`organization`]), the contract's error bodies, request ids and logging,
//! the server's lifecycle, and the command line that drives it all. The rules are the service's;
//! a route reads its input, gets its caller ([`auth::Caller`]), calls the service and writes the
//! answer.

pub mod admin;
pub mod auth;
pub mod base_path;
pub mod body_limit;
pub mod cache_fence;
pub mod cli;
pub mod client_ip;
pub mod connections;
pub mod cookies;
pub mod cors;
pub mod error;
pub mod health;
pub mod metrics;
pub mod nul;
pub mod organization;
pub mod origin;
pub mod outbox;
pub mod panic;
pub mod rate_limit;
pub mod reference;
pub mod request_log;
pub mod route_template;
pub mod server;
pub mod state;
pub mod wire;
