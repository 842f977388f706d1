//! The executor: ONE thread (in the proxy a tokio task, see [`RequestTx`]) owning the
//! keyspace ([`streams::Db`]), the [`storage::Store`], the configuration, the statistics, the
//! client registry, the blocked-client registry and the WATCH registry.
//!
//! Loop: wait for a request (or the next blocking deadline), drain what is queued (up to
//! [`MAX_GROUP_REQUESTS`]), run every command in arrival order (collecting what each write
//! changed), wake blocked clients whose keys became ready, expire blocking deadlines, then
//! commit the whole group's changes as ONE atomic store batch, then hand the group's sync
//! ticket and replies to the syncer thread, which waits on ONE sled flush + `fdatasync` for
//! every group queued to it and only then sends their replies (pipelined group commit: the
//! next group runs meanwhile). A group is all or nothing on disk, and no reply of it (reads
//! included) is visible before it is durable.
//!
//! Storage errors are fail-stop: memory would be ahead of disk, so the process exits.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use resp::{Protocol, Reply};
use streams::{Change, Ctx, Db, Prepared};
use tokio::sync::mpsc::UnboundedSender;

use crate::blocking::{BlockRegistry, Blocked, WaitType};
use crate::client::{parse_i64, password_matches, valid_client_attr, Multi, Session};
use crate::commands::{self, CommandSpec};
use crate::config::{self, Config};
use crate::info::{self, InfoInput};
use crate::limits::{
    GROUP_COMMIT_LINGER, MAX_BLOCKED_PER_KEY, MAX_GROUP_REQUESTS, MAX_QUEUED_COMMANDS,
    MAX_READY_ROUNDS,
};
use crate::stats::Stats;
use crate::Shared;

/// What connections (and the handle) send to the executor.
pub(crate) enum Request {
    Connect {
        id: u64,
        addr: String,
        laddr: String,
        fd: i32,
        tx: UnboundedSender<Response>,
    },
    /// Commands to run in order; `out` is the connection's (empty) write buffer, returned
    /// with the encoded replies.
    Batch {
        id: u64,
        cmds: Vec<Vec<Bytes>>,
        out: Vec<u8>,
    },
    Disconnect {
        id: u64,
    },
    /// A protocol error closed a connection (counted in the error statistics).
    ProtocolError {
        error: Bytes,
    },
    RejectedConnection,
    Shutdown,
    /// Cluster mode: a client's remote job is done.
    Routed {
        id: u64,
        result: crate::remote::RemoteResult,
    },
}

/// What the executor sends back to a connection.
#[derive(Debug)]
pub(crate) struct Response {
    /// Encoded replies, to be written as they are.
    pub out: Vec<u8>,
    /// The batch is complete (false: a command of it is blocked; more will follow).
    pub done: bool,
    /// Write `out`, then close the connection.
    pub close: bool,
    /// Whether the client is authenticated now (parser limits depend on it).
    pub authenticated: bool,
}

enum Outcome {
    Reply(Reply),
    /// The client is now blocked; its reply comes later.
    Blocked,
    /// Cluster mode: a remote job is out; its replies come later.
    Remote,
}

/// Cluster mode: where engine commands go, and how their replies come back.
pub(crate) struct Remote {
    pub keyspace: std::sync::Arc<dyn crate::remote::RemoteKeyspace>,
    pub runtime: tokio::runtime::Handle,
    /// The executor's own queue (completions arrive as [`Request::Routed`]).
    pub requests: RequestTx,
}

/// The executor's queue, as connections and remote jobs hold it. A single node's executor
/// is a thread (it runs the engine and commits to the store between waits); the proxy's is
/// a tokio task: it only routes and encodes, and a connection waking a task on the same
/// runtime usually costs no thread switch, where waking a thread always does (two per
/// command each way under load).
#[derive(Clone)]
pub(crate) enum RequestTx {
    Thread(std::sync::mpsc::Sender<Request>),
    Task(tokio::sync::mpsc::UnboundedSender<Request>),
}

impl RequestTx {
    /// Queues `req`; `Err` once the executor is gone.
    pub(crate) fn send(&self, req: Request) -> Result<(), ()> {
        match self {
            RequestTx::Thread(tx) => tx.send(req).map_err(|_| ()),
            RequestTx::Task(tx) => tx.send(req).map_err(|_| ()),
        }
    }
}

/// A client's remote job in flight.
pub(crate) struct Awaiting {
    kind: AwaitKind,
    started: Instant,
    /// The job is blocked waiting for data (set by the keyspace; CLIENT LIST flag `b`,
    /// INFO, CLIENT UNBLOCK).
    waiting: Arc<std::sync::atomic::AtomicBool>,
    /// Keys the job's blocking commands wait on, and whether the command is unblocked when
    /// the key vanishes (XREADGROUP), for INFO's blocking-key counts.
    blocking_keys: Vec<(Bytes, bool)>,
    cancel: tokio::sync::watch::Sender<bool>,
    unblock_with_error: tokio::sync::watch::Sender<bool>,
}

impl Awaiting {
    fn is_waiting(&self) -> bool {
        self.waiting.load(std::sync::atomic::Ordering::Acquire)
    }
}

