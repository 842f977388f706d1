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
    ElectReply, ElectRequest, ExecuteCalls, ExecuteReply, ExecuteRequest, ExecuteResult,
    ExecuteResults, GroupStatus, NotLeader, RaftCall, RaftCalls, RaftError as PbRaftError,
    RaftReply, RaftRequest, RaftResult, RaftResults, ReadReply, ReadRequest, StatusReply,
    StatusRequest, WaitReply, WaitRequest,
};
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

/// Commands in one Execute (a client's pipeline chunk for one group).
/// Commands in one Execute (a client's pipeline chunk or a whole MULTI for one group; the
/// proxy queues at most 100 000 commands in a MULTI).
pub const MAX_COMMANDS_PER_EXECUTE: usize = 100_000;
/// Longest WaitForData (the proxy re-issues longer blocks).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// The replicas this node hosts, by group id.
pub type Groups = Arc<BTreeMap<u32, Arc<GroupReplica>>>;

#[derive(Clone)]
pub struct RaftService {
    pub node_id: u64,
    pub groups: Groups,
    pub faults: Arc<Faults>,
    /// Turns true when the node's server shuts down: long-lived streams end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
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

impl RaftService {
    /// One AppendEntries (unary or on the stream).
    async fn append(&self, req: RaftRequest) -> RaftReply {
        let group = match self.route(&req) {
            Ok(g) => g,
            Err(reply) => return reply.into_inner(),
        };
        let rpc = match raft::codec::decode(&req.payload) {
            Ok(r) => r,
            Err(e) => return raft_error(Kind::BadRequest, e.to_string(), Vec::new()).into_inner(),
        };
        match group.raft.append_entries(rpc).await {
            Ok(resp) => ok_payload(raft::codec::encode(&resp)).into_inner(),
            Err(e) => raft_error(Kind::Raft, e.to_string(), raft::codec::encode(&e)).into_inner(),
        }
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
        Ok(Response::new(self.append(request.into_inner()).await))
    }

    type AppendStreamStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<RaftResults, Status>> + Send + 'static>,
    >;

