//! # jepsen: xraft's Jepsen-style fault harness
//!
//! The contract is `../shared/docs/FAULTS.md`. This crate holds the history model
//! ([`history`]) and the checkers, pure functions over a stored history ([`log_checker`],
//! [`group_checker`]);
//! `jepsen check <run-dir>` re-checks a stored `history.jsonl`. Runners and nemeses come
//! next (issue 5).

pub mod client;
pub mod group_checker;
pub mod history;
pub mod log_checker;
pub mod run;
