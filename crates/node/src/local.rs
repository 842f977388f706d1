//! A whole cluster in one process: N nodes on loopback, data under one directory. It backs
//! `xraft dev` and the cluster tests; every node runs the real gRPC server and storage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use placement::{ClusterMap, NodeId, NodeInfo};
use raft::RaftSettings;
use storage::StoreOptions;

use crate::{Node, NodeConfig, NodeError};

/// How a local cluster is laid out.
#[derive(Clone)]
pub struct LocalClusterConfig {
    pub base_dir: PathBuf,
    pub nodes: u64,
    pub groups: u32,
    pub replication: usize,
    /// Node i listens on `first_port + i - 1`; 0 picks free ports.
    pub first_port: u16,
    pub raft: RaftSettings,
    pub store: StoreOptions,
    pub node_max_entries: u64,
}

/// How long a restarted node waits for its old port to be free again.
const REBIND_WAIT: Duration = Duration::from_secs(5);
const MAP_FILE: &str = "cluster.map";

/// The running cluster.
pub struct LocalCluster {
    pub map: ClusterMap,
    cfg: LocalClusterConfig,
    nodes: Vec<Option<Node>>,
}

impl LocalCluster {
    /// Starts every node. The cluster map is created on the first start and stored in
    /// `base_dir`; later starts reuse it (ports included), so data survives restarts.
    pub async fn start(cfg: LocalClusterConfig) -> Result<LocalCluster, NodeError> {
        std::fs::create_dir_all(&cfg.base_dir).map_err(|source| NodeError::Io {
            path: cfg.base_dir.clone(),
            source,
        })?;
        let map_path = cfg.base_dir.join(MAP_FILE);
        let (map, mut listeners) = match std::fs::read(&map_path) {
            Ok(bytes) => {
                let map = ClusterMap::decode(&bytes).map_err(|source| NodeError::Map {
                    path: map_path.clone(),
                    source,
                })?;
                (map, Vec::new())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut listeners = Vec::new();
                let mut infos = BTreeMap::new();
                for i in 0..cfg.nodes {
                    let port = if cfg.first_port == 0 {
                        0
                    } else {
                        cfg.first_port + i as u16
                    };
                    let l = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|source| {
                        NodeError::Io {
                            path: PathBuf::from(format!("127.0.0.1:{port}")),
                            source,
                        }
                    })?;
                    let addr = l.local_addr().map_err(|source| NodeError::Io {
                        path: PathBuf::from("listener"),
                        source,
                    })?;
                    infos.insert(
                        NodeId(i + 1),
                        NodeInfo {
                            addr: addr.to_string(),
                        },
                    );
                    listeners.push(l);
                }
                let map =
                    ClusterMap::plan(infos, cfg.groups, cfg.replication).map_err(|source| {
                        NodeError::Map {
                            path: map_path.clone(),
                            source,
                        }
                    })?;
                write_durably(&map_path, &map.encode())?;
                (map, listeners)
            }
            Err(source) => {
                return Err(NodeError::Io {
                    path: map_path,
                    source,
                })
            }
        };
        let mut cluster = LocalCluster {
            map,
            cfg,
            nodes: Vec::new(),
        };
        let ids: Vec<u64> = cluster.map.nodes.keys().map(|n| n.0).collect();
        listeners.reverse();
        for id in ids {
            let listener = listeners.pop();
            let node = cluster.start_node(id, listener).await?;
            cluster.nodes.push(Some(node));
        }
        Ok(cluster)
    }

    fn node_dir(&self, id: u64) -> PathBuf {
        self.cfg.base_dir.join(format!("node{id}"))
    }

    async fn start_node(
        &self,
        id: u64,
        listener: Option<std::net::TcpListener>,
    ) -> Result<Node, NodeError> {
        let listener = match listener {
            Some(l) => l,
            None => {
                let addr = self
                    .map
                    .node(NodeId(id))
                    .map(|n| n.addr.clone())
                    .ok_or(NodeError::NotInCluster(id))?;
                rebind(&addr).await?
            }
        };
        Node::start(NodeConfig {
            node_id: id,
            data_dir: self.node_dir(id),
            cluster: self.map.clone(),
            raft: self.cfg.raft.clone(),
            store: self.cfg.store,
            node_max_entries: self.cfg.node_max_entries,
            listener: Some(listener),
        })
        .await
    }

    /// Node `id` (1-based), if running.
    pub fn node(&self, id: u64) -> Option<&Node> {
        self.nodes.get(id as usize - 1)?.as_ref()
    }

    pub fn node_ids(&self) -> Vec<u64> {
        (1..=self.nodes.len() as u64).collect()
    }

    /// Stops node `id` (its data stays).
    pub async fn stop_node(&mut self, id: u64) {
        if let Some(n) = self.nodes.get_mut(id as usize - 1).and_then(Option::take) {
            n.shutdown().await;
        }
    }

    /// Starts node `id` again on its address with its data.
    pub async fn restart_node(&mut self, id: u64) -> Result<(), NodeError> {
        let n = self.start_node(id, None).await?;
        self.nodes[id as usize - 1] = Some(n);
        Ok(())
    }

    /// The node that `g`'s leader is, as the leader's own replica reports it.
    pub fn leader_of(&self, g: u32) -> Option<u64> {
        self.nodes.iter().flatten().find_map(|n| {
            let r = n.group(g)?;
            let m = r.raft.metrics().borrow().clone();
            (m.current_leader == Some(n.node_id)).then_some(n.node_id)
        })
    }

    /// Waits until every group has a leader.
    pub async fn wait_for_leaders(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .map
                .groups
                .keys()
                .all(|g| self.leader_of(g.0).is_some())
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every node.
    pub async fn shutdown(mut self) {
        for id in self.node_ids() {
            self.stop_node(id).await;
        }
    }
}

async fn rebind(addr: &str) -> Result<std::net::TcpListener, NodeError> {
    let deadline = Instant::now() + REBIND_WAIT;
    loop {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(source) => {
                return Err(NodeError::Io {
                    path: PathBuf::from(addr),
                    source,
                })
            }
        }
    }
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    use std::io::Write;
    let err = |source| NodeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
    }
    Ok(())
}
