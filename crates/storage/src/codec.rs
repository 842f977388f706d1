//! The on-disk encodings: tree keys and item values.
//!
//! Keys are built from length-prefixed components (`u32` big-endian length, then the bytes)
//! and 16-byte big-endian stream IDs, so that
//! - all items of one user key share the prefix `lp(key)`, all items of one group share
//!   `lp(key) lp(group)` and all PEL-index items of one consumer share
//!   `lp(key) lp(group) lp(consumer)` (no other key, group or consumer has such a prefix,
//!   because the length comes first);
//! - within one prefix, items sort by stream ID (byte order of big-endian IDs = ID order).
//!
//! Values start with [`VALUE_VERSION`], then fixed-width big-endian integers and
//! length-prefixed byte strings. Decoding checks every length against what is left and
//! returns a [`DecodeError`]; it never panics and never allocates more than the input size.

use bytes::Bytes;
use streams::{Fields, Nack, Node, StreamId, StreamMeta, Value};

/// First byte of every encoded value.
pub const VALUE_VERSION: u8 = 1;

/// The type tag of a `streams` tree value without a node (format 3 and before, or a
/// stream with no entries node)...
pub const TAG_STREAM: u8 = 1;
/// ...and with the stream's last node (master ID, count, live), which is then not in the
/// `nodes` tree (format 4).
pub const TAG_STREAM_TAIL: u8 = 5;
/// Type tags of `kv` tree values.
pub const TAG_STRING: u8 = 2;
pub const TAG_LIST: u8 = 3;
pub const TAG_SET: u8 = 4;

/// Size of an encoded stream ID.
pub const ID_LEN: usize = 16;

/// Why bytes read from disk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: needed {needed} more bytes, {left} left")]
    Truncated { needed: usize, left: usize },
    #[error("{0} trailing bytes")]
    Trailing(usize),
    #[error("unsupported value version {0}")]
    Version(u8),
    #[error("unknown type tag {0}")]
    Tag(u8),
    #[error("invalid flag byte {0}")]
    Flag(u8),
}

// -------------------------------------------------------------------- writing

/// Appends `u32 BE length + bytes`.
pub fn put_lp(out: &mut Vec<u8>, b: &[u8]) {
    // A single Redis argument is at most 512 MiB (proto-max-bulk-len), far below u32::MAX.
    let len = u32::try_from(b.len()).expect("component longer than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
}

fn put_id(out: &mut Vec<u8>, id: &StreamId) {
    out.extend_from_slice(&id.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

// -------------------------------------------------------------------- reading

/// A cursor over encoded bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                needed: n - self.buf.len(),
                left: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub fn id(&mut self) -> Result<StreamId, DecodeError> {
        let b = self.take(ID_LEN)?;
        StreamId::from_be_bytes(b).ok_or(DecodeError::Truncated {
            needed: ID_LEN,
            left: b.len(),
        })
    }

    /// A length-prefixed component.
    pub fn lp(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Fails unless everything was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.buf.len()))
        }
    }

    fn version(&mut self) -> Result<(), DecodeError> {
        match self.u8()? {
            VALUE_VERSION => Ok(()),
            v => Err(DecodeError::Version(v)),
        }
    }

    /// A `u32` count of length-prefixed items, each at least 4 bytes: checked against what is
    /// left before anything is allocated.
    fn lp_list(&mut self) -> Result<Vec<Bytes>, DecodeError> {
        let n = self.u32()? as usize;
        if n > self.remaining() / 4 {
            return Err(DecodeError::Truncated {
                needed: n.saturating_mul(4),
                left: self.remaining(),
            });
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(Bytes::copy_from_slice(self.lp()?));
        }
        Ok(out)
    }
}

// -------------------------------------------------------------------- keys

/// `lp(key)`: the key of the `streams` and `kv` trees and the prefix of every item of `key`.
pub fn key_prefix(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.len());
    put_lp(&mut out, key);
    out
}

/// `lp(key) id`: the `entries` and `nodes` trees.
pub fn id_key(key: &[u8], id: &StreamId) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.len() + ID_LEN);
    put_lp(&mut out, key);
    put_id(&mut out, id);
    out
}

/// `lp(key) lp(group)`: the `groups` tree and the prefix of everything under a group.
pub fn group_key(key: &[u8], group: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len() + group.len());
    put_lp(&mut out, key);
    put_lp(&mut out, group);
    out
}

