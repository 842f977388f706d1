//! Golden tests of the consumer-group commands: command in, exact RESP2 and RESP3 bytes out.
//! Expected texts follow Redis 8.0 (see /work/shared/docs/streams-semantics.md §6.2, §7–§10).
//!
//! The tests live in `golden/groups.rs`; `crates/proxy/tests/golden_mirror.rs` runs the same
//! file with every command also sent through the proxy of a 3-node cluster.

mod common;

#[path = "golden/groups.rs"]
mod golden;
