//! Decoding replies (what a client reads): any RESP2 or RESP3 value into a [`Frame`]. Used by
//! integration tests and load/fault-test clients; the server never parses replies.
//!
//! Streamed RESP3 aggregates and strings (`$?`, `*?`, ...) are rejected: Redis never sends
//! them.

use bytes::Bytes;

use crate::double::double_to_string;
use crate::encode::wire_line;
use crate::{Protocol, ProtocolError, Reply};

/// Deepest nesting [`parse_frame`] accepts, so hostile input cannot exhaust the stack.
pub const MAX_FRAME_DEPTH: usize = 128;

/// One decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`
    Simple(Bytes),
    /// `-text` or RESP3 `!len` blob error: the text without the `-`, e.g. `ERR no such key`.
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len`
    Bulk(Bytes),
    /// RESP2 `$-1`, RESP3 `_`.
    Null,
    /// `*n`; `None` for RESP2 `*-1`.
    Array(Option<Vec<Frame>>),
    /// RESP3 `%n`.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~n`.
    Set(Vec<Frame>),
    /// RESP3 `,f`.
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `=len\r\nfmt:text`.
    Verbatim { format: [u8; 3], text: Bytes },
    /// RESP3 `>n`.
    Push(Vec<Frame>),
    /// RESP3 `(digits`, kept as text.
    BigNumber(Bytes),
    /// RESP3 `|n` attributes and the reply they annotate.
    Attribute {
        attributes: Vec<(Frame, Frame)>,
        reply: Box<Frame>,
    },
}

impl Frame {
    /// What a client reading `reply` encoded in `proto` decodes.
    pub fn from_reply(reply: &Reply, proto: Protocol) -> Frame {
        let resp3 = proto == Protocol::Resp3;
        let all = |items: &[Reply]| items.iter().map(|r| Frame::from_reply(r, proto)).collect();
        match reply {
            Reply::Simple(_) => Frame::Simple(wire_line(reply).unwrap_or_default().into()),
            Reply::Error(_) => Frame::Error(wire_line(reply).unwrap_or_default().into()),
            Reply::Integer(n) => Frame::Integer(*n),
            Reply::Bulk(b) => Frame::Bulk(b.clone()),
            Reply::Null => Frame::Null,
            Reply::NullArray if resp3 => Frame::Null,
            Reply::NullArray => Frame::Array(None),
            Reply::Array(items) => Frame::Array(Some(all(items))),
            Reply::Map(pairs) if resp3 => Frame::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (Frame::from_reply(k, proto), Frame::from_reply(v, proto)))
                    .collect(),
            ),
            Reply::Map(pairs) => Frame::Array(Some(
                pairs
                    .iter()
                    .flat_map(|(k, v)| [Frame::from_reply(k, proto), Frame::from_reply(v, proto)])
                    .collect(),
            )),
            Reply::PairMap(pairs) if resp3 => Frame::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (Frame::from_reply(k, proto), Frame::from_reply(v, proto)))
                    .collect(),
            ),
            Reply::PairMap(pairs) => Frame::Array(Some(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        Frame::Array(Some(vec![
                            Frame::from_reply(k, proto),
                            Frame::from_reply(v, proto),
                        ]))
                    })
                    .collect(),
            )),
            Reply::Set(items) if resp3 => Frame::Set(all(items)),
            Reply::Push(items) if resp3 => Frame::Push(all(items)),
            Reply::Set(items) | Reply::Push(items) => Frame::Array(Some(all(items))),
            Reply::Double(d) if resp3 => Frame::Double(*d),
            Reply::Double(d) => Frame::Bulk(double_to_string(*d).into()),
            Reply::Boolean(b) if resp3 => Frame::Boolean(*b),
            Reply::Boolean(b) => Frame::Integer(i64::from(*b)),
            Reply::Verbatim { format, text } if resp3 => Frame::Verbatim {
                format: *format,
                text: text.clone(),
            },
            Reply::Verbatim { text, .. } => Frame::Bulk(text.clone()),
        }
    }

    /// The payload of a simple string, bulk string or verbatim string.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Frame::Simple(b) | Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Frame::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn as_array(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(Some(items)) | Frame::Set(items) | Frame::Push(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::Array(None))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }
}

