//! orgauth's HTTP edge: poem + poem-openapi routes, the contract's error bodies, request ids and
//! logging, the server's lifecycle, and the command line that drives it all.

pub mod cli;
pub mod error;
pub mod health;
pub mod request_log;
pub mod server;
