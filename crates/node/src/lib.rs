//! # node: one xraft node process
//!
//! Hosts this node's replicas of the cluster's Raft groups (as placed by the
//! [`placement::ClusterMap`]), serves the Raft transport and the broker service over ONE gRPC
//! server, and bootstraps each group once. It must not depend on the RESP front end: clients
//! reach it through the proxy.
//!
//! ```text
//!  data_dir/
//!    cluster.map            the cluster map this node was created with (checked on start)
//!    groups/<id>/db/        one sled database per hosted replica (state + raft log)
//!    groups/<id>/snapshot.bin
//! ```

pub mod local;
pub mod services;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::BasicNode;
use placement::{ClusterMap, GroupId, NodeId};
use raft::{BatchSettings, Faults, GroupOptions, GroupReplica, Network, RaftSettings};
use rpc::pb::broker_server::BrokerServer;
use rpc::pb::raft_transport_server::RaftTransportServer;
use rpc::NodeChannels;
use storage::StoreOptions;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use local::{LocalCluster, LocalClusterConfig};
pub use services::Groups;

const CLUSTER_MAP_FILE: &str = "cluster.map";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node {0} is not in the cluster map")]
    NotInCluster(u64),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds a different cluster map than the one configured (refusing to start: a node must keep the map it was created with)")]
    MapMismatch { path: PathBuf },
    #[error("{path}: {source}")]
    Map {
        path: PathBuf,
        #[source]
        source: placement::PlacementError,
    },
    #[error(transparent)]
    Group(#[from] raft::GroupError),
}

/// What a node needs to start.
pub struct NodeConfig {
    pub node_id: u64,
    pub data_dir: PathBuf,
    pub cluster: ClusterMap,
    pub raft: RaftSettings,
    pub store: StoreOptions,
    /// `stream-node-max-entries` resolved into XADDs this node leads.
    pub node_max_entries: u64,
    /// A listener already bound to the node's address (tests bind port 0 first); `None`
    /// binds the address in the cluster map.
    pub listener: Option<std::net::TcpListener>,
}

/// A running node.
pub struct Node {
    pub node_id: u64,
    pub addr: SocketAddr,
    pub groups: Groups,
    pub faults: Arc<Faults>,
    map: ClusterMap,
    /// openraft's leader lease: followers refuse votes this long after a leader's last
    /// message (its `election_timeout_max`).
    lease: std::time::Duration,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Stores the cluster map on first start; afterwards checks it is the same one.
fn check_cluster_map(dir: &Path, map: &ClusterMap) -> Result<(), NodeError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(CLUSTER_MAP_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let stored = ClusterMap::decode(&bytes).map_err(|source| NodeError::Map {
                path: path.clone(),
                source,
            })?;
            if &stored != map {
                return Err(NodeError::MapMismatch { path });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = path.with_extension("tmp");
            {
                let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
                f.write_all(&map.encode()).map_err(io_err(&tmp))?;
                f.sync_all().map_err(io_err(&tmp))?;
            }
            std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(dir))?;
            Ok(())
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

impl Node {
    /// Opens every hosted replica, starts the gRPC server and bootstraps the groups this node
    /// is the preferred leader of (once: an initialized group is left alone).
    pub async fn start(cfg: NodeConfig) -> Result<Node, NodeError> {
        let me = NodeId(cfg.node_id);
        let info = cfg
            .cluster
            .node(me)
            .ok_or(NodeError::NotInCluster(cfg.node_id))?
            .clone();
        check_cluster_map(&cfg.data_dir, &cfg.cluster)?;
        let faults = Faults::new();
        let channels = NodeChannels::new();
        let append_pipes = raft::network::AppendPipes::new(channels.clone());
        let opts = GroupOptions {
            raft: cfg.raft.clone(),
            store: cfg.store,
            batch: BatchSettings::new(cfg.node_max_entries),
        };
        let mut groups = BTreeMap::new();
        let mut to_bootstrap = Vec::new();
        for gid in cfg.cluster.groups_on(me) {
            let spec = cfg
                .cluster
                .group(gid)
                .expect("groups_on lists known groups");
            let preferred = spec.preferred_leader == me;
            let dir = cfg.data_dir.join("groups").join(gid.0.to_string());
            let network = Network {
                node_id: cfg.node_id,
                group_id: gid.0,
                channels: channels.clone(),
                append_pipes: append_pipes.clone(),
                faults: Arc::clone(&faults),
            };
            let replica =
                GroupReplica::open(&dir, cfg.node_id, gid.0, preferred, &opts, network).await?;
            if preferred {
                to_bootstrap.push(gid);
            }
            groups.insert(gid.0, Arc::new(replica));
        }
        let groups: Groups = Arc::new(groups);
        let listener = match cfg.listener {
            Some(l) => l,
            None => std::net::TcpListener::bind(&info.addr).map_err(|source| NodeError::Io {
                path: PathBuf::from(&info.addr),
                source,
            })?,
        };
        listener
            .set_nonblocking(true)
            .map_err(io_err(Path::new(&info.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(io_err(Path::new(&info.addr)))?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(io_err(Path::new(&info.addr)))?;
        // Accepted sockets get TCP_NODELAY here: the builder's setting only applies to
        // listeners tonic binds itself (small Raft replies would otherwise wait for the
        // peer's delayed ACK, ~40 ms).
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
        let raft_service = services::RaftService {
            node_id: cfg.node_id,
            groups: Arc::clone(&groups),
            faults: Arc::clone(&faults),
            stopping: stopping.clone(),
        };
        let broker_service = services::BrokerService {
            node_id: cfg.node_id,
            groups: Arc::clone(&groups),
            stopping,
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                .add_service(
                    RaftTransportServer::new(raft_service)
                        .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES)
                        .max_encoding_message_size(rpc::MAX_MESSAGE_BYTES),
                )
                .add_service(
                    BrokerServer::new(broker_service)
                        .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES)
                        .max_encoding_message_size(rpc::MAX_MESSAGE_BYTES),
                )
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop_rx.await;
                    // The long-lived call streams end, so that the graceful shutdown
                    // does not wait for them forever.
                    let _ = stopping_tx.send(true);
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "grpc server stopped");
            }
        });
        for gid in to_bootstrap {
            let replica = &groups[&gid.0];
            let members = members_of(&cfg.cluster, gid);
            if replica.initialize_once(members).await? {
                tracing::info!(group = gid.0, node = cfg.node_id, "group bootstrapped");
            }
        }
        tracing::info!(node = cfg.node_id, %addr, groups = groups.len(), "node started");
        Ok(Node {
            node_id: cfg.node_id,
            addr,
            groups,
            faults,
            map: cfg.cluster.clone(),
            lease: std::time::Duration::from_millis(cfg.raft.election_timeout_max_ms),
            stop: Some(stop_tx),
            server: Some(server),
        })
    }

