//! The per-group batcher on the leader: many client commands → one Raft entry.
//!
//! openraft 0.9 appends and flushes each `client_write` on its own, so a group would top out
//! near one write per flush. The batcher packs every job queued while the batch before it is
//! in flight into ONE [`Proposal`] ([`MAX_INFLIGHT_BATCHES`] in flight), and once it holds
//! its slot waits a little ([`BATCH_LINGER`]) for as many jobs as the previous batch had.
//!
//! ```text
//!  jobs (one per client request: commands of ONE connection, in order)
//!    │ bounded queue
//!    ▼
//!  batcher task (one per group, owns the leader's WORKING COPY of the state)
//!    for each command: parse ─▶ prepare(working, now_ms) ─▶ Reply (read, error)
//!                                                      └─▶ Write(op) ─▶ apply(working, op)
//!    ops ─▶ encode_ops(now_ms, ops) ─▶ client_write_ff ─┐      (MAX_INFLIGHT_BATCHES in flight)
//!                                                       ▼
//!  completion task: committed + applied on the state machine ─▶ replies to the jobs
//! ```
//!
//! **Why a working copy.** Preparing resolves `*` IDs, trims, deliveries and claims against
//! the state; two XADDs to one stream in one batch, or a batch prepared while the previous
//! one is in flight, must see the earlier ops' effects. The state machine only has the
//! *applied* state, so the leader keeps a copy of it to which it applies ops as it prepares
//! them. The copy is taken when leadership starts (after every earlier entry is applied) and
//! dropped when anything goes wrong (leadership lost, an outcome not known): the next round
//! rebuilds it from the state machine once nothing is in flight.
//!
//! **When replies go out.** A write's reply is the state machine's (authoritative; the
//! working copy's is checked against it). A read answered from the working copy may reflect
//! ops still in flight, so it is held until every batch before it (and its own) committed;
//! a batch without writes then confirms leadership with openraft's read index
//! (`ensure_linearizable`). A job's outcome is all or nothing: its ops travel in one entry.
//!
//! **Outcomes.** `NotLeader`: known not applied (not leader when submitted, or the entry was
//! truncated by a new leader: openraft answers `ForwardToLeader` only then). Any other
//! failure after submission (timeout, shutdown) is `Unknown`: the entry may still commit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use openraft::error::ClientWriteError;
use openraft::{Raft, ServerState};
use resp::Reply;
use streams::{Ctx, Db, Prepared};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::state_machine::GroupShared;
use crate::types::{Proposal, TypeConfig};

/// Jobs waiting for the batcher (beyond this, submitters wait: backpressure).
pub const MAX_QUEUED_JOBS: usize = 8192;
/// Commands in one batch (one Raft entry).
pub const MAX_BATCH_COMMANDS: usize = 4096;
/// Encoded size at which a batch is closed early.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Batches submitted to Raft and not yet completed. One: while it is in flight the next
/// batch gathers every job that arrives, and a batch is only closed once it can be submitted
/// (see `round`). Every entry costs each replica a log append, a sync and a round of
/// messages, so on a busy node fewer, bigger entries win (measured on 2 cores, `xraft dev`,
/// 50 clients, XADD over 16 streams: 7.1 commands per entry and 6 600-7 400 req/s with one in
/// flight; 2.7 per entry and 4 900-6 100 req/s with four; the same at -P 16).
pub const MAX_INFLIGHT_BATCHES: usize = 1;
/// Longest a batch that holds its slot waits for more jobs (see `Batcher::linger`); tokio's
/// timer rounds it up to its 1 ms tick. Measured on 2 cores, `xraft dev`, 50 clients, XADD
/// over 16 streams, runs interleaved: jobs per entry 8.2 without it, 9.3 with 500 µs, 10.3
/// with 1 ms, 11.5 with 1.5 ms, 13.3 with 3 ms; CPU per XADD 11-15% lower at 1.5 ms than at
/// 500 µs, context switches per XADD 3.3 against 4.0-4.2, req/s +7% at 500 µs over none and
/// +4% more at 1.5 ms, p99 unchanged (7.1-8.6 ms); 3 ms gained nothing more in req/s then.
/// With entries stored in chunks (less CPU per entry applied), 3 ms against 1.5 ms, three
/// interleaved pairs: +2-4% req/s, 5-9% less CPU and 10% fewer context switches per XADD,
/// p99 5.7-6.0 against 5.6-5.9 ms; no change at -P 16.
/// One client never waits: its previous batch held one job.
pub const BATCH_LINGER: Duration = Duration::from_millis(3);
/// How long a submitted batch may take to commit before its outcome is reported unknown.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new leader waits for its state machine to apply every earlier entry before
/// answering "unavailable".
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a job came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// One reply per command, in order, committed (writes) / linearizable (reads); and how
    /// much the commands moved Redis's dirty counter (INFO `rdb_changes_since_last_save`).
    Replies(Vec<Reply>, u64),
    /// Not applied: this node is not the leader (the hint, if known).
    NotLeader { leader: Option<u64> },
    /// Not applied: the group cannot serve now (catching up, overloaded, shutting down).
    Unavailable(String),
    /// Submitted, but whether it was applied is not known.
    Unknown(String),
}

