//! Entries are stored many to an item: a *chunk* holds the consecutive entries of one stream
//! from its first ID (the item's key, `lp(key) id`) up to the next chunk's first ID.
//!
//! Why. sled 0.34 splits a leaf once it holds more than 16 items, so with one item per entry
//! an XADD workload split a leaf every 8 inserts, and each split rewrote the parent index
//! node. On a Raft replica, whose state machine commits every 50 ms, one item per entry was
//! also one sled insert per entry: skipping those inserts doubled the 3-node cluster's
//! throughput at `-P 16` (measured on 2 cores: 44-59k against 106-114k XADD/s). With
//! chunks, the entries a commit adds to a stream are one insert per chunk they touch.
//!
//! A chunk is rewritten whole when any entry in its range is added or deleted, so it is kept
//! small: an entry starts a new chunk when the last one holds [`CHUNK_MAX_ENTRIES`] entries
//! or the entry would take it past [`CHUNK_MAX_BYTES`] bytes (so an entry larger than that
//! has a chunk of its own). Where chunks start is this replica's own choice (the log holds
//! operations, not layout), remembered in a [`ChunkIndex`] rebuilt at load.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use streams::{Fields, Stream, StreamId};

use crate::batch::Writes;
use crate::codec;
use crate::trees::TreeId;

/// Entries in a chunk before the next entry starts a new one.
pub(crate) const CHUNK_MAX_ENTRIES: u32 = 32;
/// Bytes (as encoded) in a chunk before the next entry starts a new one.
pub(crate) const CHUNK_MAX_BYTES: usize = 2048;

/// What a chunk held when last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkInfo {
    entries: u32,
    bytes: usize,
    /// Its highest entry ID.
    max: StreamId,
}

impl ChunkInfo {
    /// What a chunk holding `entries` (in increasing ID order; at least one) holds.
    fn of<'a>(entries: impl Iterator<Item = (&'a StreamId, &'a Fields)>) -> Option<ChunkInfo> {
        let mut info: Option<ChunkInfo> = None;
        for (id, fields) in entries {
            let i = info.get_or_insert(ChunkInfo {
                entries: 0,
                bytes: 0,
                max: *id,
            });
            i.entries += 1;
            i.bytes += codec::chunk_entry_len(fields);
            i.max = *id;
        }
        info
    }

    /// Whether an entry of `len` bytes starts a new chunk rather than joining this one (an
    /// entry larger than a chunk gets one of its own, so rewriting its neighbours never
    /// rewrites it).
    fn full_for(&self, len: usize) -> bool {
        self.entries >= CHUNK_MAX_ENTRIES || self.bytes + len > CHUNK_MAX_BYTES
    }
}

/// Where each stream's chunks start, as on disk (after the commit being resolved).
#[derive(Debug, Default)]
pub(crate) struct ChunkIndex {
    streams: HashMap<Bytes, BTreeMap<StreamId, ChunkInfo>>,
}

impl ChunkIndex {
    pub(crate) fn clear(&mut self) {
        self.streams.clear();
    }

    pub(crate) fn forget(&mut self, key: &[u8]) {
        self.streams.remove(key);
    }

    /// Records a chunk found at load (its entries in increasing order).
    pub(crate) fn loaded(&mut self, key: &Bytes, start: StreamId, entries: &[(StreamId, Fields)]) {
        if let Some(info) = ChunkInfo::of(entries.iter().map(|(id, f)| (id, f))) {
            self.streams
                .entry(key.clone())
                .or_default()
                .insert(start, info);
        }
    }

    /// Writes every entry of `s` in fresh chunks. What was on disk for the key must be
    /// deleted by the caller (a whole-key rewrite).
    pub(crate) fn put_all(&mut self, w: &mut Writes, key: &Bytes, s: &Stream) {
        let mut chunks = BTreeMap::new();
        let mut open: Option<(StreamId, ChunkInfo)> = None;
        let mut flush = |w: &mut Writes, start: StreamId, info: ChunkInfo| {
            let range = s.entries().range(start..=info.max);
            w.put(
                TreeId::Chunks,
                codec::id_key(key, &start),
                codec::encode_chunk(range, info.bytes),
            );
            chunks.insert(start, info);
        };
        for (id, fields) in s.entries() {
            let len = codec::chunk_entry_len(fields);
            match open.as_mut() {
                Some((_, info)) if !info.full_for(len) => {
                    info.entries += 1;
                    info.bytes += len;
                    info.max = *id;
                }
                _ => {
                    if let Some((start, info)) = open.take() {
                        flush(w, start, info);
                    }
                    open = Some((
                        *id,
                        ChunkInfo {
                            entries: 1,
                            bytes: len,
                            max: *id,
                        },
                    ));
                }
            }
        }
        if let Some((start, info)) = open {
            flush(w, start, info);
        }
        if chunks.is_empty() {
            self.streams.remove(key.as_ref());
        } else {
            self.streams.insert(key.clone(), chunks);
        }
    }

