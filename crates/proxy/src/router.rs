//! Routing commands to the leader of their group.
//!
//! Keeps a leader cache per group, follows `NotLeader` hints, waits out elections within a
//! budget, and keeps the outcome contract: a reply is either the group's (applied /
//! linearizable), an error that means "not applied", or an error that says the outcome is
//! unknown. A request that may have reached a leader is never re-sent, unless the caller
//! says it is idempotent (reads).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use placement::{ClusterMap, GroupId, NodeId};
use resp::Reply;
use rpc::pb::broker_client::BrokerClient;
use rpc::pb::execute_reply::Outcome as PbOutcome;
use rpc::pb::{Command, ExecuteRequest, ReadRequest, WaitReply, WaitRequest};
use rpc::NodeChannels;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::pipe::{PipeError, Pipes};

/// How long one Execute may take on the node before its outcome is unknown.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(12);
/// How long the router looks for a leader (elections, restarts) before answering that the
/// command was not applied.
pub const LEADER_WAIT: Duration = Duration::from_secs(8);
/// An Execute outstanding this long, from a node that answered nothing else meanwhile, makes
/// the router stop sending new commands of the group to that node until it answers again: a
/// leader that is paused, or cut off from its peers, is being replaced (its election timeout
/// is 400-800 ms after an 800 ms lease), and new commands should find the new leader rather
/// than queue behind the old one. The outstanding command keeps waiting for its own outcome.
pub const SUSPECT_AFTER: Duration = Duration::from_millis(1000);
/// Pause between attempts while no leader is known.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(40);

/// Why routed commands got no replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Certainly not applied (no leader reachable, or the group refused before applying).
    NotApplied { group: u32, reason: String },
    /// Sent to a leader; whether it was applied is not known.
    Unknown { group: u32, reason: String },
}

impl RouteError {
    /// The error reply a client gets.
    pub fn to_reply(&self) -> Reply {
        match self {
            RouteError::NotApplied { group, reason } => Reply::error(format!(
                "TRYAGAIN shard {group} is unavailable, the command was not applied: {reason}"
            )),
            RouteError::Unknown { group, reason } => Reply::error(format!(
                "TIMEOUT the outcome is unknown (shard {group}: {reason}); the command may or may not have been applied"
            )),
        }
    }
}

/// Routes to group leaders. Cheap to clone; clones share the leader cache and connections.
#[derive(Clone)]
pub struct Router {
    map: Arc<ClusterMap>,
    channels: NodeChannels,
    /// Execute calls, one stream per node (see [`crate::pipe`]).
    pipes: Pipes,
    leaders: Arc<RwLock<HashMap<u32, u64>>>,
    /// Nodes with an Execute outstanding longer than [`SUSPECT_AFTER`] (since when), until
    /// they answer anything: new commands avoid them for a while.
    suspects: Arc<RwLock<HashMap<u64, Instant>>>,
    /// Per node, when it last answered an Execute (milliseconds since `epoch`): a node that
    /// keeps answering others is slow (loaded), not gone, and is not suspected.
    answered: Arc<HashMap<u64, std::sync::atomic::AtomicU64>>,
    epoch: Instant,
    /// `stream-node-max-entries` sent with each call (the nodes' own when `None`).
    node_max_entries: Option<u64>,
    /// Dirty-counter movement of the calls made through this router (per job).
    dirty: Arc<std::sync::atomic::AtomicU64>,
    /// Spreads READONLY reads over the replicas.
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
    /// Per key: the FIFO line of this proxy's clients blocked in XREADGROUP on it.
    block_lines: Arc<std::sync::Mutex<HashMap<Bytes, Arc<tokio::sync::Mutex<()>>>>>,
}

enum Attempt {
    Done(Vec<Reply>, u64),
    /// Not applied; try `next` (or any replica) after `wait`.
    Retry {
        next: Option<u64>,
        wait: bool,
        reason: String,
    },
    Unknown(String),
}

