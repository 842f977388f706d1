//! Stream IDs (`ms-seq`) and Redis's ID argument parsers.

use std::fmt;

/// A stream entry ID: two unsigned 64-bit integers ordered lexicographically (ms first).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID, or `None` at `MAX`.
    pub fn next(&self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, or `None` at `0-0`.
    pub fn prev(&self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// Big-endian encoding: byte order equals ID order (used for storage keys).
    pub fn to_be_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be_bytes(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        let ms = u64::from_be_bytes(b[..8].try_into().ok()?);
        let seq = u64::from_be_bytes(b[8..].try_into().ok()?);
        Some(StreamId { ms, seq })
    }

    /// The canonical textual form as bytes (`1-2`).
    pub fn to_bytes(&self) -> bytes::Bytes {
        bytes::Bytes::from(self.to_string())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The invalid-ID error text shared by every stream command.
pub const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Parses an unsigned integer the way Redis's `string2ull` does: a canonical decimal first,
/// then `strtoull` rules (leading zeros, leading whitespace and a sign are tolerated; a minus
/// sign wraps as in C; overflow and trailing garbage are rejected).
pub fn parse_u64_redis(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64_strict(s) {
        return if v < 0 { None } else { Some(v as u64) };
    }
    // strtoull semantics
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add((s[i] - b'0') as u64)?;
        i += 1;
    }
    if i == start || i != s.len() || s.is_empty() {
        return None;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's `string2ll`: an optional `-`, no leading zeros (except "0"), no spaces, no `+`.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Redis's `getLongLongFromObject` (what `value is not an integer or out of range` guards).
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    parse_i64_strict(s)
}

/// Parses an ID argument. `strict` rejects `-` and `+`; otherwise `-` is `0-0` and `+` is
/// `MAX`. An incomplete ID (`ms`) gets `missing_seq` as its sequence.
pub fn parse_id(arg: &[u8], strict: bool, missing_seq: u64) -> Option<StreamId> {
    if arg.len() > 127 {
        return None;
    }
    if arg == b"-" || arg == b"+" {
        if strict {
            return None;
        }
        return Some(if arg == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        });
    }
    match arg.iter().position(|&c| c == b'-') {
        Some(dash) => {
            let ms = parse_u64_redis(&arg[..dash])?;
            let seq = parse_u64_redis(&arg[dash + 1..])?;
            Some(StreamId::new(ms, seq))
        }
        None => Some(StreamId::new(parse_u64_redis(arg)?, missing_seq)),
    }
}

/// A range bound as accepted by XRANGE/XREVRANGE/XPENDING/XAUTOCLAIM: non-strict, with an
/// optional `(` for an exclusive bound. Returns the inclusive ID, or `Err(reply text)`.
/// `is_start` selects the missing sequence (0 for starts, MAX for ends) and the overflow error.
pub fn parse_range_bound(arg: &[u8], is_start: bool) -> Result<StreamId, &'static str> {
    let missing_seq = if is_start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id(&arg[1..], true, missing_seq).ok_or(ERR_INVALID_ID)?;
        if is_start {
            id.next().ok_or("ERR invalid start ID for the interval")
        } else {
            id.prev().ok_or("ERR invalid end ID for the interval")
        }
    } else {
        parse_id(arg, false, missing_seq).ok_or(ERR_INVALID_ID)
    }
}

/// The ID argument of XADD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddId {
    /// `*`
    Auto,
    /// `ms-*`
    AutoSeq(u64),
    /// `ms-seq` or `ms` (seq 0)
    Explicit(StreamId),
}

pub fn parse_add_id(arg: &[u8]) -> Option<AddId> {
    if arg == b"*" {
        return Some(AddId::Auto);
    }
    if arg.len() > 2 && arg.ends_with(b"-*") {
        let ms = parse_u64_redis(&arg[..arg.len() - 2])?;
        return Some(AddId::AutoSeq(ms));
    }
    parse_id(arg, true, 0).map(AddId::Explicit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_like_redis() {
        assert_eq!(parse_id(b"01-02", true, 0), Some(StreamId::new(1, 2)));
        assert_eq!(parse_id(b"5", true, 7), Some(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"1-1-1", true, 0), None);
        assert_eq!(parse_id(b"-1", true, 0), None);
        assert_eq!(parse_id(b"-", true, 0), None);
        assert_eq!(parse_id(b"-", false, 0), Some(StreamId::MIN));
        assert_eq!(parse_id(b"+", false, 0), Some(StreamId::MAX));
        assert_eq!(parse_id(b"18446744073709551616", true, 0), None);
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615", true, 0),
            Some(StreamId::MAX)
        );
        assert_eq!(parse_id(b"", true, 0), None);
        assert_eq!(parse_id(b"abc", true, 0), None);
    }

    #[test]
    fn range_bounds() {
        assert_eq!(parse_range_bound(b"(1-1", true), Ok(StreamId::new(1, 2)));
        assert_eq!(
            parse_range_bound(b"(1-0", false),
            Ok(StreamId::new(0, u64::MAX))
        );
        assert!(parse_range_bound(b"(-", true).is_err());
        assert_eq!(
            parse_range_bound(b"(18446744073709551615-18446744073709551615", true),
            Err("ERR invalid start ID for the interval")
        );
        assert_eq!(
            parse_range_bound(b"(0-0", false),
            Err("ERR invalid end ID for the interval")
        );
        assert_eq!(
            parse_range_bound(b"5", false),
            Ok(StreamId::new(5, u64::MAX))
        );
    }

    #[test]
    fn add_ids() {
        assert_eq!(parse_add_id(b"*"), Some(AddId::Auto));
        assert_eq!(parse_add_id(b"5-*"), Some(AddId::AutoSeq(5)));
        assert_eq!(
            parse_add_id(b"5"),
            Some(AddId::Explicit(StreamId::new(5, 0)))
        );
        assert_eq!(parse_add_id(b"+"), None);
    }

    #[test]
    fn be_bytes_order() {
        let a = StreamId::new(1, u64::MAX);
        let b = StreamId::new(2, 0);
        assert!(a.to_be_bytes() < b.to_be_bytes());
        assert_eq!(StreamId::from_be_bytes(&a.to_be_bytes()), Some(a));
    }
}