/// One client request: commands of one connection for this group, to run in order and
/// atomically (they travel in one entry).
pub struct Job {
    pub commands: Vec<Vec<Bytes>>,
    /// `stream-node-max-entries` for this job's XADDs (the node's setting when `None`).
    pub node_max_entries: Option<u64>,
    pub respond: oneshot::Sender<Outcome>,
}

/// Submits jobs to a group's batcher.
#[derive(Clone)]
pub struct BatcherHandle {
    tx: mpsc::Sender<Job>,
    /// Set while this replica hands its leadership over: new jobs are refused (not applied)
    /// so that no entry renews the followers' leader lease.
    draining: Arc<AtomicBool>,
}

impl BatcherHandle {
    /// Runs `commands` on the group's leader. Waits for queue space (backpressure).
    pub async fn execute(
        &self,
        commands: Vec<Vec<Bytes>>,
        node_max_entries: Option<u64>,
    ) -> Outcome {
        if self.draining.load(Ordering::Acquire) {
            return Outcome::NotLeader { leader: None };
        }
        let (respond, rx) = oneshot::channel();
        let job = Job {
            commands: commands.into_iter().map(own_args).collect(),
            node_max_entries,
            respond,
        };
        if self.tx.send(job).await.is_err() {
            return Outcome::Unavailable("the group is shutting down".into());
        }
        match rx.await {
            Ok(o) => o,
            // The batcher dropped the job without answering: it stopped. If the job had
            // been submitted, its completion task answers, so this is the unsubmitted case.
            Err(_) => Outcome::Unavailable("the group is shutting down".into()),
        }
    }
}

/// Commands in `jobs`.
fn commands(jobs: &[Job]) -> usize {
    jobs.iter().map(|j| j.commands.len()).sum()
}

/// The arguments of one command, copied into ONE allocation of their own. Arguments decoded
/// from a gRPC request are slices of the request's receive buffer (8 KiB or more); the
/// working copy keeps what XADD stores (fields, values, names) for the leader's whole term,
/// so without the copy every request's buffer stayed alive with it (found with heaptrack:
/// a leader's memory grew by about 8 KiB per XADD).
pub fn own_args(args: Vec<Bytes>) -> Vec<Bytes> {
    let total: usize = args.iter().map(Bytes::len).sum();
    let mut buf = bytes::BytesMut::with_capacity(total);
    for a in &args {
        buf.extend_from_slice(a);
    }
    let buf = buf.freeze();
    let mut at = 0;
    args.iter()
        .map(|a| {
            let part = buf.slice(at..at + a.len());
            at += a.len();
            part
        })
        .collect()
}

/// Settings the batcher reads on every batch.
#[derive(Debug, Default)]
pub struct BatchSettings {
    /// `stream-node-max-entries`, resolved into each XADD.
    pub node_max_entries: AtomicU64,
}

impl BatchSettings {
    pub fn new(node_max_entries: u64) -> Arc<BatchSettings> {
        Arc::new(BatchSettings {
            node_max_entries: AtomicU64::new(node_max_entries),
        })
    }
}

