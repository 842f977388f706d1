//! Blocking reads: wake-ups, releases, fairness, deadlines, disconnects, CLIENT UNBLOCK.
//!
//! The tests live in `suite/blocking.rs`; the proxy's `server_suite.rs` runs the same file
//! against a 3-node cluster.

mod common;

#[path = "suite/blocking.rs"]
mod suite;
