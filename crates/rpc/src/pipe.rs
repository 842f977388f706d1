//! Calls to a node over ONE long-lived bidirectional stream (TiKV's batch_commands): every
//! call queued while the previous message was being written goes out in the next message,
//! and the node answers in messages of every result ready. A loaded caller thus pays one
//! HTTP/2 DATA frame and one socket write for many calls, where unary calls paid a request's
//! headers, body and trailers, and a task on the server, for each.
//!
//! Outcomes: a call fails `NeverSent` only when the stream could not be opened before the call
//! was written (nothing of it reached the node); once written, a broken stream fails it
//! `Broken` (it may have run). The caller bounds the wait (a paused node never answers).

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tower::ServiceExt;

use crate::NodeChannels;

/// Why a piped call got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeError {
    /// Nothing was sent: the node could not be reached.
    NeverSent(String),
    /// Sent; the stream broke before the reply came back.
    Broken(String),
}

/// What the stream is opened with: the outbound messages.
pub type Outbound<M> = UnboundedReceiverStream<M>;

/// The future opening a stream: the inbound messages, or why it could not be opened.
pub type Opening<M> =
    Pin<Box<dyn Future<Output = Result<tonic::Streaming<M>, tonic::Status>> + Send>>;

/// One streaming RPC: how calls are packed into messages and results unpacked.
pub trait Protocol: Send + Sync + 'static {
    type Request: Send + 'static;
    type Reply: Send + 'static;
    /// An outbound message (a batch of calls).
    type Calls: Send + 'static;
    /// An inbound message (a batch of results).
    type Results: Send + 'static;

    fn calls(batch: Vec<(u64, Self::Request)>) -> Self::Calls;
    /// `None` reply: the node sent a result without a body.
    fn results(msg: Self::Results) -> Vec<(u64, Option<Self::Reply>)>;
    fn open(channel: Channel, outbound: Outbound<Self::Calls>) -> Opening<Self::Results>;
}

type Waiter<P> = oneshot::Sender<Result<<P as Protocol>::Reply, PipeError>>;

struct Call<P: Protocol> {
    request: P::Request,
    reply: Waiter<P>,
}

type Senders<P> = Arc<Mutex<HashMap<(u64, String), mpsc::UnboundedSender<Call<P>>>>>;

/// One pipe per node, each driven by a task started on first use; clones share them. A
/// driver ends when the last clone is dropped.
pub struct Pipes<P: Protocol> {
    channels: NodeChannels,
    senders: Senders<P>,
    _protocol: PhantomData<fn() -> P>,
}

impl<P: Protocol> Clone for Pipes<P> {
    fn clone(&self) -> Self {
        Pipes {
            channels: self.channels.clone(),
            senders: Arc::clone(&self.senders),
            _protocol: PhantomData,
        }
    }
}

impl<P: Protocol> Pipes<P> {
    pub fn new(channels: NodeChannels) -> Pipes<P> {
        Pipes {
            channels,
            senders: Arc::default(),
            _protocol: PhantomData,
        }
    }

    /// Runs one call on `node` (at `addr`) through its pipe.
    pub async fn call(
        &self,
        node: u64,
        addr: &str,
        request: P::Request,
    ) -> Result<P::Reply, PipeError> {
        let (reply, rx) = oneshot::channel();
        let call = Call { request, reply };
        if let Err(mpsc::error::SendError(call)) = self.sender(node, addr).send(call) {
            // The driver is gone (a runtime shutting down).
            let _ = call.reply.send(Err(PipeError::NeverSent(format!(
                "node {node}: pipe closed"
            ))));
        }
        rx.await
            .unwrap_or_else(|_| Err(PipeError::Broken(format!("node {node}: pipe closed"))))
    }

    fn sender(&self, node: u64, addr: &str) -> mpsc::UnboundedSender<Call<P>> {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        let key = (node, addr.to_string());
        if let Some(tx) = senders.get(&key).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive::<P>(
            node,
            addr.to_string(),
            self.channels.clone(),
            rx,
        ));
        senders.insert(key, tx.clone());
        tx
    }
}

/// Opens the stream to `node`; calls queued meanwhile wait (they are not written yet).
async fn open<P: Protocol>(
    node: u64,
    addr: &str,
    channels: &NodeChannels,
) -> Result<
    (
        mpsc::UnboundedSender<P::Calls>,
        tonic::Streaming<P::Results>,
    ),
    String,
> {
    let channel = channels
        .get(node, addr)
        .map_err(|e| format!("node {node}: {e}"))?
        .ready_oneshot()
        .await
        .map_err(|e| format!("node {node} unreachable: {e}"))?;
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    match P::open(channel, UnboundedReceiverStream::new(out_rx)).await {
        Ok(inbound) => Ok((out_tx, inbound)),
        Err(status) => Err(format!("node {node} unreachable: {}", status.message())),
    }
}

