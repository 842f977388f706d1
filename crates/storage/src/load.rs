//! Rebuilds the in-memory [`Db`] from the trees, checking that every item belongs to
//! something that exists (an entry to a stream, a PEL entry to a group and a consumer, ...)
//! and that each stream satisfies its invariants.

use std::collections::HashMap;

use bytes::Bytes;
use streams::{Db, Stream, StreamId, Value};

use crate::batch::Layout;
use crate::codec::{self, DecodeError};
use crate::error::{escape, StorageError};
use crate::trees::{TreeId, Trees};

/// Iterates a tree, decoding each item's key and value.
fn each<K, V>(
    trees: &Trees,
    t: TreeId,
    dk: impl Fn(&[u8]) -> Result<K, DecodeError>,
    dv: impl Fn(&[u8]) -> Result<V, DecodeError>,
    mut f: impl FnMut(&[u8], K, V) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    for item in trees.get(t).iter() {
        let (k, v) = item?;
        let key = dk(&k).map_err(|e| StorageError::decode(t.name(), &k, e))?;
        let value = dv(&v).map_err(|e| StorageError::decode(t.name(), &k, e))?;
        f(&k, key, value)?;
    }
    Ok(())
}

/// The loaded stream at `key`, or a corruption error naming the orphan item.
fn stream_of<'a>(
    db: &'a mut Db,
    t: TreeId,
    raw: &[u8],
    key: &Bytes,
) -> Result<&'a mut Stream, StorageError> {
    match db.get(key) {
        Some(Value::Stream(_)) => Ok(db.load_stream(key)),
        _ => Err(StorageError::corrupt(t.name(), raw, "no such stream")),
    }
}

/// What [`load`] found.
pub(crate) struct Loaded {
    pub(crate) db: Db,
    pub(crate) layout: Layout,
    /// Streams with entries in the `entries` tree (one item per entry, format 2 and before),
    /// to be rewritten in chunks.
    pub(crate) legacy: Vec<Bytes>,
}