enum AwaitKind {
    /// Plain commands: one reply each, in order.
    Plain(Vec<&'static CommandSpec>),
    /// EXEC: the engine commands' replies fill the `None` slots of `slots`.
    Exec {
        specs: Vec<&'static CommandSpec>,
        slots: Vec<Option<Reply>>,
        /// After WATCH: the job starts with the tokens' check, and the front end's own
        /// commands (`deferred`, by slot) run only once it passed.
        checked: bool,
        deferred: Vec<(usize, &'static CommandSpec, Vec<Bytes>)>,
    },
    /// WATCH: tokens for these keys (not yet watched) of this shard.
    Watch {
        keys: Vec<Bytes>,
        shard: Option<u32>,
    },
    /// INFO with its keyspace section: the cluster's DBSIZE first.
    Info { args: Vec<Bytes> },
}

/// Engine commands of one client sent as one remote job at most.
const MAX_REMOTE_BATCH: usize = 1024;

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const SYNTAX_ERR: &str = "ERR syntax error";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

pub(crate) struct Executor {
    db: Db,
    /// The local store (single-node mode); `None` in cluster mode.
    store: Option<storage::Store>,
    /// Cluster mode: engine commands run remotely.
    remote: Option<Remote>,
    config: Config,
    stats: Stats,
    shared: Arc<Shared>,
    sessions: HashMap<u64, Session>,
    blocked: BlockRegistry<streams::Command>,
    /// key → clients watching it.
    watched: HashMap<Bytes, Vec<u64>>,
    /// Watched keys that existed before a FLUSHALL/FLUSHDB ran (they are touched by it).
    flushed_watched: Vec<Bytes>,
    applied_index: u64,
    /// Changes of the commands run in this group, not yet committed.
    group_changes: Vec<Change>,
    /// Clients with output to hand back after the group's sync.
    outbox: Vec<u64>,
    /// Clients unblocked during this group whose remaining commands must run.
    resume: VecDeque<u64>,
    started: Instant,
    run_id: String,
    tcp_port: u16,
    shutting_down: bool,
    /// Batches handled in the current group, and how many to wait for when gathering the
    /// next group (0: do not linger).
    group_batches: usize,
    linger_target: usize,
    /// Hands each group's sync ticket and replies to the syncer thread (pipelined group
    /// commit: the next group runs while this one's sync is in flight).
    syncer: Option<std::sync::mpsc::Sender<SyncJob>>,
    syncer_thread: Option<std::thread::JoinHandle<()>>,
}

/// One group's hand-off to the syncer: its sync ticket (none if it wrote nothing) and the
/// replies to send once everything before it is durable.
struct SyncJob {
    ticket: Option<storage::SyncTicket>,
    replies: Vec<(UnboundedSender<Response>, Response)>,
}

/// The syncer thread: takes every queued job, waits on ONE sync covering them all (the
/// latest ticket, which absorbs the earlier ones), then sends their replies in order.
fn run_syncer(jobs: Receiver<SyncJob>) {
    let _span = tracing::info_span!("syncer").entered();
    let mut group: Vec<SyncJob> = Vec::new();
    while let Ok(first) = jobs.recv() {
        group.push(first);
        while let Ok(more) = jobs.try_recv() {
            group.push(more);
        }
        let mut latest: Option<storage::SyncTicket> = None;
        for job in group.iter_mut() {
            if let Some(mut t) = job.ticket.take() {
                if let Some(earlier) = latest.take() {
                    t.absorb(earlier);
                }
                latest = Some(t);
            }
        }
        if let Some(t) = latest {
            if let Err(e) = t.wait() {
                fail_stop("sync", &e);
            }
        }
        for job in group.drain(..) {
            for (tx, r) in job.replies {
                let _ = tx.send(r);
            }
        }
    }
}

impl Executor {
    pub(crate) fn new(
        db: Db,
        store: Option<storage::Store>,
        remote: Option<Remote>,
        config: Config,
        tcp_port: u16,
        shared: Arc<Shared>,
    ) -> Executor {
        let applied_index = store.as_ref().map_or(0, |s| s.applied_index());
        // Without a store (the proxy) nothing is ever synced: replies go out from here, one
        // thread hop fewer per command.
        let (syncer, syncer_thread) = if store.is_some() {
            let (syncer, jobs) = std::sync::mpsc::channel();
            match std::thread::Builder::new()
                .name("xraft-syncer".into())
                .spawn(move || run_syncer(jobs))
            {
                Ok(t) => (Some(syncer), Some(t)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the syncer thread");
                    std::process::exit(1);
                }
            }
        } else {
            (None, None)
        };
        Executor {
            db,
            store,
            remote,
            config,
            stats: Stats::default(),
            shared,
            sessions: HashMap::new(),
            blocked: BlockRegistry::new(MAX_BLOCKED_PER_KEY),
            watched: HashMap::new(),
            flushed_watched: Vec::new(),
            applied_index,
            group_changes: Vec::new(),
            outbox: Vec::new(),
            resume: VecDeque::new(),
            started: Instant::now(),
            run_id: make_run_id(),
            tcp_port,
            shutting_down: false,
            group_batches: 0,
            linger_target: 0,
            syncer,
            syncer_thread,
        }
    }

    /// Runs until a [`Request::Shutdown`] (or every sender is gone).
    pub(crate) fn run(mut self, requests: Receiver<Request>) {
        let _span = tracing::info_span!("executor").entered();
        let mut group: Vec<Request> = Vec::with_capacity(64);
        loop {
            let first = match self.blocked.next_deadline() {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    match requests.recv_timeout(wait) {
                        Ok(r) => Some(r),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match requests.recv() {
                    Ok(r) => Some(r),
                    Err(_) => break,
                },
            };
            group.extend(first);
            self.gather(&requests, &mut group);
            if !self.run_group(&mut group) {
                break;
            }
        }
        self.stop();
    }

    /// The proxy's executor: [`Executor::run`] as a tokio task. Nothing here blocks (no
    /// store: engine commands go out as remote jobs), and no group ever syncs, so there is
    /// no lingering for a group commit either.
    pub(crate) async fn run_task(
        mut self,
        mut requests: tokio::sync::mpsc::UnboundedReceiver<Request>,
    ) {
        debug_assert!(self.store.is_none(), "a task executor must not own a store");
        let mut group: Vec<Request> = Vec::with_capacity(64);
        loop {
            let first = match self.blocked.next_deadline() {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline.into(), requests.recv()).await {
                        Ok(Some(r)) => Some(r),
                        Ok(None) => break,
                        Err(_elapsed) => None,
                    }
                }
                None => match requests.recv().await {
                    Some(r) => Some(r),
                    None => break,
                },
            };
            group.extend(first);
            while group.len() < MAX_GROUP_REQUESTS {
                match requests.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            if !self.run_group(&mut group) {
                break;
            }
        }
        self.stop();
    }

    /// Runs a gathered group of requests; false once the executor is shutting down.
    fn run_group(&mut self, group: &mut Vec<Request>) -> bool {
        for req in group.drain(..) {
            self.handle(req);
            self.run_resumed();
        }
        self.expire_blocked();
        self.run_resumed();
        self.hand_off();
        !self.shutting_down
    }

    fn stop(&mut self) {
        self.hand_off();
        self.stop_syncer();
        // Dropping the sessions closes every connection's response channel.
        self.sessions.clear();
        tracing::info!(applied_index = self.applied_index, "executor stopped");
    }

    /// Drains what is queued into `group`. After a group that synced, lingers briefly
    /// (at most [`GROUP_COMMIT_LINGER`]) until as many batches have arrived as that group
    /// held: in a closed loop the clients it answered come right back, and one group each
    /// keeps two of them alternating (one syncing while the other runs). Waiting for the
    /// last two groups' worth instead, to merge them, lost 3-15% of XADD throughput at
    /// `-P 1` and 9-14% at `-P 16` in interleaved runs (2026-11-25).
    fn gather(&mut self, requests: &Receiver<Request>, group: &mut Vec<Request>) {
        let is_batch = |r: &Request| matches!(r, Request::Batch { .. });
        let mut batches = group.iter().filter(|r| is_batch(r)).count();
        let drain = |group: &mut Vec<Request>, batches: &mut usize| {
            while group.len() < MAX_GROUP_REQUESTS {
                match requests.try_recv() {
                    Ok(r) => {
                        *batches += usize::from(is_batch(&r));
                        group.push(r);
                    }
                    Err(_) => break,
                }
            }
        };
        drain(group, &mut batches);
        let target = self.linger_target;
        if target == 0 || batches >= target {
            return;
        }
        let deadline = Instant::now() + GROUP_COMMIT_LINGER;
        while batches < target && group.len() < MAX_GROUP_REQUESTS {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                break;
            }
            match requests.recv_timeout(wait) {
                Ok(r) => {
                    batches += usize::from(is_batch(&r));
                    group.push(r);
                    drain(group, &mut batches);
                }
                Err(_) => break,
            }
        }
    }

    fn handle(&mut self, req: Request) {
        match req {
            Request::Connect {
                id,
                addr,
                laddr,
                fd,
                tx,
            } => {
                let authenticated = !self.auth_required_config();
                self.sessions
                    .insert(id, Session::new(id, addr, laddr, fd, tx, authenticated));
                self.stats.record_connection();
            }
            Request::Batch { id, cmds, out } => {
                self.group_batches += 1;
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                s.out = out;
                s.pending.extend(cmds);
                s.in_batch = true;
                self.drive(id);
            }
            Request::Disconnect { id } => self.remove_session(id),
            Request::ProtocolError { error } => self.stats.record_rejected(None, &error),
            Request::RejectedConnection => self.stats.record_rejected_connection(),
            Request::Shutdown => self.shutting_down = true,
            Request::Routed { id, result } => self.complete_remote(id, result),
        }
    }

    fn auth_required_config(&self) -> bool {
        self.config
            .requirepass
            .as_ref()
            .is_some_and(|p| !p.is_empty())
    }

    // ------------------------------------------------------------------ driving clients

    /// Runs the client's pending commands until they are done or one blocks.
    fn drive(&mut self, id: u64) {
        let remote = self.remote.is_some();
        loop {
            let Some(s) = self.sessions.get_mut(&id) else {
                return;
            };
            if s.close_after_reply || self.blocked.is_blocked(id) || s.awaiting.is_some() {
                break;
            }
            if remote && !s.remote_batch.is_empty() {
                let next_is_engine = s
                    .pending
                    .front()
                    .is_some_and(|a| streams::parse(a).is_some() && s.multi.is_none());
                if !next_is_engine || s.remote_batch.len() >= MAX_REMOTE_BATCH {
                    self.send_remote_batch(id);
                    break;
                }
            }
            let Some(s) = self.sessions.get_mut(&id) else {
                return;
            };
            let Some(args) = s.pending.pop_front() else {
                if s.remote_batch.is_empty() {
                    s.in_batch = false;
                } else {
                    self.send_remote_batch(id);
                }
                break;
            };
            s.last_interaction = Instant::now();
            self.process(id, args);
            self.after_command();
            self.check_output_limit(id);
        }
        self.queue_send(id);
    }

    fn run_resumed(&mut self) {
        while let Some(id) = self.resume.pop_front() {
            self.drive(id);
        }
    }

    fn check_output_limit(&mut self, id: u64) {
        let limit = self.config.client_output_buffer_limit_bytes;
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if limit > 0 && s.out.len() > limit && !s.close_after_reply {
            tracing::warn!(
                conn_id = id,
                pending_bytes = s.out.len(),
                limit_bytes = limit,
                "closing client: output buffer limit reached"
            );
            s.out = Vec::new();
            s.pending.clear();
            s.close_after_reply = true;
        }
    }

    fn queue_send(&mut self, id: u64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            if !s.queued_for_send {
                s.queued_for_send = true;
                self.outbox.push(id);
            }
        }
    }

