//! Turns a list of changed item addresses into per-tree writes: each address is resolved
//! against the current [`Db`] (put its value, or delete it when it no longer exists).
//!
//! Every put carries a *current* value and every delete names an item that does not exist
//! now, so a put and a delete never contradict each other, whatever the order of the
//! addresses; the one exception is a whole-key rewrite (`Key`), which deletes what is on disk
//! for the key and then puts the current value, the puts overriding the deletes in the map.
//! Only the last `FlushAll` matters: everything that exists after it was touched after it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use streams::{Change, Db, Stream, StreamChange, StreamId, Value};

use crate::chunks::ChunkIndex;
use crate::codec;
use crate::error::StorageError;
use crate::tails::TailIndex;
use crate::trees::{TreeId, Trees, TREE_COUNT};

/// The writes of one commit, per tree, in key order. `None` deletes.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    maps: [BTreeMap<Vec<u8>, Option<Vec<u8>>>; TREE_COUNT],
}

impl Writes {
    pub(crate) fn put(&mut self, t: TreeId, k: Vec<u8>, v: Vec<u8>) {
        self.maps[t as usize].insert(k, Some(v));
    }

    pub(crate) fn del(&mut self, t: TreeId, k: Vec<u8>) {
        self.maps[t as usize].insert(k, None);
    }

    /// Deletes every item of tree `t` whose key starts with `prefix`, as on disk now.
    fn del_prefix(&mut self, trees: &Trees, t: TreeId, prefix: &[u8]) -> Result<(), StorageError> {
        for k in trees.get(t).scan_prefix(prefix).keys() {
            self.del(t, k?.to_vec());
        }
        Ok(())
    }

    /// `(puts, deletes)`.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let mut puts = 0;
        let mut dels = 0;
        for m in &self.maps {
            for v in m.values() {
                if v.is_some() {
                    puts += 1;
                } else {
                    dels += 1;
                }
            }
        }
        (puts, dels)
    }

    /// Every write, tree by tree (in [`TreeId::ALL`] order), in key order within a tree.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TreeId, &[u8], Option<&Vec<u8>>)> {
        TreeId::ALL
            .into_iter()
            .zip(&self.maps)
            .flat_map(|(t, m)| m.iter().map(move |(k, v)| (t, k.as_slice(), v.as_ref())))
    }
}

/// Where a replica's streams are laid out on disk beyond what the items say: where entry
/// chunks start, which node each `streams` item holds. In memory, rebuilt at load.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub(crate) chunks: ChunkIndex,
    pub(crate) tails: TailIndex,
}

impl Layout {
    fn clear(&mut self) {
        self.chunks.clear();
        self.tails.clear();
    }

    fn forget(&mut self, key: &[u8]) {
        self.chunks.forget(key);
        self.tails.forget(key);
    }
}

/// Resolves `changes` against `db` (and, for deletions by prefix, what `trees` hold now).
/// `layout` is brought up to date with the writes.
pub(crate) fn resolve(
    trees: &Trees,
    layout: &mut Layout,
    db: &Db,
    changes: &[Change],
) -> Result<Writes, StorageError> {
    let mut w = Writes::default();
    let rest = match changes.iter().rposition(|c| matches!(c, Change::FlushAll)) {
        Some(i) => {
            layout.clear();
            for t in TreeId::DATA {
                for k in trees.get(t).iter().keys() {
                    w.del(t, k?.to_vec());
                }
            }
            &changes[i + 1..]
        }
        None => changes,
    };
    let mut seen: HashSet<&Change> = HashSet::with_capacity(rest.len());
    // Entries added or deleted, by stream: written chunk by chunk at the end, except for
    // keys rewritten whole.
    let mut entries: HashMap<&Bytes, BTreeSet<StreamId>> = HashMap::new();
    // Streams whose metadata or nodes changed (the nodes, by master ID): their `streams`
    // item holds the last node (see the `tails` module), so both are written at the end.
    let mut metas: HashMap<&Bytes, BTreeSet<StreamId>> = HashMap::new();
    let mut rewritten: HashSet<&Bytes> = HashSet::new();
    for c in rest {
        if !seen.insert(c) {
            continue;
        }
        match c {
            Change::FlushAll => {}
            Change::Key(k) => {
                if rewritten.insert(k) {
                    rewrite_key(&mut w, trees, layout, db, k)?;
                }
            }
            Change::Stream(k, StreamChange::Entry(id)) => {
                entries.entry(k).or_default().insert(*id);
            }
            Change::Stream(k, StreamChange::Meta) => {
                metas.entry(k).or_default();
            }
            Change::Stream(k, StreamChange::Node(m)) => {
                metas.entry(k).or_default().insert(*m);
            }
            Change::Stream(k, sc) => stream_item(&mut w, trees, db, k, sc)?,
        }
    }
    for (k, ids) in entries {
        if !rewritten.contains(k) {
            layout.chunks.put_changed(&mut w, k, stream_of(db, k), &ids);
        }
    }
    for (k, nodes) in metas {
        if !rewritten.contains(k) {
            layout.tails.put_meta(&mut w, k, stream_of(db, k), &nodes);
        }
    }
    Ok(w)
}