impl Router {
    pub fn new(map: Arc<ClusterMap>) -> Router {
        let channels = NodeChannels::new();
        Router {
            map: Arc::clone(&map),
            pipes: Pipes::new(Arc::clone(&map), channels.clone()),
            channels,
            leaders: Arc::default(),
            suspects: Arc::default(),
            answered: Arc::new(
                map.nodes
                    .keys()
                    .map(|n| (n.0, std::sync::atomic::AtomicU64::new(0)))
                    .collect(),
            ),
            epoch: Instant::now(),
            node_max_entries: None,
            dirty: Arc::default(),
            next_reader: Arc::default(),
            block_lines: Arc::default(),
        }
    }

    /// The line of clients blocked in XREADGROUP on `key` (tokio's mutex is FIFO-fair:
    /// whoever blocked first is served first, as Redis serves blocked clients).
    pub fn block_line(&self, key: &Bytes) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.block_lines.lock().unwrap_or_else(|p| p.into_inner());
        // Forget lines nobody stands in any more.
        if m.len() > 1024 {
            m.retain(|_, l| Arc::strong_count(l) > 1);
        }
        Arc::clone(m.entry(key.clone()).or_default())
    }

    /// The dirty-counter movement of the calls made through this router so far.
    pub fn dirty(&self) -> u64 {
        self.dirty.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This router (same connections and leader cache) sending `n` as the callers'
    /// `stream-node-max-entries`.
    /// (A fresh dirty counter: use one per job.)
    pub fn with_node_max_entries(&self, n: u64) -> Router {
        Router {
            node_max_entries: Some(n),
            dirty: Arc::default(),
            ..self.clone()
        }
    }

    pub fn map(&self) -> &ClusterMap {
        &self.map
    }

    pub fn group_of_key(&self, key: &[u8]) -> u32 {
        self.map.group_of_key(key).0
    }

    /// Every group id, in order.
    pub fn groups(&self) -> Vec<u32> {
        self.map.groups.keys().map(|g| g.0).collect()
    }

    fn cached_leader(&self, group: u32) -> Option<u64> {
        self.leaders
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&group)
            .copied()
    }

    fn set_leader(&self, group: u32, leader: Option<u64>) {
        let mut l = self.leaders.write().unwrap_or_else(|p| p.into_inner());
        match leader {
            Some(n) => l.insert(group, n),
            None => l.remove(&group),
        };
    }

    /// `node` kept an Execute of `group` waiting too long: forget it as the group's leader
    /// (unless a newer hint replaced it meanwhile) and avoid it for a while.
    fn suspect(&self, group: u32, node: u64) {
        {
            let mut l = self.leaders.write().unwrap_or_else(|p| p.into_inner());
            if l.get(&group) == Some(&node) {
                l.remove(&group);
            }
        }
        self.suspects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(node)
            .or_insert_with(Instant::now);
    }

    fn since_epoch_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether `node` answered no Execute in the last [`SUSPECT_AFTER`].
    fn silent(&self, node: u64) -> bool {
        let last = self
            .answered
            .get(&node)
            .map_or(0, |a| a.load(std::sync::atomic::Ordering::Relaxed));
        self.since_epoch_ms().saturating_sub(last) >= SUSPECT_AFTER.as_millis() as u64
    }

    /// `node` answered: it is alive and reachable.
    fn clear_suspect(&self, node: u64) {
        if let Some(a) = self.answered.get(&node) {
            a.store(self.since_epoch_ms(), std::sync::atomic::Ordering::Relaxed);
        }
        let suspected = self
            .suspects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&node);
        if suspected {
            self.suspects
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&node);
        }
    }

    fn is_suspect(&self, node: u64) -> bool {
        self.suspects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&node)
    }

    fn replicas(&self, group: u32) -> Vec<u64> {
        self.map
            .group(GroupId(group))
            .map(|s| s.replicas.iter().map(|n| n.0).collect())
            .unwrap_or_default()
    }

    /// A ready client for `node`: `Err` means the connection could not be made, so nothing
    /// was sent.
    async fn client(&self, node: u64) -> Result<BrokerClient<tonic::transport::Channel>, String> {
        let addr = self
            .map
            .node(NodeId(node))
            .map(|n| n.addr.clone())
            .ok_or_else(|| format!("unknown node {node}"))?;
        let channel = self.channels.get(node, &addr).map_err(|e| e.to_string())?;
        let channel = channel
            .ready_oneshot()
            .await
            .map_err(|e| format!("node {node} unreachable: {e}"))?;
        Ok(BrokerClient::new(channel)
            .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(rpc::MAX_MESSAGE_BYTES))
    }

    async fn attempt(
        &self,
        node: u64,
        group: u32,
        commands: &[Vec<Bytes>],
        idempotent: bool,
    ) -> Attempt {
        let req = ExecuteRequest {
            group_id: group,
            commands: commands
                .iter()
                .map(|args| Command { args: args.clone() })
                .collect(),
            node_max_entries: self.node_max_entries,
        };
        let call = tokio::time::timeout(CALL_TIMEOUT, self.pipes.call(node, req));
        tokio::pin!(call);
        let reply = tokio::select! {
            r = &mut call => r,
            _ = tokio::time::sleep(SUSPECT_AFTER) => {
                // Slow but answering others (load): keep going there. Silent: paused, or
                // cut off; look for the leader anew.
                if self.silent(node) {
                    tracing::debug!(node, group, "execute outstanding: looking for the leader anew");
                    self.suspect(group, node);
                }
                call.await
            }
        };
        let reply = match reply {
            Ok(Ok(r)) => {
                self.clear_suspect(node);
                r
            }
            // The stream could not be opened: nothing was sent.
            Ok(Err(PipeError::NeverSent(reason))) => {
                return Attempt::Retry {
                    next: None,
                    wait: true,
                    reason,
                }
            }
            Ok(Err(PipeError::Broken(reason))) if idempotent => {
                return Attempt::Retry {
                    next: None,
                    wait: true,
                    reason,
                }
            }
            Ok(Err(PipeError::Broken(reason))) => return Attempt::Unknown(reason),
            Err(_elapsed) => {
                let reason = format!(
                    "node {node}: no reply within {} ms",
                    CALL_TIMEOUT.as_millis()
                );
                if idempotent {
                    return Attempt::Retry {
                        next: None,
                        wait: true,
                        reason,
                    };
                }
                return Attempt::Unknown(reason);
            }
        };
        match reply.outcome {
            Some(PbOutcome::Replies(b)) => match raft::codec::decode::<Vec<Reply>>(&b) {
                Ok(replies) if replies.len() == commands.len() => {
                    self.set_leader(group, Some(node));
                    self.dirty
                        .fetch_add(reply.dirty, std::sync::atomic::Ordering::Relaxed);
                    Attempt::Done(replies, reply.applied_index)
                }
                Ok(r) => Attempt::Unknown(format!(
                    "node {node} sent {} replies for {} commands",
                    r.len(),
                    commands.len()
                )),
                Err(e) => Attempt::Unknown(format!("node {node} sent undecodable replies: {e}")),
            },
            Some(PbOutcome::NotLeader(nl)) => {
                let hint = nl.leader_id.filter(|l| *l != node);
                Attempt::Retry {
                    next: hint,
                    wait: hint.is_none(),
                    reason: format!("node {node} is not the leader"),
                }
            }
            Some(PbOutcome::Unavailable(reason)) => Attempt::Retry {
                next: None,
                wait: true,
                reason,
            },
            Some(PbOutcome::Unknown(reason)) => Attempt::Unknown(reason),
            None => Attempt::Unknown(format!("node {node} sent an empty reply")),
        }
    }

    /// Runs `commands` (one connection's, in order, atomically) on `group`'s leader.
    pub async fn execute(
        &self,
        group: u32,
        commands: Vec<Vec<Bytes>>,
        idempotent: bool,
    ) -> Result<Vec<Reply>, RouteError> {
        self.execute_at(group, commands, idempotent)
            .await
            .map(|(r, _)| r)
    }

    /// [`Router::execute`], also returning the leader's applied index when the commands
    /// arrived (they saw at least that state).
    pub async fn execute_at(
        &self,
        group: u32,
        commands: Vec<Vec<Bytes>>,
        idempotent: bool,
    ) -> Result<(Vec<Reply>, u64), RouteError> {
        let replicas = self.replicas(group);
        if replicas.is_empty() {
            return Err(RouteError::NotApplied {
                group,
                reason: "no such shard".into(),
            });
        }
        let start = Instant::now();
        let deadline = start + LEADER_WAIT;
        let mut next = self.cached_leader(group);
        let mut rotation = 0usize;
        loop {
            let node = next.take().unwrap_or_else(|| {
                rotation += 1;
                replicas[rotation % replicas.len()]
            });
            // A node that kept a command waiting (paused, or cut off from its peers) is
            // avoided for up to SUSPECT_AFTER, even when named leader: a new leader is
            // probably being elected. A leader that was just slow gets its commands again.
            if self.is_suspect(node) && start.elapsed() < SUSPECT_AFTER && replicas.len() > 1 {
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
            match self.attempt(node, group, &commands, idempotent).await {
                Attempt::Done(r, index) => return Ok((r, index)),
                Attempt::Unknown(reason) => {
                    self.set_leader(group, None);
                    return Err(RouteError::Unknown { group, reason });
                }
                Attempt::Retry {
                    next: hint,
                    wait,
                    reason,
                } => {
                    self.set_leader(group, hint);
                    next = hint;
                    if Instant::now() >= deadline {
                        return Err(RouteError::NotApplied { group, reason });
                    }
                    if wait {
                        tokio::time::sleep(RETRY_BACKOFF).await;
                    }
                }
            }
        }
    }

    /// Waits on any reachable replica of `group` (a follower preferred) until it has applied
    /// `min_applied_index` and one of `keys` got data, or `timeout`.
    pub async fn wait_for_data(
        &self,
        group: u32,
        keys: Vec<Bytes>,
        min_applied_index: u64,
        timeout: Duration,
        read: Option<Vec<Bytes>>,
    ) -> Result<WaitReply, RouteError> {
        let leader = self.cached_leader(group);
        let mut order = self.replicas(group);
        order.sort_by_key(|n| Some(*n) == leader);
        let mut last = String::from("no replica");
        for node in order {
            let mut client = match self.client(node).await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let mut req = tonic::Request::new(WaitRequest {
                group_id: group,
                keys: keys.clone(),
                min_applied_index,
                timeout_ms: timeout.as_millis() as u64,
                read: read.clone().map(|args| Command { args }),
            });
            req.set_timeout(timeout + CALL_TIMEOUT);
            match client.wait_for_data(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    if r.error.is_empty() {
                        return Ok(r);
                    }
                    last = r.error;
                }
                Err(s) => last = s.message().to_string(),
            }
        }
        Err(RouteError::NotApplied {
            group,
            reason: last,
        })
    }

    /// Runs read-only `commands` on one replica of `group` (replicas taken in turn, the
    /// next one on failure): its applied state, possibly behind the leader's.
    pub async fn read(
        &self,
        group: u32,
        commands: Vec<Vec<Bytes>>,
    ) -> Result<Vec<Reply>, RouteError> {
        let mut order = self.replicas(group);
        if order.is_empty() {
            return Err(RouteError::NotApplied {
                group,
                reason: "no such shard".into(),
            });
        }
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let len = order.len();
        order.rotate_left(start % len);
        let n = commands.len();
        let commands: Vec<Command> = commands.into_iter().map(|args| Command { args }).collect();
        let mut last = String::from("no replica");
        for node in order {
            let mut client = match self.client(node).await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let mut req = tonic::Request::new(ReadRequest {
                group_id: group,
                commands: commands.clone(),
            });
            req.set_timeout(CALL_TIMEOUT);
            match client.read(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    if !r.error.is_empty() {
                        last = r.error;
                        continue;
                    }
                    match raft::codec::decode::<Vec<Reply>>(&r.replies) {
                        Ok(replies) if replies.len() == n => return Ok(replies),
                        _ => last = format!("node {node} sent a bad read reply"),
                    }
                }
                Err(s) => last = s.message().to_string(),
            }
        }
        Err(RouteError::NotApplied {
            group,
            reason: last,
        })
    }
}