    /// Takes the output of every client in the outbox as ready-to-send responses; clients
    /// that close after this output leave the registry now.
    fn take_outbox(&mut self) -> Vec<(UnboundedSender<Response>, Response)> {
        let mut replies = Vec::with_capacity(self.outbox.len());
        for id in std::mem::take(&mut self.outbox) {
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            s.queued_for_send = false;
            let done = !s.in_batch;
            let close = s.close_after_reply;
            if s.out.is_empty() && !done && !close {
                continue;
            }
            let resp = Response {
                out: std::mem::take(&mut s.out),
                done,
                close,
                authenticated: s.authenticated,
            };
            replies.push((s.tx.clone(), resp));
            if close {
                self.remove_session(id);
            }
        }
        replies
    }

    /// Group commit: the changes of everything run since the last hand-off as ONE atomic
    /// store batch, then ONE sync, then every reply of the group goes out. A group is all or
    /// nothing on disk, and no reply of it (reads included) is visible before it is durable.
    fn hand_off(&mut self) {
        let batches = std::mem::take(&mut self.group_batches);
        let ticket = if self.commit_group() {
            let waiting_possible = self
                .sessions
                .len()
                .saturating_sub(self.blocked.blocked_clients());
            self.linger_target = batches.min(waiting_possible);
            match self.store.as_mut().map(|s| s.begin_sync()) {
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => fail_stop("sync", &e),
                None => None,
            }
        } else {
            self.linger_target = 0;
            None
        };
        let replies = self.take_outbox();
        if ticket.is_none() && replies.is_empty() {
            return;
        }
        // Replies without a ticket (reads) still go through the syncer: they may have seen
        // state of an earlier group whose sync is in flight, and must not overtake it.
        match &self.syncer {
            Some(syncer) => {
                let _ = syncer.send(SyncJob { ticket, replies });
            }
            None => {
                for (tx, r) in replies {
                    let _ = tx.send(r);
                }
            }
        }
    }

    /// Stops the syncer thread after it has synced and sent everything handed to it.
    fn stop_syncer(&mut self) {
        self.syncer = None;
        if let Some(t) = self.syncer_thread.take() {
            let _ = t.join();
        }
    }

    fn remove_session(&mut self, id: u64) {
        if let Some(a) = self.sessions.get(&id).and_then(|s| s.awaiting.as_ref()) {
            let _ = a.cancel.send(true);
        }
        self.blocked.unblock(id);
        self.unwatch_all(id);
        self.sessions.remove(&id);
    }

    fn reply(&mut self, id: u64, r: &Reply) {
        if let Some(s) = self.sessions.get_mut(&id) {
            r.encode(s.proto, &mut s.out);
        }
    }

    // ------------------------------------------------------------------ one command

