//! The node's gRPC services: Raft transport (dispatched to the group's replica by id) and
//! the broker service the proxy calls.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openraft::ServerState;
use raft::{Faults, GroupReplica, Outcome};
use rpc::pb::broker_server::Broker;
use rpc::pb::execute_reply::Outcome as PbOutcome;
use rpc::pb::raft_error::Kind;
use rpc::pb::raft_reply::Result as ReplyResult;
use rpc::pb::raft_transport_server::RaftTransport;
use rpc::pb::{
    ExecuteReply, ExecuteRequest, GroupStatus, NotLeader, RaftError as PbRaftError, RaftReply,
    RaftRequest, StatusReply, StatusRequest, WaitReply, WaitRequest,
};
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

/// Commands in one Execute (a client's pipeline chunk for one group).
pub const MAX_COMMANDS_PER_EXECUTE: usize = 4096;
/// Longest WaitForData (the proxy re-issues longer blocks).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// The replicas this node hosts, by group id.
pub type Groups = Arc<BTreeMap<u32, Arc<GroupReplica>>>;

pub struct RaftService {
    pub node_id: u64,
    pub groups: Groups,
    pub faults: Arc<Faults>,
}

fn raft_error(kind: Kind, message: String, payload: Vec<u8>) -> Response<RaftReply> {
    Response::new(RaftReply {
        result: Some(ReplyResult::Error(PbRaftError {
            kind: kind as i32,
            message,
            payload: payload.into(),
        })),
    })
}

fn ok_payload(payload: Vec<u8>) -> Response<RaftReply> {
    Response::new(RaftReply {
        result: Some(ReplyResult::Payload(payload.into())),
    })
}

impl RaftService {
    fn route(&self, req: &RaftRequest) -> Result<Arc<GroupReplica>, Box<Response<RaftReply>>> {
        if req.target_node != self.node_id {
            return Err(Box::new(raft_error(
                Kind::WrongTarget,
                format!("this is node {}, not {}", self.node_id, req.target_node),
                Vec::new(),
            )));
        }
        if self.faults.is_blocked(req.source_node) {
            return Err(Box::new(raft_error(
                Kind::WrongTarget,
                "link blocked (fault injection)".into(),
                Vec::new(),
            )));
        }
        self.groups.get(&req.group_id).cloned().ok_or_else(|| {
            Box::new(raft_error(
                Kind::UnknownGroup,
                format!(
                    "node {} hosts no replica of group {}",
                    self.node_id, req.group_id
                ),
                Vec::new(),
            ))
        })
    }
}

macro_rules! raft_call {
    ($self:ident, $request:ident, $method:ident) => {{
        let req = $request.into_inner();
        let group = match $self.route(&req) {
            Ok(g) => g,
            Err(reply) => return Ok(*reply),
        };
        let rpc = match raft::codec::decode(&req.payload) {
            Ok(r) => r,
            Err(e) => return Ok(raft_error(Kind::BadRequest, e.to_string(), Vec::new())),
        };
        Ok(match group.raft.$method(rpc).await {
            Ok(resp) => ok_payload(raft::codec::encode(&resp)),
            Err(e) => raft_error(Kind::Raft, e.to_string(), raft::codec::encode(&e)),
        })
    }};
}

#[tonic::async_trait]
impl RaftTransport for RaftService {
    async fn append_entries(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        raft_call!(self, request, append_entries)
    }

    async fn vote(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        raft_call!(self, request, vote)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        raft_call!(self, request, install_snapshot)
    }
}

pub struct BrokerService {
    pub node_id: u64,
    pub groups: Groups,
}

fn outcome_reply(outcome: Outcome) -> ExecuteReply {
    let outcome = match outcome {
        Outcome::Replies(r) => PbOutcome::Replies(raft::codec::encode(&r).into()),
        Outcome::NotLeader { leader } => PbOutcome::NotLeader(NotLeader { leader_id: leader }),
        Outcome::Unavailable(m) => PbOutcome::Unavailable(m),
        Outcome::Unknown(m) => PbOutcome::Unknown(m),
    };
    ExecuteReply {
        outcome: Some(outcome),
    }
}

