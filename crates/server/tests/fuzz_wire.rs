//! Fuzzing the wire: hostile byte streams against an in-process server, while a well-behaved
//! client keeps writing and reading its own stream.
//!
//! Each proptest case is one connection that sends a random mix of valid RESP commands,
//! inline commands, truncated frames, huge declared lengths, bad prefixes, NUL bytes and
//! random bytes, split into random chunks. The oracle is `resp::RequestParser` fed the same
//! bytes: the server must answer exactly one well-formed reply per command it finds, and on
//! a protocol error answer the commands before it, then the exact `-ERR Protocol error: ...`
//! line, then close that connection only. After every case a fresh connection must get PONG,
//! and at the end the well-behaved client's stream must hold exactly what it was
//! acknowledged.
//!
//! ```text
//!  proptest case ──bytes──▶ fuzz connection ──▶ server ◀── well-behaved client (XADD/XLEN/XRANGE)
//!       │                        │ replies                      │ acknowledged IDs
//!       └─ RequestParser ─▶ expected: n replies (+ error, close) ▼
//!                                                    final XLEN / XRANGE == acknowledged
//! ```
//!
//! The tests live in `suite/fuzz_wire.rs`; the proxy's `server_suite.rs` runs the same file
//! against a 3-node cluster.

mod common;

#[path = "suite/fuzz_wire.rs"]
mod suite;