/// Drives one node's pipe until every sender is gone: opens the stream when a call comes,
/// sends calls in batches, routes results to their callers; when the stream breaks, fails
/// the calls it carried and opens a new one for the next call.
async fn drive<P: Protocol>(
    node: u64,
    addr: String,
    channels: NodeChannels,
    mut calls: mpsc::UnboundedReceiver<Call<P>>,
) {
    let mut next_id: u64 = 0;
    while let Some(first) = calls.recv().await {
        let (out, mut inbound) = match open::<P>(node, &addr, &channels).await {
            Ok(s) => s,
            Err(reason) => {
                // Nothing of these calls was written.
                let _ = first.reply.send(Err(PipeError::NeverSent(reason.clone())));
                while let Ok(c) = calls.try_recv() {
                    let _ = c.reply.send(Err(PipeError::NeverSent(reason.clone())));
                }
                continue;
            }
        };
        let mut waiting: HashMap<u64, Waiter<P>> = HashMap::new();
        let mut pending = Some(first);
        let broken: String = loop {
            // Everything queued goes out in one message.
            let mut batch = Vec::new();
            for c in pending
                .take()
                .into_iter()
                .chain(std::iter::from_fn(|| calls.try_recv().ok()))
            {
                next_id = next_id.wrapping_add(1);
                waiting.insert(next_id, c.reply);
                batch.push((next_id, c.request));
            }
            if !batch.is_empty() && out.send(P::calls(batch)).is_err() {
                break format!("node {node}: stream closed");
            }
            tokio::select! {
                c = calls.recv() => match c {
                    Some(c) => pending = Some(c),
                    // Every pipe clone is gone: nobody waits for what is in flight.
                    None => return,
                },
                msg = inbound.message() => match msg {
                    Ok(Some(results)) => {
                        for (id, reply) in P::results(results) {
                            if let Some(w) = waiting.remove(&id) {
                                let _ = w.send(reply.ok_or_else(|| {
                                    PipeError::Broken(format!("node {node} sent an empty result"))
                                }));
                            }
                        }
                    }
                    Ok(None) => break format!("node {node} ended the stream"),
                    Err(status) => break format!("node {node}: {}", status.message()),
                },
            }
        };
        tracing::debug!(node, reason = %broken, in_flight = waiting.len(), "call stream broke");
        for (_, w) in waiting.drain() {
            let _ = w.send(Err(PipeError::Broken(broken.clone())));
        }
    }
}

/// The server side's outbound stream: each message carries every result ready when the
/// transport asks for the next one; it ends when every sender is gone or the server stops.
pub struct ResultBatches<R, M> {
    rx: mpsc::UnboundedReceiver<R>,
    pack: fn(Vec<R>) -> M,
    stopped: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// Resolves once `stopping` turns true (or its sender is gone).
async fn stopped(mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

impl<R, M> tokio_stream::Stream for ResultBatches<R, M> {
    type Item = Result<M, tonic::Status>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        // A stream that never ended would hold the server's graceful shutdown forever.
        if self.stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        let mut results = Vec::new();
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(r)) => results.push(r),
                Poll::Ready(None) if results.is_empty() => return Poll::Ready(None),
                Poll::Pending if results.is_empty() => return Poll::Pending,
                Poll::Ready(None) | Poll::Pending => {
                    return Poll::Ready(Some(Ok((self.pack)(results))))
                }
            }
        }
    }
}

/// The server side of a pipe: runs every call of every inbound message concurrently (at
/// most `max_in_flight` at once; beyond that the next message is not read, and HTTP/2 flow
/// control holds the caller back) and streams the results back in batches. Calls already
/// running when the caller goes away finish; their results go nowhere. When `stopping`
/// turns true (the server is shutting down) the stream ends: the caller fails what it has
/// in flight as broken (outcome unknown) and opens a new stream, to another node if need be.
pub fn serve<C, Req, R, M, F, Fut>(
    mut inbound: tonic::Streaming<C>,
    unpack: fn(C) -> Vec<Req>,
    pack: fn(Vec<R>) -> M,
    max_in_flight: usize,
    stopping: watch::Receiver<bool>,
    handler: F,
) -> ResultBatches<R, M>
where
    C: Send + 'static,
    Req: Send + 'static,
    R: Send + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel::<R>();
    let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let handler = Arc::new(handler);
    let reader_stop = stopped(stopping.clone());
    tokio::spawn(async move {
        tokio::pin!(reader_stop);
        loop {
            let msg = tokio::select! {
                m = inbound.message() => match m {
                    Ok(Some(msg)) => msg,
                    _ => return,
                },
                _ = &mut reader_stop => return,
            };
            for req in unpack(msg) {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let tx = tx.clone();
                let run = handler(req);
                tokio::spawn(async move {
                    let _ = tx.send(run.await);
                    drop(slot);
                });
            }
        }
    });
    ResultBatches {
        rx,
        pack,
        stopped: Box::pin(stopped(stopping)),
    }
}
