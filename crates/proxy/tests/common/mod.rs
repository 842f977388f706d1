//! `start_with` for the single-node broker's wire suites run through the proxy: a 3-node,
//! 3-shard cluster (in-process nodes over real gRPC, fsync on) behind `proxy::serve_proxy`
//! configured with the test's `server::Config`. The wire helpers are the server's own.
#![allow(dead_code)]

use std::time::Duration;

pub use crate::wire::*;

use node::{LocalCluster, LocalClusterConfig};
use raft::RaftSettings;
use server::{Config, ServerHandle};
use storage::StoreOptions;
use tempfile::TempDir;

/// True: the suites run through the proxy (READONLY/READWRITE answer +OK as in Redis
/// Cluster).
pub const CLUSTER: bool = true;

pub struct TestServer {
    pub handle: ServerHandle,
    pub cluster: LocalCluster,
    pub dir: TempDir,
}

impl TestServer {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.handle.local_addr()
    }
    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr()).await
    }
    pub fn redis_url(&self) -> String {
        format!("redis://{}/", self.addr())
    }
    /// Stops the proxy, then the cluster.
    pub async fn shutdown(self) {
        self.handle.shutdown().await.expect("proxy shutdown");
        self.cluster.shutdown().await;
    }
}

/// The proxy's config for tests: loopback, port 0, the given directory.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        bind: "127.0.0.1".into(),
        port: 0,
        dir: dir.to_path_buf(),
        ..Config::default()
    }
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = LocalCluster::start(LocalClusterConfig {
        base_dir: dir.path().join("cluster"),
        nodes: 3,
        groups: 3,
        replication: 3,
        first_port: 0,
        raft: RaftSettings {
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            ..RaftSettings::default()
        },
        store: StoreOptions {
            cache_capacity_bytes: 8 * 1024 * 1024,
            fsync: true,
        },
        node_max_entries: 100,
    })
    .await
    .expect("cluster starts");
    assert!(
        cluster.wait_for_leaders(Duration::from_secs(20)).await,
        "every shard elects a leader"
    );
    let mut config = test_config(&dir.path().join("proxy"));
    tune(&mut config);
    let handle = proxy::serve_proxy(config, cluster.map.clone())
        .await
        .expect("proxy starts");
    TestServer {
        handle,
        cluster,
        dir,
    }
}
