//! # jepsen: xraft's Jepsen-style fault harness
//!
//! The contract is `../shared/docs/FAULTS.md`. This crate holds the history model
//! ([`history`]) and the checkers, pure functions over a stored history ([`log_checker`]);
//! `jepsen check <run-dir>` re-checks a stored `history.jsonl`. Runners, nemeses and the
//! consumer-group checker come next (issue 5).

pub mod history;
pub mod log_checker;
