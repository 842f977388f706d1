//! DUMP and RESTORE, with xraft's own serialization format.
//!
//! ```text
//!  payload = body ‖ version (u16 LE) ‖ CRC64 (u64 LE, Redis's crc64 of body ‖ version)
//!  body    = 'X' ‖ type tag ‖ value
//!  string  = 1 ‖ bytes
//!  list    = 2 ‖ n ‖ bytes × n                       (n ≥ 1)
//!  set     = 3 ‖ n ‖ bytes × n                       (n ≥ 1, strictly ascending)
//!  stream  = 4 ‖ last_id ‖ entries_added ‖ max_deleted_id
//!              ‖ n_nodes ‖ node × n_nodes ‖ n_groups ‖ group × n_groups
//!  node    = master_id ‖ count ‖ live ‖ entry × live (ascending, from the master on)
//!  entry   = Δms ‖ seq-or-Δseq ‖ n_fields ‖ bytes × n_fields  (Δ against the previous ID,
//!            the master for the first; seq is a delta only when Δms is 0)
//!  group   = name ‖ last_id ‖ entries_read (0 = invalid, else value + 1)
//!              ‖ n_consumers ‖ consumer × n_consumers
//!  consumer= name ‖ seen_time ‖ zigzag(active_time) ‖ n_pending ‖ nack × n_pending
//!  nack    = id ‖ delivery_time ‖ delivery_count      (the consumer's PEL: together the
//!            consumers' PELs are the group PEL)
//!  id      = ms ‖ seq;  n, counts, times = LEB128 varints;  bytes = length ‖ raw
//! ```
//!
//! The trailer is checked first, like Redis's: a short payload, another version or a bad
//! checksum is `DUMP payload version or checksum are wrong`. Anything wrong in the body (a
//! truncation, trailing bytes, a count that does not add up, an ID out of order, a stream
//! failing [`Stream::check_invariants`]) is `Bad data format`. Decoding never panics and
//! allocates only as it consumes input.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use resp::Reply;

use super::{check_arity, is_token, write, Cmd, Op, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::{Db, Value};
use crate::engine::Prepared;
use crate::id::{parse_i64_strict, StreamId};
use crate::stream::{Nack, Node, Stream, StreamMeta};

/// The format version in the trailer.
pub const DUMP_VERSION: u16 = 1;
const MAGIC: u8 = b'X';
const TAG_STRING: u8 = 1;
const TAG_LIST: u8 = 2;
const TAG_SET: u8 = 3;
const TAG_STREAM: u8 = 4;
/// Version (2) + CRC64 (8).
const TRAILER_LEN: usize = 10;

pub const ERR_BUSYKEY: &str = "BUSYKEY Target key name already exists.";
pub const ERR_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const ERR_BAD_FORMAT: &str = "ERR Bad data format";
pub const ERR_TTL_NEGATIVE: &str = "ERR Invalid TTL value, must be >= 0";
pub const ERR_TTL_UNSUPPORTED: &str = "ERR xraft does not support key expiry (ttl must be 0)";

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Too short, another version, or a checksum mismatch.
    VersionOrChecksum,
    /// The body is malformed.
    BadFormat,
}

impl DecodeError {
    fn reply(self) -> Reply {
        Reply::error(match self {
            DecodeError::VersionOrChecksum => ERR_PAYLOAD,
            DecodeError::BadFormat => ERR_BAD_FORMAT,
        })
    }
}

// ------------------------------------------------------------------ commands

