//! A stream's last node is stored in its `streams` item, with its metadata (format 4).
//!
//! Every XADD changes the stream's metadata (last ID, entries added) and the counters of its
//! last node (see the node model, `streams::Node`): stored apart, each commit wrote both
//! items for every stream it touched, besides the entries' chunk. Stored together, a commit
//! of XADDs writes two items per stream instead of three (+5-10% XADD throughput on a single
//! node at `-P 1`).
//!
//! The rule: the `nodes` tree holds every node of a stream except its last one, which is in
//! the stream's `streams` item ([`codec::TAG_STREAM_TAIL`]). When the last node changes
//! (a new node is opened, or the last one is deleted), the node that stops being the last is
//! written to `nodes`, and the one that becomes the last is deleted from it. [`TailIndex`]
//! remembers, per stream, which node its `streams` item holds as on disk, so that a commit
//! knows what moved without reading sled.
//!
//! Format 3 databases (every node in `nodes`, no tail in `streams`) load as they are: their
//! first commit for a stream moves its last node into the `streams` item.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use streams::{Stream, StreamId};

use crate::batch::Writes;
use crate::codec;
use crate::trees::TreeId;

/// Per stream, the master ID of the node stored in its `streams` item (after the commit
/// being resolved). A stream without an entry has no tail.
#[derive(Debug, Default)]
pub(crate) struct TailIndex {
    streams: HashMap<Bytes, StreamId>,
}

impl TailIndex {
    pub(crate) fn clear(&mut self) {
        self.streams.clear();
    }

    pub(crate) fn forget(&mut self, key: &[u8]) {
        self.streams.remove(key);
    }

    /// Records the tail found in a `streams` item at load.
    pub(crate) fn loaded(&mut self, key: &Bytes, tail: Option<StreamId>) {
        match tail {
            Some(master) => {
                self.streams.insert(key.clone(), master);
            }
            None => {
                self.streams.remove(key.as_ref());
            }
        }
    }

    /// Writes the `streams` item and every node of `s`. What was on disk for the key must
    /// be deleted by the caller (a whole-key rewrite).
    pub(crate) fn put_all(&mut self, w: &mut Writes, key: &Bytes, s: &Stream) {
        let tail = s.nodes().last_key_value();
        w.put(
            TreeId::Streams,
            codec::key_prefix(key),
            codec::encode_stream_meta(&s.meta(), tail),
        );
        for (m, n) in s.nodes() {
            if Some(m) != tail.map(|(t, _)| t) {
                w.put(TreeId::Nodes, codec::id_key(key, m), codec::encode_node(n));
            }
        }
        self.loaded(key, tail.map(|(m, _)| *m));
    }

    /// Writes the `streams` item of `key` as `s` is now (`None`: the stream is gone), and the
    /// `nodes` items that must change: the nodes in `changed` (their counters changed, or
    /// they were opened or deleted) other than the last one, the node that became the last
    /// (deleted from `nodes`), and the one that stopped being the last (written there).
    pub(crate) fn put_meta(
        &mut self,
        w: &mut Writes,
        key: &Bytes,
        s: Option<&Stream>,
        changed: &BTreeSet<StreamId>,
    ) {
        let node_key = |m: &StreamId| codec::id_key(key, m);
        let Some(s) = s else {
            w.del(TreeId::Streams, codec::key_prefix(key));
            for m in changed {
                w.del(TreeId::Nodes, node_key(m));
            }
            if let Some(old) = self.streams.remove(key.as_ref()) {
                w.del(TreeId::Nodes, node_key(&old));
            }
            return;
        };
        let tail = s.nodes().last_key_value();
        let tail_id = tail.map(|(m, _)| *m);
        w.put(
            TreeId::Streams,
            codec::key_prefix(key),
            codec::encode_stream_meta(&s.meta(), tail),
        );
        let put_node = |w: &mut Writes, m: &StreamId| match s.nodes().get(m) {
            Some(n) => w.put(TreeId::Nodes, node_key(m), codec::encode_node(n)),
            None => w.del(TreeId::Nodes, node_key(m)),
        };
        for m in changed {
            if Some(*m) != tail_id {
                put_node(w, m);
            }
        }
        let old = self.streams.get(key.as_ref()).copied();
        if old != tail_id {
            if let Some(old) = old {
                // No longer the last node: into `nodes` (or deleted from it if it is gone).
                put_node(w, &old);
            }
            if let Some(new) = tail_id {
                // Now the last node: only in the `streams` item (a format 3 database, or a
                // node that was not the last before, has it in `nodes` too).
                w.del(TreeId::Nodes, node_key(&new));
            }
        }
        self.loaded(key, tail_id);
    }
}