/// Starts the batcher task of one group replica.
pub fn spawn_batcher(
    node_id: u64,
    raft: Raft<TypeConfig>,
    shared: Arc<GroupShared>,
    settings: Arc<BatchSettings>,
) -> BatcherHandle {
    let (tx, rx) = mpsc::channel(MAX_QUEUED_JOBS);
    let batcher = Batcher {
        node_id,
        raft,
        shared,
        settings,
        rx,
        working: None,
        poisoned: Arc::new(AtomicBool::new(false)),
        inflight: Arc::new(Semaphore::new(MAX_INFLIGHT_BATCHES)),
        last_batch: None,
        clock: StampClock::default(),
        copies: 0,
        prev_jobs: 0,
    };
    tokio::spawn(batcher.run());
    BatcherHandle {
        tx,
        draining: Arc::new(AtomicBool::new(false)),
    }
}

impl BatcherHandle {
    /// Refuse (`true`) or accept again (`false`) new jobs.
    pub fn set_draining(&self, draining: bool) {
        self.draining.store(draining, Ordering::Release);
    }
}

/// The leader's copy of the state, ahead of the state machine by the batches in flight.
struct Working {
    db: Db,
    term: u64,
    /// WATCH tokens: versions of the keys this working copy has seen modified.
    versions: streams::watch::Versions,
}

struct Batcher {
    node_id: u64,
    raft: Raft<TypeConfig>,
    shared: Arc<GroupShared>,
    settings: Arc<BatchSettings>,
    rx: mpsc::Receiver<Job>,
    working: Option<Working>,
    /// Set by a completion task when the working copy can no longer be trusted.
    poisoned: Arc<AtomicBool>,
    inflight: Arc<Semaphore>,
    /// Completion of the previous batch: `Some(true)` committed, `Some(false)` failed.
    last_batch: Option<watch::Receiver<Option<bool>>>,
    /// The now_ms stamped into this replica's batches.
    clock: StampClock,
    /// Working copies taken so far (part of the WATCH tokens' epoch).
    copies: u64,
    /// Jobs in the previous batch: how many to wait for (at most [`BATCH_LINGER`]).
    prev_jobs: usize,
}

/// The now_ms a leader stamps into its batches: the wall clock
/// ([`storage::clock::wall_clock_ms`]), but never going back on this replica, so a clock that
/// jumps backward freezes the stamp until the clock catches up. (Across leaders, a new
/// leader's clock may be behind: the engine still keeps `*` IDs increasing with
/// `ms = max(now_ms, last.ms)`.)
#[derive(Debug, Default)]
struct StampClock {
    last_now_ms: u64,
}

impl StampClock {
    fn now_ms(&mut self) -> u64 {
        if let Some(ms) = storage::clock::pinned_ms() {
            // A test pinned the clock (feature `test-clock`): stamp exactly that time.
            self.last_now_ms = ms;
            return ms;
        }
        self.last_now_ms = self.last_now_ms.max(storage::clock::wall_clock_ms());
        self.last_now_ms
    }
}

/// Where a command's reply comes from.
enum Slot {
    /// Answered by prepare (read or error), or by applying to the working copy: the
    /// speculative reply, replaced by the state machine's for writes.
    Ready(Reply),
    /// The n-th op of the batch.
    Op(usize, Reply),
}

struct PreparedJob {
    slots: Vec<Slot>,
    dirty: u64,
    respond: oneshot::Sender<Outcome>,
}

impl Batcher {
    async fn run(mut self) {
        // The rest of the queue joins each batch once it has its slot (`round`).
        while let Some(first) = self.rx.recv().await {
            self.round(vec![first]).await;
        }
    }

