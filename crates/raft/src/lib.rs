//! # raft: xraft's Raft groups on openraft 0.9
//!
//! Owns the openraft type configuration, the storage of a group replica (the Raft log and
//! vote and the streams state machine, in ONE sled database per replica), the per-group
//! batcher that turns many client commands into one log entry on the leader, and a group
//! replica's lifecycle. It must not depend on RESP connection handling, the proxy or any
//! network code: the transport comes in as an openraft `RaftNetworkFactory`.
//!
//! ```text
//!  client commands ─▶ batcher (leader: prepare on a working copy, resolve *, ~, deliveries)
//!                        │ Proposal = encode_ops(now_ms, ops)
//!                        ▼
//!                     openraft ──▶ LogStore (sled trees raft_log/raft_state, fsync'd appends)
//!                        │ committed
//!                        ▼
//!                     StateMachine: streams::apply(op) ─▶ Store commit (state + applied id)
//! ```

// openraft's storage traits fix the error type (`StorageError`, ~224 bytes); our helpers
// return it as is rather than boxing and unboxing at every trait boundary.
#![allow(clippy::result_large_err)]

pub mod batcher;
pub mod codec;
pub mod group;
pub mod log_store;
pub mod network;
pub mod replica;
pub mod state_machine;
pub mod types;

pub use batcher::{BatchSettings, BatcherHandle, Outcome};
pub use group::{GroupError, GroupOptions, GroupReplica, RaftSettings};
pub use log_store::LogStore;
pub use network::{Faults, Network};
pub use replica::{open_replica, RaftStorageError};
pub use state_machine::{GroupShared, StateMachine, SM_COMMIT_DELAY, SM_COMMIT_ENTRIES};
pub use types::{Applied, NodeId, Proposal, TypeConfig};
