//! The Raft log and vote of one group replica, in two trees of the replica's sled database
//! (`raft_log`: index as u64 big-endian → entry; `raft_state`: vote, committed, last purged).
//!
//! Durability: sled's writes are not durable until a [`storage::SyncHandle::sync`] (sled
//! flush + `fdatasync`). An append is reported to openraft (the [`LogFlushed`] callback) only
//! after such a sync; a per-replica flusher thread takes every append queued to it and syncs
//! ONCE for all of them (group commit of appends: openraft keeps appending while a flush is
//! under way). A vote is synced before `save_vote` returns.
//!
//! Reads: the newest entries are also kept decoded in memory ([`Tail`], bounded by count and
//! payload bytes), so the leader's replication and every replica's state machine, which read
//! what was just appended, get them without a sled range scan and a decode each.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader, StorageIOError};
use storage::SyncHandle;

use crate::codec;
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const LOG_TREE: &str = "raft_log";
const STATE_TREE: &str = "raft_state";
const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// At most this many of the newest entries are kept in memory (see [`Tail`])...
pub const TAIL_MAX_ENTRIES: usize = 1024;
/// ...and at most this many payload bytes.
pub const TAIL_MAX_BYTES: usize = 8 * 1024 * 1024;

type Result<T> = std::result::Result<T, StorageError>;

fn io_err(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    e: impl std::error::Error + 'static,
) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(subject, verb, AnyError::new(&e)),
    }
}

/// One replica's log store; clones share everything (they are the log readers).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

struct Inner {
    log: sled::Tree,
    state: sled::Tree,
    sync: SyncHandle,
    /// Appends waiting for the flusher thread's next sync.
    flusher: Mutex<mpsc::Sender<LogFlushed<TypeConfig>>>,
    /// The newest entries, decoded. Held while the log tree is written too, so that it is
    /// always a suffix of the log as readers see it.
    tail: Mutex<Tail>,
}

/// The newest entries of the log, consecutive, decoded: empty, or ending at the log's last
/// entry. Appends extend it (dropping the oldest past [`TAIL_MAX_ENTRIES`] or
/// [`TAIL_MAX_BYTES`]), a truncation cuts its end, a purge its start. Empty after a
/// restart: reads then go to sled until appends refill it.
#[derive(Debug, Default)]
struct Tail {
    entries: VecDeque<Entry>,
    bytes: usize,
}

fn payload_bytes(e: &Entry) -> usize {
    match &e.payload {
        openraft::EntryPayload::Normal(p) => p.0.len(),
        _ => 0,
    }
}

