//! Execute calls to the nodes, one `ExecuteStream` per node ([`rpc::pipe`]): a loaded proxy
//! sends the commands of many clients to a node in one message and gets their replies back
//! the same way.

use std::sync::Arc;

use placement::{ClusterMap, NodeId};
use rpc::pb::broker_client::BrokerClient;
use rpc::pb::{ExecuteCall, ExecuteCalls, ExecuteReply, ExecuteRequest, ExecuteResults};
use rpc::pipe::{Opening, Outbound, Protocol};
use rpc::NodeChannels;

pub use rpc::pipe::PipeError;

/// The `ExecuteStream` RPC.
pub struct ExecuteProtocol;

impl Protocol for ExecuteProtocol {
    type Request = ExecuteRequest;
    type Reply = ExecuteReply;
    type Calls = ExecuteCalls;
    type Results = ExecuteResults;

    fn calls(batch: Vec<(u64, ExecuteRequest)>) -> ExecuteCalls {
        ExecuteCalls {
            calls: batch
                .into_iter()
                .map(|(id, request)| ExecuteCall {
                    id,
                    request: Some(request),
                })
                .collect(),
        }
    }

    fn results(msg: ExecuteResults) -> Vec<(u64, Option<ExecuteReply>)> {
        msg.results.into_iter().map(|r| (r.id, r.reply)).collect()
    }

    fn open(
        channel: tonic::transport::Channel,
        outbound: Outbound<ExecuteCalls>,
    ) -> Opening<ExecuteResults> {
        Box::pin(async move {
            let mut client = BrokerClient::new(channel)
                .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(rpc::MAX_MESSAGE_BYTES);
            client
                .execute_stream(outbound)
                .await
                .map(|r| r.into_inner())
        })
    }
}

/// The router's pipes (clones share them).
#[derive(Clone)]
pub struct Pipes {
    map: Arc<ClusterMap>,
    pipes: rpc::pipe::Pipes<ExecuteProtocol>,
}

impl Pipes {
    pub fn new(map: Arc<ClusterMap>, channels: NodeChannels) -> Pipes {
        Pipes {
            map,
            pipes: rpc::pipe::Pipes::new(channels),
        }
    }

    /// Runs one Execute on `node`.
    pub async fn call(
        &self,
        node: u64,
        request: ExecuteRequest,
    ) -> Result<ExecuteReply, PipeError> {
        let Some(addr) = self.map.node(NodeId(node)).map(|n| n.addr.clone()) else {
            return Err(PipeError::NeverSent(format!("unknown node {node}")));
        };
        self.pipes.call(node, &addr, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use placement::NodeInfo;
    use std::collections::BTreeMap;

    fn pipes_to(addr: String) -> Pipes {
        let nodes = BTreeMap::from([(NodeId(1), NodeInfo { addr })]);
        let map = ClusterMap::plan(nodes, 1, 1).expect("plan");
        Pipes::new(Arc::new(map), NodeChannels::new())
    }

    #[tokio::test]
    async fn a_call_to_a_node_nobody_listens_on_is_never_sent_and_the_next_one_retries() {
        // A port that was free a moment ago: connections are refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let pipes = pipes_to(format!("127.0.0.1:{port}"));
        for _ in 0..2 {
            let r = pipes.call(1, ExecuteRequest::default()).await;
            assert!(matches!(r, Err(PipeError::NeverSent(_))), "{r:?}");
        }
    }

    #[tokio::test]
    async fn an_unknown_node_is_never_sent() {
        let pipes = pipes_to("127.0.0.1:1".into());
        let r = pipes.call(7, ExecuteRequest::default()).await;
        assert!(matches!(r, Err(PipeError::NeverSent(_))), "{r:?}");
    }
}