    pub fn group(&self, group_id: u32) -> Option<&Arc<GroupReplica>> {
        self.groups.get(&group_id)
    }

    /// Stops the server and every replica. Acknowledged writes are already durable, so this
    /// is safe at any point.
    /// Hands the leadership of every group this node leads to a follower before it stops
    /// (openraft 0.9 has no transfer): refuse new writes (not applied: clients retry on the
    /// new leader), stop heartbeats, wait out the followers' leader lease, ask the most
    /// up-to-date follower to start an election, and wait until someone else leads (at most
    /// `timeout` in all). Returns how many groups changed leader.
    pub async fn hand_off_leadership(&self, timeout: std::time::Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        let led: Vec<&Arc<GroupReplica>> = self
            .groups
            .values()
            .filter(|g| {
                let m = g.raft.metrics().borrow().clone();
                m.state == openraft::ServerState::Leader && m.current_leader == Some(self.node_id)
            })
            .collect();
        if led.is_empty() {
            return 0;
        }
        for g in &led {
            g.batcher.set_draining(true);
            g.raft.runtime_config().heartbeat(false);
        }
        // Batches already submitted finish replicating; then no message renews the lease.
        tokio::time::sleep(self.lease + std::time::Duration::from_millis(100)).await;
        let mut moved = 0;
        for g in &led {
            let m = g.raft.metrics().borrow().clone();
            if let Some(l) = m.current_leader.filter(|l| *l != self.node_id) {
                // A follower's election timeout ran out first (the preferred replica's is
                // short): the leadership has moved already.
                moved += 1;
                tracing::info!(group = g.group_id, successor = l, "leadership handed off");
                continue;
            }
            let replicas = self
                .map
                .group(GroupId(g.group_id))
                .map(|s| s.replicas.iter().map(|n| n.0).collect::<Vec<_>>())
                .unwrap_or_default();
            let successor = m
                .replication
                .as_ref()
                .and_then(|r| {
                    r.iter()
                        .filter(|(n, _)| **n != self.node_id)
                        .max_by_key(|(_, matched)| matched.map_or(0, |l| l.index))
                        .map(|(n, _)| *n)
                })
                .or_else(|| replicas.into_iter().find(|n| *n != self.node_id));
            let Some(successor) = successor else { continue };
            let Some(addr) = self.map.node(NodeId(successor)).map(|i| i.addr.clone()) else {
                continue;
            };
            let asked = async {
                let channel = rpc::channels::endpoint(&addr).ok()?.connect().await.ok()?;
                let reply = rpc::pb::broker_client::BrokerClient::new(channel)
                    .elect(rpc::pb::ElectRequest {
                        group_id: g.group_id,
                    })
                    .await
                    .ok()?;
                Some(reply.into_inner().error)
            };
            match tokio::time::timeout_at(deadline, asked).await {
                Ok(Some(e)) if e.is_empty() => {}
                other => {
                    tracing::warn!(
                        group = g.group_id,
                        successor,
                        ?other,
                        "hand-off: election not started"
                    );
                    continue;
                }
            }
            let mut metrics = g.raft.metrics();
            let gone = tokio::time::timeout_at(
                deadline,
                metrics.wait_for(|m| m.current_leader.is_some_and(|l| l != self.node_id)),
            )
            .await;
            if matches!(gone, Ok(Ok(_))) {
                moved += 1;
                tracing::info!(group = g.group_id, successor, "leadership handed off");
            }
        }
        moved
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for g in self.groups.values() {
            g.shutdown().await;
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

/// The voters of a group with their addresses, as openraft wants them.
pub fn members_of(map: &ClusterMap, gid: GroupId) -> BTreeMap<u64, BasicNode> {
    map.group(gid)
        .map(|spec| {
            spec.replicas
                .iter()
                .filter_map(|n| {
                    map.node(*n).map(|info| {
                        (
                            n.0,
                            BasicNode {
                                addr: info.addr.clone(),
                            },
                        )
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}
