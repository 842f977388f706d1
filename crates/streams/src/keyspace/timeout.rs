//! The seconds timeout of BLPOP/BRPOP, parsed the way Redis's `getTimeoutFromObjectOrReply`
//! does with `UNIT_SECONDS`: `strtold` (decimal or hexadecimal, `inf`, exponents; no spaces,
//! no NaN, no overflow or underflow of a `long double`), times 1000, rounded up.

use resp::Reply;

use super::c_str;

pub const ERR_TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const ERR_TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const ERR_TIMEOUT_RANGE: &str = "ERR timeout is out of range";

/// `MAX_LONG_DOUBLE_CHARS` of Redis: longer arguments are not numbers.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;
/// Decimal exponents beyond which an x87 `long double` overflows / underflows to zero.
const LD_MAX_EXP10: i64 = 4932;
const LD_MIN_EXP10: i64 = -4951;

/// Parses a timeout in seconds into whole milliseconds (0 = wait forever).
pub fn parse_timeout_secs(arg: &[u8]) -> Result<u64, Reply> {
    let secs = parse_long_double(arg).ok_or_else(|| Reply::error(ERR_TIMEOUT_NOT_FLOAT))?;
    let ms = secs * 1000.0;
    if ms > i64::MAX as f64 {
        return Err(Reply::error(ERR_TIMEOUT_RANGE));
    }
    // `(long long) ceill(x)`: -inf and huge negatives end up negative.
    let ms = ms.ceil();
    if ms < 0.0 {
        return Err(Reply::error(ERR_TIMEOUT_NEGATIVE));
    }
    Ok(ms as u64)
}

/// Redis's `string2ld`: `None` where it fails. Values that a `long double` holds but an `f64`
/// does not come back as `±inf` (overflow) or `±f64::MIN_POSITIVE` (underflow).
pub fn parse_long_double(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg.len() >= MAX_LONG_DOUBLE_CHARS {
        return None;
    }
    // `strtold` stops at a NUL; an argument starting with one converts nothing and leaves
    // the end pointer on the NUL, which Redis accepts as 0.
    let s = c_str(arg);
    if s.is_empty() {
        return Some(0.0);
    }
    let (neg, body) = match s[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let mag = if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if body.len() > 1 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        parse_hex(&body[2..])?
    } else {
        parse_decimal(body)?
    };
    Some(if neg { -mag } else { mag })
}