fn role(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

#[tonic::async_trait]
impl Broker for BrokerService {
    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<ExecuteReply>, Status> {
        let req = request.into_inner();
        let Some(group) = self.groups.get(&req.group_id).cloned() else {
            return Ok(Response::new(outcome_reply(Outcome::NotLeader {
                leader: None,
            })));
        };
        if req.commands.len() > MAX_COMMANDS_PER_EXECUTE {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_COMMANDS_PER_EXECUTE} commands per call"
            )));
        }
        let commands: Vec<Vec<Bytes>> = req.commands.into_iter().map(|c| c.args).collect();
        let outcome = group.batcher.execute(commands).await;
        Ok(Response::new(outcome_reply(outcome)))
    }

    async fn wait_for_data(
        &self,
        request: Request<WaitRequest>,
    ) -> Result<Response<WaitReply>, Status> {
        let req = request.into_inner();
        let Some(group) = self.groups.get(&req.group_id).cloned() else {
            return Ok(Response::new(WaitReply {
                error: format!(
                    "node {} hosts no replica of group {}",
                    self.node_id, req.group_id
                ),
                ..WaitReply::default()
            }));
        };
        let timeout = Duration::from_millis(req.timeout_ms).min(MAX_WAIT);
        let deadline = tokio::time::Instant::now() + timeout;
        let keys: HashSet<Bytes> = req.keys.into_iter().collect();
        // Subscribe before looking, so nothing applied in between is missed.
        let mut ready = group.shared.subscribe_ready();
        let mut applied = group.shared.subscribe_applied();
        let reached = {
            let r = tokio::time::timeout_at(
                deadline,
                applied.wait_for(|i| *i >= req.min_applied_index),
            )
            .await;
            matches!(r, Ok(Ok(_)))
        };
        let timed_out_reply = |group: &GroupReplica| WaitReply {
            applied_index: group.shared.applied_index(),
            timed_out: true,
            ..WaitReply::default()
        };
        if !reached {
            return Ok(Response::new(timed_out_reply(&group)));
        }
        loop {
            match tokio::time::timeout_at(deadline, ready.recv()).await {
                Err(_) => return Ok(Response::new(timed_out_reply(&group))),
                Ok(Ok(batch)) => {
                    let hit: Vec<Bytes> = batch
                        .iter()
                        .filter(|k| keys.contains(*k))
                        .cloned()
                        .collect();
                    if !hit.is_empty() {
                        return Ok(Response::new(WaitReply {
                            applied_index: group.shared.applied_index(),
                            ready_keys: hit,
                            timed_out: false,
                            error: String::new(),
                        }));
                    }
                }
                // Missed notifications: report every key, the caller re-checks.
                Ok(Err(RecvError::Lagged(_))) => {
                    return Ok(Response::new(WaitReply {
                        applied_index: group.shared.applied_index(),
                        ready_keys: keys.into_iter().collect(),
                        timed_out: false,
                        error: String::new(),
                    }))
                }
                Ok(Err(RecvError::Closed)) => {
                    return Err(Status::unavailable("the replica is shutting down"))
                }
            }
        }
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusReply>, Status> {
        let groups = self
            .groups
            .values()
            .map(|g| {
                let m = g.raft.metrics().borrow().clone();
                GroupStatus {
                    group_id: g.group_id,
                    role: role(m.state).to_string(),
                    leader_id: m.current_leader,
                    term: m.current_term,
                    last_log_index: m.last_log_index.unwrap_or(0),
                    applied_index: m.last_applied.map_or(0, |l| l.index),
                    voters: m.membership_config.membership().voter_ids().collect(),
                }
            })
            .collect();
        Ok(Response::new(StatusReply {
            node_id: self.node_id,
            groups,
        }))
    }
}