/// Decodes the first reply in `buf`: `Ok(Some((frame, bytes used)))`, `Ok(None)` when the
/// reply is not complete yet, or an error for bytes that are not RESP.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let mut reader = Reader { buf, pos: 0 };
    Ok(reader.frame(0)?.map(|frame| (frame, reader.pos)))
}

fn invalid(what: &'static str) -> ProtocolError {
    ProtocolError::InvalidFrame(what)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Shorthand: propagate "incomplete" as `Ok(None)`.
macro_rules! need {
    ($e:expr) => {
        match $e? {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

impl<'a> Reader<'a> {
    fn frame(&mut self, depth: usize) -> Result<Option<Frame>, ProtocolError> {
        if depth > MAX_FRAME_DEPTH {
            return Err(invalid("nesting too deep"));
        }
        let Some(&kind) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let frame = match kind {
            b'+' => Frame::Simple(Bytes::copy_from_slice(need!(self.line()))),
            b'-' => Frame::Error(Bytes::copy_from_slice(need!(self.line()))),
            b':' => Frame::Integer(parse_i64(need!(self.line()))?),
            b'$' => match need!(self.length(true)) {
                None => Frame::Null,
                Some(len) => Frame::Bulk(Bytes::copy_from_slice(need!(self.blob(len)))),
            },
            b'!' => {
                let len = need!(self.length(false)).unwrap_or(0);
                Frame::Error(Bytes::copy_from_slice(need!(self.blob(len))))
            }
            b'=' => {
                let len = need!(self.length(false)).unwrap_or(0);
                let data = need!(self.blob(len));
                if data.len() < 4 || data[3] != b':' {
                    return Err(invalid("verbatim string without a format"));
                }
                Frame::Verbatim {
                    format: [data[0], data[1], data[2]],
                    text: Bytes::copy_from_slice(&data[4..]),
                }
            }
            b'_' => {
                if !need!(self.line()).is_empty() {
                    return Err(invalid("null with a payload"));
                }
                Frame::Null
            }
            b'#' => match need!(self.line()) {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(invalid("boolean is not t or f")),
            },
            b',' => Frame::Double(parse_f64(need!(self.line()))?),
            b'(' => {
                let text = need!(self.line());
                let digits = text.strip_prefix(b"-").unwrap_or(text);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(invalid("big number is not a number"));
                }
                Frame::BigNumber(Bytes::copy_from_slice(text))
            }
            b'*' => match need!(self.length(true)) {
                None => Frame::Array(None),
                Some(n) => Frame::Array(Some(need!(self.frames(n, depth)))),
            },
            b'~' => {
                let n = need!(self.length(false)).unwrap_or(0);
                Frame::Set(need!(self.frames(n, depth)))
            }
            b'>' => {
                let n = need!(self.length(false)).unwrap_or(0);
                Frame::Push(need!(self.frames(n, depth)))
            }
            b'%' => {
                let n = need!(self.length(false)).unwrap_or(0);
                Frame::Map(need!(self.pairs(n, depth)))
            }
            b'|' => {
                let n = need!(self.length(false)).unwrap_or(0);
                let attributes = need!(self.pairs(n, depth));
                let reply = Box::new(need!(self.frame(depth + 1)));
                Frame::Attribute { attributes, reply }
            }
            _ => return Err(invalid("unknown reply type")),
        };
        Ok(Some(frame))
    }

    /// The rest of the current line, without its CRLF.
    fn line(&mut self) -> Result<Option<&'a [u8]>, ProtocolError> {
        let rest: &'a [u8] = &self.buf[self.pos..];
        let Some(cr) = rest.iter().position(|&b| b == b'\r') else {
            return Ok(None);
        };
        match rest.get(cr + 1) {
            None => Ok(None),
            Some(b'\n') => {
                self.pos += cr + 2;
                Ok(Some(&rest[..cr]))
            }
            Some(_) => Err(invalid("CR not followed by LF")),
        }
    }

    /// A length line: `Some(None)` for `-1` when `nullable`.
    fn length(&mut self, nullable: bool) -> Result<Option<Option<usize>>, ProtocolError> {
        let line = need!(self.line());
        if line == b"?" {
            return Err(invalid("streamed types are not supported"));
        }
        match parse_i64(line)? {
            -1 if nullable => Ok(Some(None)),
            n => usize::try_from(n)
                .map(|n| Some(Some(n)))
                .map_err(|_| invalid("negative length")),
        }
    }

    /// `len` bytes followed by CRLF.
    fn blob(&mut self, len: usize) -> Result<Option<&'a [u8]>, ProtocolError> {
        let rest: &'a [u8] = &self.buf[self.pos..];
        if rest.len() < len.saturating_add(2) {
            return Ok(None);
        }
        if &rest[len..len + 2] != b"\r\n" {
            return Err(invalid("bulk data not followed by CRLF"));
        }
        self.pos += len + 2;
        Ok(Some(&rest[..len]))
    }

    fn frames(&mut self, n: usize, depth: usize) -> Result<Option<Vec<Frame>>, ProtocolError> {
        // The count is untrusted: grow as elements actually arrive.
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(need!(self.frame(depth + 1)));
        }
        Ok(Some(items))
    }

    fn pairs(
        &mut self,
        n: usize,
        depth: usize,
    ) -> Result<Option<Vec<(Frame, Frame)>>, ProtocolError> {
        let mut pairs = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let k = need!(self.frame(depth + 1));
            let v = need!(self.frame(depth + 1));
            pairs.push((k, v));
        }
        Ok(Some(pairs))
    }
}

