//! One client connection (a tokio task): reads and parses requests incrementally, batches
//! every complete command in the buffer into one executor request, writes the replies the
//! executor encoded (one write per response), and watches the socket for EOF while it waits
//! (a blocked client that disconnects is removed at once).
//!
//! Protocol errors are answered with `-ERR Protocol error: ...` and close the connection, as
//! Redis does; command errors are ordinary replies and keep it open.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use resp::{Limits, Protocol, ProtocolError, Reply, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::executor::{Request, RequestTx, Response};
use crate::limits::{KEEP_WRITE_BUFFER_BYTES, MAX_BATCH_COMMANDS, READ_CHUNK_BYTES};
use crate::Shared;

/// Removes the client from the executor and the connection count however the task ends.
struct ConnGuard {
    id: u64,
    shared: Arc<Shared>,
    requests: RequestTx,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.connected.fetch_sub(1, Ordering::AcqRel);
        let _ = self.requests.send(Request::Disconnect { id: self.id });
    }
}

/// Why a connection ends.
enum End {
    /// EOF, reset, killed, QUIT, query buffer overflow: nothing more to say.
    Closed,
    /// A protocol error: answer it, then close.
    Protocol(ProtocolError),
}

struct Conn {
    id: u64,
    socket: TcpStream,
    rbuf: BytesMut,
    parser: RequestParser,
    /// The reusable write buffer; travels to the executor with each batch.
    wbuf: Vec<u8>,
    rx: UnboundedReceiver<Response>,
    requests: RequestTx,
    shared: Arc<Shared>,
    authenticated: bool,
}

pub(crate) async fn run(
    socket: TcpStream,
    peer: SocketAddr,
    id: u64,
    shared: Arc<Shared>,
    requests: RequestTx,
) {
    let _guard = ConnGuard {
        id,
        shared: shared.clone(),
        requests: requests.clone(),
    };
    let _ = socket.set_nodelay(true);
    let laddr = socket
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let connect = Request::Connect {
        id,
        addr: peer.to_string(),
        laddr,
        fd: socket.as_raw_fd(),
        tx,
    };
    if requests.send(connect).is_err() {
        return;
    }
    tracing::debug!(conn_id = id, %peer, "client connected");
    let authenticated = !shared.limits.requirepass_set.load(Ordering::Relaxed);
    let mut conn = Conn {
        id,
        socket,
        rbuf: BytesMut::with_capacity(READ_CHUNK_BYTES),
        parser: RequestParser::new(Limits::default()),
        wbuf: Vec::new(),
        rx,
        requests,
        shared,
        authenticated,
    };
    match conn.serve().await {
        End::Closed => {}
        End::Protocol(e) => {
            tracing::debug!(conn_id = id, error = %e, "closing client: protocol error");
            let reply = e.to_reply();
            if let Reply::Error(line) = &reply {
                let _ = conn.requests.send(Request::ProtocolError {
                    error: line.clone(),
                });
            }
            let _ = conn
                .socket
                .write_all(&reply.to_bytes(Protocol::Resp2))
                .await;
        }
    }
    let _ = conn.socket.shutdown().await;
    tracing::debug!(conn_id = id, "client disconnected");
}

