//! # rpc: xraft's wire schemas between processes
//!
//! Owns the gRPC services in `proto/` (Raft transport multiplexed by group; the broker
//! service the proxy calls), the code tonic/prost generate for them (compiled by protox in
//! build.rs, no protoc), and the pool of one HTTP/2 channel per peer node. It must not
//! depend on the engine or Raft internals: their payloads travel as opaque `bytes`.

pub mod channels;
pub mod pipe;

/// Generated code of package `xraft.v1`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("xraft.v1");
}

pub use channels::{NodeChannels, CONNECT_TIMEOUT, REQUEST_TIMEOUT};

/// Largest gRPC message either side accepts (an AppendEntries of `max_payload_entries`
/// batches, or one snapshot chunk, must fit).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