    fn process(&mut self, id: u64, args: Vec<Bytes>) {
        let started = Instant::now();
        let spec = match commands::lookup(&args) {
            Ok(spec) => spec,
            Err(e) => {
                let name = arity_error_command(&e).map(str::to_owned);
                self.reject(id, name.as_deref(), e);
                return;
            }
        };
        let password_set = self.auth_required_config();
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let auth_required = !s.authenticated && password_set;
        let in_multi = s.multi.is_some();
        if auth_required && !spec.allowed_before_auth() {
            self.reject(id, Some(spec.stat_name()), Reply::error(NOAUTH));
            return;
        }
        if in_multi && !spec.allowed_in_multi() {
            self.reject(
                id,
                Some(spec.stat_name()),
                Reply::error("ERR Command not allowed inside a transaction"),
            );
            return;
        }
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.last_cmd = spec.stat_name();
        if in_multi && !runs_inside_multi(&args[0]) {
            let full = s
                .multi
                .as_ref()
                .is_some_and(|m| m.cmds.len() >= MAX_QUEUED_COMMANDS);
            if full {
                self.reject(
                    id,
                    Some(spec.stat_name()),
                    Reply::error(format!(
                        "ERR too many commands queued in this transaction (max {MAX_QUEUED_COMMANDS})"
                    )),
                );
                return;
            }
            if let Some(remote) = self
                .remote
                .as_ref()
                .filter(|_| streams::parse(&args).is_some())
            {
                let shard = remote.keyspace.shard_of(&args);
                let current = s.multi.as_ref().and_then(|m| m.shard).or(s.watch_shard);
                let checked = match shard {
                    Err(e) => Err(e),
                    Ok(Some(g)) if current.is_some_and(|c| c != g) => Err(Reply::error(
                        "CROSSSLOT Keys in request don't hash to the same slot",
                    )),
                    Ok(g) => Ok(g.or(current)),
                };
                match checked {
                    Ok(g) => {
                        if let Some(m) = s.multi.as_mut() {
                            m.shard = g;
                        }
                    }
                    Err(e) => {
                        self.reject(id, Some(spec.stat_name()), e);
                        return;
                    }
                }
            }
            let Some(s) = self.sessions.get_mut(&id) else {
                return;
            };
            if let Some(m) = s.multi.as_mut() {
                if !m.aborted {
                    m.cmds.push((spec, args));
                }
            }
            self.reply(id, &Reply::simple("QUEUED"));
            return;
        }
        if self.remote.is_some() && streams::parse(&args).is_some() {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.remote_batch.push((spec, args));
            }
            return;
        }
        match self.call(id, spec, &args, wall_ms(), false) {
            Outcome::Reply(r) => {
                let usec = started.elapsed().as_micros() as u64;
                self.stats
                    .record_call(spec.stat_name(), usec, error_line(&r));
                self.reply(id, &r);
            }
            Outcome::Blocked | Outcome::Remote => {}
        }
    }

    /// A command refused before running (lookup, auth, MULTI rules): inside MULTI it also
    /// dooms the transaction.
    fn reject(&mut self, id: u64, stat_name: Option<&str>, e: Reply) {
        if let Reply::Error(line) = &e {
            self.stats.record_rejected(stat_name, line);
        }
        if let Some(m) = self.sessions.get_mut(&id).and_then(|s| s.multi.as_mut()) {
            m.aborted = true;
        }
        self.reply(id, &e);
    }

    /// Runs one command (engine or server) for client `id` at `now_ms`.
    fn call(
        &mut self,
        id: u64,
        spec: &'static CommandSpec,
        args: &[Bytes],
        now_ms: u64,
        in_exec: bool,
    ) -> Outcome {
        let Some(parsed) = streams::parse(args) else {
            return self.server_command(id, spec, args, now_ms, in_exec);
        };
        let cmd = match parsed {
            Ok(c) => c,
            Err(e) => return Outcome::Reply(e),
        };
        if !self.watched.is_empty()
            && (args[0].eq_ignore_ascii_case(b"flushall")
                || args[0].eq_ignore_ascii_case(b"flushdb"))
        {
            let existing: Vec<Bytes> = self
                .watched
                .keys()
                .filter(|k| self.db.contains(k))
                .cloned()
                .collect();
            self.flushed_watched.extend(existing);
        }
        let ctx = self.ctx(now_ms);
        let reply = match cmd.prepare(&self.db, &ctx) {
            Prepared::Reply(r) => r,
            Prepared::Write(op) => streams::apply(&mut self.db, &op),
        };
        if !in_exec && matches!(reply, Reply::NullArray) {
            if let Some(block) = cmd.block() {
                return self.block_client(id, spec, cmd, block);
            }
        }
        Outcome::Reply(reply)
    }

    fn ctx(&self, now_ms: u64) -> Ctx {
        Ctx {
            now_ms,
            node_max_entries: self.config.stream_node_max_entries,
        }
    }

    /// Commits what the last top-level command changed and serves clients blocked on the
    /// keys it signalled.
    fn after_command(&mut self) {
        self.commit_changes();
        if self.blocked.has_waiters() {
            self.serve_ready();
        } else {
            self.db.take_ready();
        }
    }

    /// Collects what the last command changed (touching WATCHed keys) for the group commit.
    fn commit_changes(&mut self) {
        let changes = self.db.take_changes();
        if changes.is_empty() {
            self.flushed_watched.clear();
            return;
        }
        self.touch_watched(&changes);
        self.group_changes.extend(changes);
    }

    /// Commits the changes collected since the last commit as ONE atomic store batch (not
    /// yet durable). Items are written as they are in the keyspace now, so an item changed by
    /// several commands is written once, with its final value. Returns whether anything was
    /// committed.
    fn commit_group(&mut self) -> bool {
        if self.group_changes.is_empty() {
            return false;
        }
        let mut changes = std::mem::take(&mut self.group_changes);
        dedup_changes(&mut changes);
        let index = self.applied_index + 1;
        let Some(store) = self.store.as_mut() else {
            // Cluster mode never changes the local keyspace.
            changes.clear();
            self.group_changes = changes;
            return false;
        };
        if let Err(e) = store.commit(&self.db, &changes, index) {
            fail_stop("commit", &e);
        }
        self.applied_index = index;
        changes.clear();
        self.group_changes = changes;
        true
    }

    // ------------------------------------------------------------------ cluster mode

    /// Distinct keys remote blocked commands wait on (`on_nokey`: only XREADGROUP's).
    fn remote_blocking_keys(&self, on_nokey: bool) -> usize {
        let mut keys: Vec<&Bytes> = self
            .sessions
            .values()
            .filter_map(|s| s.awaiting.as_ref())
            .filter(|a| a.is_waiting())
            .flat_map(|a| a.blocking_keys.iter())
            .filter(|(_, nokey)| !on_nokey || *nokey)
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.dedup();
        keys.len()
    }

    fn is_blocked(&self, id: u64) -> bool {
        self.blocked.is_blocked(id)
            || self
                .sessions
                .get(&id)
                .and_then(|s| s.awaiting.as_ref())
                .is_some_and(|a| a.is_waiting())
    }

    /// Starts a remote job for `commands`; its completion arrives as `Request::Routed`.
    fn start_remote(
        &mut self,
        id: u64,
        kind: AwaitKind,
        commands: Vec<Vec<Bytes>>,
        transaction: bool,
    ) {
        let Some(remote) = &self.remote else {
            return;
        };
        // Commands that may wait: BLOCK given (or BLPOP/BRPOP), not inside EXEC.
        let mut blocking_keys = Vec::new();
        if !transaction {
            for args in &commands {
                if let Some(Ok(cmd)) = streams::parse(args) {
                    if let Some(b) = cmd.block() {
                        let on_nokey = args[0].eq_ignore_ascii_case(b"xreadgroup");
                        blocking_keys.extend(b.keys.into_iter().map(|k| (k, on_nokey)));
                    }
                }
            }
        }
        let waiting = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (cancel, cancel_rx) = tokio::sync::watch::channel(false);
        let (unblock_with_error, unblock_rx) = tokio::sync::watch::channel(false);
        let readonly = self.sessions.get(&id).is_some_and(|s| s.readonly);
        let job = crate::remote::RemoteJob {
            commands,
            transaction,
            readonly,
            node_max_entries: self.config.stream_node_max_entries,
            waiting: Arc::clone(&waiting),
            cancel: cancel_rx,
            unblock_with_error: unblock_rx,
        };
        let fut = remote.keyspace.run(job);
        let requests = remote.requests.clone();
        remote.runtime.spawn(async move {
            let result = fut.await;
            let _ = requests.send(Request::Routed { id, result });
        });
        if let Some(s) = self.sessions.get_mut(&id) {
            s.awaiting = Some(Awaiting {
                kind,
                started: Instant::now(),
                waiting,
                blocking_keys,
                cancel,
                unblock_with_error,
            });
        }
    }

    /// Sends the client's collected engine commands as one remote job.
    fn send_remote_batch(&mut self, id: u64) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let batch = std::mem::take(&mut s.remote_batch);
        if batch.is_empty() {
            return;
        }
        let (specs, commands): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        self.start_remote(id, AwaitKind::Plain(specs), commands, false);
    }

    /// EXEC in cluster mode: the engine commands go as one transaction (one shard, one
    /// entry); the others run here now and take their places in the reply.
    /// `check` (`XRAFT.CHECKWATCH ...`, empty without WATCH) goes first in the job.
    fn exec_remote(
        &mut self,
        id: u64,
        cmds: Vec<(&'static CommandSpec, Vec<Bytes>)>,
        check: Vec<Bytes>,
    ) -> Outcome {
        let now_ms = wall_ms();
        let checked = !check.is_empty();
        let mut specs = Vec::new();
        let mut slots = Vec::with_capacity(cmds.len());
        let mut commands = Vec::new();
        let mut deferred = Vec::new();
        if checked {
            commands.push(check);
        }
        for (spec, args) in cmds {
            if streams::parse(&args).is_some() {
                specs.push(spec);
                commands.push(args);
                slots.push(None);
            } else if checked {
                deferred.push((slots.len(), spec, args));
                slots.push(Some(Reply::NullArray));
            } else {
                slots.push(Some(self.call_in_exec(id, spec, &args, now_ms)));
            }
        }
        if commands.is_empty() {
            return Outcome::Reply(Reply::Array(slots.into_iter().flatten().collect()));
        }
        let kind = AwaitKind::Exec {
            specs,
            slots,
            checked,
            deferred,
        };
        self.start_remote(id, kind, commands, true);
        Outcome::Remote
    }

    fn call_in_exec(
        &mut self,
        id: u64,
        spec: &'static CommandSpec,
        args: &[Bytes],
        now_ms: u64,
    ) -> Reply {
        match self.call(id, spec, args, now_ms, true) {
            Outcome::Reply(r) => r,
            Outcome::Blocked | Outcome::Remote => Reply::NullArray,
        }
    }

    /// WATCH in cluster mode: the keys' shard leader hands out a token per key; EXEC's job
    /// checks them on the leader before its commands run.
    fn watch_remote(&mut self, id: u64, args: &[Bytes]) -> Outcome {
        let Some(remote) = &self.remote else {
            return Outcome::Reply(Reply::ok());
        };
        let Some(s) = self.sessions.get(&id) else {
            return Outcome::Reply(Reply::ok());
        };
        if s.multi.is_some() {
            return Outcome::Reply(Reply::error("ERR WATCH inside MULTI is not allowed"));
        }
        let mut keys: Vec<Bytes> = Vec::new();
        for k in &args[1..] {
            if !s.watched.contains(k) && !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        if keys.is_empty() {
            return Outcome::Reply(Reply::ok());
        }
        let mut command = Vec::with_capacity(keys.len() + 1);
        command.push(Bytes::from_static(b"XRAFT.WATCHTOKEN"));
        command.extend(keys.iter().cloned());
        let shard = match remote.keyspace.shard_of(&command) {
            Err(e) => return Outcome::Reply(e),
            Ok(Some(g)) if s.watch_shard.is_some_and(|w| w != g) => {
                return Outcome::Reply(Reply::error(
                    "CROSSSLOT Keys in request don't hash to the same slot",
                ))
            }
            Ok(g) => g,
        };
        self.start_remote(id, AwaitKind::Watch { keys, shard }, vec![command], false);
        Outcome::Remote
    }

    /// A remote job is back: reply, then go on with the client's other commands.
    fn complete_remote(&mut self, id: u64, result: crate::remote::RemoteResult) {
        use crate::remote::RemoteResult;
        let Some(a) = self.sessions.get_mut(&id).and_then(|s| s.awaiting.take()) else {
            return;
        };
        let usec = a.started.elapsed().as_micros() as u64;
        match (a.kind, result) {
            (AwaitKind::Plain(specs), RemoteResult::Replies { replies, dirty }) => {
                self.db.dirty += dirty;
                let n = specs.len();
                for (i, spec) in specs.into_iter().enumerate() {
                    let r = replies.get(i).cloned().unwrap_or_else(|| {
                        Reply::error("ERR internal error: missing reply from the cluster")
                    });
                    self.stats.record_call(
                        spec.stat_name(),
                        usec / n.max(1) as u64,
                        error_line(&r),
                    );
                    self.reply(id, &r);
                }
            }
            (AwaitKind::Plain(specs), RemoteResult::Refused(e)) => {
                for spec in specs {
                    self.stats.record_call(spec.stat_name(), 0, error_line(&e));
                    self.reply(id, &e);
                }
            }
            (
                AwaitKind::Exec {
                    specs,
                    mut slots,
                    checked,
                    deferred,
                },
                RemoteResult::Replies { replies, dirty },
            ) => {
                self.db.dirty += dirty;
                let mut remote = replies.into_iter();
                if checked {
                    match remote.next() {
                        Some(Reply::NullArray) => {
                            // A watched key changed: nothing ran.
                            self.reply(id, &Reply::NullArray);
                            self.queue_send(id);
                            self.resume.push_back(id);
                            return;
                        }
                        Some(Reply::Error(e)) => {
                            // Not run (or outcome unknown): EXEC's answer is the error.
                            self.reply(id, &Reply::Error(e));
                            self.queue_send(id);
                            self.resume.push_back(id);
                            return;
                        }
                        _ => {}
                    }
                    let now_ms = wall_ms();
                    for (i, spec, args) in deferred {
                        slots[i] = Some(self.call_in_exec(id, spec, &args, now_ms));
                    }
                }
                let mut out = Vec::with_capacity(slots.len());
                let mut spec_iter = specs.into_iter();
                for slot in slots {
                    match slot {
                        Some(r) => out.push(r),
                        None => {
                            let r = remote.next().unwrap_or_else(|| {
                                Reply::error("ERR internal error: missing reply from the cluster")
                            });
                            if let Some(spec) = spec_iter.next() {
                                self.stats.record_call(spec.stat_name(), 0, error_line(&r));
                            }
                            out.push(r);
                        }
                    }
                }
                self.reply(id, &Reply::Array(out));
            }
            (AwaitKind::Exec { .. }, RemoteResult::Refused(e)) => {
                self.reply(id, &e);
            }
            (AwaitKind::Watch { keys, shard }, RemoteResult::Replies { replies, .. }) => {
                let tokens = match replies.into_iter().next() {
                    Some(Reply::Array(t)) if t.len() == keys.len() => t,
                    Some(e @ Reply::Error(_)) => {
                        self.reply(id, &e);
                        self.queue_send(id);
                        self.resume.push_back(id);
                        return;
                    }
                    _ => {
                        self.reply(
                            id,
                            &Reply::error("ERR internal error: bad WATCH reply from the cluster"),
                        );
                        self.queue_send(id);
                        self.resume.push_back(id);
                        return;
                    }
                };
                if let Some(s) = self.sessions.get_mut(&id) {
                    for (k, t) in keys.into_iter().zip(tokens) {
                        if let Reply::Bulk(t) = t {
                            s.watched.push(k);
                            s.watch_tokens.push(t);
                        }
                    }
                    s.watch_shard = s.watch_shard.or(shard);
                }
                self.stats.record_call("watch", usec, None);
                self.reply(id, &Reply::ok());
            }
            (AwaitKind::Watch { .. }, RemoteResult::Refused(e)) => {
                self.reply(id, &e);
            }
            (AwaitKind::Info { args }, result) => {
                // An unreachable shard leaves the count out rather than failing INFO.
                let keys = match result {
                    RemoteResult::Replies { replies, .. } => match replies.first() {
                        Some(Reply::Integer(n)) => usize::try_from(*n).ok(),
                        _ => None,
                    },
                    RemoteResult::Refused(_) => None,
                };
                let r = self.info(&args, wall_ms(), Some(keys.unwrap_or(0)));
                self.stats.record_call("info", usec, None);
                self.reply(id, &r);
            }
        }
        // A routed reply counts against the client's output limit like a local one.
        self.check_output_limit(id);
        self.queue_send(id);
        self.resume.push_back(id);
    }

    // ------------------------------------------------------------------ blocking

    fn block_client(
        &mut self,
        id: u64,
        spec: &'static CommandSpec,
        mut cmd: streams::Command,
        block: streams::Block,
    ) -> Outcome {
        cmd.pin_for_block(&self.db);
        let stat_name = spec.stat_name();
        let deadline = match block.timeout_ms {
            0 => None,
            ms => Instant::now().checked_add(Duration::from_millis(ms)),
        };
        let wait_type = if stat_name.starts_with('x') {
            WaitType::Stream
        } else {
            WaitType::List
        };
        let blocked = Blocked {
            cmd,
            stat_name,
            keys: block.keys,
            deadline,
            wait_type,
            unblock_on_nokey: stat_name == "xreadgroup",
            started: Instant::now(),
        };
        match self.blocked.block(id, blocked) {
            Ok(()) => Outcome::Blocked,
            Err(_) => Outcome::Reply(Reply::error(format!(
                "ERR max number of clients blocked on a key reached ({MAX_BLOCKED_PER_KEY})"
            ))),
        }
    }

    /// Re-runs the commands of clients blocked on keys signalled ready, in blocking order.
    fn serve_ready(&mut self) {
        for _ in 0..MAX_READY_ROUNDS {
            let mut ready = self.db.take_ready();
            if ready.is_empty() {
                return;
            }
            dedup_in_order(&mut ready);
            for key in ready {
                for client in self.blocked.waiters(&key) {
                    self.try_serve_blocked(client, &key);
                }
            }
        }
        self.db.take_ready();
        tracing::warn!("blocked clients: too many rounds of ready keys in one command");
    }

    fn try_serve_blocked(&mut self, client: u64, key: &[u8]) {
        let Some(b) = self.blocked.get(client) else {
            return;
        };
        let type_ok = self
            .db
            .get(key)
            .is_some_and(|v| v.type_name() == b.wait_type.type_name());
        if !type_ok && !b.unblock_on_nokey {
            return;
        }
        let ctx = self.ctx(wall_ms());
        let reply = match b.cmd.prepare(&self.db, &ctx) {
            Prepared::Reply(r) => r,
            Prepared::Write(op) => streams::apply(&mut self.db, &op),
        };
        // The re-run's writes are one commit of their own; the keys they signal are
        // picked up by the next round of `serve_ready`.
        self.commit_changes();
        if matches!(reply, Reply::NullArray) {
            return;
        }
        self.finish_blocked(client, reply);
    }

    /// Unblocks `client` with `reply` and schedules the rest of its batch.
    fn finish_blocked(&mut self, client: u64, reply: Reply) {
        let Some(b) = self.blocked.unblock(client) else {
            return;
        };
        let usec = b.started.elapsed().as_micros() as u64;
        self.stats
            .record_call(b.stat_name, usec, error_line(&reply));
        self.reply(client, &reply);
        self.check_output_limit(client);
        self.resume.push_back(client);
    }

    fn expire_blocked(&mut self) {
        if self.blocked.next_deadline().is_none() {
            return;
        }
        for client in self.blocked.expired(Instant::now()) {
            self.finish_blocked(client, Reply::NullArray);
        }
    }

    // ------------------------------------------------------------------ WATCH

    fn touch_watched(&mut self, changes: &[Change]) {
        if self.watched.is_empty() {
            self.flushed_watched.clear();
            return;
        }
        for c in changes {
            match c {
                Change::Key(k) | Change::Stream(k, _) => {
                    if let Some(ids) = self.watched.get(k) {
                        for id in ids {
                            if let Some(s) = self.sessions.get_mut(id) {
                                s.dirty_cas = true;
                            }
                        }
                    }
                }
                Change::FlushAll => {
                    for k in std::mem::take(&mut self.flushed_watched) {
                        if let Some(ids) = self.watched.get(&k) {
                            for id in ids {
                                if let Some(s) = self.sessions.get_mut(id) {
                                    s.dirty_cas = true;
                                }
                            }
                        }
                    }
                }
            }
        }
        self.flushed_watched.clear();
    }

    fn unwatch_all(&mut self, id: u64) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.watch_tokens.clear();
        s.watch_shard = None;
        for k in std::mem::take(&mut s.watched) {
            if let Some(ids) = self.watched.get_mut(&k) {
                ids.retain(|c| *c != id);
                if ids.is_empty() {
                    self.watched.remove(&k);
                }
            }
        }
    }

    /// DISCARD / EXEC / RESET: leave MULTI state and forget WATCHes.
    fn discard_transaction(&mut self, id: u64) {
        self.unwatch_all(id);
        if let Some(s) = self.sessions.get_mut(&id) {
            s.multi = None;
            s.dirty_cas = false;
        }
    }

    // ------------------------------------------------------------------ server commands

    fn server_command(
        &mut self,
        id: u64,
        spec: &'static CommandSpec,
        args: &[Bytes],
        now_ms: u64,
        in_exec: bool,
    ) -> Outcome {
        let name = args[0].to_ascii_lowercase();
        let r = match name.as_slice() {
            b"ping" => ping(args),
            b"echo" => args
                .get(1)
                .cloned()
                .map_or_else(|| arity("echo"), Reply::Bulk),
            b"quit" => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.close_after_reply = true;
                }
                Reply::ok()
            }
            b"select" => select(args),
            b"hello" => self.hello(id, args),
            b"auth" => self.auth(id, args),
            b"reset" => self.reset(id),
            b"client" => self.client(id, args),
            b"multi" => self.multi(id),
            b"exec" => return self.exec(id),
            b"discard" => match self.sessions.get(&id).map(|s| s.multi.is_some()) {
                Some(true) => {
                    self.discard_transaction(id);
                    Reply::ok()
                }
                _ => Reply::error("ERR DISCARD without MULTI"),
            },
            b"readonly" | b"readwrite" => {
                if self.remote.is_none() {
                    Reply::error("ERR This instance has cluster support disabled")
                } else {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.readonly = name == b"readonly";
                    }
                    Reply::ok()
                }
            }
            b"watch" if self.remote.is_some() => return self.watch_remote(id, args),
            b"watch" => self.watch(id, args),
            b"unwatch" => {
                self.unwatch_all(id);
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.dirty_cas = false;
                }
                Reply::ok()
            }
            // Through the proxy the keys live in the shards: count them first.
            b"info" if self.remote.is_some() && !in_exec && info::wants_keyspace(args) => {
                let dbsize = vec![Bytes::from_static(b"DBSIZE")];
                let kind = AwaitKind::Info {
                    args: args.to_vec(),
                };
                self.start_remote(id, kind, vec![dbsize], false);
                return Outcome::Remote;
            }
            b"info" => self.info(args, now_ms, None),
            b"config" => {
                let r = config::config_command(args, &mut self.config, &mut self.stats);
                self.shared.limits.update(&self.config);
                r
            }
            b"command" => commands::command_command(args),
            b"debug" => debug(args),
            b"function" => self.function(args),
            b"script" => script(args),
            _ => Reply::error(format!(
                "ERR unknown command '{}', with args beginning with: ",
                String::from_utf8_lossy(spec.name.as_bytes())
            )),
        };
        Outcome::Reply(r)
    }

    fn credentials_ok(&self, user: &[u8], pass: &[u8]) -> bool {
        if user != b"default" {
            return false;
        }
        match self.config.requirepass.as_deref() {
            None | Some("") => true,
            Some(p) => password_matches(pass, p.as_bytes()),
        }
    }

    fn auth(&mut self, id: u64, args: &[Bytes]) -> Reply {
        let (user, pass) = match args.len() {
            2 => {
                if !self.auth_required_config() {
                    return Reply::error(
                        "ERR AUTH <password> called without any password configured for the \
                         default user. Are you sure your configuration is correct?",
                    );
                }
                (&b"default"[..], &args[1][..])
            }
            3 => (&args[1][..], &args[2][..]),
            _ => return Reply::error(SYNTAX_ERR),
        };
        if !self.credentials_ok(user, pass) {
            return Reply::error(WRONGPASS);
        }
        if let Some(s) = self.sessions.get_mut(&id) {
            s.authenticated = true;
        }
        Reply::ok()
    }

    fn hello(&mut self, id: u64, args: &[Bytes]) -> Reply {
        let mut proto = None;
        let mut next = 1;
        if let Some(v) = args.get(1) {
            next = 2;
            match parse_i64(v) {
                Some(2) => proto = Some(Protocol::Resp2),
                Some(3) => proto = Some(Protocol::Resp3),
                Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
                None => {
                    return Reply::error("ERR Protocol version is not an integer or out of range")
                }
            }
        }
        let mut auth: Option<(&Bytes, &Bytes)> = None;
        let mut setname: Option<&Bytes> = None;
        let mut j = next;
        while j < args.len() {
            let more = args.len() - 1 - j;
            let opt = &args[j];
            if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
                auth = Some((&args[j + 1], &args[j + 2]));
                j += 3;
            } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
                let name = &args[j + 1];
                if !valid_client_attr(name) {
                    return Reply::error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                }
                setname = Some(name);
                j += 2;
            } else {
                return Reply::error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(opt)
                ));
            }
        }
        if let Some((user, pass)) = auth {
            if !self.credentials_ok(user, pass) {
                return Reply::error(WRONGPASS);
            }
            if let Some(s) = self.sessions.get_mut(&id) {
                s.authenticated = true;
            }
        }
        let auth_required = self.auth_required_config();
        let Some(s) = self.sessions.get_mut(&id) else {
            return Reply::ok();
        };
        if !s.authenticated && auth_required {
            return Reply::error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise \
                 the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the \
                 client and select the RESP protocol version at the same time",
            );
        }
        if let Some(n) = setname {
            s.name = if n.is_empty() { None } else { Some(n.clone()) };
        }
        if let Some(p) = proto {
            s.proto = p;
        }
        let proto_num = match s.proto {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        };
        let b = |x: &'static str| Reply::Bulk(Bytes::from_static(x.as_bytes()));
        Reply::Map(vec![
            (b("server"), b("redis")),
            (b("version"), b("8.0.2")),
            (b("proto"), Reply::Integer(proto_num)),
            (b("id"), Reply::Integer(id as i64)),
            (b("mode"), b("standalone")),
            (b("role"), b("master")),
            (b("modules"), Reply::Array(Vec::new())),
        ])
    }

    fn reset(&mut self, id: u64) -> Reply {
        self.discard_transaction(id);
        let authenticated = !self.auth_required_config();
        if let Some(s) = self.sessions.get_mut(&id) {
            s.proto = Protocol::Resp2;
            s.authenticated = authenticated;
            s.name = None;
            s.no_evict = false;
            s.no_touch = false;
            s.readonly = false;
        }
        Reply::simple("RESET")
    }

    fn multi(&mut self, id: u64) -> Reply {
        let Some(s) = self.sessions.get_mut(&id) else {
            return Reply::ok();
        };
        if s.multi.is_some() {
            return Reply::error("ERR MULTI calls can not be nested");
        }
        s.multi = Some(Multi::default());
        Reply::ok()
    }

    fn exec(&mut self, id: u64) -> Outcome {
        let Some(s) = self.sessions.get_mut(&id) else {
            return Outcome::Reply(Reply::NullArray);
        };
        let Some(multi) = s.multi.take() else {
            return Outcome::Reply(Reply::error("ERR EXEC without MULTI"));
        };
        let dirty_cas = s.dirty_cas;
        let mut check = Vec::new();
        if !s.watch_tokens.is_empty() {
            check.push(Bytes::from_static(b"XRAFT.CHECKWATCH"));
            for (k, t) in s.watched.iter().zip(&s.watch_tokens) {
                check.push(k.clone());
                check.push(t.clone());
            }
        }
        self.discard_transaction(id);
        if multi.aborted {
            return Outcome::Reply(Reply::error(EXECABORT));
        }
        if dirty_cas {
            return Outcome::Reply(Reply::NullArray);
        }
        if self.remote.is_some() {
            return self.exec_remote(id, multi.cmds, check);
        }
        // One timestamp for the whole transaction.
        let now_ms = wall_ms();
        let mut replies = Vec::with_capacity(multi.cmds.len());
        for (spec, args) in &multi.cmds {
            let started = Instant::now();
            let r = match self.call(id, spec, args, now_ms, true) {
                Outcome::Reply(r) => r,
                // `in_exec` never blocks; keep the shape of a timeout if it ever did.
                Outcome::Blocked | Outcome::Remote => Reply::NullArray,
            };
            let usec = started.elapsed().as_micros() as u64;
            self.stats
                .record_call(spec.stat_name(), usec, error_line(&r));
            replies.push(r);
            if !self.sessions.contains_key(&id) {
                break;
            }
        }
        Outcome::Reply(Reply::Array(replies))
    }

    fn watch(&mut self, id: u64, args: &[Bytes]) -> Reply {
        let Some(s) = self.sessions.get_mut(&id) else {
            return Reply::ok();
        };
        if s.multi.is_some() {
            return Reply::error("ERR WATCH inside MULTI is not allowed");
        }
        if s.dirty_cas {
            return Reply::ok();
        }
        for k in &args[1..] {
            if s.watched.contains(k) {
                continue;
            }
            s.watched.push(k.clone());
            self.watched.entry(k.clone()).or_default().push(id);
        }
        Reply::ok()
    }

    /// INFO; `keys`: the cluster's key count (proxy), else the local keyspace's.
    fn info(&self, args: &[Bytes], now_ms: u64, keys: Option<usize>) -> Reply {
        let input = InfoInput {
            config: &self.config,
            stats: &self.stats,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            now_ms,
            run_id: &self.run_id,
            tcp_port: self.tcp_port,
            process_id: std::process::id(),
            connected_clients: self.sessions.len(),
            blocked_clients: self.blocked.blocked_clients()
                + self
                    .sessions
                    .values()
                    .filter(|s| s.awaiting.as_ref().is_some_and(|a| a.is_waiting()))
                    .count(),
            total_blocking_keys: self.blocked.total_blocking_keys()
                + self.remote_blocking_keys(false),
            total_blocking_keys_on_nokey: self.blocked.total_blocking_keys_on_nokey()
                + self.remote_blocking_keys(true),
            keys: keys.unwrap_or(self.db.len()),
            dirty: self.db.dirty,
            used_memory_bytes: resident_memory_bytes(),
            store: self.store.as_ref().map(|s| s.stats()).unwrap_or_default(),
        };
        info::info(args, &input)
    }

    fn function(&mut self, args: &[Bytes]) -> Reply {
        let sub = args
            .get(1)
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        if sub == b"flush" {
            if args.len() > 3 {
                return subcommand_error(args);
            }
            if args.len() == 3
                && !args[2].eq_ignore_ascii_case(b"sync")
                && !args[2].eq_ignore_ascii_case(b"async")
            {
                return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            // No functions exist; Redis still counts the flush as a change.
            self.db.dirty += 1;
            return Reply::ok();
        }
        subcommand_error(args)
    }

    // ------------------------------------------------------------------ CLIENT

    fn client(&mut self, id: u64, args: &[Bytes]) -> Reply {
        let Some(sub) = args.get(1) else {
            return arity("client");
        };
        let sub = sub.to_ascii_lowercase();
        let argc = args.len();
        let now = Instant::now();
        match (sub.as_slice(), argc) {
            (b"help", 2) => client_help(),
            (b"id", 2) => Reply::Integer(id as i64),
            (b"info", 2) => {
                let line = self
                    .sessions
                    .get(&id)
                    .map(|s| s.info_line(now, self.is_blocked(id)))
                    .unwrap_or_default();
                verbatim(line + "\n")
            }
            (b"list", _) => self.client_list(args, now),
            (b"kill", _) => self.client_kill(id, args, now),
            (b"unblock", 3 | 4) => self.client_unblock(args),
            (b"setname", 3) => {
                let name = &args[2];
                if !valid_client_attr(name) {
                    return Reply::error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                }
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.name = if name.is_empty() {
                        None
                    } else {
                        Some(name.clone())
                    };
                }
                Reply::ok()
            }
            (b"getname", 2) => match self.sessions.get(&id).and_then(|s| s.name.clone()) {
                Some(n) => Reply::Bulk(n),
                None => Reply::Null,
            },
            (b"setinfo", 4) => {
                let attr = args[2].to_ascii_lowercase();
                let val = &args[3];
                let is_name = match attr.as_slice() {
                    b"lib-name" => true,
                    b"lib-ver" => false,
                    _ => {
                        return Reply::error(format!(
                            "ERR Unrecognized option '{}'",
                            String::from_utf8_lossy(&args[2])
                        ))
                    }
                };
                if !valid_client_attr(val) {
                    return Reply::error(format!(
                        "ERR {} cannot contain spaces, newlines or special characters.",
                        String::from_utf8_lossy(&args[2])
                    ));
                }
                let v = if val.is_empty() {
                    None
                } else {
                    Some(val.clone())
                };
                if let Some(s) = self.sessions.get_mut(&id) {
                    if is_name {
                        s.lib_name = v;
                    } else {
                        s.lib_ver = v;
                    }
                }
                Reply::ok()
            }
            (b"no-evict" | b"no-touch", 3) => {
                let on = if args[2].eq_ignore_ascii_case(b"on") {
                    true
                } else if args[2].eq_ignore_ascii_case(b"off") {
                    false
                } else {
                    return Reply::error(SYNTAX_ERR);
                };
                if let Some(s) = self.sessions.get_mut(&id) {
                    if sub == b"no-evict" {
                        s.no_evict = on;
                    } else {
                        s.no_touch = on;
                    }
                }
                Reply::ok()
            }
            _ => subcommand_error(args),
        }
    }

    fn client_list(&self, args: &[Bytes], now: Instant) -> Reply {
        let mut ids: Option<Vec<u64>> = None;
        let mut normal_only = true;
        if args.len() == 4 && args[2].eq_ignore_ascii_case(b"type") {
            let t = args[3].to_ascii_lowercase();
            match t.as_slice() {
                b"normal" => {}
                b"master" | b"replica" | b"slave" | b"pubsub" => normal_only = false,
                _ => {
                    return Reply::error(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(&args[3])
                    ))
                }
            }
        } else if args.len() > 3 && args[2].eq_ignore_ascii_case(b"id") {
            let mut v = Vec::new();
            for a in &args[3..] {
                match parse_i64(a) {
                    Some(n) => v.push(n as u64),
                    None => return Reply::error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
        } else if args.len() != 2 {
            return Reply::error(SYNTAX_ERR);
        }
        let mut text = String::new();
        match ids {
            Some(ids) => {
                for cid in ids {
                    if let Some(s) = self.sessions.get(&cid) {
                        text.push_str(&s.info_line(now, self.is_blocked(cid)));
                        text.push('\n');
                    }
                }
            }
            None if normal_only => {
                let mut all: Vec<&Session> = self.sessions.values().collect();
                all.sort_by_key(|s| s.id);
                for s in all {
                    text.push_str(&s.info_line(now, self.is_blocked(s.id)));
                    text.push('\n');
                }
            }
            None => {}
        }
        verbatim(text)
    }

    fn client_kill(&mut self, me: u64, args: &[Bytes], now: Instant) -> Reply {
        let mut addr: Option<&[u8]> = None;
        let mut laddr: Option<&[u8]> = None;
        let mut kill_id: Option<u64> = None;
        let mut max_age: Option<u64> = None;
        let mut normal_only = true;
        let mut skipme = true;
        let old_form = args.len() == 3;
        if old_form {
            addr = Some(&args[2]);
            skipme = false;
        } else if args.len() > 3 {
            let mut i = 2;
            while i < args.len() {
                let Some(val) = args.get(i + 1) else {
                    return Reply::error(SYNTAX_ERR);
                };
                let opt = args[i].to_ascii_lowercase();
                match opt.as_slice() {
                    b"id" => match parse_i64(val) {
                        Some(n) if n > 0 => kill_id = Some(n as u64),
                        _ => return Reply::error("ERR client-id should be greater than 0"),
                    },
                    b"maxage" => match parse_i64(val) {
                        Some(n) if n > 0 => max_age = Some(n as u64),
                        Some(_) => return Reply::error("ERR maxage should be greater than 0"),
                        None => {
                            return Reply::error("ERR maxage is not an integer or out of range")
                        }
                    },
                    b"type" => match val.to_ascii_lowercase().as_slice() {
                        b"normal" => normal_only = true,
                        b"master" | b"replica" | b"slave" | b"pubsub" => normal_only = false,
                        _ => {
                            return Reply::error(format!(
                                "ERR Unknown client type '{}'",
                                String::from_utf8_lossy(val)
                            ))
                        }
                    },
                    b"addr" => addr = Some(val),
                    b"laddr" => laddr = Some(val),
                    b"user" => {
                        if val.as_ref() != b"default" {
                            return Reply::error(format!(
                                "ERR No such user '{}'",
                                String::from_utf8_lossy(val)
                            ));
                        }
                    }
                    b"skipme" => {
                        if val.eq_ignore_ascii_case(b"yes") {
                            skipme = true;
                        } else if val.eq_ignore_ascii_case(b"no") {
                            skipme = false;
                        } else {
                            return Reply::error(SYNTAX_ERR);
                        }
                    }
                    _ => return Reply::error(SYNTAX_ERR),
                }
                i += 2;
            }
        } else {
            return Reply::error(SYNTAX_ERR);
        }
        let mut victims: Vec<u64> = self
            .sessions
            .values()
            .filter(|_| normal_only)
            .filter(|s| addr.is_none_or(|a| s.addr.as_bytes() == a))
            .filter(|s| laddr.is_none_or(|a| s.laddr.as_bytes() == a))
            .filter(|s| kill_id.is_none_or(|k| s.id == k))
            .filter(|s| !(skipme && s.id == me))
            .filter(|s| {
                max_age.is_none_or(|m| now.saturating_duration_since(s.created).as_secs() >= m)
            })
            .map(|s| s.id)
            .collect();
        victims.sort_unstable();
        let killed = victims.len();
        for v in victims {
            if v == me {
                if let Some(s) = self.sessions.get_mut(&me) {
                    s.close_after_reply = true;
                }
            } else {
                self.kill(v);
            }
        }
        if old_form {
            if killed == 0 {
                Reply::error("ERR No such client")
            } else {
                Reply::ok()
            }
        } else {
            Reply::Integer(killed as i64)
        }
    }

    /// Closes another client now, dropping whatever output it had pending.
    fn kill(&mut self, id: u64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            let _ = s.tx.send(Response {
                out: Vec::new(),
                done: true,
                close: true,
                authenticated: s.authenticated,
            });
        }
        self.remove_session(id);
        self.outbox.retain(|c| *c != id);
    }

    fn client_unblock(&mut self, args: &[Bytes]) -> Reply {
        let mut as_error = false;
        if let Some(reason) = args.get(3) {
            if reason.eq_ignore_ascii_case(b"timeout") {
                as_error = false;
            } else if reason.eq_ignore_ascii_case(b"error") {
                as_error = true;
            } else {
                return Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            }
        }
        let Some(target) = parse_i64(&args[2]) else {
            return Reply::error(NOT_INTEGER);
        };
        let target = target as u64;
        if let Some(a) = self
            .sessions
            .get(&target)
            .and_then(|s| s.awaiting.as_ref())
            .filter(|a| a.is_waiting())
        {
            let _ = a.unblock_with_error.send(as_error);
            let _ = a.cancel.send(true);
            return Reply::Integer(1);
        }
        if !self.blocked.is_blocked(target) {
            return Reply::Integer(0);
        }
        let reply = if as_error {
            Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        } else {
            Reply::NullArray
        };
        self.finish_blocked(target, reply);
        self.queue_send(target);
        Reply::Integer(1)
    }
}