    async fn append_stream(
        &self,
        request: Request<tonic::Streaming<RaftCalls>>,
    ) -> Result<Response<Self::AppendStreamStream>, Status> {
        let svc = self.clone();
        let results = rpc::pipe::serve(
            request.into_inner(),
            |m: RaftCalls| m.calls,
            |results| RaftResults { results },
            MAX_STREAM_CALLS_IN_FLIGHT,
            self.stopping.clone(),
            move |call: RaftCall| {
                let svc = svc.clone();
                async move {
                    RaftResult {
                        id: call.id,
                        reply: Some(svc.append(call.request.unwrap_or_default()).await),
                    }
                }
            },
        );
        Ok(Response::new(Box::pin(results)))
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
    /// Turns true when the node's server shuts down: long-lived streams end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

fn outcome_reply(outcome: Outcome, applied_index: u64) -> ExecuteReply {
    let mut dirty = 0;
    let outcome = match outcome {
        Outcome::Replies(r, d) => {
            dirty = d;
            PbOutcome::Replies(raft::codec::encode(&r).into())
        }
        Outcome::NotLeader { leader } => PbOutcome::NotLeader(NotLeader { leader_id: leader }),
        Outcome::Unavailable(m) => PbOutcome::Unavailable(m),
        Outcome::Unknown(m) => PbOutcome::Unknown(m),
    };
    ExecuteReply {
        outcome: Some(outcome),
        applied_index,
        dirty,
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

/// One Execute (unary or on the stream): runs the commands on the group's batcher.
async fn execute_on(groups: &Groups, req: ExecuteRequest) -> ExecuteReply {
    let Some(group) = groups.get(&req.group_id).cloned() else {
        return outcome_reply(Outcome::NotLeader { leader: None }, 0);
    };
    if req.commands.len() > MAX_COMMANDS_PER_EXECUTE {
        return outcome_reply(
            Outcome::Unavailable(format!(
                "at most {MAX_COMMANDS_PER_EXECUTE} commands per call"
            )),
            0,
        );
    }
    let commands: Vec<Vec<Bytes>> = req.commands.into_iter().map(|c| c.args).collect();
    let applied_index = group.shared.applied_index();
    let outcome = group.batcher.execute(commands, req.node_max_entries).await;
    outcome_reply(outcome, applied_index)
}

/// Calls of one ExecuteStream or AppendStream allowed to run at once; beyond this the
/// stream's next message is not read until some finish (HTTP/2 flow control then holds the
/// caller back).
const MAX_STREAM_CALLS_IN_FLIGHT: usize = 8192;

#[tonic::async_trait]
impl Broker for BrokerService {
    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<ExecuteReply>, Status> {
        Ok(Response::new(
            execute_on(&self.groups, request.into_inner()).await,
        ))
    }

    type ExecuteStreamStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<ExecuteResults, Status>> + Send + 'static>,
    >;

    async fn execute_stream(
        &self,
        request: Request<tonic::Streaming<ExecuteCalls>>,
    ) -> Result<Response<Self::ExecuteStreamStream>, Status> {
        let groups = Arc::clone(&self.groups);
        let results = rpc::pipe::serve(
            request.into_inner(),
            |m: ExecuteCalls| m.calls,
            |results| ExecuteResults { results },
            MAX_STREAM_CALLS_IN_FLIGHT,
            self.stopping.clone(),
            move |call: rpc::pb::ExecuteCall| {
                let groups = Arc::clone(&groups);
                async move {
                    let reply = execute_on(&groups, call.request.unwrap_or_default()).await;
                    ExecuteResult {
                        id: call.id,
                        reply: Some(reply),
                    }
                }
            },
        );
        Ok(Response::new(Box::pin(results)))
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
        let read = match req.read.map(|c| c.args) {
            None => None,
            Some(args) => match streams::parse(&args) {
                Some(Ok(cmd)) => Some(cmd),
                _ => return Err(Status::invalid_argument("read: not an engine command")),
            },
        };
        let timeout = Duration::from_millis(req.timeout_ms).min(MAX_WAIT);
        let deadline = tokio::time::Instant::now() + timeout;
        let keys: Vec<Bytes> = req.keys;
        let wanted: HashSet<&Bytes> = keys.iter().collect();
        let mut applied = group.shared.subscribe_applied();
        let reached = {
            let r = tokio::time::timeout_at(
                deadline,
                applied.wait_for(|i| *i >= req.min_applied_index),
            )
            .await;
            matches!(r, Ok(Ok(_)))
        };
        let done = |group: &GroupReplica, ready_keys: Vec<Bytes>, reply: Vec<u8>, timed_out| {
            Ok(Response::new(WaitReply {
                applied_index: group.shared.applied_index(),
                ready_keys,
                timed_out,
                error: String::new(),
                reply: reply.into(),
            }))
        };
        if !reached {
            return done(&group, Vec::new(), Vec::new(), true);
        }
        let mut since = req.min_applied_index;
        loop {
            // Subscribe before looking, so a change applied in between is not missed.
            let mut ready = group.shared.subscribe_ready();
            match &read {
                Some(cmd) => {
                    // Only applied (hence committed) state is read.
                    let reply = group.shared.with_db(|db| {
                        let ctx = streams::Ctx {
                            now_ms: 0,
                            node_max_entries: 0,
                        };
                        match cmd.prepare(db, &ctx) {
                            streams::Prepared::Reply(r) => Ok(r),
                            streams::Prepared::Write(_) => Err(()),
                        }
                    });
                    match reply {
                        Err(()) => {
                            return Err(Status::invalid_argument("read: the command writes"))
                        }
                        Ok(resp::Reply::NullArray) => {}
                        // A blocked XREAD ignores a key of another type (as Redis does): it
                        // waits for the key to become a stream with new entries.
                        Ok(resp::Reply::Error(e)) if e.starts_with(b"WRONGTYPE") => {}
                        Ok(r) => return done(&group, Vec::new(), raft::codec::encode(&r), false),
                    }
                }
                None => {
                    if group.shared.last_ready_index(&keys) > since {
                        return done(&group, keys.clone(), Vec::new(), false);
                    }
                }
            }
            since = group.shared.applied_index();
            // Wait for one of the keys to change.
            loop {
                match tokio::time::timeout_at(deadline, ready.recv()).await {
                    Err(_) => return done(&group, Vec::new(), Vec::new(), true),
                    Ok(Ok(batch)) => {
                        if batch.iter().any(|k| wanted.contains(k)) {
                            break;
                        }
                    }
                    // Missed notifications: look again.
                    Ok(Err(RecvError::Lagged(_))) => break,
                    Ok(Err(RecvError::Closed)) => {
                        return Err(Status::unavailable("the replica is shutting down"))
                    }
                }
            }
            if read.is_none() {
                return done(&group, keys.clone(), Vec::new(), false);
            }
        }
    }

    async fn elect(&self, request: Request<ElectRequest>) -> Result<Response<ElectReply>, Status> {
        let group_id = request.into_inner().group_id;
        let error = match self.groups.get(&group_id) {
            None => format!("node {} hosts no replica of group {group_id}", self.node_id),
            Some(g) => match g.raft.trigger().elect().await {
                Ok(()) => String::new(),
                Err(e) => e.to_string(),
            },
        };
        Ok(Response::new(ElectReply { error }))
    }

    async fn read(&self, request: Request<ReadRequest>) -> Result<Response<ReadReply>, Status> {
        let req = request.into_inner();
        let Some(group) = self.groups.get(&req.group_id).cloned() else {
            return Ok(Response::new(ReadReply {
                error: format!(
                    "node {} hosts no replica of group {}",
                    self.node_id, req.group_id
                ),
                ..ReadReply::default()
            }));
        };
        if req.commands.len() > MAX_COMMANDS_PER_EXECUTE {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_COMMANDS_PER_EXECUTE} commands per call"
            )));
        }
        // Idle times of XPENDING / XINFO are this node's view of now (reads change nothing).
        let ctx = streams::Ctx {
            now_ms: storage::clock::wall_clock_ms(),
            node_max_entries: 0,
        };
        let (replies, applied_index) = group.shared.with_db(|db| {
            let replies: Vec<resp::Reply> = req
                .commands
                .iter()
                .map(|c| read_one(db, &c.args, &ctx))
                .collect();
            (replies, group.shared.applied_index())
        });
        Ok(Response::new(ReadReply {
            replies: raft::codec::encode(&replies).into(),
            applied_index,
            error: String::new(),
        }))
    }

    async fn status(
        &self,
        request: Request<StatusRequest>,
    ) -> Result<Response<StatusReply>, Status> {
        let with_digest = request.into_inner().with_digest;
        let groups = self
            .groups
            .values()
            .map(|g| {
                let m = g.raft.metrics().borrow().clone();
                let (digest_index, state_digest) = if with_digest {
                    let (i, d) = g.shared.state_digest();
                    (i, Some(d))
                } else {
                    (0, None)
                };
                GroupStatus {
                    state_digest,
                    digest_index,
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

/// One command of a [`Read`](BrokerService::read) on applied state.
fn read_one(db: &streams::Db, args: &[Bytes], ctx: &streams::Ctx) -> resp::Reply {
    match streams::parse(args) {
        None => resp::Reply::error("ERR unknown command"),
        Some(Err(e)) => e,
        Some(Ok(cmd)) => match cmd.prepare(db, ctx) {
            streams::Prepared::Reply(r) => r,
            streams::Prepared::Write(_) => {
                resp::Reply::error("READONLY You can't write against a read only replica.")
            }
        },
    }
}
