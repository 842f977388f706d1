//! The state machine of one group replica: the streams engine's [`Db`] in memory and its
//! durable copy in the replica's [`Store`].
//!
//! Applying entries: every op of every entry in the slice openraft hands over is applied with
//! [`streams::apply`] (no clock, no randomness: the ops carry every resolved choice). What
//! changed is written together with the last applied log id and membership as ONE atomic
//! store commit (journaled: see the storage crate), so a restart never applies an entry twice and never skips one. That commit
//! covers every entry applied since the previous one: it is made once [`SM_COMMIT_ENTRIES`]
//! entries or [`SM_COMMIT_DELAY`] have gone by (and before a snapshot is built or
//! installed), so an XADD's stream node, stream metadata and applied index are written once
//! per commit rather than once per entry (measured: per-entry sled transactions on three
//! replicas were a third of the cluster's CPU per XADD). Nor is that commit synced: the log is
//! durable, and sled recovers a prefix of its commits, so a lost tail of state commits only
//! means re-applying those entries from the log (openraft re-applies up to the saved
//! committed index at start-up). The log keeps every entry after the last commit: entries
//! are purged only behind a snapshot, and building one commits first.
//!
//! The [`GroupShared`] half is what the rest of the node uses: the leader's batcher reads the
//! applied state to take its working copy; reads and blocked readers watch the applied index
//! and the keys that got new data.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder,
    StorageIOError,
};
use resp::Reply;
use serde::{Deserialize, Serialize};
use storage::Store;
use streams::{Change, Db};
use tokio::sync::{broadcast, watch};

use crate::codec;
use crate::types::{
    Applied, Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

/// Meta items of the store written with every apply.
pub(crate) const META_APPLIED: &[u8] = b"raft_applied";
pub(crate) const META_MEMBERSHIP: &[u8] = b"raft_membership";
/// The current snapshot, next to the replica's database.
const SNAPSHOT_FILE: &str = "snapshot.bin";
/// Ready-key notifications buffered per subscriber (a lagging subscriber re-checks all).
pub const READY_CHANNEL_DEPTH: usize = 1024;
/// Applied entries after which the state machine commits them to its store.
pub const SM_COMMIT_ENTRIES: u64 = 64;
/// Time after which applied entries are committed (checked when entries are applied).
pub const SM_COMMIT_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

type Result<T> = std::result::Result<T, StorageError>;

fn sm_err(verb: ErrorVerb, e: impl std::error::Error + 'static) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(ErrorSubject::StateMachine, verb, AnyError::new(&e)),
    }
}

fn snap_err(
    meta: Option<&SnapshotMeta>,
    verb: ErrorVerb,
    e: impl std::error::Error + 'static,
) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(
            ErrorSubject::Snapshot(meta.map(|m| m.signature())),
            verb,
            AnyError::new(&e),
        ),
    }
}

/// What a replica shares with the rest of the node.
pub struct GroupShared {
    inner: Mutex<SmInner>,
    applied_tx: watch::Sender<u64>,
    ready_tx: broadcast::Sender<Arc<Vec<Bytes>>>,
    dir: PathBuf,
}

struct SmInner {
    db: Db,
    store: Store,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshots_built: u64,
    /// Per key, the index of the last apply that signalled it ready (new data, deletion,
    /// type change). In memory only: after a restart every key counts as changed at the
    /// index the replica opened at, which can only wake a waiter early, never late.
    ready_index: HashMap<Bytes, u64>,
    /// The floor for keys not in `ready_index`: the applied index when this replica opened,
    /// raised to the highest index pruned from `ready_index` (see [`prune_ready_index`]).
    opened_index: u64,
    /// Changes applied in memory since the last store commit, and how many entries.
    pending: Vec<Change>,
    pending_entries: u64,
    last_commit: std::time::Instant,
}

/// `ready_index` holds at most this many entries beyond twice the number of keys.
const READY_INDEX_SLACK: usize = 4096;

/// Keeps `ready_index` from growing with every key ever signalled (streams created and
/// deleted by the million): when it outgrows the keyspace, entries of keys that no longer
/// exist go, and the floor rises to the highest index dropped. A waiter on such a key may then
/// wake early (it looks again and waits on), never late.
fn prune_ready_index(inner: &mut SmInner) {
    if inner.ready_index.len() <= 2 * inner.db.len() + READY_INDEX_SLACK {
        return;
    }
    let SmInner {
        ready_index,
        db,
        opened_index,
        ..
    } = inner;
    ready_index.retain(|k, i| {
        let keep = db.contains(k);
        if !keep {
            *opened_index = (*opened_index).max(*i);
        }
        keep
    });
}

/// A snapshot as kept on disk.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