// ---------------------------------------------------------------------- helpers

/// EXEC, DISCARD, MULTI, WATCH, QUIT and RESET run immediately even inside MULTI.
fn runs_inside_multi(name: &[u8]) -> bool {
    [
        &b"exec"[..],
        b"discard",
        b"multi",
        b"watch",
        b"quit",
        b"reset",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// The command name inside `ERR wrong number of arguments for 'xadd' command`, for the
/// rejected-calls statistics.
fn arity_error_command(e: &Reply) -> Option<&str> {
    let Reply::Error(line) = e else {
        return None;
    };
    let rest = line.strip_prefix(b"ERR wrong number of arguments for '")?;
    let end = rest.iter().position(|b| *b == b'\'')?;
    std::str::from_utf8(&rest[..end]).ok()
}

fn error_line(r: &Reply) -> Option<&[u8]> {
    match r {
        Reply::Error(e) => Some(e),
        _ => None,
    }
}

fn arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

fn subcommand_error(args: &[Bytes]) -> Reply {
    let cmd = String::from_utf8_lossy(&args[0]).to_uppercase();
    let sub = args
        .get(1)
        .map(|s| String::from_utf8_lossy(s))
        .unwrap_or_default();
    let sub: String = sub.chars().take(128).collect();
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."
    ))
}

