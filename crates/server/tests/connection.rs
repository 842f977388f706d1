//! Connection-level behaviour: pipelining, RESP3, AUTH, protocol errors, inline commands,
//! connection commands, client limits.
//!
//! The tests live in `suite/connection.rs`; the proxy's `server_suite.rs` runs the same file
//! against a 3-node cluster.

mod common;

#[path = "suite/connection.rs"]
mod suite;