    /// Moves queued jobs into `jobs` until the queue is empty or the batch is full.
    fn take_queued(&mut self, jobs: &mut Vec<Job>) {
        let mut commands = commands(jobs);
        while commands < MAX_BATCH_COMMANDS {
            match self.rx.try_recv() {
                Ok(j) => {
                    commands += j.commands.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
    }

    /// Waits (at most [`BATCH_LINGER`]) until the batch holds as many jobs as the previous
    /// one did. Clients in a closed loop come back right after their reply; a batch that
    /// leaves without them makes the next entry, and its appends, syncs and messages on
    /// every replica, carry only the few that were quicker.
    async fn linger(&mut self, jobs: &mut Vec<Job>) {
        let target = std::mem::take(&mut self.prev_jobs);
        if jobs.len() < target {
            let deadline = tokio::time::Instant::now() + BATCH_LINGER;
            while jobs.len() < target && commands(jobs) < MAX_BATCH_COMMANDS {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(j)) => {
                        jobs.push(j);
                        self.take_queued(jobs);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
        self.prev_jobs = jobs.len();
    }

    /// A leader no quorum has acknowledged for longer than the followers' lease plus an
    /// election timeout may well have been replaced: it is cut off from its peers, which
    /// openraft 0.9 does not notice by itself. It refuses new work (not applied) so that the
    /// proxy looks for the new leader instead of waiting here for the partition to heal.
    fn quorum_stale(&self) -> bool {
        let cfg = self.raft.config();
        let stale_after = cfg.election_timeout_max + cfg.election_timeout_min;
        let ms = self.raft.metrics().borrow().millis_since_quorum_ack;
        if ms.is_some_and(|ms| ms > stale_after) {
            tracing::debug!(ms, "batcher: no quorum ack lately, refusing work");
            return true;
        }
        false
    }

    fn leader_term(&self) -> Result<u64, Outcome> {
        if self.quorum_stale() {
            return Err(Outcome::NotLeader { leader: None });
        }
        let m = self.raft.metrics().borrow().clone();
        if m.state == ServerState::Leader && m.current_leader == Some(self.node_id) {
            Ok(m.current_term)
        } else {
            Err(Outcome::NotLeader {
                leader: m.current_leader.filter(|l| *l != self.node_id),
            })
        }
    }

    /// Makes sure the working copy exists and belongs to the current term.
    async fn ensure_working(&mut self) -> Result<(), Outcome> {
        let term = self.leader_term()?;
        if self.poisoned.swap(false, Ordering::AcqRel) {
            self.working = None;
        }
        if matches!(&self.working, Some(w) if w.term == term) {
            return Ok(());
        }
        self.working = None;
        // Nothing of ours may be in flight: every permit back.
        let all = self
            .inflight
            .clone()
            .acquire_many_owned(MAX_INFLIGHT_BATCHES as u32)
            .await
            .map_err(|_| Outcome::Unavailable("the group is shutting down".into()))?;
        drop(all);
        self.poisoned.store(false, Ordering::Release);
        self.last_batch = None;
        // Every entry in the log (earlier terms' and this term's blank entry) applied.
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        let mut metrics = self.raft.metrics();
        let mut applied = self.shared.subscribe_applied();
        loop {
            let (last_log, term_now, leader) = {
                let m = metrics.borrow_and_update();
                (
                    m.last_log_index.unwrap_or(0),
                    m.current_term,
                    m.state == ServerState::Leader,
                )
            };
            if !leader || term_now != term {
                return Err(self
                    .leader_term()
                    .err()
                    .unwrap_or(Outcome::NotLeader { leader: None }));
            }
            if *applied.borrow_and_update() >= last_log {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Outcome::Unavailable(
                    "the new leader is still applying earlier entries".into(),
                ));
            }
            tokio::select! {
                _ = applied.changed() => {}
                _ = metrics.changed() => {}
                _ = tokio::time::sleep(left) => {}
            }
        }
        let db = self.shared.with_db(|db| db.clone_state());
        tracing::debug!(term, keys = db.len(), "batcher: working copy taken");
        self.copies += 1;
        let epoch = format!("{}-{}-{}", self.node_id, term, self.copies);
        self.working = Some(Working {
            db,
            term,
            versions: streams::watch::Versions::new(epoch),
        });
        Ok(())
    }

    async fn round(&mut self, mut jobs: Vec<Job>) {
        if let Err(o) = self.ensure_working().await {
            for j in jobs {
                let _ = j.respond.send(o.clone());
            }
            return;
        }
        // Waiting for a slot: the batches in flight may never commit (a leader cut off from
        // its peers); these jobs are not submitted yet, so they can still be refused.
        let acquire = self.inflight.clone().acquire_owned();
        tokio::pin!(acquire);
        let permit = loop {
            tokio::select! {
                p = &mut acquire => break p,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if self.quorum_stale() {
                        for j in jobs {
                            let _ = j.respond.send(Outcome::NotLeader { leader: None });
                        }
                        return;
                    }
                }
            }
        };
        let permit = match permit {
            Ok(p) => p,
            Err(_) => {
                for j in jobs {
                    let _ = j
                        .respond
                        .send(Outcome::Unavailable("the group is shutting down".into()));
                }
                return;
            }
        };
        // Jobs that queued while this batch waited for its slot join it: in a busy group
        // the slot is the wait, and one bigger entry costs far less than several small ones.
        self.take_queued(&mut jobs);
        self.linger(&mut jobs).await;
        let ctx = Ctx {
            now_ms: self.clock.now_ms(),
            node_max_entries: self.settings.node_max_entries.load(Ordering::Relaxed),
        };
        let working = self.working.as_mut().expect("ensured above");
        let mut ops = Vec::new();
        let mut prepared = Vec::with_capacity(jobs.len());
        for job in jobs {
            let ctx = Ctx {
                node_max_entries: job.node_max_entries.unwrap_or(ctx.node_max_entries),
                ..ctx
            };
            let dirty_before = working.db.dirty;
            let slots = prepare_job(working, &job.commands, &ctx, &mut ops);
            prepared.push(PreparedJob {
                slots,
                dirty: working.db.dirty.wrapping_sub(dirty_before),
                respond: job.respond,
            });
            // The state machine persists; the working copy's changes only move WATCH
            // versions.
            let changes = working.db.take_changes();
            working.versions.record(&changes);
        }
        working.db.take_ready();

        let previous = self.last_batch.take();
        let (done_tx, done_rx) = watch::channel(None);
        self.last_batch = Some(done_rx);
        let poisoned = Arc::clone(&self.poisoned);
        if ops.is_empty() {
            let raft = self.raft.clone();
            tokio::spawn(async move {
                let ok = wait_previous(previous).await
                    && matches!(
                        tokio::time::timeout(COMMIT_TIMEOUT, raft.ensure_linearizable()).await,
                        Ok(Ok(_))
                    );
                let _ = done_tx.send(Some(ok));
                for job in prepared {
                    let outcome = if ok {
                        Outcome::Replies(
                            job.slots.into_iter().map(Slot::into_reply).collect(),
                            job.dirty,
                        )
                    } else {
                        Outcome::Unavailable("leadership could not be confirmed".into())
                    };
                    let _ = job.respond.send(outcome);
                }
                drop(permit);
            });
            return;
        }
        let mut payload = Vec::new();
        streams::codec::encode_ops(ctx.now_ms, &ops, &mut payload);
        let op_count = ops.len();
        let submitted = self
            .raft
            .client_write_ff(Proposal(Bytes::from(payload)))
            .await;
        let rx = match submitted {
            Ok(rx) => rx,
            Err(fatal) => {
                // Not queued: openraft has stopped.
                self.working = None;
                let _ = done_tx.send(Some(false));
                for job in prepared {
                    let _ = job
                        .respond
                        .send(Outcome::Unavailable(format!("raft stopped: {fatal}")));
                }
                return;
            }
        };
        tokio::spawn(async move {
            let result = tokio::time::timeout(COMMIT_TIMEOUT, rx).await;
            let outcome: Result<Vec<Reply>, Outcome> = match result {
                Ok(Ok(Ok(resp))) => {
                    let replies = resp.data.0;
                    if replies.len() == op_count {
                        Ok(replies)
                    } else {
                        tracing::error!(
                            expected = op_count,
                            got = replies.len(),
                            "state machine returned a wrong number of replies"
                        );
                        Err(Outcome::Unknown("internal error: reply count".into()))
                    }
                }
                Ok(Ok(Err(ClientWriteError::ForwardToLeader(f)))) => Err(Outcome::NotLeader {
                    leader: f.leader_id,
                }),
                Ok(Ok(Err(e))) => Err(Outcome::Unknown(format!("raft: {e}"))),
                Ok(Err(_)) => Err(Outcome::Unknown("raft dropped the request".into())),
                Err(_) => Err(Outcome::Unknown(format!(
                    "not committed within {} ms",
                    COMMIT_TIMEOUT.as_millis()
                ))),
            };
            // Reads in this batch saw earlier batches' effects.
            let previous_ok = wait_previous(previous).await;
            match outcome {
                Ok(replies) if previous_ok => {
                    let _ = done_tx.send(Some(true));
                    let mut diverged = false;
                    for job in prepared {
                        let out = job
                            .slots
                            .into_iter()
                            .map(|s| match s {
                                Slot::Ready(r) => r,
                                Slot::Op(i, speculative) => {
                                    if speculative != replies[i] {
                                        diverged = true;
                                    }
                                    replies[i].clone()
                                }
                            })
                            .collect();
                        let _ = job.respond.send(Outcome::Replies(out, job.dirty));
                    }
                    if diverged {
                        // The working copy no longer matches the applied state: rebuild.
                        tracing::error!("working copy diverged from the state machine");
                        poisoned.store(true, Ordering::Release);
                    }
                }
                other => {
                    poisoned.store(true, Ordering::Release);
                    let _ = done_tx.send(Some(false));
                    let failure = match other {
                        Err(o) => o,
                        // Our entry committed but an earlier batch failed: its reads may
                        // have seen effects that never happened. Writes are applied.
                        Ok(_) => {
                            Outcome::Unknown("an earlier batch failed; this one was applied".into())
                        }
                    };
                    for job in prepared {
                        let _ = job.respond.send(failure.clone());
                    }
                }
            }
            drop(permit);
        });
    }
}

impl Slot {
    fn into_reply(self) -> Reply {
        match self {
            Slot::Ready(r) | Slot::Op(_, r) => r,
        }
    }
}

async fn wait_previous(previous: Option<watch::Receiver<Option<bool>>>) -> bool {
    let Some(mut rx) = previous else {
        return true;
    };
    let done = match rx.wait_for(|v| v.is_some()).await {
        Ok(v) => v.unwrap_or(false),
        Err(_) => false,
    };
    done
}

/// Prepares a job's commands. A job that starts with `XRAFT.CHECKWATCH` (EXEC after WATCH)
/// runs only if its tokens still match; otherwise none runs and every reply is a null
/// array.
fn prepare_job(
    working: &mut Working,
    commands: &[Vec<Bytes>],
    ctx: &Ctx,
    ops: &mut Vec<streams::Op>,
) -> Vec<Slot> {
    use streams::watch::{is_command, CHECK_WATCH, WATCH_TOKEN};
    let mut slots = Vec::with_capacity(commands.len());
    for (i, args) in commands.iter().enumerate() {
        if is_command(args, CHECK_WATCH) && i == 0 {
            if !working.versions.check(args) {
                // One reply per command as always; the first (a null array) says aborted.
                return commands
                    .iter()
                    .map(|_| Slot::Ready(Reply::NullArray))
                    .collect();
            }
            slots.push(Slot::Ready(Reply::ok()));
        } else if is_command(args, WATCH_TOKEN) {
            slots.push(Slot::Ready(working.versions.tokens_reply(args)));
        } else {
            slots.push(prepare_one(working, args, ctx, ops));
        }
    }
    slots
}

/// Prepares one command on the working copy; writes are applied to it at once so that the
/// next command sees them.
fn prepare_one(
    working: &mut Working,
    args: &[Bytes],
    ctx: &Ctx,
    ops: &mut Vec<streams::Op>,
) -> Slot {
    let db = &mut working.db;
    let cmd = match streams::parse(args) {
        Some(Ok(c)) => c,
        Some(Err(e)) => return Slot::Ready(e),
        None => return Slot::Ready(unknown_command(args)),
    };
    match cmd.prepare(db, ctx) {
        Prepared::Reply(r) => Slot::Ready(r),
        Prepared::Write(op) => {
            if matches!(op, streams::Op::Keyspace(streams::keyspace::Op::Flush)) {
                // FLUSHALL modifies the watched keys that exist now (see `Versions`).
                let db = &*db;
                working.versions.flushing(|k| db.contains(k));
            }
            let r = streams::apply(&mut working.db, &op);
            ops.push(op);
            Slot::Op(ops.len() - 1, r)
        }
    }
}

fn unknown_command(args: &[Bytes]) -> Reply {
    let name = args
        .first()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_default();
    Reply::Error(Bytes::from(format!(
        "ERR unknown command '{name}', with args beginning with: "
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_args_keep_their_bytes_and_nothing_of_the_buffer_they_came_from() {
        let received = Bytes::from(vec![b'x'; 8192]);
        let mut args: Vec<Bytes> = vec![received.slice(0..4), received.slice(10..11)];
        args.push(Bytes::new());
        args.push(Bytes::from_static(b"value"));
        let owned = own_args(args.clone());
        assert_eq!(owned, args);
        let range = received.as_ptr_range();
        for a in owned.iter().filter(|a| !a.is_empty()) {
            assert!(
                !range.contains(&a.as_ptr()),
                "an argument still points into the received buffer"
            );
        }
        // All of one command's arguments share one allocation of exactly their size.
        assert_eq!(owned[1].as_ptr(), owned[0].as_ptr().wrapping_add(4));
        assert_eq!(owned[3].as_ptr(), owned[1].as_ptr().wrapping_add(1));
        drop(args);
        assert!(
            received.is_unique(),
            "the received buffer is no longer referenced"
        );
    }
}

#[cfg(all(test, feature = "fault-injection"))]
mod fault_clock_tests {
    //! Clock jumps through the injected offset (process-wide: the only test of this binary
    //! that sets it).

    use super::*;
    use storage::clock::{set_offset_ms, wall_clock_ms};

    const HOUR_MS: i64 = 3_600_000;

    /// `XADD s * f v` prepared and applied on `db` at `now_ms`, as the leader does: the ID.
    fn xadd_auto(db: &mut Db, now_ms: u64) -> (u64, u64) {
        let args = ["XADD", "s", "*", "f", "v"].map(|a| Bytes::from_static(a.as_bytes()));
        let ctx = Ctx {
            now_ms,
            node_max_entries: 100,
        };
        let mut ops = Vec::new();
        let Slot::Op(_, Reply::Bulk(id)) = prepare_one(db, &args, &ctx, &mut ops) else {
            panic!("XADD * did not become a write with an ID");
        };
        let id = std::str::from_utf8(&id).expect("ID is text");
        let (ms, seq) = id.split_once('-').expect("ID is ms-seq");
        (ms.parse().expect("ms"), seq.parse().expect("seq"))
    }

    #[test]
    fn stamped_now_ms_follows_forward_jumps_and_never_goes_back() {
        set_offset_ms(0);
        let mut clock = StampClock::default();
        let mut db = Db::new();
        let start_ms = clock.now_ms();
        let first = xadd_auto(&mut db, start_ms);

        // Forward one hour: the stamp (and so the next `*` ID) moves with the offset.
        set_offset_ms(HOUR_MS);
        let ahead_ms = clock.now_ms();
        assert!(
            ahead_ms >= start_ms + HOUR_MS as u64,
            "{ahead_ms} vs {start_ms}"
        );
        let ahead = xadd_auto(&mut db, ahead_ms);
        assert_eq!(ahead, (ahead_ms, 0));
        assert!(ahead > first);

        // Back two hours (one hour behind the real clock): the wall clock goes back, the
        // stamp does not, and `*` IDs keep increasing.
        set_offset_ms(-2 * HOUR_MS);
        let behind_wall_ms = wall_clock_ms();
        assert!(behind_wall_ms + 2 * HOUR_MS as u64 <= ahead_ms + 60_000);
        let frozen_ms = clock.now_ms();
        assert_eq!(frozen_ms, ahead_ms, "the stamp went back with the clock");
        let after_back = xadd_auto(&mut db, frozen_ms);
        assert_eq!(after_back, (ahead_ms, 1));

        // A leader whose clock is behind (a fresh stamp clock: another replica taking over)
        // stamps an older now_ms; the engine still gives a greater ID.
        let new_leader_ms = StampClock::default().now_ms();
        assert!(new_leader_ms < ahead_ms);
        let after_new_leader = xadd_auto(&mut db, new_leader_ms);
        assert_eq!(after_new_leader, (ahead_ms, 2));

        // Reset: still frozen until the real clock passes the high-water mark.
        set_offset_ms(0);
        assert_eq!(clock.now_ms(), ahead_ms);
    }
}
