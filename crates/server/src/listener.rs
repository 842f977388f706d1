//! The accept loop: admits connections up to `maxclients` and spawns a task for each.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::executor::{Request, RequestTx};
use crate::Shared;

const MAX_CLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";

pub(crate) async fn accept_loop(
    tcp: TcpListener,
    shared: Arc<Shared>,
    requests: RequestTx,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            a = tcp.accept() => a,
        };
        let (mut socket, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let max = shared.limits.maxclients.load(Ordering::Relaxed);
        let now_connected = shared.connected.fetch_add(1, Ordering::AcqRel);
        if now_connected >= max {
            shared.connected.fetch_sub(1, Ordering::AcqRel);
            let _ = requests.send(Request::RejectedConnection);
            tracing::warn!(%peer, maxclients = max, "connection rejected: max number of clients reached");
            tokio::spawn(async move {
                let _ = socket.write_all(MAX_CLIENTS_REACHED).await;
                let _ = socket.shutdown().await;
            });
            continue;
        }
        let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        let requests = requests.clone();
        tokio::spawn(crate::conn::run(socket, peer, id, shared, requests));
    }
}