/// Loads the whole keyspace.
pub(crate) fn load(trees: &Trees) -> Result<Loaded, StorageError> {
    let mut db = Db::new();
    let mut layout = Layout::default();
    // Last nodes stored in `streams` items (format 4), loaded after the `nodes` tree.
    let mut tails: Vec<(Bytes, codec::Tail)> = Vec::new();
    let mut legacy: Vec<Bytes> = Vec::new();

    each(
        trees,
        TreeId::Kv,
        codec::decode_key_prefix,
        codec::decode_kv,
        |_, key, v| {
            db.load(key, v);
            Ok(())
        },
    )?;

    each(
        trees,
        TreeId::Streams,
        codec::decode_key_prefix,
        codec::decode_stream_meta,
        |raw, key, (meta, tail)| {
            if db.contains(&key) {
                return Err(StorageError::corrupt(
                    TreeId::Streams.name(),
                    raw,
                    "key is also stored as a non-stream value",
                ));
            }
            db.load_stream(&key).load_meta(meta);
            layout.tails.loaded(&key, tail.as_ref().map(|(m, _)| *m));
            if let Some(tail) = tail {
                tails.push((key, tail));
            }
            Ok(())
        },
    )?;

    each(
        trees,
        TreeId::Entries,
        codec::decode_id_key,
        codec::decode_fields,
        |raw, (key, id), fields| {
            stream_of(&mut db, TreeId::Entries, raw, &key)?.load_entry(id, fields);
            if legacy.last() != Some(&key) {
                legacy.push(key);
            }
            Ok(())
        },
    )?;

    // Chunks come in key order: a stream's chunks by first ID. Each holds increasing IDs,
    // none below its key's ID, all above the previous chunk's.
    let mut prev: Option<(Bytes, StreamId)> = None;
    each(
        trees,
        TreeId::Chunks,
        codec::decode_id_key,
        codec::decode_chunk,
        |raw, (key, start), entries| {
            let bad = |why: &str| StorageError::corrupt(TreeId::Chunks.name(), raw, why);
            let floor = match &prev {
                Some((k, max)) if *k == key => Some(*max),
                _ => None,
            };
            let mut last: Option<StreamId> = floor;
            for (i, (id, _)) in entries.iter().enumerate() {
                if (i == 0 && *id < start) || last.is_some_and(|l| *id <= l) {
                    return Err(bad("entry IDs out of order"));
                }
                last = Some(*id);
            }
            let Some((max, _)) = entries.last() else {
                return Err(bad("empty chunk"));
            };
            prev = Some((key.clone(), *max));
            layout.chunks.loaded(&key, start, &entries);
            let s = stream_of(&mut db, TreeId::Chunks, raw, &key)?;
            for (id, fields) in entries {
                s.load_entry(id, fields);
            }
            Ok(())
        },
    )?;

    each(
        trees,
        TreeId::Nodes,
        codec::decode_id_key,
        codec::decode_node,
        |raw, (key, master), node| {
            stream_of(&mut db, TreeId::Nodes, raw, &key)?.load_node(master, node);
            Ok(())
        },
    )?;
    for (key, (master, node)) in tails {
        // The `nodes` tree holds every node but the last (see the `tails` module).
        let s = db.load_stream(&key);
        if s.nodes()
            .last_key_value()
            .is_some_and(|(m, _)| *m >= master)
        {
            return Err(StorageError::corrupt(
                TreeId::Streams.name(),
                &codec::key_prefix(&key),
                "the last node is not after every node in the nodes tree",
            ));
        }
        s.load_node(master, node);
    }

    each(
        trees,
        TreeId::Groups,
        codec::decode_group_key,
        codec::decode_group,
        |raw, (key, group), (last_id, entries_read)| {
            stream_of(&mut db, TreeId::Groups, raw, &key)?.load_group(group, last_id, entries_read);
            Ok(())
        },
    )?;

    each(
        trees,
        TreeId::Consumers,
        codec::decode_consumer_key,
        codec::decode_consumer,
        |raw, (key, group, consumer), (seen, active)| {
            let s = stream_of(&mut db, TreeId::Consumers, raw, &key)?;
            if s.group(&group).is_none() {
                return Err(StorageError::corrupt(
                    TreeId::Consumers.name(),
                    raw,
                    "no such group",
                ));
            }
            s.load_consumer(&group, consumer, seen, active);
            Ok(())
        },
    )?;

    each(
        trees,
        TreeId::Pel,
        codec::decode_pel_key,
        codec::decode_nack,
        |raw, (key, group, id), nack| {
            let s = stream_of(&mut db, TreeId::Pel, raw, &key)?;
            match s.group(&group) {
                None => {
                    return Err(StorageError::corrupt(
                        TreeId::Pel.name(),
                        raw,
                        "no such group",
                    ))
                }
                Some(g) if g.consumer(&nack.consumer).is_none() => {
                    return Err(StorageError::corrupt(
                        TreeId::Pel.name(),
                        raw,
                        format!("owner {} is not a consumer", escape(&nack.consumer)),
                    ))
                }
                Some(_) => {}
            }
            s.load_pel(&group, id, nack);
            Ok(())
        },
    )?;

    // The PEL-by-consumer index must match the PEL exactly: every item names a PEL entry
    // owned by that consumer, and each group has as many items as PEL entries.
    let mut index_len: HashMap<(Bytes, Bytes), u64> = HashMap::new();
    each(
        trees,
        TreeId::Cpel,
        codec::decode_cpel_key,
        codec::decode_cpel_value,
        |raw, (key, group, consumer, id), ()| {
            let owner = match db.get(&key) {
                Some(Value::Stream(s)) => s
                    .group(&group)
                    .and_then(|g| g.pel().get(&id))
                    .map(|n| n.consumer.clone()),
                _ => None,
            };
            if owner.as_deref() != Some(&consumer[..]) {
                return Err(StorageError::corrupt(
                    TreeId::Cpel.name(),
                    raw,
                    "no PEL entry with this owner",
                ));
            }
            *index_len.entry((key, group)).or_default() += 1;
            Ok(())
        },
    )?;

    for (key, v) in db.iter() {
        let Value::Stream(s) = v else { continue };
        for (gname, g) in s.groups() {
            let indexed = index_len
                .get(&(key.clone(), gname.clone()))
                .copied()
                .unwrap_or(0);
            if indexed != g.pel().len() as u64 {
                return Err(StorageError::Inconsistent {
                    key: escape(key),
                    reason: format!(
                        "group {}: {} PEL entries but {} consumer-index items",
                        escape(gname),
                        g.pel().len(),
                        indexed
                    ),
                });
            }
        }
        s.check_invariants()
            .map_err(|reason| StorageError::Inconsistent {
                key: escape(key),
                reason,
            })?;
    }

    db.clear_tracking();
    Ok(Loaded { db, layout, legacy })
}