fn parse_i64(line: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(invalid("invalid integer"))
}

fn parse_f64(line: &[u8]) -> Result<f64, ProtocolError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(invalid("invalid double"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Frame {
        let (frame, used) = parse_frame(s).unwrap().unwrap();
        assert_eq!(used, s.len(), "{frame:?}");
        frame
    }

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn resp2_types() {
        assert_eq!(parse(b"+OK\r\n"), Frame::Simple("OK".into()));
        assert_eq!(parse(b"-ERR x\r\n"), Frame::Error("ERR x".into()));
        assert_eq!(parse(b":-12\r\n"), Frame::Integer(-12));
        assert_eq!(parse(b"$3\r\nfoo\r\n"), bulk("foo"));
        assert_eq!(parse(b"$0\r\n\r\n"), bulk(""));
        assert_eq!(parse(b"$4\r\na\r\nb\r\n"), bulk("a\r\nb"));
        assert_eq!(parse(b"$-1\r\n"), Frame::Null);
        assert_eq!(parse(b"*-1\r\n"), Frame::Array(None));
        assert_eq!(parse(b"*0\r\n"), Frame::Array(Some(vec![])));
        assert_eq!(
            parse(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"),
            Frame::Array(Some(vec![
                bulk("a"),
                Frame::Array(Some(vec![Frame::Integer(1)]))
            ]))
        );
    }

    #[test]
    fn resp3_types() {
        assert_eq!(parse(b"_\r\n"), Frame::Null);
        assert_eq!(parse(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(parse(b"#f\r\n"), Frame::Boolean(false));
        assert_eq!(parse(b",1.5\r\n"), Frame::Double(1.5));
        assert_eq!(parse(b",inf\r\n"), Frame::Double(f64::INFINITY));
        assert_eq!(parse(b",-inf\r\n"), Frame::Double(f64::NEG_INFINITY));
        assert!(matches!(parse(b",nan\r\n"), Frame::Double(d) if d.is_nan()));
        assert_eq!(
            parse(b"(3492890328409238509324850943850943825024385\r\n"),
            Frame::BigNumber("3492890328409238509324850943850943825024385".into())
        );
        assert_eq!(parse(b"(-7\r\n"), Frame::BigNumber("-7".into()));
        assert_eq!(
            parse(b"=15\r\ntxt:Some string\r\n"),
            Frame::Verbatim {
                format: *b"txt",
                text: "Some string".into()
            }
        );
        assert_eq!(
            parse(b"!21\r\nSYNTAX invalid syntax\r\n"),
            Frame::Error("SYNTAX invalid syntax".into())
        );
        assert_eq!(
            parse(b"%1\r\n+a\r\n:1\r\n"),
            Frame::Map(vec![(Frame::Simple("a".into()), Frame::Integer(1))])
        );
        assert_eq!(parse(b"~1\r\n:1\r\n"), Frame::Set(vec![Frame::Integer(1)]));
        assert_eq!(
            parse(b">2\r\n+message\r\n$1\r\nx\r\n"),
            Frame::Push(vec![Frame::Simple("message".into()), bulk("x")])
        );
        assert_eq!(
            parse(b"|1\r\n+ttl\r\n:3600\r\n:2\r\n"),
            Frame::Attribute {
                attributes: vec![(Frame::Simple("ttl".into()), Frame::Integer(3600))],
                reply: Box::new(Frame::Integer(2)),
            }
        );
    }

    #[test]
    fn incomplete_input_needs_more() {
        let full: &[u8] = b"*3\r\n$3\r\nfoo\r\n%1\r\n+a\r\n,2.5\r\n=5\r\ntxt:x\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_frame(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse_frame(full).unwrap().is_some());
    }

    #[test]
    fn pipelined_replies() {
        let buf = b"+OK\r\n:1\r\n$-1\r\n";
        let (a, n) = parse_frame(buf).unwrap().unwrap();
        assert_eq!((a, n), (Frame::Simple("OK".into()), 5));
        let (b, m) = parse_frame(&buf[n..]).unwrap().unwrap();
        assert_eq!((b, m), (Frame::Integer(1), 4));
        let (c, _) = parse_frame(&buf[n + m..]).unwrap().unwrap();
        assert_eq!(c, Frame::Null);
    }

    #[test]
    fn malformed_replies() {
        for bad in [
            &b"?\r\n"[..],
            b":abc\r\n",
            b":1\rx",
            b"$-2\r\n",
            b"$3\r\nfooXY",
            b"*-2\r\n",
            b"%-1\r\n",
            b"#x\r\n",
            b",one\r\n",
            b"_x\r\n",
            b"(12a\r\n",
            b"(\r\n",
            b"=2\r\nab\r\n",
            b"=5\r\ntxt_x\r\n",
            b"$?\r\n",
            b"*?\r\n",
        ] {
            assert!(
                parse_frame(bad).is_err(),
                "{:?} should be rejected",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn deep_nesting_is_rejected_not_a_stack_overflow() {
        let deep = b"*1\r\n".repeat(MAX_FRAME_DEPTH + 10);
        assert_eq!(
            parse_frame(&deep),
            Err(ProtocolError::InvalidFrame("nesting too deep"))
        );
        let mut ok = b"*1\r\n".repeat(MAX_FRAME_DEPTH);
        ok.extend_from_slice(b":1\r\n");
        assert!(parse_frame(&ok).unwrap().is_some());
    }

    #[test]
    fn huge_counts_do_not_preallocate() {
        assert_eq!(parse_frame(b"*2000000000\r\n:1\r\n").unwrap(), None);
        assert_eq!(parse_frame(b"$2000000000\r\nabc").unwrap(), None);
    }

    #[test]
    fn accessors() {
        let f = parse(b"*2\r\n$1\r\na\r\n:5\r\n");
        let items = f.as_array().unwrap();
        assert_eq!(items[0].as_bytes().unwrap(), &Bytes::from("a"));
        assert_eq!(items[1].as_integer(), Some(5));
        assert!(Frame::Array(None).is_null());
        assert!(Frame::Error("ERR".into()).is_error());
    }

    #[test]
    fn from_reply_matches_protocol_mapping() {
        let map = Reply::Map(vec![(Reply::bulk("k"), Reply::Boolean(true))]);
        assert_eq!(
            Frame::from_reply(&map, Protocol::Resp2),
            Frame::Array(Some(vec![bulk("k"), Frame::Integer(1)]))
        );
        assert_eq!(
            Frame::from_reply(&map, Protocol::Resp3),
            Frame::Map(vec![(bulk("k"), Frame::Boolean(true))])
        );
        assert_eq!(
            Frame::from_reply(&Reply::Double(2.5), Protocol::Resp2),
            bulk("2.5")
        );
        assert_eq!(
            Frame::from_reply(&Reply::Simple("a\nb".into()), Protocol::Resp3),
            Frame::Simple("a b".into())
        );
    }
}
