//! Durable binary encodings of what Raft replicates: a batch of resolved [`Op`]s (one log
//! entry's payload) and a snapshot of a whole [`Db`].
//!
//! ```text
//!  batch    = version:u8  now_ms:u64le  bincode(Vec<Op>)
//!  snapshot = version:u8  bincode(Vec<(key, Value)>, keys in byte order)
//! ```
//!
//! The snapshot holds the replicated state only (not node-local counters such as `dirty`).
//! ```text
//! ```
//!
//! bincode (1.3, fixed-width integers, little endian) over the types' serde derives; the
//! decoder is bounded ([`MAX_DECODE_BYTES`]) so a corrupt length never allocates without
//! limit, and every decoded stream is checked with [`crate::Stream::check_invariants`].
//! Encoding is deterministic: the same batch or keyspace gives the same bytes. A change to
//! any encoded type (a new variant or field) must bump [`FORMAT_VERSION`] and keep a decoder
//! for the old version, because logs and snapshots outlive the binary that wrote them.

use bincode::Options;
use bytes::Bytes;

use crate::db::{Db, Value};
use crate::engine::Op;

/// The format version written by this build.
pub const FORMAT_VERSION: u8 = 1;
/// Upper bound on what one decode may read (and so allocate).
pub const MAX_DECODE_BYTES: u64 = 1 << 32;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("empty input")]
    Empty,
    #[error("unsupported format version {0} (this build reads {FORMAT_VERSION})")]
    Version(u8),
    #[error("truncated header")]
    Truncated,
    #[error("malformed payload: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes")]
    Trailing(usize),
    #[error("decoded state violates an invariant: {0}")]
    Invariant(String),
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_DECODE_BYTES)
}

fn header(buf: &[u8]) -> Result<(u64, &[u8]), CodecError> {
    let (&version, rest) = buf.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::Version(version));
    }
    if rest.len() < 8 {
        return Err(CodecError::Truncated);
    }
    let (n, rest) = rest.split_at(8);
    let n = u64::from_le_bytes(n.try_into().map_err(|_| CodecError::Truncated)?);
    Ok((n, rest))
}

fn decode_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let mut reader = body;
    let value: T = options()
        .deserialize_from(&mut reader)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if !reader.is_empty() {
        return Err(CodecError::Trailing(reader.len()));
    }
    Ok(value)
}

fn encode_body<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Serializing into a Vec fails only past MAX_DECODE_BYTES, which no batch or snapshot
    // the limits allow can reach.
    if let Err(e) = options().serialize_into(&mut *out, value) {
        panic!("encoding failed: {e}");
    }
}

/// Appends the encoded batch (`now_ms` is the leader's clock stamped into the entry).
pub fn encode_ops(now_ms: u64, ops: &[Op], out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&now_ms.to_le_bytes());
    encode_body(ops, out);
}

/// Decodes a batch written by [`encode_ops`].
pub fn decode_ops(buf: &[u8]) -> Result<(u64, Vec<Op>), CodecError> {
    let (now_ms, body) = header(buf)?;
    Ok((now_ms, decode_body(body)?))
}

/// Appends a snapshot of the whole keyspace.
pub fn encode_db(db: &Db, out: &mut Vec<u8>) {
    let mut items: Vec<(&Bytes, &Value)> = db.iter().collect();
    items.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(FORMAT_VERSION);
    encode_body(&items, out);
}

/// Decodes a snapshot written by [`encode_db`] into a fresh keyspace (no change tracking).
pub fn decode_db(buf: &[u8]) -> Result<Db, CodecError> {
    let (&version, body) = buf.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::Version(version));
    }
    let items: Vec<(Bytes, Value)> = decode_body(body)?;
    let mut db = Db::new();
    let mut previous: Option<&Bytes> = None;
    for (key, value) in &items {
        if previous.is_some_and(|p| p >= key) {
            return Err(CodecError::Invariant(
                "keys out of order or repeated".into(),
            ));
        }
        previous = Some(key);
        if let Value::Stream(s) = value {
            s.check_invariants().map_err(|e| {
                CodecError::Invariant(format!("stream {:?}: {e}", String::from_utf8_lossy(key)))
            })?;
        }
    }
    for (key, value) in items {
        db.load(key, value);
    }
    db.clear_tracking();
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ctx;

    fn run(db: &mut Db, ctx: &Ctx, line: &str) -> Option<Op> {
        let args: Vec<Bytes> = line
            .split_whitespace()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        let cmd = crate::parse(&args)
            .expect("engine command")
            .expect("parses");
        match cmd.prepare(db, ctx) {
            crate::Prepared::Reply(_) => None,
            crate::Prepared::Write(op) => {
                crate::apply(db, &op);
                Some(op)
            }
        }
    }

    #[test]
    fn ops_and_snapshots_round_trip() {
        let mut db = Db::new();
        let ctx = Ctx {
            now_ms: 1_700_000_000_000,
            node_max_entries: 3,
        };
        let mut ops = Vec::new();
        for line in [
            "XADD s * a 1",
            "XADD s * b 2",
            "XADD s MAXLEN ~ 2 * c 3",
            "XGROUP CREATE s g 0",
            "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
            "XCLAIM s g bob 0 0-1 FORCE",
            "XAUTOCLAIM s g carol 0 0",
            "XACK s g 0-1",
            "SET k v",
            "RPUSH l x y",
            "SADD set m",
            "XDEL s 0-1",
            "XSETID s 9999999999999-0",
        ] {
            ops.extend(run(&mut db, &ctx, line));
        }
        assert!(ops.len() >= 10);
        let mut buf = Vec::new();
        encode_ops(ctx.now_ms, &ops, &mut buf);
        let (now, decoded) = decode_ops(&buf).unwrap();
        assert_eq!(now, ctx.now_ms);
        assert_eq!(decoded, ops);
        let mut again = Vec::new();
        encode_ops(ctx.now_ms, &decoded, &mut again);
        assert_eq!(again, buf, "deterministic");

        // Replaying the decoded ops on a fresh Db gives the same state.
        let mut replica = Db::new();
        for op in &decoded {
            crate::apply(&mut replica, op);
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        encode_db(&db, &mut a);
        encode_db(&replica, &mut b);
        assert_eq!(a, b);
        let restored = decode_db(&a).unwrap();
        let mut c = Vec::new();
        encode_db(&restored, &mut c);
        assert_eq!(a, c);
        assert_eq!(restored.len(), db.len());
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert_eq!(decode_ops(&[]), Err(CodecError::Empty));
        assert_eq!(decode_ops(&[9, 0]), Err(CodecError::Version(9)));
        assert_eq!(decode_ops(&[1, 0]), Err(CodecError::Truncated));
        let mut buf = Vec::new();
        encode_ops(5, &[], &mut buf);
        buf.push(0);
        assert_eq!(decode_ops(&buf), Err(CodecError::Trailing(1)));
        // A huge length prefix must not allocate it.
        let mut huge = vec![1u8];
        huge.extend_from_slice(&0u64.to_le_bytes());
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_ops(&huge).is_err());
        assert!(decode_db(&huge).is_err());
    }
}