fn verbatim(text: String) -> Reply {
    Reply::Verbatim {
        format: *b"txt",
        text: Bytes::from(text),
    }
}

fn ping(args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::simple("PONG"),
        2 => Reply::Bulk(args[1].clone()),
        _ => arity("ping"),
    }
}

fn select(args: &[Bytes]) -> Reply {
    let Some(arg) = args.get(1) else {
        return arity("select");
    };
    match parse_i64(arg) {
        Some(n) if i32::try_from(n).is_err() => Reply::error(NOT_INTEGER),
        Some(0) => Reply::ok(),
        Some(_) => Reply::error("ERR DB index is out of range"),
        None => Reply::error(NOT_INTEGER),
    }
}

fn debug(args: &[Bytes]) -> Reply {
    if args.len() == 3 && args[1].eq_ignore_ascii_case(b"log") {
        tracing::info!(message = %String::from_utf8_lossy(&args[2]), "DEBUG LOG");
        return Reply::ok();
    }
    subcommand_error(args)
}

/// SCRIPT FLUSH [ASYNC|SYNC]: there is no script cache; the flush trivially succeeds.
fn script(args: &[Bytes]) -> Reply {
    let flush = args
        .get(1)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"flush"));
    if !flush {
        return subcommand_error(args);
    }
    match args.get(2) {
        None => Reply::ok(),
        Some(m)
            if args.len() == 3
                && (m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async")) =>
        {
            Reply::ok()
        }
        Some(_) => Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
    }
}

