//! A 3-node cluster (in-process nodes over real gRPC) behind the RESP proxy, as the proxy's
//! test files start it: fast elections, a small sled cache.

use std::path::Path;
use std::time::Duration;

use node::{LocalCluster, LocalClusterConfig};
use raft::RaftSettings;
use storage::StoreOptions;

/// Starts 3 nodes with `groups` shards of 3 replicas under `dir` (`fsync` on or off), waits
/// for every shard's leader, then the proxy with `config` (its port, limits, password).
pub async fn start_cluster_and_proxy(
    dir: &Path,
    groups: u32,
    fsync: bool,
    config: server::Config,
) -> (LocalCluster, server::ServerHandle) {
    let cluster = LocalCluster::start(LocalClusterConfig {
        base_dir: dir.to_path_buf(),
        nodes: 3,
        groups,
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
            fsync,
        },
        node_max_entries: 100,
    })
    .await
    .expect("cluster starts");
    assert!(
        cluster.wait_for_leaders(Duration::from_secs(20)).await,
        "every shard elects a leader"
    );
    let proxy = proxy::serve_proxy(config, cluster.map.clone())
        .await
        .expect("proxy starts");
    (cluster, proxy)
}
