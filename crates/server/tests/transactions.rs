//! MULTI / EXEC / DISCARD / WATCH.
//!
//! The tests live in `suite/transactions.rs`; the proxy's `server_suite.rs` runs the same file
//! against a 3-node cluster.

mod common;

#[path = "suite/transactions.rs"]
mod suite;
