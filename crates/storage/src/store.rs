//! [`Store`]: one sled database holding the durable copy of a keyspace.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use streams::{Change, Db};

use crate::batch::Layout;
use crate::batch::{self, Writes};
use crate::durable::{DiskFlush, DiskSync};
use crate::error::StorageError;
use crate::journal;
use crate::load;
use crate::trees::{TreeId, Trees};

/// The layout version written under `meta/format_version`. 2 added the `journal` tree (a
/// build that does not replay it must not open a database that may need it); 3 stores
/// entries in chunks (`chunks` tree, see the `chunks` module; a build that does not read them
/// must not open it); 4 stores a stream's last node in its `streams` item (see the `tails`
/// module; an older build would lose it). Versions 1 to 3 are upgraded at open: the version
/// is raised first, then streams with entries in the `entries` tree are rewritten in chunks
/// (a format 3 layout needs nothing more: each stream's next commit moves its last node).
pub const FORMAT_VERSION: u32 = 4;
/// Older layout versions this build upgrades: before the journal, before chunks, before
/// last nodes in `streams` items.
const FORMAT_VERSIONS_UPGRADED: [u32; 3] = [1, 2, 3];

/// `meta` tree keys.
const META_APPLIED_INDEX: &[u8] = b"applied_index";
const META_FORMAT_VERSION: &[u8] = b"format_version";

/// sled's background flusher period. It stays on: it is the only caller of sled's segment
/// cleaner (without it the file grows forever), and writing data early never hurts, since
/// every commit is atomic (journaled) and carries its own applied index.
pub const FLUSH_EVERY_MS: u64 = 500;

pub const DEFAULT_CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// sled's segment size (also its I/O buffer size) for new databases: 2 MiB instead of sled's
/// 512 KiB. sled writes a page whose serialized size passes a quarter segment (128 KiB at
/// 512 KiB) to a blob file of its own, which [`Store::sync`] must then fsync, with the
/// `blobs/` directory; a leaf page holds up to 16 items, so 16 Raft log entries of ~9 KiB (a
/// batch of ~130 XADDs, as at `-P 16`) made a blob file for nearly every rewrite of the log's
/// last leaf: ~70 files a second in `xraft dev`, each created, fsynced and deleted. With 2 MiB
/// (blobs from 512 KiB on): +5-10% XADD throughput at `-P 16` and 5% less CPU per XADD;
/// 8 MiB was slower. sled keeps the size in its `conf` file and refuses to open a database
/// with another one, so an existing database keeps its own ([`stored_segment_size`]).
/// (`sled::Config::segment_size` is a hidden setting that sled's own tests shrink; sled
/// accepts any power of two up to 16 MiB.)
pub const SEGMENT_SIZE: usize = 2 * 1024 * 1024;

/// The segment size recorded in the `conf` file of the sled database in `dir` (lines of
/// `key: value`, then a 4-byte CRC that sled checks itself); `None` without a readable one
/// (sled then writes ours).
fn stored_segment_size(dir: &Path) -> Option<usize> {
    let bytes = std::fs::read(dir.join("conf")).ok()?;
    // sled ignores a file of 8 bytes or less and writes a new one.
    if bytes.len() <= 8 {
        return None;
    }
    let text = std::str::from_utf8(&bytes[..bytes.len() - 4]).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("segment_size: "))
        .and_then(|v| v.trim().parse().ok())
}

/// sled's configuration of the database in `dir` (path and segment size; the caller adds
/// the rest).
fn sled_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .segment_size(stored_segment_size(dir).unwrap_or(SEGMENT_SIZE))
}

/// Opens the sled database of a store directory as it is, without loading or checking it:
/// for tools and tests that inspect or edit the trees directly. The store must be closed.
pub fn open_raw_sled(dir: &Path) -> Result<sled::Db, StorageError> {
    Ok(sled_config(dir)
        .cache_capacity(DEFAULT_CACHE_CAPACITY_BYTES)
        .open()?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// sled's page cache size (sled's own default is 1 GiB).
    pub cache_capacity_bytes: u64,
    /// `false` skips every fsync/fdatasync in [`Store::sync`] (sled's `flush()` still runs,
    /// so a process crash loses nothing synced, a power loss may): tests and benchmarks only.
    pub fsync: bool,
}

/// TEST ONLY (the fault harness's positive control): when set, nothing is ever flushed —
/// no background flush, syncs return at once — and, to model that nothing ever reached the
/// disk (sled's own buffer writes would otherwise survive a kill -9 in the page cache), a
/// store opened again starts empty. So a restart loses acknowledged writes, which the
/// harness's checker must then report. Set once, before any store is opened.
static UNSAFE_NEVER_FLUSH: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// See [`UNSAFE_NEVER_FLUSH`]: makes this process's stores never durable. Test only.
pub fn set_unsafe_never_flush(on: bool) {
    UNSAFE_NEVER_FLUSH.store(on, std::sync::atomic::Ordering::SeqCst);
}

fn never_flush() -> bool {
    UNSAFE_NEVER_FLUSH.load(std::sync::atomic::Ordering::SeqCst)
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            cache_capacity_bytes: DEFAULT_CACHE_CAPACITY_BYTES,
            fsync: true,
        }
    }
}