fn client_help() -> Reply {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP",
        "    Print this help.",
    ];
    Reply::Array(lines.iter().map(|l| Reply::simple(l)).collect())
}

/// Drops repeated changes between FLUSHALL markers (keeping the first of each): the store
/// writes every item as it is at commit time, so a repeat writes the same value again.
fn dedup_changes(changes: &mut Vec<Change>) {
    if changes.len() < 2 {
        return;
    }
    let mut seen = std::collections::HashSet::with_capacity(changes.len());
    changes.retain(|c| {
        if matches!(c, Change::FlushAll) {
            seen.clear();
            return true;
        }
        seen.insert(c.clone())
    });
}

fn dedup_in_order(keys: &mut Vec<Bytes>) {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.retain(|k| seen.insert(k.clone()));
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it): the broker's
/// clock, [`storage::clock::wall_clock_ms`] (shifted by the injected offset in fault builds).
fn wall_ms() -> u64 {
    storage::clock::wall_clock_ms()
}

/// A 40-hex-digit run id, different on every start.
fn make_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut s = String::with_capacity(40);
    let mut i = 0u64;
    while s.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(wall_ms() ^ i);
        h.write_u32(std::process::id());
        s.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    s.truncate(40);
    s
}

/// Resident set size from /proc (0 where unavailable).
fn resident_memory_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn fail_stop(what: &str, e: &storage::StorageError) -> ! {
    tracing::error!(error = %e, "storage {what} failed: stopping (memory is ahead of disk)");
    eprintln!("xraft: fatal storage error during {what}: {e}");
    std::process::exit(70);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arity_errors_name_their_command() {
        let e = Reply::error("ERR wrong number of arguments for 'xgroup|create' command");
        assert_eq!(arity_error_command(&e), Some("xgroup|create"));
        let e = Reply::error("ERR unknown command 'foo', with args beginning with: ");
        assert_eq!(arity_error_command(&e), None);
    }

    #[test]
    fn group_changes_are_deduplicated_between_flushes() {
        use streams::{StreamChange, StreamId};
        let k = Bytes::from_static(b"k");
        let meta = Change::Stream(k.clone(), StreamChange::Meta);
        let e1 = Change::Stream(k.clone(), StreamChange::Entry(StreamId::new(1, 1)));
        let whole = Change::Key(k.clone());
        let mut v = vec![
            meta.clone(),
            e1.clone(),
            meta.clone(),
            whole.clone(),
            Change::FlushAll,
            meta.clone(),
            meta.clone(),
            whole.clone(),
        ];
        dedup_changes(&mut v);
        assert_eq!(
            v,
            vec![
                meta.clone(),
                e1,
                whole.clone(),
                Change::FlushAll,
                meta,
                whole
            ]
        );
    }

    #[test]
    fn multi_control_commands() {
        for n in ["EXEC", "discard", "Multi", "WATCH", "quit", "RESET"] {
            assert!(runs_inside_multi(n.as_bytes()), "{n}");
        }
        for n in ["XADD", "unwatch", "PING"] {
            assert!(!runs_inside_multi(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn select_and_ping() {
        let a = |v: &[&str]| -> Vec<Bytes> {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect()
        };
        assert_eq!(select(&a(&["SELECT", "0"])), Reply::ok());
        assert_eq!(
            select(&a(&["SELECT", "1"])),
            Reply::error("ERR DB index is out of range")
        );
        assert_eq!(select(&a(&["SELECT", "x"])), Reply::error(NOT_INTEGER));
        assert_eq!(
            select(&a(&["SELECT", "99999999999"])),
            Reply::error(NOT_INTEGER)
        );
        assert_eq!(ping(&a(&["PING"])), Reply::simple("PONG"));
        assert_eq!(ping(&a(&["PING", "hi"])), Reply::bulk("hi"));
        assert_eq!(
            debug(&a(&["DEBUG", "sleep", "0"])),
            Reply::error(
                "ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP."
            )
        );
        let mut keys = a(&["a", "b", "a", "c", "b"]);
        dedup_in_order(&mut keys);
        assert_eq!(keys, a(&["a", "b", "c"]));
        assert_eq!(make_run_id().len(), 40);
    }
}