/// `digits[.digits][(e|E)[sign]digits]` with at least one digit in the mantissa.
fn parse_decimal(b: &[u8]) -> Option<f64> {
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &b[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &b[f..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if i < b.len() && (b[i] | 0x20) == b'e' {
        let (e, used) = parse_exponent(&b[i + 1..])?;
        exp = e;
        i += 1 + used;
    }
    if i != b.len() {
        return None;
    }
    // The decimal exponent of the leading significant digit decides long double range.
    let lead = match int_digits.iter().position(|&c| c != b'0') {
        Some(p) => Some((int_digits.len() - p) as i64 - 1),
        None => frac_digits
            .iter()
            .position(|&c| c != b'0')
            .map(|p| -(p as i64) - 1),
    };
    let Some(lead) = lead else {
        return Some(0.0); // all zeros
    };
    let magnitude = lead.saturating_add(exp);
    if !(LD_MIN_EXP10..=LD_MAX_EXP10).contains(&magnitude) {
        return None; // ERANGE
    }
    let text = std::str::from_utf8(b).ok()?;
    let v: f64 = text.parse().ok()?;
    if v == 0.0 {
        return Some(f64::MIN_POSITIVE); // a long double still holds it
    }
    Some(v)
}

/// `[sign]digits` of an exponent: the value (saturated) and the bytes used. An `e` without
/// digits is not part of the number, which leaves trailing garbage: `None`.
fn parse_exponent(b: &[u8]) -> Option<(i64, usize)> {
    let mut i = 0;
    let neg = match b.first() {
        Some(b'+') => {
            i += 1;
            false
        }
        Some(b'-') => {
            i += 1;
            true
        }
        _ => false,
    };
    let start = i;
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add((b[i] - b'0') as i64);
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((if neg { -v } else { v }, i))
}

/// The part after `0x`: `hex[.hex][(p|P)[sign]digits]`.
fn parse_hex(b: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mant = 0f64;
    let mut lead_bits: Option<i64> = None; // binary exponent of the leading 1 bit
    let mut int_len = 0i64;
    let mut any = false;
    while i < b.len() && b[i].is_ascii_hexdigit() {
        let d = hex_val(b[i]);
        mant = mant * 16.0 + d as f64;
        if lead_bits.is_none() && d != 0 {
            lead_bits = Some(0);
        }
        if lead_bits.is_some() {
            int_len += 1;
        }
        any = true;
        i += 1;
    }
    // Fraction digits: `mant` holds the digits up to `frac_scale`; digits past 16
    // significant ones are below f64 precision and dropped.
    let mut frac_scale: i64 = 0;
    let mut frac_pos: i64 = 0;
    let mut lead_frac: Option<i64> = None;
    let mut significant = 0u32;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            let d = hex_val(b[i]);
            frac_pos = frac_pos.saturating_add(1);
            if lead_bits.is_none() && lead_frac.is_none() && d != 0 {
                lead_frac = Some(frac_pos);
            }
            if lead_bits.is_some() || lead_frac.is_some() {
                significant += 1;
            }
            if significant <= 16 {
                mant = mant * 16.0 + d as f64;
                frac_scale = frac_pos;
            }
            any = true;
            i += 1;
        }
    }
    if !any {
        return None; // "0x" alone converts "0" and leaves "x": trailing garbage
    }
    let mut exp: i64 = 0;
    if i < b.len() && (b[i] | 0x20) == b'p' {
        let (e, used) = parse_exponent(&b[i + 1..])?;
        exp = e;
        i += 1 + used;
    }
    if i != b.len() {
        return None;
    }
    if mant == 0.0 {
        return Some(0.0);
    }
    let lead = match (lead_bits, lead_frac) {
        (Some(_), _) => int_len * 4,
        (None, Some(f)) => -(f * 4),
        (None, None) => 0,
    };
    let magnitude = lead.saturating_add(exp);
    // long double: 2^16384 overflows, below 2^-16445 is zero.
    if !(-16445..=16384).contains(&magnitude) {
        return None;
    }
    let total = exp.saturating_sub(frac_scale.saturating_mul(4));
    let v = mant * pow2(total);
    if v == 0.0 {
        return Some(f64::MIN_POSITIVE);
    }
    Some(v)
}

fn hex_val(c: u8) -> u32 {
    (c as char).to_digit(16).unwrap_or(0)
}

/// `2^e` as an f64, saturating to 0 or inf.
fn pow2(e: i64) -> f64 {
    let e = e.clamp(-2000, 2000) as i32;
    // Split so each factor stays finite where the product does.
    2f64.powi(e / 2) * 2f64.powi(e - e / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<u64, String> {
        parse_timeout_secs(s.as_bytes()).map_err(|r| match r {
            Reply::Error(e) => String::from_utf8_lossy(&e).into_owned(),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn like_redis() {
        assert_eq!(t("0"), Ok(0));
        assert_eq!(t("1"), Ok(1000));
        assert_eq!(t("0.1"), Ok(100));
        assert_eq!(t("0.0001"), Ok(1));
        assert_eq!(t("+2.5"), Ok(2500));
        assert_eq!(t("1e1"), Ok(10_000));
        assert_eq!(t(".5"), Ok(500));
        assert_eq!(t("5."), Ok(5000));
        assert_eq!(t("0x10"), Ok(16_000));
        assert_eq!(t("0x1p-1"), Ok(500));
        assert_eq!(t("0x.8"), Ok(500));
        assert_eq!(t("0X1.8P1"), Ok(3000));
        assert_eq!(t("-0.0001"), Ok(0)); // ceil(-0.1) is -0: forever
        assert_eq!(t("1e-400"), Ok(1)); // a long double keeps it
        assert_eq!(t("-1").unwrap_err(), ERR_TIMEOUT_NEGATIVE);
        assert_eq!(t("-inf").unwrap_err(), ERR_TIMEOUT_NEGATIVE);
        assert_eq!(t("inf").unwrap_err(), ERR_TIMEOUT_RANGE);
        assert_eq!(t("1e400").unwrap_err(), ERR_TIMEOUT_RANGE);
        assert_eq!(t("1e16").unwrap_err(), ERR_TIMEOUT_RANGE);
        for bad in [
            "abc", "", " 1", "1 ", "nan", "1e5000", "1e", "0x", ".", "1e-5000", "--1",
        ] {
            assert_eq!(t(bad).unwrap_err(), ERR_TIMEOUT_NOT_FLOAT, "{bad:?}");
        }
    }
}
