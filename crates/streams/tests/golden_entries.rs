//! Golden tests of the entry commands (XADD, XTRIM, XDEL, XSETID, XLEN, XRANGE, XREVRANGE,
//! XREAD): command in, exact RESP2 and RESP3 bytes out. Expected texts follow Redis 8.0 (see
//! /work/shared/docs/streams-semantics.md §2–§6, §11); the version-independent ones were also
//! checked against a live redis-server.
//!
//! The tests live in `golden/entries.rs`; `crates/proxy/tests/golden_mirror.rs` runs the same
//! file with every command also sent through the proxy of a 3-node cluster.

mod common;

#[path = "golden/entries.rs"]
mod golden;
