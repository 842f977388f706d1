//! Splitting an inline command line into arguments, exactly like Redis's `sdssplitargs`.

use bytes::Bytes;

/// Splits `line` the way Redis splits inline commands (`sdssplitargs`):
///
/// - arguments are separated by whitespace (space, `\t`, `\n`, `\r`, `\v`, `\f`; inside an
///   unquoted argument only space, `\t`, `\n` and `\r` end it);
/// - `"double quotes"` understand `\n \r \t \b \a`, `\xHH` and `\<any>` (the character itself);
/// - `'single quotes'` understand only `\'`;
/// - a closing quote must be followed by whitespace or the end of the line;
/// - a quote may start in the middle of an argument: `a"b c"` is `ab c`;
/// - a NUL byte ends the line (Redis works on C strings).
///
/// Returns `None` for unbalanced quotes. An empty or blank line gives no arguments.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    // Redis works on a NUL-terminated string: nothing after a NUL is seen.
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        let mut done = false;
        while !done {
            let c = at(p);
            if in_double {
                if c == b'\\' && at(p + 1) == b'x' && is_hex(at(p + 2)) && is_hex(at(p + 3)) {
                    current.push(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    other => current.push(other),
                }
            }
            if p < line.len() {
                p += 1;
            }
        }
        args.push(Bytes::from(current));
    }
}

/// C `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Option<Vec<String>> {
        split_bytes(line.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    fn split_bytes(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        split_args(line).map(|v| v.into_iter().map(|a| a.to_vec()).collect())
    }

    #[test]
    fn plain_words() {
        assert_eq!(split("PING").unwrap(), ["PING"]);
        assert_eq!(split("  SET  k   v ").unwrap(), ["SET", "k", "v"]);
        assert_eq!(split("a\tb").unwrap(), ["a", "b"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("   \t ").unwrap(), Vec::<String>::new());
        // \v and \f are skipped between words but do not end an unquoted word.
        assert_eq!(split("\x0ba\x0bb").unwrap(), ["a\x0bb"]);
    }

    #[test]
    fn double_quotes() {
        assert_eq!(split(r#"SET "a b" c"#).unwrap(), ["SET", "a b", "c"]);
        assert_eq!(split(r#""""#).unwrap(), [""]);
        assert_eq!(
            split(r#""\n\r\t\b\a\\\"\q""#).unwrap(),
            ["\n\r\t\x08\x07\\\"q"]
        );
        assert_eq!(
            split_bytes(br#""\x41\xff\x4""#).unwrap(),
            [b"A\xffx4".to_vec()]
        );
        assert_eq!(split(r#""\xZZ""#).unwrap(), ["xZZ"]);
        assert_eq!(split(r#"a"b c"d"#), None);
        assert_eq!(split(r#"a"b c" d"#).unwrap(), ["ab c", "d"]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'a b' c").unwrap(), ["a b", "c"]);
        assert_eq!(split(r"'it\'s'").unwrap(), ["it's"]);
        assert_eq!(split(r"'a\nb'").unwrap(), [r"a\nb"]);
        assert_eq!(split(r"''").unwrap(), [""]);
    }

    #[test]
    fn unbalanced_quotes() {
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split(r"'abc"), None);
        assert_eq!(split(r#""abc"x"#), None);
        assert_eq!(split(r"'abc'x"), None);
        assert_eq!(split(r#""abc\"#), None);
        assert_eq!(split(r#"set "a"#), None);
    }

    #[test]
    fn closing_quote_followed_by_any_whitespace() {
        assert_eq!(split("\"a\"\x0bb").unwrap(), ["a", "b"]);
        assert_eq!(split("'a'\tb").unwrap(), ["a", "b"]);
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(
            split_bytes(b"a b\0c d").unwrap(),
            [b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(split_bytes(b"\"a\0\""), None);
    }
}
