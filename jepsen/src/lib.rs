//! # jepsen: xraft's Jepsen-style fault harness
//!
//! The contract is `../shared/docs/FAULTS.md`. This crate holds the history model
//! ([`history`]) and the checkers, pure functions over a stored history ([`log_checker`],
//! [`group_checker`]);
//! `jepsen check <run-dir>` re-checks a stored `history.jsonl`. Runners and nemeses come
//! next (issue 5).

pub mod availability;
pub mod client;
pub mod docker;
pub mod group_checker;
pub mod history;
pub mod liveness;
pub mod log_checker;
pub mod nemesis;
pub mod netns;
pub mod plot;
pub mod run;
pub mod workload_follower;
pub mod workload_group;
pub mod workload_trim;