impl GroupShared {
    pub(crate) fn new(
        dir: &Path,
        db: Db,
        store: Store,
        last_applied: Option<LogId>,
        membership: StoredMembership,
    ) -> Arc<GroupShared> {
        let (applied_tx, _) = watch::channel(last_applied.map_or(0, |l| l.index));
        let (ready_tx, _) = broadcast::channel(READY_CHANNEL_DEPTH);
        Arc::new(GroupShared {
            inner: Mutex::new(SmInner {
                db,
                store,
                last_applied,
                membership,
                snapshots_built: 0,
                ready_index: HashMap::new(),
                opened_index: last_applied.map_or(0, |l| l.index),
                pending: Vec::new(),
                pending_entries: 0,
                last_commit: std::time::Instant::now(),
            }),
            applied_tx,
            ready_tx,
            dir: dir.to_path_buf(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, SmInner> {
        // A panic while applying leaves nothing half-done that the lock would protect:
        // memory is only ahead of the store until the next commit, which a restart redoes.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the applied state (reads, and the leader taking its working copy).
    pub fn with_db<T>(&self, f: impl FnOnce(&Db) -> T) -> T {
        f(&self.lock().db)
    }

    /// The applied index and a CRC64 of the encoded state at it (replicas at the same index
    /// must agree). Encodes the whole state: for tests and tools.
    pub fn state_digest(&self) -> (u64, u64) {
        let inner = self.lock();
        let mut buf = Vec::new();
        streams::codec::encode_db(&inner.db, &mut buf);
        let index = inner.last_applied.map_or(0, |l| l.index);
        (index, crc64::crc64(0, &buf))
    }

    /// Index of the last applied entry (0 before any).
    pub fn applied_index(&self) -> u64 {
        *self.applied_tx.borrow()
    }

    pub fn last_applied(&self) -> Option<LogId> {
        self.lock().last_applied
    }

    /// The last index at which any of `keys` was signalled ready (see [`Self::subscribe_ready`]).
    pub fn last_ready_index(&self, keys: &[Bytes]) -> u64 {
        let inner = self.lock();
        keys.iter()
            .map(|k| {
                inner
                    .ready_index
                    .get(k)
                    .copied()
                    .unwrap_or(inner.opened_index)
            })
            .max()
            .unwrap_or(0)
    }

    /// Watches the last applied index.
    pub fn subscribe_applied(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    /// Keys that got new data (or changed type, or vanished) in each apply. After a snapshot
    /// install every key is sent. A subscriber that lags gets `Lagged` and should re-check
    /// everything it waits for.
    pub fn subscribe_ready(&self) -> broadcast::Receiver<Arc<Vec<Bytes>>> {
        self.ready_tx.subscribe()
    }

    fn notify(&self, index: u64, ready: Vec<Bytes>) {
        self.applied_tx.send_replace(index);
        if !ready.is_empty() {
            let _ = self.ready_tx.send(Arc::new(ready));
        }
    }

    fn snapshot_path(&self) -> PathBuf {
        self.dir.join(SNAPSHOT_FILE)
    }
}

/// The openraft state machine of one replica.
pub struct StateMachine {
    shared: Arc<GroupShared>,
}

impl StateMachine {
    pub(crate) fn new(shared: Arc<GroupShared>) -> StateMachine {
        StateMachine { shared }
    }

    /// The half shared with the node.
    pub fn shared(&self) -> Arc<GroupShared> {
        Arc::clone(&self.shared)
    }
}

fn apply_payload(db: &mut Db, payload: &[u8]) -> Result<Vec<Reply>> {
    let (_now_ms, ops) =
        streams::codec::decode_ops(payload).map_err(|e| sm_err(ErrorVerb::Read, e))?;
    Ok(ops.iter().map(|op| streams::apply(db, op)).collect())
}

/// Commits what was applied since the last commit (see the module docs).
fn commit_pending(inner: &mut SmInner) -> Result<()> {
    let mut changes = std::mem::take(&mut inner.pending);
    inner.pending_entries = 0;
    inner.last_commit = std::time::Instant::now();
    let committed = commit(inner, &changes);
    // Keep the buffer: it grows to a commit's worth of changes, and growing it again for
    // every commit cost reallocations (and, past jemalloc's large sizes, page faults).
    changes.clear();
    inner.pending = changes;
    committed
}

fn commit(inner: &mut SmInner, changes: &[Change]) -> Result<()> {
    let index = inner.last_applied.map_or(0, |l| l.index);
    let applied = codec::encode(&inner.last_applied);
    let membership = codec::encode(&inner.membership);
    let SmInner { db, store, .. } = inner;
    store
        .commit_with_meta(
            db,
            changes,
            index,
            &[(META_APPLIED, &applied), (META_MEMBERSHIP, &membership)],
        )
        .map_err(|e| sm_err(ErrorVerb::Write, e))
}

/// Writes `bytes` to `path` durably: temp file, fsync, rename, directory fsync.
fn write_file_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership)> {
        let inner = self.shared.lock();
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        let (index, ready) = {
            let mut inner = self.shared.lock();
            for e in entries {
                let replies = match &e.payload {
                    EntryPayload::Blank => Vec::new(),
                    EntryPayload::Normal(p) => apply_payload(&mut inner.db, &p.0)?,
                    EntryPayload::Membership(m) => {
                        inner.membership = StoredMembership::new(Some(e.log_id), m.clone());
                        Vec::new()
                    }
                };
                inner.last_applied = Some(e.log_id);
                out.push(Applied(replies));
            }
            if out.is_empty() {
                return Ok(out);
            }
            let changes = inner.db.take_changes();
            inner.pending.extend(changes);
            inner.pending_entries += out.len() as u64;
            if inner.pending_entries >= SM_COMMIT_ENTRIES
                || inner.last_commit.elapsed() >= SM_COMMIT_DELAY
            {
                commit_pending(&mut inner)?;
            }
            let ready = inner.db.take_ready();
            let index = inner.last_applied.map_or(0, |l| l.index);
            for k in &ready {
                inner.ready_index.insert(k.clone(), index);
            }
            prune_ready_index(&mut inner);
            (index, ready)
        };
        self.shared.notify(index, ready);
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            shared: Arc::clone(&self.shared),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<()> {
        let data = snapshot.into_inner();
        let db = streams::codec::decode_db(&data)
            .map_err(|e| snap_err(Some(meta), ErrorVerb::Read, e))?;
        let keys: Vec<Bytes> = db.iter().map(|(k, _)| k.clone()).collect();
        let (index, ready) = {
            let mut inner = self.shared.lock();
            let old_keys: Vec<Bytes> = inner.db.iter().map(|(k, _)| k.clone()).collect();
            inner.db = db;
            inner.last_applied = meta.last_log_id;
            inner.membership = meta.last_membership.clone();
            // The snapshot replaces everything, what was pending included.
            inner.pending.clear();
            inner.pending.push(Change::FlushAll);
            inner.pending.extend(keys.iter().cloned().map(Change::Key));
            commit_pending(&mut inner)?;
            inner
                .store
                .sync()
                .map_err(|e| snap_err(Some(meta), ErrorVerb::Write, e))?;
            let mut ready = old_keys;
            ready.extend(keys);
            let index = meta.last_log_id.map_or(0, |l| l.index);
            // Everything may have changed.
            inner.ready_index.clear();
            inner.opened_index = index;
            (index, ready)
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        write_file_durably(&self.shared.snapshot_path(), &codec::encode(&stored))
            .map_err(|e| snap_err(Some(meta), ErrorVerb::Write, e))?;
        tracing::info!(
            last_log_id = ?meta.last_log_id,
            keys = ready.len(),
            "snapshot installed"
        );
        self.shared.notify(index, ready);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>> {
        let path = self.shared.snapshot_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(snap_err(None, ErrorVerb::Read, e)),
        };
        let stored: StoredSnapshot =
            codec::decode(&bytes).map_err(|e| snap_err(None, ErrorVerb::Read, e))?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}

/// Builds a snapshot of the applied state.
pub struct SnapshotBuilder {
    shared: Arc<GroupShared>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>> {
        let (meta, data) = {
            let mut inner = self.shared.lock();
            // The log is purged behind the snapshot: the store must not need those entries.
            commit_pending(&mut inner)?;
            inner.snapshots_built += 1;
            let mut data = Vec::new();
            streams::codec::encode_db(&inner.db, &mut data);
            let snapshot_id = match inner.last_applied {
                Some(l) => format!("{}-{}-{}", l.leader_id, l.index, inner.snapshots_built),
                None => format!("--{}", inner.snapshots_built),
            };
            let meta = SnapshotMeta {
                last_log_id: inner.last_applied,
                last_membership: inner.membership.clone(),
                snapshot_id,
            };
            (meta, data)
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let path = self.shared.snapshot_path();
        let encoded = codec::encode(&stored);
        tokio::task::spawn_blocking(move || write_file_durably(&path, &encoded))
            .await
            .map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, e))?
            .map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, e))?;
        tracing::info!(last_log_id = ?meta.last_log_id, bytes = stored.data.len(), "snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_index_forgets_deleted_keys_and_raises_its_floor() {
        let dir = std::env::temp_dir().join(format!("xraft-ready-index-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (store, db) =
            Store::open(&dir.join("db"), storage::StoreOptions::default()).expect("store");
        let shared = GroupShared::new(&dir, db, store, None, StoredMembership::default());
        let mut inner = shared.lock();
        inner.db.set(
            Bytes::from_static(b"live"),
            streams::Value::Stream(Default::default()),
        );
        inner.ready_index.insert(Bytes::from_static(b"live"), 7);
        let gone = READY_INDEX_SLACK + 10;
        for i in 0..gone {
            inner
                .ready_index
                .insert(Bytes::from(format!("gone-{i}")), 100 + i as u64);
        }
        prune_ready_index(&mut inner);
        assert_eq!(inner.ready_index.len(), 1);
        assert_eq!(inner.opened_index, 100 + gone as u64 - 1);
        drop(inner);
        // A pruned key is never later than it was (it may wake a waiter early).
        assert_eq!(
            shared.last_ready_index(&[Bytes::from_static(b"gone-3")]),
            100 + gone as u64 - 1
        );
        assert_eq!(shared.last_ready_index(&[Bytes::from_static(b"live")]), 7);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
