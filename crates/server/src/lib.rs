//! # server: the single-node xraft broker runtime
//!
//! Owns the RESP front end (connections, pipelining, client state, AUTH/HELLO, MULTI/WATCH,
//! blocking reads) and the executor thread that owns every piece of keyspace state (the
//! [`streams::Db`], the [`storage::Store`], the [`Config`], the [`Stats`], the blocked-client
//! and WATCH registries). It must never be depended on by `streams` or `storage`.
//!
//! ```text
//!  tokio tasks (one per connection)              one executor thread (std)
//!  ┌────────────────────────────┐  Batch{cmds,out}  ┌───────────────────────────────────────┐
//!  │ read ─▶ resp parser ─▶ batch├──────────────────▶│ drain queued requests (group)         │
//!  │                            │                   │  per command: lookup → auth → MULTI → │
//!  │ write ◀─ out (encoded) ◀───┤◀──────────────────┤  engine prepare/apply | server cmd    │
//!  └────────────────────────────┘  Response{out}    │  commit(changes) after each write     │
//!                                                   │  wake blocked clients on ready keys   │
//!                                                   │ syncer thread: ONE sync, then send    │
//!                                                   └───────────────────────────────────────┘
//! ```
//!
//! The cluster proxy ([`serve_remote`]) runs the same executor as a tokio task instead (it
//! stores nothing: engine commands go out as remote jobs, so it never blocks), which saves a
//! thread wake-up each way per command.
//!
//! Replies are encoded on the executor straight into the connection's own write buffer, which
//! travels with the batch and comes back with the replies, so the steady state allocates
//! nothing beyond the parsed arguments. No reply (read or write) leaves the executor before
//! the group's sync, so a client never observes state that is not on disk.

pub mod commands;
pub mod config;
pub mod info;
pub mod remote;
pub mod stats;

mod blocking;
mod client;
mod conn;
mod executor;
mod listener;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

pub use config::Config;
pub use remote::{RemoteFuture, RemoteJob, RemoteKeyspace, RemoteResult};
pub use stats::Stats;

/// Errors of [`serve`].
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the data directory {dir}: {source}")]
    Storage {
        dir: std::path::PathBuf,
        #[source]
        source: storage::StorageError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the executor thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the executor thread stopped abnormally")]
    ExecutorPanicked,
}

/// Connection limits that connection tasks read on every request; the executor refreshes
/// them after `CONFIG SET`.
#[derive(Debug)]
pub(crate) struct Limits {
    pub maxclients: AtomicUsize,
    pub proto_max_bulk_len: AtomicUsize,
    pub max_args: AtomicUsize,
    pub client_query_buffer_limit: AtomicUsize,
    pub client_output_buffer_limit_bytes: AtomicUsize,
    pub unauthenticated_max_args: AtomicUsize,
    pub unauthenticated_max_bulk_len: AtomicUsize,
    pub timeout_secs: AtomicU64,
    pub requirepass_set: AtomicBool,
}

impl Limits {
    fn new(config: &Config) -> Limits {
        let l = Limits {
            maxclients: AtomicUsize::new(0),
            proto_max_bulk_len: AtomicUsize::new(0),
            max_args: AtomicUsize::new(0),
            client_query_buffer_limit: AtomicUsize::new(0),
            client_output_buffer_limit_bytes: AtomicUsize::new(0),
            unauthenticated_max_args: AtomicUsize::new(0),
            unauthenticated_max_bulk_len: AtomicUsize::new(0),
            timeout_secs: AtomicU64::new(0),
            requirepass_set: AtomicBool::new(false),
        };
        l.update(config);
        l
    }

    pub(crate) fn update(&self, c: &Config) {
        let r = Ordering::Relaxed;
        self.maxclients.store(c.maxclients, r);
        self.proto_max_bulk_len.store(c.proto_max_bulk_len, r);
        self.max_args.store(c.max_args, r);
        self.client_query_buffer_limit
            .store(c.client_query_buffer_limit, r);
        self.client_output_buffer_limit_bytes
            .store(c.client_output_buffer_limit_bytes, r);
        self.unauthenticated_max_args
            .store(c.unauthenticated_max_args, r);
        self.unauthenticated_max_bulk_len
            .store(c.unauthenticated_max_bulk_len, r);
        self.timeout_secs.store(c.timeout_secs, r);
        self.requirepass_set
            .store(c.requirepass.as_ref().is_some_and(|p| !p.is_empty()), r);
    }
}

/// State shared by the listener, the connection tasks and the executor.
#[derive(Debug)]
pub(crate) struct Shared {
    pub limits: Limits,
    pub next_client_id: AtomicU64,
    /// Open client connections (counted against `maxclients`).
    pub connected: AtomicUsize,
}