    /// Writes the chunks holding `ids` (entries added or deleted since the last commit) as
    /// they are in `s` now; `None`: the stream is gone, and so are all its chunks.
    pub(crate) fn put_changed(
        &mut self,
        w: &mut Writes,
        key: &Bytes,
        s: Option<&Stream>,
        ids: &BTreeSet<StreamId>,
    ) {
        let Some(s) = s else {
            for start in self
                .streams
                .remove(key.as_ref())
                .unwrap_or_default()
                .into_keys()
            {
                w.del(TreeId::Chunks, codec::id_key(key, &start));
            }
            return;
        };
        let chunks = self.streams.entry(key.clone()).or_default();
        // Which chunks to rewrite; new entries past a full last chunk open new ones.
        let mut touched = BTreeSet::new();
        for id in ids {
            let holder = chunks.range_mut(..=*id).next_back();
            let fields = s.entry(id);
            let len = fields.map_or(0, |f| codec::chunk_entry_len(f));
            match (fields, holder) {
                (None, Some((start, _))) => {
                    touched.insert(*start);
                }
                (None, None) => {}
                (Some(_), Some((start, info))) if !info.full_for(len) || *id <= info.max => {
                    if *id > info.max {
                        info.entries += 1;
                        info.bytes += len;
                        info.max = *id;
                    }
                    touched.insert(*start);
                }
                // Past a full holder (or before any chunk): a new chunk at `id`. An `id`
                // inside the holder's written range took the arm above, so no chunk's range
                // ever splits.
                (Some(_), _) => {
                    let info = ChunkInfo {
                        entries: 1,
                        bytes: len,
                        max: *id,
                    };
                    chunks.insert(*id, info);
                    touched.insert(*id);
                }
            }
        }
        for start in touched {
            let end = chunks
                .range((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
                .next()
                .map(|(next, _)| *next);
            let entries = match end {
                Some(end) => s.entries().range(start..end),
                None => s.entries().range(start..),
            };
            let k = codec::id_key(key, &start);
            match ChunkInfo::of(entries.clone()) {
                None => {
                    chunks.remove(&start);
                    w.del(TreeId::Chunks, k);
                }
                Some(info) => {
                    chunks.insert(start, info);
                    w.put(TreeId::Chunks, k, codec::encode_chunk(entries, info.bytes));
                }
            }
        }
        if chunks.is_empty() {
            self.streams.remove(key.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(ids: impl IntoIterator<Item = (u64, usize)>) -> Stream {
        let mut s = Stream::new();
        for (ms, size) in ids {
            s.append(
                StreamId::new(ms, 0),
                vec![Bytes::from_static(b"f"), Bytes::from(vec![b'v'; size])],
                100,
            );
        }
        s
    }

    /// The chunk items written: (first ID's ms, entries in it), or `None` for a delete.
    fn written(w: &Writes) -> Vec<(u64, Option<usize>)> {
        w.iter()
            .filter(|(t, _, _)| *t == TreeId::Chunks)
            .map(|(_, k, v)| {
                let (_, start) = codec::decode_id_key(k).unwrap();
                (start.ms, v.map(|v| codec::decode_chunk(v).unwrap().len()))
            })
            .collect()
    }

    #[test]
    fn a_whole_stream_is_cut_by_count_and_size() {
        let key = Bytes::from_static(b"k");
        let mut small: Vec<(u64, usize)> = (1..=70).map(|ms| (ms, 1)).collect();
        small.extend([(71, 3000), (72, 1)]);
        let s = stream(small);
        let mut index = ChunkIndex::default();
        let mut w = Writes::default();
        index.put_all(&mut w, &key, &s);
        assert_eq!(
            written(&w),
            [
                (1, Some(32)),
                (33, Some(32)),
                (65, Some(6)),
                (71, Some(1)),
                (72, Some(1))
            ]
        );
    }

    #[test]
    fn appends_fill_the_last_chunk_then_open_new_ones_and_deletes_rewrite_or_remove() {
        let key = Bytes::from_static(b"k");
        let mut s = stream((1..=30).map(|ms| (ms, 1)));
        let mut index = ChunkIndex::default();
        index.put_all(&mut Writes::default(), &key, &s);

        for ms in 31..=70 {
            s.append(StreamId::new(ms, 0), vec![Bytes::from_static(b"f")], 100);
        }
        let added: BTreeSet<StreamId> = (31..=70).map(|ms| StreamId::new(ms, 0)).collect();
        let mut w = Writes::default();
        index.put_changed(&mut w, &key, Some(&s), &added);
        assert_eq!(written(&w), [(1, Some(32)), (33, Some(32)), (65, Some(6))]);

        // Empty the middle chunk, trim one entry from the first.
        let mut gone = BTreeSet::new();
        for ms in (33..=64).chain([2]) {
            let id = StreamId::new(ms, 0);
            assert!(s.remove_entry(&id));
            gone.insert(id);
        }
        let mut w = Writes::default();
        index.put_changed(&mut w, &key, Some(&s), &gone);
        assert_eq!(written(&w), [(1, Some(31)), (33, None)]);

        // The stream gone: every chunk left is deleted.
        let mut w = Writes::default();
        index.put_changed(&mut w, &key, None, &BTreeSet::new());
        assert_eq!(written(&w), [(1, None), (65, None)]);
        assert!(index.streams.is_empty());
    }
}