/// `lp(key) lp(group) id`: the `pel` tree.
pub fn pel_key(key: &[u8], group: &[u8], id: &StreamId) -> Vec<u8> {
    let mut out = group_key(key, group);
    put_id(&mut out, id);
    out
}

/// `lp(key) lp(group) lp(consumer)`: the `consumers` tree and the prefix of a consumer's
/// `cpel` items.
pub fn consumer_key(key: &[u8], group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut out = group_key(key, group);
    put_lp(&mut out, consumer);
    out
}

/// `lp(key) lp(group) lp(consumer) id`: the `cpel` tree.
pub fn cpel_key(key: &[u8], group: &[u8], consumer: &[u8], id: &StreamId) -> Vec<u8> {
    let mut out = consumer_key(key, group, consumer);
    put_id(&mut out, id);
    out
}

pub fn decode_key_prefix(b: &[u8]) -> Result<Bytes, DecodeError> {
    let mut r = Reader::new(b);
    let key = r.lp()?;
    r.finish()?;
    Ok(Bytes::copy_from_slice(key))
}

pub fn decode_id_key(b: &[u8]) -> Result<(Bytes, StreamId), DecodeError> {
    let mut r = Reader::new(b);
    let key = r.lp()?;
    let id = r.id()?;
    r.finish()?;
    Ok((Bytes::copy_from_slice(key), id))
}

pub fn decode_group_key(b: &[u8]) -> Result<(Bytes, Bytes), DecodeError> {
    let mut r = Reader::new(b);
    let key = r.lp()?;
    let group = r.lp()?;
    r.finish()?;
    Ok((Bytes::copy_from_slice(key), Bytes::copy_from_slice(group)))
}

pub fn decode_pel_key(b: &[u8]) -> Result<(Bytes, Bytes, StreamId), DecodeError> {
    let mut r = Reader::new(b);
    let key = r.lp()?;
    let group = r.lp()?;
    let id = r.id()?;
    r.finish()?;
    Ok((
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        id,
    ))
}

pub fn decode_consumer_key(b: &[u8]) -> Result<(Bytes, Bytes, Bytes), DecodeError> {
    let mut r = Reader::new(b);
    let key = r.lp()?;
    let group = r.lp()?;
    let consumer = r.lp()?;
    r.finish()?;
    Ok((
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        Bytes::copy_from_slice(consumer),
    ))
}

pub fn decode_cpel_key(b: &[u8]) -> Result<(Bytes, Bytes, Bytes, StreamId), DecodeError> {
    let mut r = Reader::new(b);
    let key = r.lp()?;
    let group = r.lp()?;
    let consumer = r.lp()?;
    let id = r.id()?;
    r.finish()?;
    Ok((
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        Bytes::copy_from_slice(consumer),
        id,
    ))
}

// -------------------------------------------------------------------- values

/// A `streams` tree value: the stream's metadata and its last node, if it has one.
pub fn encode_stream_meta(m: &StreamMeta, tail: Option<(&StreamId, &Node)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 3 * ID_LEN + 3 * 8);
    out.push(VALUE_VERSION);
    out.push(if tail.is_some() {
        TAG_STREAM_TAIL
    } else {
        TAG_STREAM
    });
    put_id(&mut out, &m.last_id);
    put_u64(&mut out, m.entries_added);
    put_id(&mut out, &m.max_deleted_id);
    if let Some((master, n)) = tail {
        put_id(&mut out, master);
        put_u64(&mut out, n.count);
        put_u64(&mut out, n.live);
    }
    out
}

/// A stream's last node, stored with its metadata: master ID and node.
pub type Tail = (StreamId, Node);

pub fn decode_stream_meta(b: &[u8]) -> Result<(StreamMeta, Option<Tail>), DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let with_tail = match r.u8()? {
        TAG_STREAM => false,
        TAG_STREAM_TAIL => true,
        t => return Err(DecodeError::Tag(t)),
    };
    let last_id = r.id()?;
    let entries_added = r.u64()?;
    let max_deleted_id = r.id()?;
    let tail = if with_tail {
        let master = r.id()?;
        let count = r.u64()?;
        let live = r.u64()?;
        Some((master, Node { count, live }))
    } else {
        None
    };
    r.finish()?;
    Ok((
        StreamMeta {
            last_id,
            entries_added,
            max_deleted_id,
        },
        tail,
    ))
}