fn stream_of<'a>(db: &'a Db, key: &[u8]) -> Option<&'a Stream> {
    match db.get(key) {
        Some(Value::Stream(s)) => Some(&**s),
        _ => None,
    }
}

/// Deletes everything of `key` on disk, then writes its current value whole.
fn rewrite_key(
    w: &mut Writes,
    trees: &Trees,
    layout: &mut Layout,
    db: &Db,
    key: &Bytes,
) -> Result<(), StorageError> {
    let prefix = codec::key_prefix(key);
    w.del(TreeId::Streams, prefix.clone());
    w.del(TreeId::Kv, prefix.clone());
    for t in [
        TreeId::Entries,
        TreeId::Chunks,
        TreeId::Nodes,
        TreeId::Groups,
        TreeId::Pel,
        TreeId::Cpel,
        TreeId::Consumers,
    ] {
        w.del_prefix(trees, t, &prefix)?;
    }
    layout.forget(key);
    match db.get(key) {
        None => {}
        Some(Value::Stream(s)) => put_stream(w, layout, key, s),
        Some(v) => {
            if let Some(enc) = codec::encode_kv(v) {
                w.put(TreeId::Kv, prefix, enc);
            }
        }
    }
    Ok(())
}

/// Every item of a stream.
fn put_stream(w: &mut Writes, layout: &mut Layout, key: &Bytes, s: &Stream) {
    layout.tails.put_all(w, key, s);
    layout.chunks.put_all(w, key, s);
    for (gname, g) in s.groups() {
        w.put(
            TreeId::Groups,
            codec::group_key(key, gname),
            codec::encode_group(&g.last_id, g.entries_read),
        );
        for (id, nack) in g.pel() {
            w.put(
                TreeId::Pel,
                codec::pel_key(key, gname, id),
                codec::encode_nack(nack),
            );
        }
        for (cname, c) in g.consumers() {
            w.put(
                TreeId::Consumers,
                codec::consumer_key(key, gname, cname),
                codec::encode_consumer(c.seen_time, c.active_time),
            );
            for id in c.pel() {
                w.put(
                    TreeId::Cpel,
                    codec::cpel_key(key, gname, cname, id),
                    codec::CPEL_VALUE.to_vec(),
                );
            }
        }
    }
}

/// One item of a stream, as it is now.
fn stream_item(
    w: &mut Writes,
    trees: &Trees,
    db: &Db,
    key: &[u8],
    sc: &StreamChange,
) -> Result<(), StorageError> {
    let s = match db.get(key) {
        Some(Value::Stream(s)) => Some(&**s),
        _ => None,
    };
    match sc {
        // Written at the end of `resolve`, once per stream: entries by chunk, metadata and
        // nodes together (the last node is in the `streams` item).
        StreamChange::Entry(_) => unreachable!("entries are resolved by chunk"),
        StreamChange::Meta | StreamChange::Node(_) => {
            unreachable!("metadata and nodes are resolved per stream")
        }
        StreamChange::Group(g) => {
            let k = codec::group_key(key, g);
            match s.and_then(|s| s.group(g)) {
                Some(grp) => w.put(
                    TreeId::Groups,
                    k,
                    codec::encode_group(&grp.last_id, grp.entries_read),
                ),
                None => {
                    // The group and everything under it.
                    for t in [TreeId::Pel, TreeId::Consumers, TreeId::Cpel] {
                        w.del_prefix(trees, t, &k)?;
                    }
                    w.del(TreeId::Groups, k);
                }
            }
        }
        StreamChange::Pel(g, id) => {
            let k = codec::pel_key(key, g, id);
            match s.and_then(|s| s.group(g)).and_then(|grp| grp.pel().get(id)) {
                Some(n) => w.put(TreeId::Pel, k, codec::encode_nack(n)),
                None => w.del(TreeId::Pel, k),
            }
        }
        StreamChange::Consumer(g, c) => {
            let k = codec::consumer_key(key, g, c);
            match s.and_then(|s| s.group(g)).and_then(|grp| grp.consumer(c)) {
                Some(cons) => w.put(
                    TreeId::Consumers,
                    k,
                    codec::encode_consumer(cons.seen_time, cons.active_time),
                ),
                None => {
                    // The consumer and its PEL index.
                    w.del_prefix(trees, TreeId::Cpel, &k)?;
                    w.del(TreeId::Consumers, k);
                }
            }
        }
        StreamChange::ConsumerPel(g, c, id) => {
            let k = codec::cpel_key(key, g, c, id);
            let owned = s
                .and_then(|s| s.group(g))
                .and_then(|grp| grp.consumer(c))
                .is_some_and(|cons| cons.pel().contains(id));
            if owned {
                w.put(TreeId::Cpel, k, codec::CPEL_VALUE.to_vec());
            } else {
                w.del(TreeId::Cpel, k);
            }
        }
    }
    Ok(())
}