/// Counters for INFO and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreStats {
    pub applied_index: u64,
    pub commits_total: u64,
    /// Items written / deleted by commits.
    pub items_put_total: u64,
    pub items_deleted_total: u64,
    pub syncs_total: u64,
    pub sync_seconds_total: f64,
    pub sync_seconds_max: f64,
    pub last_sync_seconds: f64,
    /// Blob files (pages too large for sled's log) fsynced by this store.
    pub blob_files_synced_total: u64,
    /// Size of the database files (log + blobs).
    pub disk_bytes: u64,
}

/// The durable copy of one keyspace. One writer: every method takes `&mut self`.
pub struct Store {
    trees: Trees,
    /// Shared with [`SyncHandle`]s (other writers of the same sled database).
    disk: Arc<Mutex<DiskSync>>,
    opts: StoreOptions,
    applied_index: u64,
    stats: StoreStats,
    sync_timings: Arc<Mutex<SyncTimings>>,
    /// The redo journal (see [`crate::journal`]), its next record number, and the chunk keys
    /// of the records before it, removed after the next commit's writes.
    journal: sled::Tree,
    journal_seq: u64,
    journal_outstanding: Vec<[u8; 12]>,
    /// Where each stream's entry chunks start and which node its `streams` item holds (see
    /// the `chunks` and `tails` modules).
    layout: Layout,
}

/// Sync counters, updated by whichever thread waits on a [`SyncTicket`].
#[derive(Debug, Default)]
struct SyncTimings {
    syncs_total: u64,
    sync_seconds_total: f64,
    sync_seconds_max: f64,
    last_sync_seconds: f64,
}

/// The slow half of a [`Store::sync`]: sled's `flush()` then `fdatasync`. Movable to another
/// thread; see [`Store::begin_sync`].
pub struct SyncTicket {
    db: sled::Db,
    disk: Option<DiskFlush>,
    timings: Arc<Mutex<SyncTimings>>,
}

impl SyncTicket {
    /// Folds an earlier, not yet waited-on ticket into this later one, so that one wait
    /// covers both (a flush makes everything written before it durable).
    pub fn absorb(&mut self, earlier: SyncTicket) {
        if let (Some(mine), Some(theirs)) = (self.disk.as_mut(), earlier.disk) {
            mine.absorb(theirs);
        }
    }

    /// Blocks until every commit made before the ticket was issued is durable.
    pub fn wait(self) -> Result<(), StorageError> {
        if never_flush() {
            return Ok(());
        }
        let start = Instant::now();
        self.db.flush()?;
        if let Some(disk) = &self.disk {
            disk.finish()?;
        }
        let secs = start.elapsed().as_secs_f64();
        if let Ok(mut t) = self.timings.lock() {
            t.syncs_total += 1;
            t.sync_seconds_total += secs;
            t.last_sync_seconds = secs;
            if secs > t.sync_seconds_max {
                t.sync_seconds_max = secs;
            }
        }
        Ok(())
    }
}

fn lock_disk(disk: &Mutex<DiskSync>) -> std::sync::MutexGuard<'_, DiskSync> {
    // A panic while holding the lock left no partial state worth refusing: DiskSync only
    // caches which blob files were synced.
    disk.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes everything written to one sled database so far durable (sled `flush()`, then
/// `fdatasync` of the `db` file, fsync of new blob files and of `blobs/`). Clonable and
/// shareable across threads; see [`Store::sync_handle`].
#[derive(Clone)]
pub struct SyncHandle {
    db: sled::Db,
    disk: Arc<Mutex<DiskSync>>,
    fsync: bool,
    timings: Arc<Mutex<SyncTimings>>,
}

impl SyncHandle {
    /// Blocks until every write made to the database before the call is durable.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.begin()?.wait()
    }

    /// The quick half of a sync (new blob files); the returned ticket does the rest.
    pub fn begin(&self) -> Result<SyncTicket, StorageError> {
        let disk = if self.fsync {
            Some(lock_disk(&self.disk).begin_sync()?)
        } else {
            None
        };
        Ok(SyncTicket {
            db: self.db.clone(),
            disk,
            timings: Arc::clone(&self.timings),
        })
    }
}