impl Tail {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|e| e.log_id.index)
    }

    fn push(&mut self, e: Entry) {
        if let Some(last) = self.entries.back() {
            if last.log_id.index.checked_add(1) != Some(e.log_id.index) {
                // Not the next entry (cannot happen after a truncation, which cuts the tail
                // too): start over rather than hold a gap.
                self.clear();
            }
        }
        self.bytes += payload_bytes(&e);
        self.entries.push_back(e);
        while self.entries.len() > TAIL_MAX_ENTRIES
            || (self.bytes > TAIL_MAX_BYTES && self.entries.len() > 1)
        {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= payload_bytes(&e);
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Forgets the entries at `index` and after (a truncation of the log).
    fn truncate(&mut self, index: u64) {
        while self.entries.back().is_some_and(|e| e.log_id.index >= index) {
            if let Some(e) = self.entries.pop_back() {
                self.bytes -= payload_bytes(&e);
            }
        }
    }

    /// Forgets the entries up to and including `index` (a purge of the log).
    fn purge(&mut self, index: u64) {
        while self
            .entries
            .front()
            .is_some_and(|e| e.log_id.index <= index)
        {
            self.pop_front();
        }
    }

    /// The entries of `range` if the tail can answer for all of it: `start` is in the tail,
    /// or past its end (nothing there: the tail ends at the log's last entry). None when
    /// `start` is before the tail (or the tail is empty): read sled.
    fn get<RB: RangeBounds<u64>>(&self, start: u64, range: &RB) -> Option<Vec<Entry>> {
        let first = self.first_index()?;
        if start < first {
            return None;
        }
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        Some(
            self.entries
                .iter()
                .skip(skip)
                .take_while(|e| range.contains(&e.log_id.index))
                .cloned()
                .collect(),
        )
    }
}

impl LogStore {
    /// Opens the log trees in `db` (the replica's database) and starts its flusher thread.
    pub fn open(db: &sled::Db, sync: SyncHandle, name: &str) -> std::io::Result<LogStore> {
        let log = db.open_tree(LOG_TREE).map_err(std::io::Error::other)?;
        let state = db.open_tree(STATE_TREE).map_err(std::io::Error::other)?;
        repair_gaps(&log)?;
        let (tx, rx) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let thread_sync = sync.clone();
        std::thread::Builder::new()
            .name(format!("xraft-logsync-{name}"))
            .spawn(move || run_flusher(rx, thread_sync))?;
        Ok(LogStore {
            inner: Arc::new(Inner {
                log,
                state,
                sync,
                flusher: Mutex::new(tx),
                tail: Mutex::new(Tail::default()),
            }),
        })
    }

    fn read_state<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        let subject = || ErrorSubject::Store;
        match self
            .inner
            .state
            .get(key)
            .map_err(|e| io_err(subject(), ErrorVerb::Read, e))?
        {
            None => Ok(None),
            Some(v) => codec::decode(&v)
                .map(Some)
                .map_err(|e| io_err(subject(), ErrorVerb::Read, e)),
        }
    }

    fn write_state<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<()> {
        self.inner
            .state
            .insert(key, codec::encode(value))
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))?;
        Ok(())
    }

    async fn sync(&self, subject: ErrorSubject<u64>) -> Result<()> {
        let sync = self.inner.sync.clone();
        match tokio::task::spawn_blocking(move || sync.sync()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(io_err(subject, ErrorVerb::Write, e)),
            Err(e) => Err(io_err(subject, ErrorVerb::Write, e)),
        }
    }

    fn tail(&self) -> std::sync::MutexGuard<'_, Tail> {
        // Poisoned only by a panic between a tree write and the tail update: start over.
        self.inner.tail.lock().unwrap_or_else(|p| {
            let mut t = p.into_inner();
            t.clear();
            t
        })
    }

    /// Removes the entries whose keys fall in `range`, as one batch.
    fn remove_entries<R: RangeBounds<[u8; 8]>>(&self, range: R) -> Result<()> {
        let mut batch = sled::Batch::default();
        for item in self.inner.log.range(range) {
            let (k, _) = item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            batch.remove(k);
        }
        self.inner
            .log
            .apply_batch(batch)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, e))
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>> {
        match self
            .inner
            .log
            .last()
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?
        {
            None => Ok(None),
            Some((_, v)) => {
                let e: Entry = codec::decode(&v)
                    .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
                Ok(Some(e.log_id))
            }
        }
    }
}

/// Waits for queued appends, syncs once for all of them, then reports each as durable (or
/// failed), in order.
fn run_flusher(rx: mpsc::Receiver<LogFlushed<TypeConfig>>, sync: SyncHandle) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        match sync.sync() {
            Ok(()) => {
                for cb in waiting {
                    cb.log_io_completed(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "log sync failed");
                for cb in waiting {
                    cb.log_io_completed(Err(std::io::Error::other(e.to_string())));
                }
            }
        }
    }
}

