//! Helpers for the server's integration tests: start a server in-process on port 0 in a
//! temporary directory, talk to it over a raw socket asserting exact RESP bytes (see
//! [`wire`]), and poll for conditions with a deadline instead of sleeping.
//!
//! The wire suites (`suite/*.rs`) only use what this module and `wire` export, so that
//! `crates/proxy/tests/server_suite.rs` runs the same files through the proxy of a 3-node
//! cluster with its own `start_with`.
#![allow(dead_code)]

mod wire;

pub use wire::*;

use server::{serve, Config, ServerHandle};
use tempfile::TempDir;

/// False: the suites run against a single-node server (where Redis-Cluster-only commands
/// such as READONLY answer as a Redis without cluster mode does).
pub const CLUSTER: bool = false;

pub struct TestServer {
    pub handle: ServerHandle,
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
    /// Stops the server (and waits for it).
    pub async fn shutdown(self) {
        self.handle.shutdown().await.expect("shutdown");
    }
}

/// A config for tests: loopback, port 0, the given directory, no fsync (speed).
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        bind: "127.0.0.1".into(),
        port: 0,
        dir: dir.to_path_buf(),
        fsync: false,
        ..Config::default()
    }
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    tune(&mut config);
    let handle = serve(config).await.expect("server starts");
    TestServer { handle, dir }
}