pub fn encode_fields(fields: &[Bytes]) -> Vec<u8> {
    let size: usize = fields.iter().map(|f| 4 + f.len()).sum();
    let mut out = Vec::with_capacity(5 + size);
    out.push(VALUE_VERSION);
    let n = u32::try_from(fields.len()).expect("fewer than 2^32 fields");
    out.extend_from_slice(&n.to_be_bytes());
    for f in fields {
        put_lp(&mut out, f);
    }
    out
}

pub fn decode_fields(b: &[u8]) -> Result<Vec<Bytes>, DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let fields = r.lp_list()?;
    r.finish()?;
    Ok(fields)
}

/// Bytes an entry takes in a chunk (see [`encode_chunk`]).
pub fn chunk_entry_len(fields: &[Bytes]) -> usize {
    ID_LEN + 4 + fields.iter().map(|f| 4 + f.len()).sum::<usize>()
}

/// A chunk of consecutive entries: version, then per entry `id` + `u32` count + `lp(field)`...
/// `bytes`: the entries' [`chunk_entry_len`] summed (the buffer is allocated once).
pub fn encode_chunk<'a>(
    entries: impl Iterator<Item = (&'a StreamId, &'a Fields)>,
    bytes: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + bytes);
    out.push(VALUE_VERSION);
    for (id, fields) in entries {
        put_id(&mut out, id);
        let n = u32::try_from(fields.len()).expect("fewer than 2^32 fields");
        out.extend_from_slice(&n.to_be_bytes());
        for f in fields {
            put_lp(&mut out, f);
        }
    }
    out
}

/// The entries of a chunk, in the order stored (checked increasing by the loader).
pub fn decode_chunk(b: &[u8]) -> Result<Vec<(StreamId, Fields)>, DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let mut out = Vec::new();
    while r.remaining() > 0 {
        let id = r.id()?;
        out.push((id, r.lp_list()?));
    }
    Ok(out)
}

pub fn encode_node(n: &Node) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    out.push(VALUE_VERSION);
    put_u64(&mut out, n.count);
    put_u64(&mut out, n.live);
    out
}

pub fn decode_node(b: &[u8]) -> Result<Node, DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let count = r.u64()?;
    let live = r.u64()?;
    r.finish()?;
    Ok(Node { count, live })
}

/// A group's position: last delivered ID and entries-read counter (`None` = invalid).
pub fn encode_group(last_id: &StreamId, entries_read: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + ID_LEN + 8);
    out.push(VALUE_VERSION);
    put_id(&mut out, last_id);
    match entries_read {
        Some(n) => {
            out.push(1);
            put_u64(&mut out, n);
        }
        None => out.push(0),
    }
    out
}

pub fn decode_group(b: &[u8]) -> Result<(StreamId, Option<u64>), DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let last_id = r.id()?;
    let entries_read = match r.u8()? {
        0 => None,
        1 => Some(r.u64()?),
        f => return Err(DecodeError::Flag(f)),
    };
    r.finish()?;
    Ok((last_id, entries_read))
}

pub fn encode_nack(n: &Nack) -> Vec<u8> {
    let mut out = Vec::with_capacity(17 + n.consumer.len());
    out.push(VALUE_VERSION);
    put_u64(&mut out, n.delivery_time);
    put_u64(&mut out, n.delivery_count);
    out.extend_from_slice(&n.consumer);
    out
}

pub fn decode_nack(b: &[u8]) -> Result<Nack, DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let delivery_time = r.u64()?;
    let delivery_count = r.u64()?;
    let consumer = Bytes::copy_from_slice(r.rest());
    Ok(Nack {
        consumer,
        delivery_time,
        delivery_count,
    })
}

/// A consumer's seen and active times (`-1` = never active).
pub fn encode_consumer(seen_time: u64, active_time: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    out.push(VALUE_VERSION);
    put_u64(&mut out, seen_time);
    out.extend_from_slice(&active_time.to_be_bytes());
    out
}

pub fn decode_consumer(b: &[u8]) -> Result<(u64, i64), DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let seen_time = r.u64()?;
    let active_time = r.u64()? as i64;
    r.finish()?;
    Ok((seen_time, active_time))
}

/// The value of a `cpel` item: the key carries everything.
pub const CPEL_VALUE: &[u8] = &[];