/// Cuts the log at its first gap. Appends are not atomic across entries (see `append`), so a
/// crash may leave an entry on disk without one before it that was never reported durable;
/// everything from the gap on is then unacknowledged and is removed (from the top down, so
/// that a crash during the repair leaves a log it can repair again). Returns how many
/// entries were removed.
pub(crate) fn repair_gaps(log: &sled::Tree) -> std::io::Result<usize> {
    let mut expected: Option<u64> = None;
    let mut cut_from: Option<u64> = None;
    for item in log.iter().keys() {
        let k = item.map_err(std::io::Error::other)?;
        let index = u64::from_be_bytes(
            k.as_ref()
                .try_into()
                .map_err(|_| std::io::Error::other("log key is not 8 bytes"))?,
        );
        if expected.is_some_and(|e| index != e) {
            cut_from = expected;
            break;
        }
        expected = Some(index + 1);
    }
    let Some(from) = cut_from else {
        return Ok(0);
    };
    let doomed: Vec<sled::IVec> = log
        .range(index_key(from)..)
        .keys()
        .collect::<std::result::Result<_, _>>()
        .map_err(std::io::Error::other)?;
    for k in doomed.iter().rev() {
        log.remove(k).map_err(std::io::Error::other)?;
    }
    tracing::warn!(
        from,
        removed = doomed.len(),
        "raft log: cut unacknowledged entries after a gap left by a crash"
    );
    Ok(doomed.len())
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        if let Some(entries) = self.tail().get(start, &range) {
            return Ok(entries);
        }
        let mut out = Vec::new();
        for item in self.inner.log.range(index_key(start)..) {
            let (k, v) = item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            let index = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| {
                io_err(
                    ErrorSubject::Logs,
                    ErrorVerb::Read,
                    std::io::Error::other("log key is not 8 bytes"),
                )
            })?);
            if !range.contains(&index) {
                break;
            }
            let e: Entry =
                codec::decode(&v).map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            if e.log_id.index != index {
                return Err(io_err(
                    ErrorSubject::Logs,
                    ErrorVerb::Read,
                    std::io::Error::other(format!(
                        "entry at key {index} has index {}",
                        e.log_id.index
                    )),
                ));
            }
            out.push(e);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId> = self.read_state(KEY_LAST_PURGED)?;
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<()> {
        self.write_state(KEY_VOTE, vote)?;
        self.sync(ErrorSubject::Vote).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>> {
        self.read_state(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<()> {
        // Not synced: losing it only means re-applying from the state machine's own
        // applied id, which is never ahead of what is committed.
        self.write_state(KEY_COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>> {
        Ok(self.read_state::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // One plain insert per entry, not a `sled::Batch`: sled 0.34 seals and writes its
        // current I/O buffer before and after every batch (`pin_log`), each write a job for
        // its I/O threadpool that wakes every idle pool thread; that was two thirds of the
        // pool's work per XADD. Atomicity across the entries of one append is not needed:
        // nothing is reported durable before the flush that covers all of them, and a crash
        // in between can leave at worst a gap, which `open` cuts off (see `repair_gaps`).
        {
            let mut tail = self.tail();
            for e in entries {
                let written = self
                    .inner
                    .log
                    .insert(index_key(e.log_id.index), codec::encode(&e));
                if let Err(err) = written {
                    tail.clear();
                    return Err(io_err(ErrorSubject::Logs, ErrorVerb::Write, err));
                }
                tail.push(e);
            }
        }
        let sent = match self.inner.flusher.lock() {
            Ok(tx) => tx.send(callback),
            Err(p) => p.into_inner().send(callback),
        };
        if let Err(mpsc::SendError(cb)) = sent {
            // The flusher is gone (shutting down): sync here.
            let r = self.inner.sync.sync().map_err(std::io::Error::other);
            cb.log_io_completed(r);
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<()> {
        let mut tail = self.tail();
        tail.truncate(log_id.index);
        let removed = self.remove_entries(index_key(log_id.index)..);
        if removed.is_err() {
            tail.clear();
        }
        removed
    }

    async fn purge(&mut self, log_id: LogId) -> Result<()> {
        // The purge point first: a crash in between leaves entries below it, never a log
        // state claiming entries that are gone.
        self.write_state(KEY_LAST_PURGED, &log_id)?;
        let mut tail = self.tail();
        tail.purge(log_id.index);
        self.remove_entries(..=index_key(log_id.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(keys: &[u64]) -> (tempfile::TempDir, sled::Tree) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new()
            .path(dir.path())
            .cache_capacity(1 << 20)
            .open()
            .expect("open sled");
        let log = db.open_tree(LOG_TREE).expect("tree");
        for k in keys {
            log.insert(index_key(*k), b"e".as_slice()).expect("insert");
        }
        (dir, log)
    }

    fn keys(log: &sled::Tree) -> Vec<u64> {
        log.iter()
            .keys()
            .map(|k| u64::from_be_bytes(k.expect("key").as_ref().try_into().expect("8 bytes")))
            .collect()
    }

    #[test]
    fn a_log_cut_at_its_first_gap_keeps_the_prefix_before_it() {
        let (_d, log) = log_with(&[4, 5, 6, 8, 9, 11]);
        assert_eq!(repair_gaps(&log).expect("repair"), 3);
        assert_eq!(keys(&log), vec![4, 5, 6]);
        // Repairing again finds nothing.
        assert_eq!(repair_gaps(&log).expect("repair"), 0);
        assert_eq!(keys(&log), vec![4, 5, 6]);
    }

    fn entry(index: u64, bytes: usize) -> Entry {
        Entry {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
            payload: openraft::EntryPayload::Normal(crate::types::Proposal(bytes::Bytes::from(
                vec![7u8; bytes],
            ))),
        }
    }

    fn indexes(v: &[Entry]) -> Vec<u64> {
        v.iter().map(|e| e.log_id.index).collect()
    }

    #[test]
    fn the_tail_answers_from_its_first_entry_on_and_defers_to_sled_before_it() {
        let mut t = Tail::default();
        assert!(t.get(0, &(0..)).is_none(), "an empty tail knows nothing");
        for i in 5..=9 {
            t.push(entry(i, 10));
        }
        assert!(t.get(4, &(4..)).is_none());
        assert_eq!(indexes(&t.get(5, &(5..)).unwrap()), vec![5, 6, 7, 8, 9]);
        assert_eq!(indexes(&t.get(6, &(6..8)).unwrap()), vec![6, 7]);
        assert_eq!(indexes(&t.get(7, &(7..=7)).unwrap()), vec![7]);
        // Past the end: the log has nothing there either.
        assert!(t.get(10, &(10..)).unwrap().is_empty());
        assert!(t.get(50, &(50..60)).unwrap().is_empty());
    }

    #[test]
    fn the_tail_follows_truncations_and_purges() {
        let mut t = Tail::default();
        for i in 1..=6 {
            t.push(entry(i, 100));
        }
        t.truncate(5);
        assert_eq!(indexes(&t.get(1, &(1..)).unwrap()), vec![1, 2, 3, 4]);
        assert_eq!(t.bytes, 400);
        // Appending after the truncation point continues the tail.
        t.push(entry(5, 1));
        assert_eq!(indexes(&t.get(3, &(3..)).unwrap()), vec![3, 4, 5]);
        t.purge(3);
        assert_eq!(t.first_index(), Some(4));
        assert!(t.get(3, &(3..)).is_none());
        assert_eq!(t.bytes, 101);
        t.purge(100);
        assert_eq!(t.first_index(), None);
        assert_eq!(t.bytes, 0);
        // A non-consecutive push starts over instead of holding a gap.
        t.push(entry(10, 1));
        t.push(entry(12, 1));
        assert_eq!(t.first_index(), Some(12));
        assert_eq!(t.entries.len(), 1);
    }

    #[test]
    fn the_tail_is_bounded_by_count_and_by_bytes() {
        let mut t = Tail::default();
        for i in 1..=(TAIL_MAX_ENTRIES as u64 + 10) {
            t.push(entry(i, 1));
        }
        assert_eq!(t.entries.len(), TAIL_MAX_ENTRIES);
        assert_eq!(t.first_index(), Some(11));
        let mut t = Tail::default();
        let big = TAIL_MAX_BYTES / 4 + 1;
        for i in 1..=8 {
            t.push(entry(i, big));
        }
        assert!(t.bytes <= TAIL_MAX_BYTES);
        assert_eq!(t.first_index(), Some(6));
        // One entry bigger than the bound is still kept (it is the newest).
        t.push(entry(9, TAIL_MAX_BYTES * 2));
        assert_eq!(indexes(&t.get(9, &(9..)).unwrap()), vec![9]);
    }

    #[test]
    fn contiguous_and_empty_logs_are_left_alone() {
        let (_d, log) = log_with(&[1, 2, 3, 4]);
        assert_eq!(repair_gaps(&log).expect("repair"), 0);
        assert_eq!(keys(&log), vec![1, 2, 3, 4]);
        let (_d2, empty) = log_with(&[]);
        assert_eq!(repair_gaps(&empty).expect("repair"), 0);
        assert!(keys(&empty).is_empty());
    }
}
