//! The hook that lets the executor run keyspace commands somewhere else: the cluster proxy
//! implements [`RemoteKeyspace`] by routing them to Raft group leaders.
//!
//! The executor keeps everything about the client (HELLO, AUTH, CLIENT, MULTI queueing,
//! COMMAND, CONFIG, INFO, reply encoding, output limits); every engine command goes to the
//! remote keyspace instead of the local `Db`. Consecutive engine commands of one connection
//! travel as one [`RemoteJob`], and the connection waits (its later commands included) until
//! the job's replies are back, so replies keep their order.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use resp::Reply;
use tokio::sync::watch;

/// Engine commands of one connection, to run in order.
pub struct RemoteJob {
    pub commands: Vec<Vec<Bytes>>,
    /// MULTI/EXEC: all or nothing, in one shard.
    pub transaction: bool,
    /// The connection sent READONLY: read-only commands may be served by any replica of
    /// their shard from its applied state (possibly behind the leader), as Redis Cluster
    /// replicas serve READONLY connections.
    pub readonly: bool,
    /// `stream-node-max-entries` of this front end, resolved into the job's XADDs.
    pub node_max_entries: u64,
    /// Turns true when the client is gone or unblocked (CLIENT UNBLOCK): a blocking command
    /// stops waiting (the job then answers what it has; the replies may be dropped).
    pub cancel: watch::Receiver<bool>,
    /// CLIENT UNBLOCK ... ERROR rather than TIMEOUT.
    pub unblock_with_error: watch::Receiver<bool>,
    /// Set by the keyspace while a command of the job is blocked waiting for data (after
    /// its first look found none), as Redis counts a client blocked (INFO, CLIENT LIST).
    pub waiting: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What a job came to.
#[derive(Debug)]
pub enum RemoteResult {
    /// One reply per command (each may be an error: not applied, or outcome unknown), and
    /// how much they moved the dirty counter.
    Replies { replies: Vec<Reply>, dirty: u64 },
    /// A transaction refused or failed as a whole (e.g. CROSSSLOT): EXEC's reply.
    Refused(Reply),
}

pub type RemoteFuture = Pin<Box<dyn Future<Output = RemoteResult> + Send>>;

/// A keyspace served elsewhere.
pub trait RemoteKeyspace: Send + Sync + 'static {
    fn run(&self, job: RemoteJob) -> RemoteFuture;

    /// The shard an engine command runs in, checked as MULTI queues it (Redis Cluster's
    /// rule: a transaction stays in one slot, here one shard): `Ok(None)` when any shard
    /// will do, `Err(reply)` (e.g. `-CROSSSLOT`) when the command cannot be in a
    /// transaction.
    fn shard_of(&self, args: &[Bytes]) -> Result<Option<u32>, Reply>;
}
