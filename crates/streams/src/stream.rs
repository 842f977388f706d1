//! The in-memory model of one stream: entries, the node ("listpack") layout, consumer groups,
//! their PELs and consumers. Every mutation goes through a method here, and each method records
//! which persisted items it touched (see [`StreamChange`]) so that the storage layer can write
//! exactly those items, as they are after the command, in one atomic batch.
//!
//! Invariants (checked by [`Stream::check_invariants`] in tests):
//! - `last_id >= ` every entry ID;
//! - every entry lives in exactly one node, the one with the greatest master ID <= its ID;
//!   a node's `live` equals the number of its entries and is never 0;
//! - every group PEL entry is owned by exactly one consumer whose `pel` holds its ID, and
//!   every ID in a consumer's `pel` is in the group PEL with that owner.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::id::StreamId;

/// Field/value pairs of one entry, flattened: `[f1, v1, f2, v2, ...]`.
pub type Fields = Vec<Bytes>;

/// A macro node: entries appended to it (deleted ones included, as Redis counts them) and
/// those still live. Keyed by its master (first) ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    pub count: u64,
    pub live: u64,
}

/// A pending entry (NACK).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Nack {
    pub consumer: Bytes,
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Consumer {
    pub seen_time: u64,
    /// -1 = never active.
    pub active_time: i64,
    pel: BTreeSet<StreamId>,
}

impl Consumer {
    pub fn new(seen_time: u64, active_time: i64) -> Consumer {
        Consumer {
            seen_time,
            active_time,
            pel: BTreeSet::new(),
        }
    }
    /// The IDs this consumer owns in the group PEL.
    pub fn pel(&self) -> &BTreeSet<StreamId> {
        &self.pel
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Group {
    pub last_id: StreamId,
    /// `None` = invalid (shown as null).
    pub entries_read: Option<u64>,
    pel: BTreeMap<StreamId, Nack>,
    consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }
    pub fn pel(&self) -> &BTreeMap<StreamId, Nack> {
        &self.pel
    }
    pub fn consumers(&self) -> &BTreeMap<Bytes, Consumer> {
        &self.consumers
    }
    pub fn consumer(&self, name: &[u8]) -> Option<&Consumer> {
        self.consumers.get(name)
    }
}

/// Which persisted item of a stream a mutation touched. The storage layer writes the item's
/// current value (or deletes it when it no longer exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamChange {
    /// last_id, entries_added, max_deleted_id.
    Meta,
    Entry(StreamId),
    /// A node by master ID.
    Node(StreamId),
    /// Group metadata (last_id, entries_read). If the group no longer exists, the group and
    /// everything under it (PEL, consumers, consumer PELs) is deleted.
    Group(Bytes),
    /// A group PEL entry.
    Pel(Bytes, StreamId),
    /// Consumer metadata (seen/active time). If the consumer no longer exists, it and its
    /// consumer-PEL index are deleted.
    Consumer(Bytes, Bytes),
    /// One (group, consumer, id) item of the PEL-by-consumer index.
    ConsumerPel(Bytes, Bytes, StreamId),
}

/// Persisted stream-level metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StreamMeta {
    pub last_id: StreamId,
    pub entries_added: u64,
    pub max_deleted_id: StreamId,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Stream {
    entries: BTreeMap<StreamId, Fields>,
    nodes: BTreeMap<StreamId, Node>,
    meta: StreamMeta,
    groups: BTreeMap<Bytes, Group>,
    #[serde(skip)]
    changes: Vec<StreamChange>,
    /// The metadata changed since the last [`Stream::take_changes`] (recorded once, at the
    /// end, not once per XADD).
    #[serde(skip)]
    meta_changed: bool,
    /// The node of the last `Node` change recorded: XADDs filling one node record it once.
    #[serde(skip)]
    last_node_change: Option<StreamId>,
}

