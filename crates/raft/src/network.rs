//! The client side of the Raft transport: openraft's network traits over the `RaftTransport`
//! gRPC service, one shared HTTP/2 channel per peer node for all groups (each request carries
//! its group id). Requests and responses are openraft's own types in [`crate::codec`].
//!
//! AppendEntries (the bulk of the traffic: every batch and heartbeat) go over one
//! `AppendStream` per peer node shared by all groups ([`rpc::pipe`]), so that the entries of
//! several groups, and of several rounds, share HTTP/2 frames and socket writes; votes and
//! snapshot chunks stay unary (a large chunk must not hold up the heartbeats behind it).
//!
//! [`Faults`] lets tests cut links (both directions when both nodes are told): a blocked
//! peer is reported unreachable without sending anything, and the server side refuses
//! requests from blocked sources.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use rpc::pb::raft_error::Kind;
use rpc::pb::raft_reply::Result as ReplyResult;
use rpc::pb::raft_transport_client::RaftTransportClient;
use rpc::pb::{RaftCall, RaftCalls, RaftReply, RaftRequest, RaftResults};
use rpc::pipe::{Opening, Outbound, PipeError, Pipes, Protocol};
use rpc::NodeChannels;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::types::{NodeId, TypeConfig};

/// Links this node refuses to use (fault injection for tests; empty in production).
#[derive(Debug, Default)]
pub struct Faults {
    blocked: RwLock<HashSet<NodeId>>,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// Cuts the link to and from `peer`.
    pub fn block(&self, peer: NodeId) {
        self.blocked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer);
    }

    pub fn heal_all(&self) {
        self.blocked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn is_blocked(&self, peer: NodeId) -> bool {
        self.blocked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&peer)
    }
}

/// The `AppendStream` RPC.
pub struct AppendProtocol;

impl Protocol for AppendProtocol {
    type Request = RaftRequest;
    type Reply = RaftReply;
    type Calls = RaftCalls;
    type Results = RaftResults;

    fn calls(batch: Vec<(u64, RaftRequest)>) -> RaftCalls {
        RaftCalls {
            calls: batch
                .into_iter()
                .map(|(id, request)| RaftCall {
                    id,
                    request: Some(request),
                })
                .collect(),
        }
    }

    fn results(msg: RaftResults) -> Vec<(u64, Option<RaftReply>)> {
        msg.results.into_iter().map(|r| (r.id, r.reply)).collect()
    }

    fn open(
        channel: tonic::transport::Channel,
        outbound: Outbound<RaftCalls>,
    ) -> Opening<RaftResults> {
        Box::pin(async move {
            let mut client = RaftTransportClient::new(channel)
                .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(rpc::MAX_MESSAGE_BYTES);
            client.append_stream(outbound).await.map(|r| r.into_inner())
        })
    }
}

/// The AppendEntries pipes of one node (one per peer, shared by its groups).
pub type AppendPipes = Pipes<AppendProtocol>;

/// openraft's network factory for one group on one node.
#[derive(Clone)]
pub struct Network {
    pub node_id: NodeId,
    pub group_id: u32,
    pub channels: NodeChannels,
    /// Shared by every group of the node.
    pub append_pipes: AppendPipes,
    pub faults: Arc<Faults>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            net: self.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

/// The link from this node's replica of a group to one peer's replica.
pub struct Peer {
    net: Network,
    target: NodeId,
    addr: String,
}

#[derive(Clone, Copy)]
enum Call {
    Append,
    Vote,
    Snapshot,
}

impl Peer {
    /// Sends one request; `Err(Ok(e))` is the peer's Raft error payload, `Err(Err(..))` a
    /// transport failure.
    async fn call<Resp: DeserializeOwned>(
        &self,
        kind: Call,
        payload: Vec<u8>,
        ttl: Duration,
    ) -> Result<Resp, CallError> {
        if self.net.faults.is_blocked(self.target) {
            return Err(CallError::Unreachable(
                "link blocked (fault injection)".into(),
            ));
        }
        let request = RaftRequest {
            group_id: self.net.group_id,
            target_node: self.target,
            source_node: self.net.node_id,
            payload: payload.into(),
        };
        let reply: RaftReply = match kind {
            Call::Append => {
                let call = self.net.append_pipes.call(self.target, &self.addr, request);
                match tokio::time::timeout(ttl, call).await {
                    Ok(Ok(reply)) => reply,
                    // Not sent, or the connection broke: the peer is (for now) unreachable.
                    Ok(Err(PipeError::NeverSent(m) | PipeError::Broken(m))) => {
                        return Err(CallError::Unreachable(m))
                    }
                    Err(_) => {
                        return Err(CallError::Network(format!(
                            "no reply within {} ms",
                            ttl.as_millis()
                        )))
                    }
                }
            }
            Call::Vote | Call::Snapshot => {
                let channel = self
                    .net
                    .channels
                    .get(self.target, &self.addr)
                    .map_err(|e| CallError::Unreachable(e.to_string()))?;
                let mut client = RaftTransportClient::new(channel)
                    .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(rpc::MAX_MESSAGE_BYTES);
                let mut req = tonic::Request::new(request);
                req.set_timeout(ttl);
                let reply = if matches!(kind, Call::Vote) {
                    client.vote(req).await
                } else {
                    client.install_snapshot(req).await
                };
                match reply {
                    Ok(r) => r.into_inner(),
                    Err(status) => {
                        return Err(match status.code() {
                            tonic::Code::Unavailable => CallError::Unreachable(status.to_string()),
                            _ => CallError::Network(status.to_string()),
                        })
                    }
                }
            }
        };
        match reply.result {
            Some(ReplyResult::Payload(p)) => {
                codec::decode(&p).map_err(|e| CallError::Network(format!("bad reply: {e}")))
            }
            Some(ReplyResult::Error(e)) => match Kind::try_from(e.kind) {
                Ok(Kind::Raft) => Err(CallError::Remote(e.payload.to_vec())),
                _ => Err(CallError::Unreachable(format!(
                    "peer {} refused: {}",
                    self.target, e.message
                ))),
            },
            None => Err(CallError::Network("empty reply".into())),
        }
    }
}

enum CallError {
    Unreachable(String),
    Network(String),
    /// The peer's openraft error, encoded.
    Remote(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Msg(String);

fn map_err<E>(target: NodeId, e: CallError) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>>
where
    E: std::error::Error + DeserializeOwned,
{
    match e {
        CallError::Unreachable(m) => RPCError::Unreachable(Unreachable::new(&Msg(m))),
        CallError::Network(m) => RPCError::Network(NetworkError::new(&Msg(m))),
        CallError::Remote(bytes) => match codec::decode::<RaftError<NodeId, E>>(&bytes) {
            Ok(err) => RPCError::RemoteError(RemoteError::new(target, err)),
            Err(d) => RPCError::Network(NetworkError::new(&Msg(format!(
                "undecodable remote error: {d}"
            )))),
        },
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Call::Append, codec::encode(&rpc), option.hard_ttl())
            .await
            .map_err(|e| map_err(self.target, e))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Call::Snapshot, codec::encode(&rpc), option.hard_ttl())
            .await
            .map_err(|e| map_err(self.target, e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Call::Vote, codec::encode(&rpc), option.hard_ttl())
            .await
            .map_err(|e| map_err(self.target, e))
    }
}