impl Conn {
    async fn serve(&mut self) -> End {
        loop {
            let mut cmds: Vec<Vec<Bytes>> = Vec::new();
            let mut protocol_error: Option<ProtocolError> = None;
            while cmds.len() < MAX_BATCH_COMMANDS {
                // Before AUTH, one command at a time: the limits change once it succeeds.
                if !self.authenticated && !cmds.is_empty() {
                    break;
                }
                match self.next_command() {
                    Ok(Some(args)) => {
                        if !args.is_empty() {
                            cmds.push(args);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        protocol_error = Some(e);
                        break;
                    }
                }
            }
            if !cmds.is_empty() {
                if let Some(end) = self.run_batch(cmds).await {
                    return end;
                }
                if protocol_error.is_none() {
                    continue;
                }
            }
            if let Some(e) = protocol_error {
                return End::Protocol(e);
            }
            let limit = self
                .shared
                .limits
                .client_query_buffer_limit
                .load(Ordering::Relaxed);
            if limit > 0 && self.rbuf.len() >= limit {
                tracing::warn!(
                    conn_id = self.id,
                    query_buffer_bytes = self.rbuf.len(),
                    limit_bytes = limit,
                    "closing client that reached max query buffer length"
                );
                return End::Closed;
            }
            if let Some(end) = self.wait_for_input().await {
                return end;
            }
        }
    }

    /// Parses one command from the read buffer (`Ok(None)`: incomplete).
    fn next_command(&mut self) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let l = &self.shared.limits;
        let r = Ordering::Relaxed;
        let limits = Limits {
            max_bulk_len: l.proto_max_bulk_len.load(r),
            max_args: l.max_args.load(r),
            unauthenticated_max_args: l.unauthenticated_max_args.load(r),
            unauthenticated_max_bulk_len: l.unauthenticated_max_bulk_len.load(r),
            ..Limits::default()
        };
        if *self.parser.limits() != limits {
            self.parser.set_limits(limits);
        }
        self.parser.parse(&mut self.rbuf, self.authenticated)
    }

    /// Waits for more bytes while idle (also for a kill or shutdown from the executor).
    async fn wait_for_input(&mut self) -> Option<End> {
        let idle_secs = self.shared.limits.timeout_secs.load(Ordering::Relaxed);
        let idle = async {
            if idle_secs == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(idle_secs)).await
            }
        };
        self.rbuf.reserve(READ_CHUNK_BYTES);
        tokio::select! {
            n = self.socket.read_buf(&mut self.rbuf) => match n {
                Ok(0) | Err(_) => Some(End::Closed),
                Ok(_) => None,
            },
            msg = self.rx.recv() => match msg {
                // Between batches the executor only speaks to close the connection.
                Some(r) => self.write_response(r).await.err(),
                None => Some(End::Closed),
            },
            _ = idle => {
                tracing::debug!(conn_id = self.id, idle_secs, "closing idle client");
                Some(End::Closed)
            }
        }
    }

    /// Sends a batch to the executor and writes its responses until the batch is done.
    /// Keeps reading the socket meanwhile so that a disconnect is noticed at once.
    async fn run_batch(&mut self, cmds: Vec<Vec<Bytes>>) -> Option<End> {
        let out = std::mem::take(&mut self.wbuf);
        let batch = Request::Batch {
            id: self.id,
            cmds,
            out,
        };
        if self.requests.send(batch).is_err() {
            return Some(End::Closed);
        }
        loop {
            let limit = self
                .shared
                .limits
                .client_query_buffer_limit
                .load(Ordering::Relaxed);
            let can_read = limit == 0 || self.rbuf.len() < limit;
            if can_read {
                self.rbuf.reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                biased;
                msg = self.rx.recv() => {
                    let Some(r) = msg else {
                        return Some(End::Closed);
                    };
                    let done = r.done;
                    if let Err(end) = self.write_response(r).await {
                        return Some(end);
                    }
                    if done {
                        return None;
                    }
                }
                n = self.socket.read_buf(&mut self.rbuf), if can_read => match n {
                    Ok(0) | Err(_) => return Some(End::Closed),
                    Ok(_) => {}
                },
            }
        }
    }

    /// Writes one response; `Err` when the connection must end.
    async fn write_response(&mut self, r: Response) -> Result<(), End> {
        let Response {
            mut out,
            close,
            authenticated,
            ..
        } = r;
        self.authenticated = authenticated;
        if !out.is_empty() && self.socket.write_all(&out).await.is_err() {
            return Err(End::Closed);
        }
        if close {
            return Err(End::Closed);
        }
        out.clear();
        if out.capacity() > KEEP_WRITE_BUFFER_BYTES {
            out = Vec::new();
        }
        if self.wbuf.capacity() < out.capacity() {
            self.wbuf = out;
        }
        Ok(())
    }
}
