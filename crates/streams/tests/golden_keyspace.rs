//! Golden tests of the keyspace commands: command in, exact RESP2 and RESP3 bytes out.
//! Expected texts follow Redis 8.0 (checked against a live 7.0 server where the two agree;
//! where 8.0 differs, e.g. SCAN's cursor and TYPE checks, the 8.0 source decides).
//!
//! The tests live in `golden/keyspace.rs`; `crates/proxy/tests/golden_mirror.rs` runs the same
//! file with every command also sent through the proxy of a 3-node cluster.

mod common;

#[path = "golden/keyspace.rs"]
mod golden;
