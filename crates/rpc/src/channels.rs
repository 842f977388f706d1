//! One lazily connected HTTP/2 channel per peer node, shared by every group's Raft traffic
//! and by client calls to that node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// Connecting to a peer gives up after this long (the call fails; Raft retries).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Default deadline of one call on a pooled channel.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 keepalive pings detect a dead peer on an idle connection.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The channel pool. Cheap to clone.
#[derive(Clone, Default)]
pub struct NodeChannels {
    inner: Arc<Mutex<HashMap<u64, (String, Channel)>>>,
}

impl NodeChannels {
    pub fn new() -> NodeChannels {
        NodeChannels::default()
    }

    /// The channel to `node` at `addr` (`host:port`), created on first use and replaced if
    /// the node's address changed. Connection happens lazily, on the first call.
    pub fn get(&self, node: u64, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((a, ch)) = map.get(&node) {
            if a == addr {
                return Ok(ch.clone());
            }
        }
        let ch = endpoint(addr)?.connect_lazy();
        map.insert(node, (addr.to_string(), ch.clone()));
        Ok(ch)
    }

    /// Forgets the channel to `node` (the next call reconnects).
    pub fn drop_node(&self, node: u64) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&node);
    }
}

/// The endpoint settings every channel uses.
pub fn endpoint(addr: &str) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}