/// Runtime limits of the server that are not (yet) configuration parameters.
pub mod limits {
    /// Most requests the executor drains from its queue into one group (one sync).
    pub const MAX_GROUP_REQUESTS: usize = 4096;
    /// Longest wait for more requests before running a group, after a group that synced
    /// (group commit delay; see the executor's `gather`).
    pub const GROUP_COMMIT_LINGER: std::time::Duration = std::time::Duration::from_micros(200);
    /// Most commands a connection puts in one batch (one executor round trip).
    pub const MAX_BATCH_COMMANDS: usize = 1024;
    /// Most commands queued in one MULTI (more is an error that aborts the transaction).
    pub const MAX_QUEUED_COMMANDS: usize = 100_000;
    /// Most clients blocked on one key.
    pub const MAX_BLOCKED_PER_KEY: usize = 10_000;
    /// Most rounds of "serve ready keys" after one command (a round can signal new keys).
    pub const MAX_READY_ROUNDS: usize = 1024;
    /// Bytes read from a socket at a time.
    pub const READ_CHUNK_BYTES: usize = 16 * 1024;
    /// A write buffer larger than this is not kept for reuse after a big reply.
    pub const KEEP_WRITE_BUFFER_BYTES: usize = 64 * 1024;
}

/// A running server. Dropping it does not stop the server; call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop_accepting: tokio::sync::watch::Sender<bool>,
    requests: executor::RequestTx,
    executor: Option<ExecutorHandle>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets the executor finish the group it is running, sync
    /// and close every connection, and waits until the store is closed (the data directory
    /// can be reopened once this returns).
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        let _ = self.stop_accepting.send(true);
        if let Some(l) = self.listener.take() {
            let _ = l.await;
        }
        let _ = self.requests.send(executor::Request::Shutdown);
        match self.executor.take() {
            Some(ExecutorHandle::Thread(t)) => {
                let joined = tokio::task::spawn_blocking(move || t.join())
                    .await
                    .map_err(|_| ServerError::ExecutorPanicked)?;
                joined.map_err(|_| ServerError::ExecutorPanicked)?;
            }
            Some(ExecutorHandle::Task(t)) => t.await.map_err(|_| ServerError::ExecutorPanicked)?,
            None => {}
        }
        Ok(())
    }
}

/// The executor of a single node runs on its own thread, the proxy's as a task (see
/// [`executor::RequestTx`]).
enum ExecutorHandle {
    Thread(std::thread::JoinHandle<()>),
    Task(tokio::task::JoinHandle<()>),
}

/// Opens the store in `config.dir`, binds `config.bind:config.port` and starts serving.
pub async fn serve(config: Config) -> Result<ServerHandle, ServerError> {
    let dir = config.dir.clone();
    let opts = storage::StoreOptions {
        cache_capacity_bytes: config.cache_capacity_bytes,
        fsync: config.fsync,
    };
    let open_dir = dir.clone();
    let opened = tokio::task::spawn_blocking(move || storage::Store::open(&open_dir, opts))
        .await
        .map_err(|_| ServerError::ExecutorPanicked)?;
    let (store, db) = opened.map_err(|source| ServerError::Storage { dir, source })?;
    start(config, db, Some(store), None).await
}

/// Starts the RESP front end of the cluster proxy: client state stays here, every keyspace
/// command goes to `keyspace` (nothing is stored locally; `config.dir` is unused).
pub async fn serve_remote(
    config: Config,
    keyspace: Arc<dyn RemoteKeyspace>,
) -> Result<ServerHandle, ServerError> {
    start(config, streams::Db::new(), None, Some(keyspace)).await
}

async fn start(
    config: Config,
    db: streams::Db,
    store: Option<storage::Store>,
    keyspace: Option<Arc<dyn RemoteKeyspace>>,
) -> Result<ServerHandle, ServerError> {
    let host = config
        .bind
        .split_whitespace()
        .next()
        .unwrap_or("127.0.0.1")
        .trim_start_matches('-')
        .to_string();
    let addr = if host.contains(':') {
        format!("[{}]:{}", host, config.port)
    } else {
        format!("{}:{}", host, config.port)
    };
    let tcp = tokio::net::TcpListener::bind(addr.as_str())
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local_addr = tcp.local_addr().map_err(|source| ServerError::Bind {
        addr: addr.clone(),
        source,
    })?;
    tracing::info!(
        %local_addr,
        keys = db.len(),
        mode = if keyspace.is_some() { "proxy" } else { "server" },
        "xraft listening"
    );

    let shared = Arc::new(Shared {
        limits: Limits::new(&config),
        next_client_id: AtomicU64::new(1),
        connected: AtomicUsize::new(0),
    });
    let (req_tx, executor) = if let Some(keyspace) = keyspace {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let req_tx = executor::RequestTx::Task(tx);
        let remote = executor::Remote {
            keyspace,
            runtime: tokio::runtime::Handle::current(),
            requests: req_tx.clone(),
        };
        let exec = executor::Executor::new(
            db,
            store,
            Some(remote),
            config,
            local_addr.port(),
            shared.clone(),
        );
        let task = tokio::spawn(exec.run_task(rx));
        (req_tx, ExecutorHandle::Task(task))
    } else {
        let (tx, rx) = std::sync::mpsc::channel();
        let exec =
            executor::Executor::new(db, store, None, config, local_addr.port(), shared.clone());
        let thread = std::thread::Builder::new()
            .name("xraft-executor".into())
            .spawn(move || exec.run(rx))
            .map_err(ServerError::Thread)?;
        (
            executor::RequestTx::Thread(tx),
            ExecutorHandle::Thread(thread),
        )
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let listener = tokio::spawn(listener::accept_loop(tcp, shared, req_tx.clone(), stop_rx));
    Ok(ServerHandle {
        local_addr,
        stop_accepting: stop_tx,
        requests: req_tx,
        executor: Some(executor),
        listener: Some(listener),
    })
}
