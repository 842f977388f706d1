//! Renders a [`Reply`] as RESP2 or RESP3 bytes, byte for byte as Redis 7.2/8.0 writes them.
//!
//! | Reply       | RESP3                         | RESP2                          |
//! |-------------|-------------------------------|--------------------------------|
//! | Null        | `_`                           | `$-1`                          |
//! | NullArray   | `_`                           | `*-1`                          |
//! | Map         | `%n` k v ...                  | `*2n` k v ...                  |
//! | PairMap     | `%n` k v ...                  | `*n` of `*2` k v               |
//! | Set         | `~n`                          | `*n`                           |
//! | Push        | `>n`                          | `*n`                           |
//! | Double      | `,<text>`                     | `$len` `<text>`                |
//! | Boolean     | `#t` / `#f`                   | `:1` / `:0`                    |
//! | Verbatim    | `=len` `fmt:text`             | `$len` `text`                  |

use crate::double::write_double;
use crate::num::{write_header, write_i64};
use crate::{Protocol, Reply};

impl Reply {
    /// Appends this reply, encoded for `proto`, to `out`.
    pub fn encode(&self, proto: Protocol, out: &mut Vec<u8>) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Reply::Simple(s) => {
                out.push(b'+');
                extend_sanitized(out, s);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Error(e) => {
                out.push(b'-');
                let e = trim_crlf(e);
                if e.is_empty() {
                    // Redis prefixes an error without its own code with `ERR `.
                    out.extend_from_slice(b"ERR ");
                }
                extend_sanitized(out, e);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Integer(n) => {
                out.push(b':');
                write_i64(out, *n);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(b) => write_bulk(out, b),
            Reply::Null if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Null => out.extend_from_slice(b"$-1\r\n"),
            Reply::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                write_header(out, b'*', items.len() as u64);
                for item in items {
                    item.encode(proto, out);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    write_header(out, b'%', pairs.len() as u64);
                } else {
                    write_header(out, b'*', 2 * pairs.len() as u64);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::PairMap(pairs) if !resp3 => {
                write_header(out, b'*', pairs.len() as u64);
                for (k, v) in pairs {
                    write_header(out, b'*', 2);
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::PairMap(pairs) => {
                write_header(out, b'%', pairs.len() as u64);
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Set(items) | Reply::Push(items) => {
                let prefix = match (resp3, self) {
                    (false, _) => b'*',
                    (true, Reply::Set(_)) => b'~',
                    (true, _) => b'>',
                };
                write_header(out, prefix, items.len() as u64);
                for item in items {
                    item.encode(proto, out);
                }
            }
            Reply::Double(d) => {
                if resp3 {
                    out.push(b',');
                    write_double(out, *d);
                    out.extend_from_slice(b"\r\n");
                } else {
                    let mut text = Vec::with_capacity(crate::double::MAX_DOUBLE_CHARS);
                    write_double(&mut text, *d);
                    write_bulk(out, &text);
                }
            }
            Reply::Boolean(b) => {
                let text: &[u8] = match (resp3, b) {
                    (true, true) => b"#t\r\n",
                    (true, false) => b"#f\r\n",
                    (false, true) => b":1\r\n",
                    (false, false) => b":0\r\n",
                };
                out.extend_from_slice(text);
            }
            Reply::Verbatim { format, text } => {
                if resp3 {
                    write_header(out, b'=', text.len() as u64 + 4);
                    out.extend_from_slice(format);
                    out.push(b':');
                    out.extend_from_slice(text);
                    out.extend_from_slice(b"\r\n");
                } else {
                    write_bulk(out, text);
                }
            }
        }
    }

    /// This reply encoded for `proto`.
    pub fn to_bytes(&self, proto: Protocol) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(proto, &mut out);
        out
    }
}

fn write_bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len() + 16);
    write_header(out, b'$', data.len() as u64);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Strips leading and trailing CR/LF, like Redis's `sdstrim(s, "\r\n")` on error texts.
pub(crate) fn trim_crlf(s: &[u8]) -> &[u8] {
    let is_crlf = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = s.iter().position(|b| !is_crlf(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_crlf(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Appends `s` with CR and LF replaced by spaces, so a line type can never break framing.
fn extend_sanitized(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(s.iter().map(|&b| match b {
            b'\r' | b'\n' => b' ',
            other => other,
        }));
    } else {
        out.extend_from_slice(s);
    }
}

/// The line a simple string or error reply carries on the wire (what a reader decodes).
pub(crate) fn wire_line(reply: &Reply) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match reply {
        Reply::Simple(_) | Reply::Error(_) => reply.encode(Protocol::Resp2, &mut out),
        _ => return None,
    }
    out.truncate(out.len() - 2);
    out.remove(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn both(reply: &Reply) -> (String, String) {
        let text = |p| String::from_utf8(reply.to_bytes(p)).unwrap();
        (text(Protocol::Resp2), text(Protocol::Resp3))
    }

    fn check(reply: Reply, resp2: &str, resp3: &str) {
        let (two, three) = both(&reply);
        assert_eq!(two, resp2, "RESP2 of {reply:?}");
        assert_eq!(three, resp3, "RESP3 of {reply:?}");
    }

    #[test]
    fn simple_and_error() {
        check(Reply::ok(), "+OK\r\n", "+OK\r\n");
        check(Reply::simple("PONG"), "+PONG\r\n", "+PONG\r\n");
        check(Reply::Simple(Bytes::new()), "+\r\n", "+\r\n");
        check(
            Reply::Simple(Bytes::from("a\r\nb")),
            "+a  b\r\n",
            "+a  b\r\n",
        );
        check(
            Reply::error("ERR syntax error"),
            "-ERR syntax error\r\n",
            "-ERR syntax error\r\n",
        );
        check(
            Reply::error("WRONGTYPE Operation against a key"),
            "-WRONGTYPE Operation against a key\r\n",
            "-WRONGTYPE Operation against a key\r\n",
        );
        check(Reply::error("ERR a\nb\r\n"), "-ERR a b\r\n", "-ERR a b\r\n");
        check(Reply::error("\r\nERR x"), "-ERR x\r\n", "-ERR x\r\n");
        check(Reply::error(""), "-ERR \r\n", "-ERR \r\n");
        assert!(Reply::error("ERR x").is_error());
    }

    #[test]
    fn integers() {
        check(Reply::Integer(0), ":0\r\n", ":0\r\n");
        check(Reply::Integer(1), ":1\r\n", ":1\r\n");
        check(Reply::Integer(-42), ":-42\r\n", ":-42\r\n");
        check(
            Reply::Integer(i64::MAX),
            ":9223372036854775807\r\n",
            ":9223372036854775807\r\n",
        );
        check(
            Reply::Integer(i64::MIN),
            ":-9223372036854775808\r\n",
            ":-9223372036854775808\r\n",
        );
    }

    #[test]
    fn bulk_strings() {
        check(Reply::bulk("hello"), "$5\r\nhello\r\n", "$5\r\nhello\r\n");
        check(Reply::bulk(""), "$0\r\n\r\n", "$0\r\n\r\n");
        check(
            Reply::bulk("a\r\nb"),
            "$4\r\na\r\nb\r\n",
            "$4\r\na\r\nb\r\n",
        );
        let big = "x".repeat(12345);
        check(
            Reply::bulk(big.clone()),
            &format!("$12345\r\n{big}\r\n"),
            &format!("$12345\r\n{big}\r\n"),
        );
    }

    #[test]
    fn nulls() {
        check(Reply::Null, "$-1\r\n", "_\r\n");
        check(Reply::NullArray, "*-1\r\n", "_\r\n");
    }

    #[test]
    fn arrays() {
        check(Reply::Array(vec![]), "*0\r\n", "*0\r\n");
        check(
            Reply::Array(vec![Reply::bulk("a"), Reply::Integer(2), Reply::Null]),
            "*3\r\n$1\r\na\r\n:2\r\n$-1\r\n",
            "*3\r\n$1\r\na\r\n:2\r\n_\r\n",
        );
        check(
            Reply::Array(vec![Reply::Array(vec![Reply::NullArray])]),
            "*1\r\n*1\r\n*-1\r\n",
            "*1\r\n*1\r\n_\r\n",
        );
    }

    #[test]
    fn maps() {
        check(Reply::Map(vec![]), "*0\r\n", "%0\r\n");
        check(
            Reply::Map(vec![
                (Reply::bulk("name"), Reply::bulk("g1")),
                (Reply::bulk("pending"), Reply::Integer(3)),
            ]),
            "*4\r\n$4\r\nname\r\n$2\r\ng1\r\n$7\r\npending\r\n:3\r\n",
            "%2\r\n$4\r\nname\r\n$2\r\ng1\r\n$7\r\npending\r\n:3\r\n",
        );
    }

    #[test]
    fn pair_maps() {
        check(Reply::PairMap(vec![]), "*0\r\n", "%0\r\n");
        check(
            Reply::PairMap(vec![
                (Reply::bulk("s1"), Reply::Array(vec![])),
                (Reply::bulk("s2"), Reply::NullArray),
            ]),
            "*2\r\n*2\r\n$2\r\ns1\r\n*0\r\n*2\r\n$2\r\ns2\r\n*-1\r\n",
            "%2\r\n$2\r\ns1\r\n*0\r\n$2\r\ns2\r\n_\r\n",
        );
    }

    #[test]
    fn sets_and_pushes() {
        check(
            Reply::Set(vec![Reply::bulk("a"), Reply::bulk("b")]),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            "~2\r\n$1\r\na\r\n$1\r\nb\r\n",
        );
        check(Reply::Set(vec![]), "*0\r\n", "~0\r\n");
        check(
            Reply::Push(vec![
                Reply::bulk("message"),
                Reply::bulk("ch"),
                Reply::bulk("hi"),
            ]),
            "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        );
    }

    #[test]
    fn doubles() {
        check(Reply::Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n");
        check(Reply::Double(3.0), "$1\r\n3\r\n", ",3\r\n");
        check(Reply::Double(-0.0), "$2\r\n-0\r\n", ",-0\r\n");
        check(Reply::Double(0.1), "$3\r\n0.1\r\n", ",0.1\r\n");
        check(
            Reply::Double(1.0 / 3.0),
            "$18\r\n0.3333333333333333\r\n",
            ",0.3333333333333333\r\n",
        );
        check(Reply::Double(1e20), "$5\r\n1e+20\r\n", ",1e+20\r\n");
        check(Reply::Double(f64::INFINITY), "$3\r\ninf\r\n", ",inf\r\n");
        check(
            Reply::Double(f64::NEG_INFINITY),
            "$4\r\n-inf\r\n",
            ",-inf\r\n",
        );
        check(Reply::Double(f64::NAN), "$3\r\nnan\r\n", ",nan\r\n");
    }

    #[test]
    fn booleans() {
        check(Reply::Boolean(true), ":1\r\n", "#t\r\n");
        check(Reply::Boolean(false), ":0\r\n", "#f\r\n");
    }

    #[test]
    fn verbatim() {
        check(
            Reply::Verbatim {
                format: *b"txt",
                text: Bytes::from("Some string"),
            },
            "$11\r\nSome string\r\n",
            "=15\r\ntxt:Some string\r\n",
        );
        check(
            Reply::Verbatim {
                format: *b"mkd",
                text: Bytes::new(),
            },
            "$0\r\n\r\n",
            "=4\r\nmkd:\r\n",
        );
    }

    #[test]
    fn encode_appends() {
        let mut out = b"prefix".to_vec();
        Reply::Integer(7).encode(Protocol::Resp3, &mut out);
        Reply::ok().encode(Protocol::Resp3, &mut out);
        assert_eq!(out, b"prefix:7\r\n+OK\r\n");
    }

    #[test]
    fn trims_only_the_ends() {
        assert_eq!(trim_crlf(b"\r\n\nab\rc\n"), b"ab\rc");
        assert_eq!(trim_crlf(b"\r\n"), b"");
        assert_eq!(trim_crlf(b""), b"");
        assert_eq!(trim_crlf(b"x"), b"x");
    }
}
