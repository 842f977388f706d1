//! One replica of one Raft group on this node: the openraft instance, its storage (one sled
//! database in its own directory) and, on the leader, its batcher.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Config, Raft, RaftNetworkFactory, SnapshotPolicy};
use storage::StoreOptions;

use crate::batcher::{spawn_batcher, BatchSettings, BatcherHandle};
use crate::replica::open_replica;
use crate::state_machine::GroupShared;
use crate::types::TypeConfig;
use crate::RaftStorageError;

/// Raft timing and log-retention settings of every group (configuration; defaults tuned on
/// 2 shared cores: short election timeouts cause spurious elections under load).
#[derive(Debug, Clone)]
pub struct RaftSettings {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many applied entries since the last one.
    pub snapshot_logs_since_last: u64,
    /// Entries kept in the log behind a snapshot (lagging followers catch up from the log
    /// instead of a snapshot while they are within this distance).
    pub max_in_snapshot_log_to_keep: u64,
    /// Maximum entries in one AppendEntries.
    pub max_payload_entries: u64,
    /// Snapshot chunk size for InstallSnapshot.
    pub snapshot_max_chunk_size_bytes: u64,
    /// A follower more than this many entries behind gets a snapshot.
    pub replication_lag_threshold: u64,
}

impl Default for RaftSettings {
    fn default() -> RaftSettings {
        RaftSettings {
            heartbeat_interval_ms: 100,
            // openraft 0.9 waits election_timeout_max (the leader lease) PLUS a random
            // timeout in [min, max] after the last heartbeat: 1.2-1.6 s here.
            election_timeout_min_ms: 400,
            election_timeout_max_ms: 800,
            snapshot_logs_since_last: 20_000,
            max_in_snapshot_log_to_keep: 5_000,
            max_payload_entries: 256,
            snapshot_max_chunk_size_bytes: 1024 * 1024,
            replication_lag_threshold: 20_000,
        }
    }
}

impl RaftSettings {
    /// openraft's configuration for one group; `preferred` replicas (the placement's
    /// preferred leader) time out first, so after a cluster start or a failure the
    /// preferred leader usually wins and leaders stay spread across nodes.
    pub fn openraft_config(&self, group_id: u32, preferred: bool) -> Result<Config, String> {
        let (min, max) = if preferred {
            (
                self.election_timeout_min_ms / 2,
                self.election_timeout_min_ms
                    .max(self.election_timeout_min_ms / 2 + 1),
            )
        } else {
            (self.election_timeout_min_ms, self.election_timeout_max_ms)
        };
        let cfg = Config {
            cluster_name: format!("xraft-group-{group_id}"),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: min,
            election_timeout_max: max,
            max_payload_entries: self.max_payload_entries,
            replication_lag_threshold: self.replication_lag_threshold,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_logs_since_last),
            snapshot_max_chunk_size: self.snapshot_max_chunk_size_bytes,
            max_in_snapshot_log_to_keep: self.max_in_snapshot_log_to_keep,
            ..Config::default()
        };
        cfg.validate().map_err(|e| e.to_string())
    }
}

/// Errors of [`GroupReplica::open`].
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("group {group}: storage: {source}")]
    Storage {
        group: u32,
        #[source]
        source: RaftStorageError,
    },
    #[error("group {group}: invalid raft configuration: {reason}")]
    Config { group: u32, reason: String },
    #[error("group {group}: raft: {reason}")]
    Raft { group: u32, reason: String },
}

/// How every replica on a node is opened.
#[derive(Clone)]
pub struct GroupOptions {
    pub raft: RaftSettings,
    pub store: StoreOptions,
    pub batch: Arc<BatchSettings>,
}

/// A running replica.
pub struct GroupReplica {
    pub group_id: u32,
    pub node_id: u64,
    pub raft: Raft<TypeConfig>,
    pub shared: Arc<GroupShared>,
    pub batcher: BatcherHandle,
}

impl GroupReplica {
    /// Opens (creating) the replica's database in `dir` and starts its Raft instance.
    pub async fn open<N>(
        dir: &Path,
        node_id: u64,
        group_id: u32,
        preferred_leader: bool,
        opts: &GroupOptions,
        network: N,
    ) -> Result<GroupReplica, GroupError>
    where
        N: RaftNetworkFactory<TypeConfig>,
    {
        let config = opts
            .raft
            .openraft_config(group_id, preferred_leader)
            .map_err(|reason| GroupError::Config {
                group: group_id,
                reason,
            })?;
        let (log_store, state_machine) =
            open_replica(dir, opts.store).map_err(|source| GroupError::Storage {
                group: group_id,
                source,
            })?;
        let shared = state_machine.shared();
        let raft = Raft::new(node_id, Arc::new(config), network, log_store, state_machine)
            .await
            .map_err(|e| GroupError::Raft {
                group: group_id,
                reason: e.to_string(),
            })?;
        let batcher = spawn_batcher(
            node_id,
            raft.clone(),
            Arc::clone(&shared),
            Arc::clone(&opts.batch),
        );
        Ok(GroupReplica {
            group_id,
            node_id,
            raft,
            shared,
            batcher,
        })
    }

    /// Forms the group with `members` if this replica has never been part of it. Safe to
    /// call on every start: an initialized replica (or one that has a log) is left alone.
    pub async fn initialize_once(
        &self,
        members: BTreeMap<u64, BasicNode>,
    ) -> Result<bool, GroupError> {
        match self.raft.initialize(members).await {
            Ok(()) => Ok(true),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(false),
            Err(e) => Err(GroupError::Raft {
                group: self.group_id,
                reason: e.to_string(),
            }),
        }
    }

    /// Waits until this group has a leader (any node), up to `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let mut m = self.raft.metrics();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(l) = m.borrow_and_update().current_leader {
                return Some(l);
            }
            if tokio::time::timeout_at(deadline, m.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// Stops the Raft instance (the batcher stops when its queue closes).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(group = self.group_id, error = %e, "raft shutdown");
        }
    }
}
