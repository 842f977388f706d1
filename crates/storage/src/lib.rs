//! # storage: the durable copy of a keyspace in sled
//!
//! Owns the on-disk layout (trees, key and value encodings), the atomic write of each
//! command's changes together with the applied index, the fsync discipline, and loading the
//! whole [`streams::Db`] back at start-up. The engine keeps the state in memory, like Redis;
//! this crate only mirrors it. It must never depend on Raft, the network, tokio or the
//! server: it sees a [`streams::Db`], a list of [`streams::Change`]s and an index.
//!
//! It also holds the broker's wall clock ([`clock::wall_clock_ms`]), being the lowest crate
//! that the server, the Raft groups and the node share (the engine below is pure); fault
//! builds (feature `fault-injection`) shift that clock by an injectable offset.
//!
//! ```text
//!  engine apply ──▶ db.take_changes() ──▶ Store::commit(db, changes, index)   atomic:
//!                                             │ resolve each address against db now:  journal
//!                                             │ put the current value or delete it    record,
//!                                             ▼                                       then plain
//!  once per group of commits ─────────▶ Store::sync()   sled flush + fdatasync   inserts
//!  start-up ◀── (Store, Db) ◀── Store::open(dir)  replay the journal, load every tree, check
//! ```
//!
//! ## Layout
//!
//! One sled database per directory (one per Raft group replica later), with these trees
//! (`lp(x)` = `u32` big-endian length + bytes, `id` = 16-byte big-endian stream ID):
//!
//! | tree        | key                                | value                                   |
//! |-------------|------------------------------------|-----------------------------------------|
//! | `meta`      | `applied_index`, `format_version`  | `u64` / `u32` big-endian                |
//! | `streams`   | `lp(key)`                          | type tag, last_id, entries_added, max_deleted_id [, last node: master-id, count, live] |
//! | `chunks`    | `lp(key) first-id`                 | per entry: `id`, `u32` count + `lp(field)`... |
//! | `entries`   | `lp(key) id` (format 2; upgraded)  | `u32` count + `lp(field)`...            |
//! | `nodes`     | `lp(key) master-id` (not the last) | count, live                             |
//! | `groups`    | `lp(key) lp(group)`                | last_id, entries_read (flag + `u64`)    |
//! | `pel`       | `lp(key) lp(group) id`             | delivery_time, delivery_count, consumer |
//! | `cpel`      | `lp(key) lp(group) lp(consumer) id`| empty                                   |
//! | `consumers` | `lp(key) lp(group) lp(consumer)`   | seen_time, active_time (`i64`)          |
//! | `kv`        | `lp(key)`                          | type tag + string / list / set          |
//! | `journal`   | record `u64`, chunk `u32`          | chunk count + part of a commit's writes |
//!
//! Entries are stored many to an item, in chunks of at most 32 entries or 2 KiB (see the
//! `chunks` module: sled splits a leaf past 16 items, and one item per entry made a sled
//! insert per entry; chunks doubled the cluster's XADD throughput at `-P 16`). Databases of
//! format 2 (one `entries` item per entry) are rewritten in chunks when opened. A stream's
//! last node is kept in its `streams` item (format 4, see the `tails` module): a commit of
//! XADDs then writes two items per stream (metadata with the last node, the last chunk)
//! instead of three.
//!
//! Every value starts with a version byte ([`codec::VALUE_VERSION`]). All items of a key share
//! the prefix `lp(key)`, all items of a group `lp(key) lp(group)`, and within a prefix items
//! sort by ID, so deleting a key, group or consumer is a prefix scan and range reads follow ID
//! order. Decoding never panics: corrupt bytes make [`Store::open`] fail with a
//! [`StorageError::Corrupt`] naming the tree and key. After loading, every stream must pass
//! [`streams::Stream::check_invariants`] and the `cpel` index must match the PEL exactly.
//!
//! ## Atomicity
//!
//! [`Store::commit`] first writes a redo record of all its writes to the `journal` tree, then
//! the writes themselves as plain sled inserts and removes, then removes the records before
//! it; [`Store::open`] replays whole records before loading (see the `journal` module for
//! why this is atomic: sled recovers a prefix of its log). A crash therefore leaves a prefix
//! of the committed batches, each whole (tested by killing a writer process and by copying
//! the files mid-stream; without the replay the copies load torn batches). This replaced
//! one multi-tree sled transaction per commit, which costs sled two extra I/O-buffer writes
//! (and two wake-ups of its whole I/O threadpool) per commit: +18-22% XADD throughput on a
//! single node.
//!
//! ## Durability (sled 0.34.7 investigation)
//!
//! Files sled creates in the directory: `conf` (segment size, version), `db` (the log-
//! structured page file), `snap.<lsn>` (a recovery snapshot written at open), `blobs/<lsn>`
//! (pages whose serialized size exceeds `segment_size / 4 - 20` bytes: ~512 KiB with our
//! 2 MiB segments, [`SEGMENT_SIZE`]; ~128 KiB with sled's default 512 KiB, which databases
//! created before keep; leaf pages hold up to 16 items, so 16 items of ~32 KiB already
//! produce blobs).
//! - `Db::flush()` writes the IO buffers with `pwrite` + `sync_file_range` (sled #1452): no
//!   disk cache flush, no metadata. [`Store::sync`] adds `fdatasync(db)`.
//! - Blob files are written with `write_all` and never fsynced by sled, nor is `blobs/`.
//!   [`Store::commit`] checks `blobs/` (one `stat`) and fsyncs new blob files right away, so
//!   a blob is on disk before the log record pointing to it can be; [`Store::sync`] also
//!   fsyncs `blobs/`. A tiny window remains (sled's background flusher may fsync the log
//!   between sled writing a blob and our fsync of it); a replica that hits it fails to open
//!   with a clear error and is re-seeded from its peers.
//! - `conf`, the directory entries and the snapshot rename are fsynced once at open.
//! - The background flusher (`flush_every_ms`) stays on ([`FLUSH_EVERY_MS`]): it is the only
//!   caller of sled's segment cleaner (without it the file never shrinks) and it only makes
//!   whole batches durable earlier, which is harmless.

mod batch;
mod chunks;
pub mod clock;
pub mod codec;
mod durable;
mod error;
mod journal;
mod load;
mod store;
mod tails;
mod trees;

pub use codec::DecodeError;
pub use error::StorageError;
pub use store::{
    open_raw_sled, set_unsafe_never_flush, Store, StoreOptions, StoreStats, SyncHandle, SyncTicket,
    DEFAULT_CACHE_CAPACITY_BYTES, FLUSH_EVERY_MS, FORMAT_VERSION, SEGMENT_SIZE,
};
