//! # proxy: the RESP front door of an xraft cluster
//!
//! Reuses the single-node broker's front end (`server`: connections, RESP2/RESP3, HELLO,
//! AUTH, CLIENT, COMMAND, CONFIG, INFO, MULTI queueing) and replaces its local keyspace with
//! the cluster's: [`ClusterKeyspace`] routes every engine command by key (CRC16 slot → shard)
//! to the shard's Raft leader over gRPC through the [`Router`]. It must not depend on sled or
//! on Raft internals (it only decodes replies).
//!
//! ```text
//!  client ─RESP─▶ server front end ─RemoteJob─▶ ClusterKeyspace ─▶ Router ─gRPC─▶ leader
//!                                                  (split, fan out, blocking loops)
//! ```
//!
//! Error contract: `-TRYAGAIN ...` = not applied (no leader reachable in time); `-TIMEOUT
//! ...` = the outcome is unknown (the leader may have applied it); the proxy never re-sends
//! a write that may have reached a leader.

pub mod keyspace;
pub mod pipe;
pub mod router;

use std::sync::Arc;

pub use keyspace::ClusterKeyspace;
pub use router::{RouteError, Router};

/// Starts a proxy for the cluster `map` with the front-end settings in `config`.
pub async fn serve_proxy(
    config: server::Config,
    map: placement::ClusterMap,
) -> Result<server::ServerHandle, server::ServerError> {
    let router = Router::new(Arc::new(map));
    server::serve_remote(config, Arc::new(ClusterKeyspace::new(router))).await
}
