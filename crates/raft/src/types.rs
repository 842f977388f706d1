//! The openraft type configuration of every xraft group.

use std::io::Cursor;

use bytes::Bytes;
use resp::Reply;
use serde::{Deserialize, Serialize};

/// A log entry's application payload: a batch of resolved operations, encoded with
/// [`streams::codec::encode_ops`] (the leader's `now_ms` and the ops). Kept encoded so
/// that the log store and the network move it without re-encoding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Proposal(pub Bytes);

/// What applying one entry produced: one reply per op of its batch, in order (empty for
/// blank and membership entries).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied(pub Vec<Reply>);

openraft::declare_raft_types!(
    /// xraft's Raft types: node ids are u64, nodes carry their gRPC address.
    pub TypeConfig:
        D = Proposal,
        R = Applied,
);

pub type NodeId = u64;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub type StorageError = openraft::StorageError<NodeId>;