/// How long [`Store::open`] waits for the previous holder of the directory's file lock
/// (the same process reopening right after dropping its `Store`).
const OPEN_LOCK_WAIT: Duration = Duration::from_secs(5);

fn open_sled(dir: &Path, opts: &StoreOptions) -> Result<sled::Db, StorageError> {
    if never_flush() && dir.exists() {
        tracing::warn!(dir = %dir.display(), "unsafe never-flush mode: discarding what was never flushed");
        std::fs::remove_dir_all(dir).map_err(|source| StorageError::Io {
            op: "remove (never-flush mode)",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let config = sled_config(dir)
        .cache_capacity(opts.cache_capacity_bytes)
        .flush_every_ms((!never_flush()).then_some(FLUSH_EVERY_MS));
    let deadline = Instant::now() + OPEN_LOCK_WAIT;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::Other
                    && e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn read_u64(tree: &sled::Tree, key: &[u8]) -> Result<Option<u64>, StorageError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => {
            let a: [u8; 8] = v.as_ref().try_into().map_err(|_| {
                StorageError::corrupt(TreeId::Meta.name(), key, "not an 8-byte integer")
            })?;
            Ok(Some(u64::from_be_bytes(a)))
        }
    }
}

impl Store {
    /// Opens (creating) the database in `dir` and loads the full state.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<(Store, Db), StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io("create_dir_all", dir, e))?;
        let sled_db = open_sled(dir, &opts)?;
        let trees = Trees::open(sled_db)?;
        let meta = trees.get(TreeId::Meta);
        match meta.get(META_FORMAT_VERSION)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| {
                        StorageError::corrupt(
                            TreeId::Meta.name(),
                            META_FORMAT_VERSION,
                            "not a 4-byte integer",
                        )
                    })?;
                if FORMAT_VERSIONS_UPGRADED.contains(&found) {
                    meta.insert(META_FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes())?;
                    trees.db.flush()?;
                } else if found != FORMAT_VERSION {
                    return Err(StorageError::UnsupportedFormat {
                        found,
                        expected: FORMAT_VERSION,
                    });
                }
            }
            None => {
                meta.insert(META_FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes())?;
                trees.db.flush()?;
            }
        }
        let journal = trees.db.open_tree(journal::JOURNAL_TREE)?;
        let recovered = journal::recover(&trees, &journal)?;
        if recovered.replayed > 0 {
            tracing::info!(
                dir = %dir.display(),
                records = recovered.replayed,
                "storage: journal replayed"
            );
        }
        let applied_index = read_u64(meta, META_APPLIED_INDEX)?.unwrap_or(0);
        let load::Loaded { db, layout, legacy } = load::load(&trees)?;
        let mut disk = DiskSync::open(dir)?;
        if opts.fsync {
            disk.sync_after_open()?;
        }
        let disk = Arc::new(Mutex::new(disk));
        let stats = StoreStats {
            applied_index,
            ..StoreStats::default()
        };
        tracing::info!(
            dir = %dir.display(),
            applied_index,
            keys = db.len(),
            "storage opened"
        );
        let mut store = Store {
            trees,
            disk,
            opts,
            applied_index,
            stats,
            sync_timings: Arc::default(),
            journal,
            journal_seq: recovered.next_seq,
            journal_outstanding: recovered.leftover,
            layout,
        };
        if !legacy.is_empty() {
            // Upgrade: a journaled commit per stream rewrites it whole (its `entries` items
            // deleted, its entries written in chunks), so memory stays bounded by the largest
            // stream. A crash before the sync leaves each stream in the old layout or the new,
            // and a later open upgrades what is left.
            let streams = legacy.len();
            for key in legacy {
                store.commit(&db, &[Change::Key(key)], applied_index)?;
            }
            store.sync()?;
            tracing::info!(
                dir = %dir.display(),
                streams,
                "storage: entries rewritten in chunks (format {FORMAT_VERSION})"
            );
        }
        Ok((store, db))
    }

    /// Writes the items named by `changes` (as they are in `db` now) and `applied_index`,
    /// atomically across all trees (a crash leaves all of them or none: see
    /// [`crate::journal`]). Not yet durable: see [`Store::sync`].
    pub fn commit(
        &mut self,
        db: &Db,
        changes: &[Change],
        applied_index: u64,
    ) -> Result<(), StorageError> {
        self.commit_with_meta(db, changes, applied_index, &[])
    }

    /// [`Store::commit`], also writing `extra_meta` (key, value) items to the `meta` tree in
    /// the same atomic commit (the Raft state machine records its last applied log id and
    /// membership there). Keys must not collide with the store's own meta keys.
    pub fn commit_with_meta(
        &mut self,
        db: &Db,
        changes: &[Change],
        applied_index: u64,
        extra_meta: &[(&[u8], &[u8])],
    ) -> Result<(), StorageError> {
        let mut writes: Writes = batch::resolve(&self.trees, &mut self.layout, db, changes)?;
        let (puts, dels) = writes.counts();
        writes.put(
            TreeId::Meta,
            META_APPLIED_INDEX.to_vec(),
            applied_index.to_be_bytes().to_vec(),
        );
        for (k, v) in extra_meta {
            assert!(
                *k != META_APPLIED_INDEX && *k != META_FORMAT_VERSION,
                "extra meta key collides with the store's own"
            );
            writes.put(TreeId::Meta, k.to_vec(), v.to_vec());
        }
        // Atomic through the journal (see `crate::journal`): the record, the writes, then the
        // removal of the records before it, each step logged after the previous one. An
        // error here (sled's I/O failed) leaves this store unusable: both callers stop.
        let record = journal::encode(&writes);
        let seq = self.journal_seq;
        self.journal_seq += 1;
        let keys = journal::write_record(&self.journal, seq, &record)?;
        drop(record);
        journal::apply_writes(&self.trees, &writes)?;
        for k in std::mem::replace(&mut self.journal_outstanding, keys) {
            self.journal.remove(k)?;
        }
        if self.opts.fsync {
            lock_disk(&self.disk).sync_new_blobs_if_changed()?;
        }
        self.applied_index = applied_index;
        self.stats.applied_index = applied_index;
        self.stats.commits_total += 1;
        self.stats.items_put_total += puts;
        self.stats.items_deleted_total += dels;
        Ok(())
    }

    /// Makes everything committed so far durable: sled's `flush()` (on Linux only
    /// `sync_file_range`, sled issue #1452), then `fdatasync` of the `db` file and fsync of
    /// new blob files and of `blobs/`. Call once per group of commits.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.begin_sync()?.wait()
    }

    /// Starts a sync of everything committed so far and returns the slow part as a ticket
    /// that another thread may [`SyncTicket::wait`] on while this store goes on committing
    /// (pipelined group commit). When the ticket's wait returns, every commit made before
    /// `begin_sync` is durable.
    pub fn begin_sync(&mut self) -> Result<SyncTicket, StorageError> {
        // Every record's writes are complete: the records go (logged after the writes), and
        // a store reopened after this sync has nothing to replay.
        for k in std::mem::take(&mut self.journal_outstanding) {
            self.journal.remove(k)?;
        }
        let ticket = self.sync_handle().begin()?;
        self.stats.blob_files_synced_total = lock_disk(&self.disk).blob_files_synced_total;
        Ok(ticket)
    }

    /// A handle other writers of the same sled database (the Raft log store) use to make
    /// their writes durable with the same discipline.
    pub fn sync_handle(&self) -> SyncHandle {
        SyncHandle {
            db: self.trees.db.clone(),
            disk: Arc::clone(&self.disk),
            fsync: self.opts.fsync,
            timings: Arc::clone(&self.sync_timings),
        }
    }

    /// The underlying sled database, for trees the store does not own (names must not be
    /// one of the store's trees). Writes to them become durable through [`SyncHandle`].
    pub fn sled_db(&self) -> &sled::Db {
        &self.trees.db
    }

    /// Reads a `meta` item written with [`Store::commit_with_meta`].
    pub fn meta(&self, key: &[u8]) -> Result<Option<sled::IVec>, StorageError> {
        Ok(self.trees.get(TreeId::Meta).get(key)?)
    }

    /// The index passed to the last successful [`Store::commit`] (or loaded at open).
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    pub fn stats(&self) -> StoreStats {
        let mut s = self.stats;
        if let Ok(t) = self.sync_timings.lock() {
            s.syncs_total = t.syncs_total;
            s.sync_seconds_total = t.sync_seconds_total;
            s.sync_seconds_max = t.sync_seconds_max;
            s.last_sync_seconds = t.last_sync_seconds;
        }
        s.disk_bytes = self.trees.db.size_on_disk().unwrap_or(0);
        s
    }
}