/// Streams compare by content, not by their pending change lists.
impl PartialEq for Stream {
    fn eq(&self, other: &Stream) -> bool {
        self.entries == other.entries
            && self.nodes == other.nodes
            && self.meta == other.meta
            && self.groups == other.groups
    }
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    // ---------------------------------------------------------------- reads

    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn entries(&self) -> &BTreeMap<StreamId, Fields> {
        &self.entries
    }
    pub fn entry(&self, id: &StreamId) -> Option<&Fields> {
        self.entries.get(id)
    }
    pub fn nodes(&self) -> &BTreeMap<StreamId, Node> {
        &self.nodes
    }
    pub fn meta(&self) -> StreamMeta {
        self.meta
    }
    pub fn last_id(&self) -> StreamId {
        self.meta.last_id
    }
    pub fn entries_added(&self) -> u64 {
        self.meta.entries_added
    }
    pub fn max_deleted_id(&self) -> StreamId {
        self.meta.max_deleted_id
    }
    /// ID of the first live entry, `0-0` when empty.
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or(StreamId::MIN)
    }
    /// ID of the last live entry, `0-0` when empty.
    pub fn top_id(&self) -> StreamId {
        self.entries
            .keys()
            .next_back()
            .copied()
            .unwrap_or(StreamId::MIN)
    }
    pub fn groups(&self) -> &BTreeMap<Bytes, Group> {
        &self.groups
    }
    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }
    /// `radix-tree-keys`: the number of nodes.
    pub fn radix_tree_keys(&self) -> u64 {
        self.nodes.len() as u64
    }
    /// `radix-tree-nodes`: an estimate of the trie's node count (>= keys), derived from the
    /// node keys' shared prefixes the way a radix tree over 16-byte big-endian keys would split.
    pub fn radix_tree_nodes(&self) -> u64 {
        if self.nodes.is_empty() {
            return 1;
        }
        let mut count = 1u64; // the root
        let mut prev: Option<[u8; 16]> = None;
        for master in self.nodes.keys() {
            let k = master.to_be_bytes();
            // the first key hangs off the root as one compressed node; each later key adds a
            // branch below its prefix shared with the previous key, plus its leaf
            count += match prev {
                Some(p) if p != k => 2,
                _ => 1,
            };
            prev = Some(k);
        }
        count
    }
    /// The node holding `id` (by master ID), if any.
    pub fn node_of(&self, id: &StreamId) -> Option<(StreamId, Node)> {
        self.nodes.range(..=*id).next_back().map(|(m, n)| (*m, *n))
    }

    // ---------------------------------------------------------------- entry mutations

    /// Appends an entry with `id > last_id` (the caller checked), opening a new node when the
    /// tail node already holds `node_max_entries` entries, deleted ones included, as Redis
    /// counts them. `node_max_entries == 0` means no limit.
    pub fn append(&mut self, id: StreamId, fields: Fields, node_max_entries: u64) {
        assert!(id > self.meta.last_id, "append must increase IDs");
        let tail = self.nodes.iter_mut().next_back();
        let master = match tail {
            Some((m, node)) if node_max_entries == 0 || node.count < node_max_entries => {
                node.count += 1;
                node.live += 1;
                *m
            }
            _ => {
                self.nodes.insert(id, Node { count: 1, live: 1 });
                id
            }
        };
        self.node_changed(master);
        self.entries.insert(id, fields);
        self.changes.push(StreamChange::Entry(id));
        self.meta.last_id = id;
        self.meta.entries_added += 1;
        self.meta_changed = true;
    }

    /// Removes one entry (XDEL or exact trimming). Frees its node when it was the node's last
    /// live entry. Does not touch `max_deleted_id` (XDEL sets it separately).
    pub fn remove_entry(&mut self, id: &StreamId) -> bool {
        if self.entries.remove(id).is_none() {
            return false;
        }
        self.changes.push(StreamChange::Entry(*id));
        if let Some((master, _)) = self.node_of(id) {
            let node = self.nodes.get_mut(&master).expect("node exists");
            node.live -= 1;
            if node.live == 0 {
                self.nodes.remove(&master);
            }
            self.node_changed(master);
        }
        self.meta_changed = true;
        true
    }

    /// Removes a whole node and all its live entries (approximate trimming). Returns the
    /// number of entries removed.
    pub fn remove_node(&mut self, master: &StreamId) -> u64 {
        if self.nodes.remove(master).is_none() {
            return 0;
        }
        self.node_changed(*master);
        let end = self.nodes.range(*master..).next().map(|(m, _)| *m);
        let ids: Vec<StreamId> = match end {
            Some(end) => self
                .entries
                .range(*master..end)
                .map(|(id, _)| *id)
                .collect(),
            None => self.entries.range(*master..).map(|(id, _)| *id).collect(),
        };
        for id in &ids {
            self.entries.remove(id);
            self.changes.push(StreamChange::Entry(*id));
        }
        self.meta_changed = true;
        ids.len() as u64
    }

    pub fn set_last_id(&mut self, id: StreamId) {
        self.meta.last_id = id;
        self.meta_changed = true;
    }
    pub fn set_entries_added(&mut self, n: u64) {
        self.meta.entries_added = n;
        self.meta_changed = true;
    }
    pub fn set_max_deleted_id(&mut self, id: StreamId) {
        self.meta.max_deleted_id = id;
        self.meta_changed = true;
    }

    // ---------------------------------------------------------------- group mutations

    /// Creates a group; `false` if it exists.
    pub fn create_group(
        &mut self,
        name: Bytes,
        last_id: StreamId,
        entries_read: Option<u64>,
    ) -> bool {
        if self.groups.contains_key(&name) {
            return false;
        }
        self.groups
            .insert(name.clone(), Group::new(last_id, entries_read));
        self.changes.push(StreamChange::Group(name));
        true
    }

    /// Destroys a group with its PEL and consumers; `false` if missing. Records every item
    /// under the group too, so a group re-created before the next commit starts clean on disk.
    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        match self.groups.remove_entry(name) {
            Some((name, g)) => {
                for id in g.pel.keys() {
                    self.changes.push(StreamChange::Pel(name.clone(), *id));
                }
                for (cname, c) in g.consumers {
                    for id in &c.pel {
                        self.changes.push(StreamChange::ConsumerPel(
                            name.clone(),
                            cname.clone(),
                            *id,
                        ));
                    }
                    self.changes
                        .push(StreamChange::Consumer(name.clone(), cname));
                }
                self.changes.push(StreamChange::Group(name));
                true
            }
            None => false,
        }
    }

    /// Sets a group's last-delivered ID and entries-read counter. No-op for a missing group.
    pub fn set_group_position(
        &mut self,
        group: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
    ) {
        if let Some(g) = self.groups.get_mut(group) {
            g.last_id = last_id;
            g.entries_read = entries_read;
            self.changes
                .push(StreamChange::Group(Bytes::copy_from_slice(group)));
        }
    }

    /// Creates a consumer (seen = `now_ms`, never active); `false` if it exists or the group
    /// is missing.
    pub fn create_consumer(&mut self, group: &[u8], consumer: Bytes, now_ms: u64) -> bool {
        let Some(g) = self.groups.get_mut(group) else {
            return false;
        };
        let gname = Bytes::copy_from_slice(group);
        if g.consumers.contains_key(&consumer) {
            return false;
        }
        g.consumers
            .insert(consumer.clone(), Consumer::new(now_ms, -1));
        self.changes.push(StreamChange::Consumer(gname, consumer));
        true
    }

    /// Deletes a consumer and drops its pending entries from the group PEL. Returns the number
    /// of pending entries it had, or `None` if the group or consumer is missing.
    pub fn delete_consumer(&mut self, group: &[u8], consumer: &[u8]) -> Option<u64> {
        let g = self.groups.get_mut(group)?;
        let gname = Bytes::copy_from_slice(group);
        let (cname, c) = g.consumers.remove_entry(consumer)?;
        let n = c.pel.len() as u64;
        for id in &c.pel {
            g.pel.remove(id);
            self.changes.push(StreamChange::Pel(gname.clone(), *id));
            self.changes
                .push(StreamChange::ConsumerPel(gname.clone(), cname.clone(), *id));
        }
        self.changes.push(StreamChange::Consumer(gname, cname));
        Some(n)
    }

    /// Sets a consumer's seen and/or active time. No-op if missing.
    pub fn touch_consumer(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        seen_time: Option<u64>,
        active_time: Option<i64>,
    ) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        let gname = Bytes::copy_from_slice(group);
        let Some(c) = g.consumers.get_mut(consumer) else {
            return;
        };
        if let Some(t) = seen_time {
            c.seen_time = t;
        }
        if let Some(t) = active_time {
            c.active_time = t;
        }
        self.changes.push(StreamChange::Consumer(
            gname,
            Bytes::copy_from_slice(consumer),
        ));
    }

    /// Inserts or replaces a PEL entry, moving ownership to `nack.consumer` (which must
    /// exist). Returns `false` (and does nothing) if the group or the consumer is missing.
    pub fn pel_put(&mut self, group: &[u8], id: StreamId, nack: Nack) -> bool {
        let Some(g) = self.groups.get_mut(group) else {
            return false;
        };
        let gname = Bytes::copy_from_slice(group);
        if !g.consumers.contains_key(&nack.consumer) {
            return false;
        }
        let new_owner = nack.consumer.clone();
        if let Some(old) = g.pel.insert(id, nack) {
            if old.consumer != new_owner {
                if let Some(c) = g.consumers.get_mut(&old.consumer) {
                    c.pel.remove(&id);
                }
                self.changes
                    .push(StreamChange::ConsumerPel(gname.clone(), old.consumer, id));
            }
        }
        g.consumers
            .get_mut(&new_owner)
            .expect("checked above")
            .pel
            .insert(id);
        self.changes
            .push(StreamChange::ConsumerPel(gname.clone(), new_owner, id));
        self.changes.push(StreamChange::Pel(gname, id));
        true
    }

    /// Removes a PEL entry (XACK, or a claim of a deleted entry). Returns whether it existed.
    pub fn pel_remove(&mut self, group: &[u8], id: &StreamId) -> bool {
        let Some(g) = self.groups.get_mut(group) else {
            return false;
        };
        let gname = Bytes::copy_from_slice(group);
        let Some(old) = g.pel.remove(id) else {
            return false;
        };
        if let Some(c) = g.consumers.get_mut(&old.consumer) {
            c.pel.remove(id);
        }
        self.changes
            .push(StreamChange::ConsumerPel(gname.clone(), old.consumer, *id));
        self.changes.push(StreamChange::Pel(gname, *id));
        true
    }

    // ---------------------------------------------------------------- change tracking

    fn node_changed(&mut self, master: StreamId) {
        if self.last_node_change != Some(master) {
            self.last_node_change = Some(master);
            self.changes.push(StreamChange::Node(master));
        }
    }

    /// Takes the list of items touched since the last call, each named at least once (in no
    /// particular order: each names an item to write as it is when the changes are
    /// committed).
    pub fn take_changes(&mut self) -> Vec<StreamChange> {
        if std::mem::take(&mut self.meta_changed) {
            self.changes.push(StreamChange::Meta);
        }
        self.last_node_change = None;
        std::mem::take(&mut self.changes)
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || self.meta_changed
    }

    // ---------------------------------------------------------------- loading (storage)

    /// Loading from storage: these record no changes.
    pub fn load_meta(&mut self, meta: StreamMeta) {
        self.meta = meta;
    }
    pub fn load_entry(&mut self, id: StreamId, fields: Fields) {
        self.entries.insert(id, fields);
    }
    pub fn load_node(&mut self, master: StreamId, node: Node) {
        self.nodes.insert(master, node);
    }
    pub fn load_group(&mut self, name: Bytes, last_id: StreamId, entries_read: Option<u64>) {
        self.groups.insert(name, Group::new(last_id, entries_read));
    }
    /// Loads a consumer; its group must have been loaded.
    pub fn load_consumer(&mut self, group: &[u8], name: Bytes, seen_time: u64, active_time: i64) {
        if let Some(g) = self.groups.get_mut(group) {
            g.consumers
                .insert(name, Consumer::new(seen_time, active_time));
        }
    }
    /// Loads a PEL entry; its group and owner must have been loaded.
    pub fn load_pel(&mut self, group: &[u8], id: StreamId, nack: Nack) {
        if let Some(g) = self.groups.get_mut(group) {
            if let Some(c) = g.consumers.get_mut(&nack.consumer) {
                c.pel.insert(id);
            }
            g.pel.insert(id, nack);
        }
    }

    /// Checks the invariants listed in the module docs; returns a description of the first
    /// violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        if let Some(top) = self.entries.keys().next_back() {
            if *top > self.meta.last_id {
                return Err(format!("entry {top} > last_id {}", self.meta.last_id));
            }
        }
        let mut live: BTreeMap<StreamId, u64> = BTreeMap::new();
        for id in self.entries.keys() {
            let Some((m, _)) = self.node_of(id) else {
                return Err(format!("entry {id} has no node"));
            };
            *live.entry(m).or_default() += 1;
        }
        for (m, n) in &self.nodes {
            let l = live.get(m).copied().unwrap_or(0);
            if n.live != l || n.live == 0 || n.count < n.live {
                return Err(format!("node {m} claims {n:?}, has {l} live"));
            }
        }
        for (gname, g) in &self.groups {
            for (id, nack) in &g.pel {
                match g.consumers.get(&nack.consumer) {
                    Some(c) if c.pel.contains(id) => {}
                    _ => return Err(format!("group {gname:?}: pel {id} owner mismatch")),
                }
            }
            for (cname, c) in &g.consumers {
                for id in &c.pel {
                    match g.pel.get(id) {
                        Some(n) if n.consumer == *cname => {}
                        _ => return Err(format!("consumer {cname:?}: stray pel {id}")),
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> Fields {
        vec![Bytes::from_static(b"f"), Bytes::from_static(b"v")]
    }

    #[test]
    fn nodes_split_by_count_including_deleted() {
        let mut s = Stream::new();
        for i in 1..=5 {
            s.append(StreamId::new(i, 0), f(), 2);
        }
        assert_eq!(s.radix_tree_keys(), 3);
        assert!(s.remove_entry(&StreamId::new(5, 0)));
        // node {5} freed entirely
        assert_eq!(s.radix_tree_keys(), 2);
        assert!(s.remove_entry(&StreamId::new(4, 0)));
        // node {3,4} keeps 3 live, count 2: the next append opens a new node
        s.append(StreamId::new(6, 0), f(), 2);
        assert_eq!(s.radix_tree_keys(), 3);
        assert_eq!(s.remove_node(&StreamId::new(1, 0)), 2);
        assert_eq!(s.len(), 2);
        s.check_invariants().unwrap();
    }

    #[test]
    fn pel_ownership_moves() {
        let mut s = Stream::new();
        s.append(StreamId::new(1, 0), f(), 100);
        assert!(s.create_group(Bytes::from_static(b"g"), StreamId::MIN, Some(0)));
        assert!(s.create_consumer(b"g", Bytes::from_static(b"a"), 1));
        assert!(s.create_consumer(b"g", Bytes::from_static(b"b"), 1));
        let nack = |c: &'static [u8]| Nack {
            consumer: Bytes::from_static(c),
            delivery_time: 5,
            delivery_count: 1,
        };
        assert!(s.pel_put(b"g", StreamId::new(1, 0), nack(b"a")));
        assert!(s.pel_put(b"g", StreamId::new(1, 0), nack(b"b")));
        s.check_invariants().unwrap();
        let g = s.group(b"g").unwrap();
        assert!(g.consumer(b"a").unwrap().pel().is_empty());
        assert_eq!(g.consumer(b"b").unwrap().pel().len(), 1);
        assert_eq!(s.delete_consumer(b"g", b"b"), Some(1));
        assert!(s.group(b"g").unwrap().pel().is_empty());
        s.check_invariants().unwrap();
    }
}
