//! Integer text conversions shared by the encoder and the parsers: allocation-free decimal
//! formatting, and Redis's strict `string2ll`.

/// Longest decimal `i64` text: `-9223372036854775808`.
const I64_MAX_CHARS: usize = 20;

/// Appends the decimal text of `v` to `out` without an intermediate allocation.
pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; I64_MAX_CHARS];
    let start = format_u64(&mut buf, v.unsigned_abs(), v < 0);
    out.extend_from_slice(&buf[start..]);
}

/// Appends the decimal text of `v` to `out` without an intermediate allocation.
pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; I64_MAX_CHARS];
    let start = format_u64(&mut buf, v, false);
    out.extend_from_slice(&buf[start..]);
}

/// Appends `prefix`, the decimal `n` and CRLF: the header of every RESP type with a length or
/// an integer payload.
pub(crate) fn write_header(out: &mut Vec<u8>, prefix: u8, n: u64) {
    out.push(prefix);
    write_u64(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Writes `v` (with a leading `-` when `negative`) right-aligned into `buf`; returns where the
/// text starts.
fn format_u64(buf: &mut [u8; I64_MAX_CHARS], mut v: u64, negative: bool) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    i
}

/// Redis's `LONG_STR_SIZE`: texts this long or longer are never valid numbers.
const LONG_STR_SIZE: usize = 21;

/// Parses `s` exactly like Redis's `string2ll`: an optional `-`, then either a lone `0` or a
/// digit 1-9 followed by digits; no `+`, no spaces, no leading zeros, no `-0`; must fit `i64`.
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > i64::MIN.unsigned_abs() {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_i64(v: i64) -> String {
        let mut out = Vec::new();
        write_i64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_integers_like_display() {
        for v in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            12345,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(text_i64(v), v.to_string());
        }
        let mut out = Vec::new();
        write_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
        out.clear();
        write_header(&mut out, b'*', 3);
        assert_eq!(out, b"*3\r\n");
    }

    #[test]
    fn string2ll_accepts_what_redis_accepts() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"7"), Some(7));
        assert_eq!(string2ll(b"-7"), Some(-7));
        assert_eq!(string2ll(b"1234567890"), Some(1_234_567_890));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn string2ll_rejects_what_redis_rejects() {
        for s in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b"00",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(string2ll(s), None, "{:?}", String::from_utf8_lossy(s));
        }
    }
}