pub fn decode_cpel_value(b: &[u8]) -> Result<(), DecodeError> {
    Reader::new(b).finish()
}

/// A non-stream value (`kv` tree). Returns `None` for a stream (those live in the other
/// trees).
pub fn encode_kv(v: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    out.push(VALUE_VERSION);
    match v {
        Value::Stream(_) => return None,
        Value::String(s) => {
            out.push(TAG_STRING);
            out.extend_from_slice(s);
        }
        Value::List(items) => {
            out.push(TAG_LIST);
            put_items(&mut out, items.iter());
        }
        Value::Set(items) => {
            out.push(TAG_SET);
            put_items(&mut out, items.iter());
        }
    }
    Some(out)
}

fn put_items<'a>(out: &mut Vec<u8>, items: impl ExactSizeIterator<Item = &'a Bytes>) {
    let n = u32::try_from(items.len()).expect("fewer than 2^32 items");
    out.extend_from_slice(&n.to_be_bytes());
    for i in items {
        put_lp(out, i);
    }
}

pub fn decode_kv(b: &[u8]) -> Result<Value, DecodeError> {
    let mut r = Reader::new(b);
    r.version()?;
    let v = match r.u8()? {
        TAG_STRING => Value::String(Bytes::copy_from_slice(r.rest())),
        TAG_LIST => Value::List(r.lp_list()?.into_iter().collect()),
        TAG_SET => Value::Set(r.lp_list()?.into_iter().collect()),
        t => return Err(DecodeError::Tag(t)),
    };
    r.finish()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, VecDeque};

    fn id() -> impl Strategy<Value = StreamId> {
        prop_oneof![
            (any::<u64>(), any::<u64>()).prop_map(|(a, b)| StreamId::new(a, b)),
            (0u64..4, 0u64..4).prop_map(|(a, b)| StreamId::new(a, b)),
            Just(StreamId::MAX),
        ]
    }

    fn bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
    }

    proptest! {
        #[test]
        fn encoded_ids_sort_like_ids(k in bytes(), a in id(), b in id()) {
            prop_assert_eq!(a.cmp(&b), id_key(&k, &a).cmp(&id_key(&k, &b)));
            prop_assert_eq!(a.cmp(&b), pel_key(&k, b"g", &a).cmp(&pel_key(&k, b"g", &b)));
            prop_assert_eq!(
                a.cmp(&b),
                cpel_key(&k, b"g", b"c", &a).cmp(&cpel_key(&k, b"g", b"c", &b))
            );
        }

        #[test]
        fn prefixes_are_exclusive(k1 in bytes(), k2 in bytes(), g1 in bytes(), g2 in bytes(),
                                  c in bytes(), i in id()) {
            // An item of (k2, g2) starts with the prefix of (k1, g1) only if they are equal.
            let item = cpel_key(&k2, &g2, &c, &i);
            prop_assert_eq!(item.starts_with(&key_prefix(&k1)), k1 == k2);
            prop_assert_eq!(item.starts_with(&group_key(&k1, &g1)), k1 == k2 && g1 == g2);
            let pel = pel_key(&k2, &g2, &i);
            prop_assert_eq!(pel.starts_with(&group_key(&k1, &g1)), k1 == k2 && g1 == g2);
        }

        #[test]
        fn keys_round_trip(k in bytes(), g in bytes(), c in bytes(), i in id()) {
            prop_assert_eq!(decode_key_prefix(&key_prefix(&k)), Ok(k.clone()));
            prop_assert_eq!(decode_id_key(&id_key(&k, &i)), Ok((k.clone(), i)));
            prop_assert_eq!(decode_group_key(&group_key(&k, &g)), Ok((k.clone(), g.clone())));
            prop_assert_eq!(decode_pel_key(&pel_key(&k, &g, &i)), Ok((k.clone(), g.clone(), i)));
            prop_assert_eq!(
                decode_consumer_key(&consumer_key(&k, &g, &c)),
                Ok((k.clone(), g.clone(), c.clone()))
            );
            prop_assert_eq!(decode_cpel_key(&cpel_key(&k, &g, &c, &i)), Ok((k, g, c, i)));
        }

        #[test]
        fn values_round_trip(a in id(), b in id(), n in any::<u64>(), m in any::<u64>(),
                             t in any::<i64>(), er in proptest::option::of(any::<u64>()),
                             fields in proptest::collection::vec(bytes(), 0..6),
                             c in bytes()) {
            let meta = StreamMeta { last_id: a, entries_added: n, max_deleted_id: b };
            prop_assert_eq!(decode_stream_meta(&encode_stream_meta(&meta, None)), Ok((meta, None)));
            let tail = Node { count: m, live: n };
            prop_assert_eq!(
                decode_stream_meta(&encode_stream_meta(&meta, Some((&b, &tail)))),
                Ok((meta, Some((b, tail))))
            );
            prop_assert_eq!(decode_fields(&encode_fields(&fields)), Ok(fields.clone()));
            let node = Node { count: n, live: m };
            prop_assert_eq!(decode_node(&encode_node(&node)), Ok(node));
            prop_assert_eq!(decode_group(&encode_group(&a, er)), Ok((a, er)));
            let nack = Nack { consumer: c.clone(), delivery_time: n, delivery_count: m };
            prop_assert_eq!(decode_nack(&encode_nack(&nack)), Ok(nack));
            prop_assert_eq!(decode_consumer(&encode_consumer(n, t)), Ok((n, t)));
            for v in [
                Value::String(c.clone()),
                Value::List(fields.iter().cloned().collect::<VecDeque<_>>()),
                Value::Set(fields.iter().cloned().collect::<BTreeSet<_>>()),
            ] {
                let enc = encode_kv(&v).expect("not a stream");
                prop_assert_eq!(decode_kv(&enc), Ok(v));
            }
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_key_prefix(&b);
            let _ = decode_id_key(&b);
            let _ = decode_group_key(&b);
            let _ = decode_pel_key(&b);
            let _ = decode_consumer_key(&b);
            let _ = decode_cpel_key(&b);
            let _ = decode_stream_meta(&b);
            let _ = decode_fields(&b);
            let _ = decode_node(&b);
            let _ = decode_group(&b);
            let _ = decode_nack(&b);
            let _ = decode_consumer(&b);
            let _ = decode_cpel_value(&b);
            let _ = decode_kv(&b);
        }

        #[test]
        fn truncations_are_errors(fields in proptest::collection::vec(bytes(), 1..4),
                                  cut in any::<prop::sample::Index>()) {
            let enc = encode_fields(&fields);
            let at = cut.index(enc.len());
            prop_assert!(decode_fields(&enc[..at]).is_err());
            let mut longer = enc.clone();
            longer.push(0);
            prop_assert_eq!(decode_fields(&longer), Err(DecodeError::Trailing(1)));
        }
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        // version, count = u32::MAX, nothing else
        let b = [VALUE_VERSION, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode_fields(&b),
            Err(DecodeError::Truncated { .. })
        ));
        let b = [VALUE_VERSION, TAG_LIST, 0xff, 0xff, 0xff, 0xff];
        assert!(decode_kv(&b).is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(r.lp().is_err());
    }

    #[test]
    fn wrong_version_and_tags_are_errors() {
        let mut meta = encode_stream_meta(&StreamMeta::default(), None);
        meta[0] = 9;
        assert_eq!(decode_stream_meta(&meta), Err(DecodeError::Version(9)));
        let mut meta = encode_stream_meta(&StreamMeta::default(), None);
        meta[1] = TAG_STRING;
        assert_eq!(decode_stream_meta(&meta), Err(DecodeError::Tag(TAG_STRING)));
        // The tag says whether a tail follows: a tail without the tag is trailing garbage,
        // the tag without a tail is truncated.
        let node = Node { count: 3, live: 2 };
        let mut with_tail =
            encode_stream_meta(&StreamMeta::default(), Some((&StreamId::MIN, &node)));
        with_tail[1] = TAG_STREAM;
        assert_eq!(
            decode_stream_meta(&with_tail),
            Err(DecodeError::Trailing(ID_LEN + 16))
        );
        let mut without = encode_stream_meta(&StreamMeta::default(), None);
        without[1] = TAG_STREAM_TAIL;
        assert!(matches!(
            decode_stream_meta(&without),
            Err(DecodeError::Truncated { .. })
        ));
        let mut g = encode_group(&StreamId::MIN, None);
        let last = g.len() - 1;
        g[last] = 7;
        assert_eq!(decode_group(&g), Err(DecodeError::Flag(7)));
        assert!(encode_kv(&Value::Stream(Box::default())).is_none());
    }
}