pub(super) fn parse(name: &[u8], args: &[Bytes]) -> Result<Cmd, Reply> {
    if name == b"dump" {
        check_arity(args, 2, "dump")?;
        return Ok(Cmd::Dump {
            key: args[1].clone(),
        });
    }
    check_arity(args, -4, "restore")?;
    // Options first, in Redis's order; IDLETIME and FREQ are checked, then ignored (no
    // eviction here), and exclude each other.
    let mut replace = false;
    let mut idle_seen = false;
    let mut freq_seen = false;
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        let opt = &args[j];
        if is_token(opt, "replace") {
            replace = true;
        } else if is_token(opt, "absttl") {
            // TTLs are refused below; ABSTTL changes nothing for a TTL of 0.
        } else if is_token(opt, "idletime") && more >= 1 && !freq_seen {
            let v = parse_i64_strict(&args[j + 1]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if v < 0 {
                return Err(Reply::error("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle_seen = true;
            j += 1;
        } else if is_token(opt, "freq") && more >= 1 && !idle_seen {
            let v = parse_i64_strict(&args[j + 1]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if !(0..=255).contains(&v) {
                return Err(Reply::error(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq_seen = true;
            j += 1;
        } else {
            return Err(Reply::error(ERR_SYNTAX));
        }
        j += 1;
    }
    Ok(Cmd::Restore {
        key: args[1].clone(),
        ttl: args[2].clone(),
        payload: args[3].clone(),
        replace,
    })
}

pub(super) fn dump(db: &Db, key: &[u8]) -> Reply {
    match db.get(key) {
        None => Reply::Null,
        Some(v) => Reply::Bulk(Bytes::from(encode_value(v))),
    }
}

/// RESTORE's checks in Redis's order: the key must be free (unless REPLACE), the TTL an
/// integer >= 0 (and 0 here), the trailer right, the body well formed.
pub(super) fn prepare_restore(
    db: &Db,
    key: &Bytes,
    ttl: &[u8],
    payload: &[u8],
    replace: bool,
) -> Prepared {
    if !replace && db.contains(key) {
        return Prepared::Reply(Reply::error(ERR_BUSYKEY));
    }
    let ttl = match parse_i64_strict(ttl) {
        None => return Prepared::Reply(Reply::error(ERR_NOT_INTEGER)),
        Some(t) if t < 0 => return Prepared::Reply(Reply::error(ERR_TTL_NEGATIVE)),
        Some(t) => t,
    };
    if ttl > 0 {
        return Prepared::Reply(Reply::error(ERR_TTL_UNSUPPORTED));
    }
    match decode_value(payload) {
        Ok(value) => write(Op::Restore {
            key: key.clone(),
            value,
            replace,
        }),
        Err(e) => Prepared::Reply(e.reply()),
    }
}

pub(super) fn apply_restore(db: &mut Db, key: &Bytes, value: &Value, replace: bool) -> Reply {
    if !replace && db.contains(key) {
        return Reply::error(ERR_BUSYKEY);
    }
    db.set(key.clone(), value.clone());
    db.dirty += 1;
    Reply::ok()
}

// ------------------------------------------------------------------ encoding

/// Serializes a value into a DUMP payload (deterministic: equal values give equal bytes).
pub fn encode_value(v: &Value) -> Vec<u8> {
    let mut w = Vec::new();
    w.push(MAGIC);
    match v {
        Value::String(s) => {
            w.push(TAG_STRING);
            put_bytes(&mut w, s);
        }
        Value::List(l) => {
            w.push(TAG_LIST);
            put_u64(&mut w, l.len() as u64);
            for item in l {
                put_bytes(&mut w, item);
            }
        }
        Value::Set(s) => {
            w.push(TAG_SET);
            put_u64(&mut w, s.len() as u64);
            for m in s {
                put_bytes(&mut w, m);
            }
        }
        Value::Stream(s) => {
            w.push(TAG_STREAM);
            encode_stream(&mut w, s);
        }
    }
    w.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &w);
    w.extend_from_slice(&crc.to_le_bytes());
    w
}

fn encode_stream(w: &mut Vec<u8>, s: &Stream) {
    let meta = s.meta();
    put_id(w, meta.last_id);
    put_u64(w, meta.entries_added);
    put_id(w, meta.max_deleted_id);

    put_u64(w, s.nodes().len() as u64);
    let masters: Vec<(StreamId, Node)> = s.nodes().iter().map(|(m, n)| (*m, *n)).collect();
    for (i, (master, node)) in masters.iter().enumerate() {
        put_id(w, *master);
        put_u64(w, node.count);
        let entries: Vec<_> = match masters.get(i + 1) {
            Some((next, _)) => s.entries().range(*master..*next).collect(),
            None => s.entries().range(*master..).collect(),
        };
        put_u64(w, entries.len() as u64);
        let mut prev = *master;
        for (id, fields) in entries {
            let dms = id.ms - prev.ms;
            put_u64(w, dms);
            put_u64(w, if dms == 0 { id.seq - prev.seq } else { id.seq });
            put_u64(w, fields.len() as u64);
            for f in fields {
                put_bytes(w, f);
            }
            prev = *id;
        }
    }

    put_u64(w, s.groups().len() as u64);
    for (name, g) in s.groups() {
        put_bytes(w, name);
        put_id(w, g.last_id);
        put_u64(w, g.entries_read.map_or(0, |n| n.saturating_add(1)));
        put_u64(w, g.consumers().len() as u64);
        for (cname, c) in g.consumers() {
            put_bytes(w, cname);
            put_u64(w, c.seen_time);
            put_u64(w, zigzag(c.active_time));
            put_u64(w, c.pel().len() as u64);
            for id in c.pel() {
                put_id(w, *id);
                let (time, count) = g
                    .pel()
                    .get(id)
                    .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                put_u64(w, time);
                put_u64(w, count);
            }
        }
    }
}

fn put_u64(w: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    put_u64(w, b.len() as u64);
    w.extend_from_slice(b);
}

fn put_id(w: &mut Vec<u8>, id: StreamId) {
    put_u64(w, id.ms);
    put_u64(w, id.seq);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

// ------------------------------------------------------------------ decoding

/// Checks the trailer and decodes a DUMP payload.
pub fn decode_value(payload: &[u8]) -> Result<Value, DecodeError> {
    if payload.len() < TRAILER_LEN {
        return Err(DecodeError::VersionOrChecksum);
    }
    let (covered, crc) = payload.split_at(payload.len() - 8);
    let body_len = covered.len() - 2;
    let version = u16::from_le_bytes([covered[body_len], covered[body_len + 1]]);
    if version != DUMP_VERSION {
        return Err(DecodeError::VersionOrChecksum);
    }
    let mut want = [0u8; 8];
    want.copy_from_slice(crc);
    if crc64::crc64(0, covered) != u64::from_le_bytes(want) {
        return Err(DecodeError::VersionOrChecksum);
    }
    let mut r = Reader {
        buf: &covered[..body_len],
        pos: 0,
    };
    let value = decode_body(&mut r).ok_or(DecodeError::BadFormat)?;
    if r.pos != r.buf.len() {
        return Err(DecodeError::BadFormat);
    }
    Ok(value)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn u64(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = (b & 0x7f) as u64;
            if shift == 63 && bits > 1 {
                return None; // overflow
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<Bytes> {
        let len = usize::try_from(self.u64()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(Bytes::copy_from_slice(b))
    }

    fn id(&mut self) -> Option<StreamId> {
        Some(StreamId::new(self.u64()?, self.u64()?))
    }
}

fn decode_body(r: &mut Reader) -> Option<Value> {
    if r.u8()? != MAGIC {
        return None;
    }
    match r.u8()? {
        TAG_STRING => Some(Value::String(r.bytes()?)),
        TAG_LIST => {
            let n = r.u64()?;
            let mut l = VecDeque::new();
            for _ in 0..n {
                l.push_back(r.bytes()?);
            }
            (!l.is_empty()).then_some(Value::List(l))
        }
        TAG_SET => {
            let n = r.u64()?;
            let mut s = BTreeSet::new();
            let mut prev: Option<Bytes> = None;
            for _ in 0..n {
                let m = r.bytes()?;
                if prev.as_ref().is_some_and(|p| *p >= m) {
                    return None;
                }
                prev = Some(m.clone());
                s.insert(m);
            }
            (!s.is_empty()).then_some(Value::Set(s))
        }
        TAG_STREAM => decode_stream(r).map(|s| Value::Stream(Box::new(s))),
        _ => None,
    }
}

fn decode_stream(r: &mut Reader) -> Option<Stream> {
    let mut s = Stream::new();
    s.load_meta(StreamMeta {
        last_id: r.id()?,
        entries_added: r.u64()?,
        max_deleted_id: r.id()?,
    });

    let n_nodes = r.u64()?;
    let mut prev_master: Option<StreamId> = None;
    for _ in 0..n_nodes {
        let master = r.id()?;
        if prev_master.is_some_and(|p| p >= master) {
            return None;
        }
        prev_master = Some(master);
        let count = r.u64()?;
        let live = r.u64()?;
        if live == 0 || live > count {
            return None;
        }
        let mut prev = master;
        for i in 0..live {
            let dms = r.u64()?;
            let dseq = r.u64()?;
            let id = if dms == 0 {
                StreamId::new(prev.ms, prev.seq.checked_add(dseq)?)
            } else {
                StreamId::new(prev.ms.checked_add(dms)?, dseq)
            };
            if i > 0 && id <= prev {
                return None;
            }
            let n_fields = r.u64()?;
            if n_fields == 0 || n_fields % 2 != 0 {
                return None;
            }
            let mut fields = Vec::new();
            for _ in 0..n_fields {
                fields.push(r.bytes()?);
            }
            s.load_entry(id, fields);
            prev = id;
        }
        s.load_node(master, Node { count, live });
    }

    let n_groups = r.u64()?;
    for _ in 0..n_groups {
        let name = r.bytes()?;
        if s.group(&name).is_some() {
            return None;
        }
        let last_id = r.id()?;
        let entries_read = match r.u64()? {
            0 => None,
            n => Some(n - 1),
        };
        s.load_group(name.clone(), last_id, entries_read);
        let n_consumers = r.u64()?;
        for _ in 0..n_consumers {
            let cname = r.bytes()?;
            if s.group(&name)?.consumer(&cname).is_some() {
                return None;
            }
            let seen_time = r.u64()?;
            let active_time = unzigzag(r.u64()?);
            s.load_consumer(&name, cname.clone(), seen_time, active_time);
            let n_pending = r.u64()?;
            for _ in 0..n_pending {
                let id = r.id()?;
                if s.group(&name)?.pel().contains_key(&id) {
                    return None; // owned twice
                }
                let nack = Nack {
                    consumer: cname.clone(),
                    delivery_time: r.u64()?,
                    delivery_count: r.u64()?,
                };
                s.load_pel(&name, id, nack);
            }
        }
    }
    s.check_invariants().ok()?;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut w = Vec::new();
            put_u64(&mut w, v);
            let mut r = Reader { buf: &w, pos: 0 };
            assert_eq!(r.u64(), Some(v));
            assert_eq!(r.pos, w.len());
        }
        // An eleventh byte, or bits past 64, are refused.
        let mut r = Reader {
            buf: &[0xff; 11],
            pos: 0,
        };
        assert_eq!(r.u64(), None);
        let mut r = Reader {
            buf: &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            pos: 0,
        };
        assert_eq!(r.u64(), None);
    }

    #[test]
    fn zigzag_round_trip() {
        for v in [0, -1, 1, i64::MIN, i64::MAX, 1_700_000_000_000] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn trailer_checks() {
        let p = encode_value(&Value::String(Bytes::from_static(b"v")));
        assert_eq!(
            decode_value(&p),
            Ok(Value::String(Bytes::from_static(b"v")))
        );
        assert_eq!(decode_value(&p[..9]), Err(DecodeError::VersionOrChecksum));
        let mut bad = p.clone();
        bad[2] ^= 1;
        assert_eq!(decode_value(&bad), Err(DecodeError::VersionOrChecksum));
    }
}
