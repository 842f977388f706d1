//! `start_with` for the single-node broker's wire suites run through the proxy: a 3-node,
//! 3-shard cluster (in-process nodes over real gRPC, fsync on) behind `proxy::serve_proxy`
//! configured with the test's `server::Config`. The wire helpers are the server's own.
#![allow(dead_code)]

pub use crate::wire::*;

use node::LocalCluster;
use server::{Config, ServerHandle};
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
    let mut config = test_config(&dir.path().join("proxy"));
    tune(&mut config);
    let (cluster, handle) =
        crate::shared::start_cluster_and_proxy(&dir.path().join("cluster"), 3, true, config).await;
    TestServer {
        handle,
        cluster,
        dir,
    }
}
