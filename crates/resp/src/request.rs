//! Reading client requests the way Redis's `processInputBuffer` does: multibulk
//! (`*N\r\n$len\r\n...`) when the first byte is `*`, otherwise an inline line split like
//! `sdssplitargs`. Error conditions and texts follow Redis 7.2/8.0 `networking.c`.
//!
//! ```text
//!  socket ──read──▶ BytesMut ──RequestParser::parse──▶ Ok(Some(args))  run the command
//!                      ▲                           ├─▶ Ok(None)        read more, call again
//!                      └──── (append only) ────────┘─▶ Err(e)          reply e.to_reply(), close
//! ```
//!
//! The parser leaves the bytes of a command in the buffer until the command is complete and
//! remembers how far it got (parsed header, finished arguments, how far it searched for the
//! next CR), so a huge argument arriving in many small reads costs O(1) per read, not a
//! re-scan. Arguments shorter than [`BIG_ARG_LEN`] are copied out (so a long-lived small value
//! does not pin a whole read buffer); longer ones are split out of the buffer without a copy.

use bytes::{Buf, Bytes, BytesMut};

use crate::inline::split_args;
use crate::num::{string2ll, write_header};
use crate::ProtocolError;

/// Default for [`Limits::max_bulk_len`]: Redis `proto-max-bulk-len`, 512 MiB.
pub const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Default for [`Limits::max_args`].
pub const DEFAULT_MAX_ARGS: usize = 1024 * 1024;
/// Default for [`Limits::max_inline_len`]: Redis `PROTO_INLINE_MAX_SIZE`, 64 KiB.
pub const DEFAULT_MAX_INLINE_LEN: usize = 64 * 1024;
/// Default for [`Limits::unauthenticated_max_args`].
pub const DEFAULT_UNAUTHENTICATED_MAX_ARGS: usize = 10;
/// Default for [`Limits::unauthenticated_max_bulk_len`].
pub const DEFAULT_UNAUTHENTICATED_MAX_BULK_LEN: usize = 16384;
/// Arguments at least this long are handed out without copying, and the read buffer is grown
/// to hold them at once (Redis `PROTO_MBULK_BIG_ARG`, 32 KiB).
pub const BIG_ARG_LEN: usize = 32 * 1024;

/// Bounds on what a client may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest argument (`proto-max-bulk-len`); longer is `invalid bulk length`.
    pub max_bulk_len: usize,
    /// Most arguments in one multibulk command; more is `invalid multibulk length`.
    pub max_args: usize,
    /// Longest unterminated line (`PROTO_INLINE_MAX_SIZE`): with this many bytes buffered and
    /// no line end, the request is `too big ...`.
    pub max_inline_len: usize,
    /// Most arguments before AUTH; more is `unauthenticated multibulk length`.
    pub unauthenticated_max_args: usize,
    /// Longest argument before AUTH; longer is `unauthenticated bulk length`.
    pub unauthenticated_max_bulk_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_args: DEFAULT_MAX_ARGS,
            max_inline_len: DEFAULT_MAX_INLINE_LEN,
            unauthenticated_max_args: DEFAULT_UNAUTHENTICATED_MAX_ARGS,
            unauthenticated_max_bulk_len: DEFAULT_UNAUTHENTICATED_MAX_BULK_LEN,
        }
    }
}

/// Incremental request parser for one connection.
///
/// Call [`RequestParser::parse`] whenever bytes were appended to the connection's read buffer
/// and until it returns `Ok(None)`. Between calls the buffer may only be appended to (the
/// parser keeps offsets into it); after an error the connection must be closed.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    cmd: Partial,
}

/// Progress on the command at the front of the buffer.
#[derive(Debug, Default)]
struct Partial {
    /// Bytes of this command parsed so far (the next line or argument starts here).
    pos: usize,
    /// Where the search for the current line's terminator resumes (`>= pos`).
    scan: usize,
    /// Multibulk arguments still to read; 0 while the header is not parsed yet.
    remaining: usize,
    /// Length of the argument being read, once its `$len` line is parsed.
    bulk_len: Option<usize>,
    /// Finished arguments as (offset, length) into the buffer.
    args: Vec<(usize, usize)>,
    /// Some argument is at least [`BIG_ARG_LEN`] long.
    has_big_arg: bool,
}

/// What one step over the front of the buffer found.
enum Step {
    NeedMore,
    /// An empty command (`*0`, `*-1`, a blank inline line) was consumed.
    Skipped,
    /// A multibulk header was parsed; arguments follow.
    Header,
    Command(Vec<Bytes>),
}

/// Where a line terminator search ended.
enum Line {
    /// The terminator is at this offset.
    At(usize),
    /// Not (yet) in the buffer.
    Missing,
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            cmd: Partial::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits (e.g. after `CONFIG SET proto-max-bulk-len`); they apply from the
    /// next length parsed.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// True when no part of a command has been parsed (nothing is pending in the buffer, or
    /// only the start of a line).
    pub fn is_idle(&self) -> bool {
        self.cmd.remaining == 0
    }

    /// Forgets a partially parsed command (use with a cleared buffer).
    pub fn reset(&mut self) {
        self.cmd = Partial::default();
    }

    /// Takes the next complete command off the front of `buf`.
    ///
    /// `Ok(Some(args))`: a command with at least one argument (its bytes are removed from
    /// `buf`); empty commands are skipped as Redis does. `Ok(None)`: more bytes are needed.
    /// `Err(e)`: a protocol error; answer [`ProtocolError::to_reply`] and close.
    ///
    /// `authenticated` selects the stricter pre-AUTH limits when false.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if self.cmd.pos > buf.len() || self.cmd.scan > buf.len() {
            debug_assert!(false, "the read buffer shrank under a partial command");
            self.reset();
        }
        let result = self.parse_inner(buf, authenticated);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn parse_inner(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.cmd.remaining == 0 {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                let step = if first == b'*' {
                    self.multibulk_header(buf, authenticated)?
                } else {
                    self.inline(buf)?
                };
                match step {
                    Step::NeedMore => return Ok(None),
                    Step::Skipped => continue,
                    Step::Command(args) => return Ok(Some(args)),
                    Step::Header => {}
                }
            }
            return self.multibulk_args(buf, authenticated);
        }
    }

    /// Finds `needle` at or after the current line start. Like Redis's `strchr` on the query
    /// buffer, a NUL byte ends the search: the line then counts as unterminated.
    fn find(&mut self, buf: &[u8], needle: u8) -> Line {
        let from = self.cmd.scan;
        match buf[from..].iter().position(|&b| b == needle || b == 0) {
            Some(i) => {
                self.cmd.scan = from + i;
                if buf[from + i] == needle {
                    Line::At(from + i)
                } else {
                    Line::Missing
                }
            }
            None => {
                self.cmd.scan = buf.len();
                Line::Missing
            }
        }
    }

    /// An inline command: one line ending in LF (an optional CR before it is dropped).
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Step, ProtocolError> {
        let lf = match self.find(buf, b'\n') {
            Line::At(lf) => lf,
            Line::Missing if buf.len() > self.limits.max_inline_len => {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            Line::Missing => return Ok(Step::NeedMore),
        };
        let end = if lf > 0 && buf[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        let args = split_args(&buf[..end]).ok_or(ProtocolError::UnbalancedQuotes)?;
        buf.advance(lf + 1);
        self.cmd = Partial::default();
        Ok(if args.is_empty() {
            Step::Skipped
        } else {
            Step::Command(args)
        })
    }

    /// The `*N\r\n` header.
    fn multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Step, ProtocolError> {
        let cr = match self.find(buf, b'\r') {
            Line::At(cr) => cr,
            Line::Missing if buf.len() > self.limits.max_inline_len => {
                return Err(ProtocolError::TooBigMbulkCount);
            }
            Line::Missing => return Ok(Step::NeedMore),
        };
        // Redis only checks that one more byte follows the CR, not that it is LF.
        if cr + 2 > buf.len() {
            return Ok(Step::NeedMore);
        }
        let count = string2ll(&buf[1..cr])
            .filter(|&n| n <= as_i64(self.limits.max_args))
            .ok_or(ProtocolError::InvalidMultibulkLength)?;
        if !authenticated && count > as_i64(self.limits.unauthenticated_max_args) {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        if count <= 0 {
            buf.advance(cr + 2);
            self.cmd = Partial::default();
            return Ok(Step::Skipped);
        }
        let count = usize::try_from(count).map_err(|_| ProtocolError::InvalidMultibulkLength)?;
        self.cmd = Partial {
            pos: cr + 2,
            scan: cr + 2,
            remaining: count,
            bulk_len: None,
            // Like Redis, do not trust a large count before the arguments arrive.
            args: Vec::with_capacity(count.min(1024)),
            has_big_arg: false,
        };
        Ok(Step::Header)
    }

    /// The `$len\r\n<bytes>\r\n` arguments after the header.
    fn multibulk_args(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.cmd.remaining > 0 {
            let len = match self.cmd.bulk_len {
                Some(len) => len,
                None => {
                    let len = match self.bulk_header(buf, authenticated)? {
                        Some(len) => len,
                        None => return Ok(None),
                    };
                    if len >= BIG_ARG_LEN {
                        // Make room for the whole argument now rather than growing the buffer
                        // read by read.
                        let need = self.cmd.pos.saturating_add(len).saturating_add(2);
                        if buf.len() < need {
                            buf.reserve(need - buf.len());
                        }
                    }
                    len
                }
            };
            // Redis skips the two bytes after the data without checking they are CRLF.
            if buf.len() - self.cmd.pos < len.saturating_add(2) {
                return Ok(None);
            }
            let cmd = &mut self.cmd;
            cmd.args.push((cmd.pos, len));
            cmd.has_big_arg |= len >= BIG_ARG_LEN;
            cmd.pos += len + 2;
            cmd.scan = cmd.pos;
            cmd.bulk_len = None;
            cmd.remaining -= 1;
        }
        let cmd = std::mem::take(&mut self.cmd);
        Ok(Some(take_args(buf, cmd)))
    }

    /// The `$len\r\n` line of the next argument; `None` when it is not complete yet.
    fn bulk_header(
        &mut self,
        buf: &[u8],
        authenticated: bool,
    ) -> Result<Option<usize>, ProtocolError> {
        let pos = self.cmd.pos;
        let cr = match self.find(buf, b'\r') {
            Line::At(cr) => cr,
            Line::Missing if buf.len() - pos > self.limits.max_inline_len => {
                return Err(ProtocolError::TooBigBulkCount);
            }
            Line::Missing => return Ok(None),
        };
        if cr + 2 > buf.len() {
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = string2ll(&buf[pos + 1..cr])
            .filter(|&n| n >= 0 && n <= as_i64(self.limits.max_bulk_len))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(ProtocolError::InvalidBulkLength)?;
        if !authenticated && len > self.limits.unauthenticated_max_bulk_len {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        self.cmd.pos = cr + 2;
        self.cmd.scan = cr + 2;
        self.cmd.bulk_len = Some(len);
        Ok(Some(len))
    }
}

/// Removes a finished command from the front of `buf` and hands out its arguments.
fn take_args(buf: &mut BytesMut, cmd: Partial) -> Vec<Bytes> {
    if !cmd.has_big_arg {
        let args = cmd
            .args
            .iter()
            .map(|&(at, len)| Bytes::copy_from_slice(&buf[at..at + len]))
            .collect();
        buf.advance(cmd.pos);
        return args;
    }
    let frozen = buf.split_to(cmd.pos).freeze();
    cmd.args
        .iter()
        .map(|&(at, len)| {
            if len >= BIG_ARG_LEN {
                frozen.slice(at..at + len)
            } else {
                Bytes::copy_from_slice(&frozen[at..at + len])
            }
        })
        .collect()
}

fn as_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Effective limits for one stateless [`parse_request`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    /// Most arguments in a command (the pre-AUTH bound when not `authenticated`).
    pub max_args: usize,
    /// Longest argument (the pre-AUTH bound when not `authenticated`).
    pub max_bulk_len: usize,
    /// Whether the client has authenticated; selects `unauthenticated ...` error texts.
    pub authenticated: bool,
}

/// Stateless form of [`RequestParser::parse`]: parses the first complete command of `buf`
/// from scratch and removes it. A partially received command is re-parsed on every call
/// (cost proportional to its header and argument count, not its data); prefer a
/// [`RequestParser`] per connection.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &RequestLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let authenticated = limits.authenticated;
    let limits = if authenticated {
        Limits {
            max_args: limits.max_args,
            max_bulk_len: limits.max_bulk_len,
            ..Limits::default()
        }
    } else {
        Limits {
            unauthenticated_max_args: limits.max_args,
            unauthenticated_max_bulk_len: limits.max_bulk_len,
            ..Limits::default()
        }
    };
    RequestParser::new(limits).parse(buf, authenticated)
}

/// Appends `args` as a multibulk request (`*N` then `$len` bulks), what clients send.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    write_header(out, b'*', args.len() as u64);
    for arg in args {
        let arg = arg.as_ref();
        write_header(out, b'$', arg.len() as u64);
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses everything in `input` in one go: the commands, then the final error if any.
    fn parse_all(input: &[u8], limits: Limits, auth: bool) -> (Vec<Vec<Bytes>>, Option<String>) {
        let mut parser = RequestParser::new(limits);
        let mut buf = BytesMut::from(input);
        let mut cmds = Vec::new();
        loop {
            match parser.parse(&mut buf, auth) {
                Ok(Some(args)) => cmds.push(args),
                Ok(None) => return (cmds, None),
                Err(e) => return (cmds, Some(e.message())),
            }
        }
    }

    fn cmds(input: &[u8]) -> Vec<Vec<String>> {
        let (cmds, err) = parse_all(input, Limits::default(), true);
        assert_eq!(err, None);
        cmds.into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|a| String::from_utf8(a.to_vec()).unwrap())
                    .collect()
            })
            .collect()
    }

    fn error_of(input: &[u8], limits: Limits, auth: bool) -> String {
        let (_, err) = parse_all(input, limits, auth);
        err.unwrap_or_else(|| panic!("no error for {:?}", String::from_utf8_lossy(input)))
    }

    fn err(input: &[u8]) -> String {
        error_of(input, Limits::default(), true)
    }

    #[test]
    fn multibulk_commands() {
        assert_eq!(cmds(b"*1\r\n$4\r\nPING\r\n"), [["PING"]]);
        assert_eq!(
            cmds(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"),
            [["SET", "k", ""]]
        );
        assert_eq!(
            cmds(b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n"),
            [["ECHO", "a\r\nb"]]
        );
    }

    #[test]
    fn pipelined_commands_in_one_buffer() {
        assert_eq!(
            cmds(b"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO \"x y\"\n"),
            vec![
                vec!["PING"],
                vec!["PING"],
                vec!["ECHO", "hi"],
                vec!["ECHO", "x y"]
            ]
        );
    }

    #[test]
    fn empty_commands_are_skipped() {
        assert_eq!(
            cmds(b"*0\r\n*-1\r\n*-10\r\n\r\n\n   \r\n*1\r\n$1\r\nx\r\n"),
            [["x"]]
        );
        let mut buf = BytesMut::from(&b"*0\r\n\r\n"[..]);
        let mut parser = RequestParser::default();
        assert_eq!(parser.parse(&mut buf, true), Ok(None));
        assert!(buf.is_empty());
    }

    #[test]
    fn incomplete_commands_wait() {
        for input in [
            &b"*"[..],
            b"*2",
            b"*2\r",
            b"*2\r\n",
            b"*2\r\n$",
            b"*2\r\n$3\r",
            b"*2\r\n$3\r\nGET",
            b"*2\r\n$3\r\nGET\r",
            b"*2\r\n$3\r\nGET\r\n",
            b"*2\r\n$3\r\nGET\r\n$1\r\nk",
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r",
            b"PING",
            b"PING\r",
        ] {
            let (cmds, err) = parse_all(input, Limits::default(), true);
            assert!(cmds.is_empty() && err.is_none(), "{input:?}");
        }
    }

    #[test]
    fn multibulk_length_errors() {
        let invalid = "Protocol error: invalid multibulk length";
        assert_eq!(err(b"*\r\n"), invalid);
        assert_eq!(err(b"*abc\r\n"), invalid);
        assert_eq!(err(b"*+1\r\n"), invalid);
        assert_eq!(err(b"*01\r\n"), invalid);
        assert_eq!(err(b"*1 \r\n"), invalid);
        assert_eq!(err(b"*20000000\r\n"), invalid);
        assert_eq!(err(b"*3000000000\r\n"), invalid);
        assert_eq!(err(b"*99999999999999999999\r\n"), invalid);
        let small = Limits {
            max_args: 3,
            ..Limits::default()
        };
        assert_eq!(error_of(b"*4\r\n", small.clone(), true), invalid);
        assert_eq!(parse_all(b"*3\r\n", small, true), (vec![], None));
    }

    #[test]
    fn bulk_length_errors() {
        let invalid = "Protocol error: invalid bulk length";
        assert_eq!(err(b"*1\r\n$\r\n"), invalid);
        assert_eq!(err(b"*1\r\n$x\r\n"), invalid);
        assert_eq!(err(b"*1\r\n$-1\r\n"), invalid);
        assert_eq!(err(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"), invalid);
        assert_eq!(err(b"*1\r\n$2000000000\r\n"), invalid);
        assert_eq!(err(b"*1\r\n$536870913\r\n"), invalid);
        let small = Limits {
            max_bulk_len: 5,
            ..Limits::default()
        };
        assert_eq!(error_of(b"*1\r\n$6\r\n", small.clone(), true), invalid);
        assert_eq!(
            parse_all(b"*1\r\n$5\r\nhello\r\n", small, true).0,
            vec![vec![Bytes::from("hello")]]
        );
    }

    #[test]
    fn expected_dollar() {
        assert_eq!(
            err(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(err(b"*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
        assert_eq!(
            err(b"*1\r\n:1\r\n"),
            "Protocol error: expected '$', got ':'"
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits::default();
        assert_eq!(
            error_of(b"*11\r\n", limits.clone(), false),
            "Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(
            error_of(b"*1\r\n$16385\r\n", limits.clone(), false),
            "Protocol error: unauthenticated bulk length"
        );
        // The general checks come first, as in Redis.
        assert_eq!(
            error_of(b"*20000000\r\n", limits.clone(), false),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            error_of(b"*1\r\n$-1\r\n", limits.clone(), false),
            "Protocol error: invalid bulk length"
        );
        // At the limits, and once authenticated, the same input is fine.
        let ten = [&b"*10\r\n"[..], &b"$1\r\nx\r\n".repeat(10)].concat();
        assert_eq!(parse_all(&ten, limits.clone(), false).0.len(), 1);
        let big = [&b"*1\r\n$16384\r\n"[..], &vec![b'a'; 16384], b"\r\n"].concat();
        assert_eq!(parse_all(&big, limits.clone(), false).0.len(), 1);
        assert_eq!(parse_all(b"*11\r\n", limits, true), (vec![], None));
    }

    #[test]
    fn too_big_count_strings() {
        let limits = Limits {
            max_inline_len: 16,
            ..Limits::default()
        };
        let digits = vec![b'1'; 17];
        assert_eq!(
            error_of(&[&b"*"[..], &digits].concat(), limits.clone(), true),
            "Protocol error: too big mbulk count string"
        );
        assert_eq!(
            error_of(&[&b"*1\r\n$"[..], &digits].concat(), limits.clone(), true),
            "Protocol error: too big bulk count string"
        );
        assert_eq!(
            error_of(&[b'a'; 17], limits.clone(), true),
            "Protocol error: too big inline request"
        );
        // Exactly at the limit it still waits for more.
        assert_eq!(parse_all(&[b'a'; 16], limits.clone(), true), (vec![], None));
        assert_eq!(
            parse_all(&[&b"*"[..], &[b'1'; 15]].concat(), limits.clone(), true),
            (vec![], None)
        );
        // A line longer than the limit is fine once its terminator is in the buffer.
        let long = [&vec![b'a'; 40][..], b"\r\n"].concat();
        assert_eq!(parse_all(&long, limits, true).0.len(), 1);
    }

    #[test]
    fn default_inline_limit_is_64k() {
        let at_limit = vec![b'a'; 64 * 1024];
        assert_eq!(
            parse_all(&at_limit, Limits::default(), true),
            (vec![], None)
        );
        assert_eq!(
            err(&vec![b'a'; 64 * 1024 + 1]),
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn inline_commands() {
        assert_eq!(cmds(b"PING\r\n"), [["PING"]]);
        assert_eq!(cmds(b"PING\n"), [["PING"]]);
        assert_eq!(cmds(b"SET k \"a b\\n\"\r\n"), [["SET", "k", "a b\n"]]);
        assert_eq!(cmds(b"SET 'k 1' v\n"), [["SET", "k 1", "v"]]);
        // Only one CR before the LF is dropped; the other is whitespace.
        assert_eq!(cmds(b"PING\r\r\n"), [["PING"]]);
        assert_eq!(
            err(b"SET \"abc\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(b"SET 'a'b\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn redis_quirks() {
        // The two bytes after a bulk's data are skipped without being checked.
        assert_eq!(cmds(b"*1\r\n$3\r\nfooXY"), [["foo"]]);
        // So is the byte after a length line's CR.
        assert_eq!(cmds(b"*1\rX$3\rXfoo\r\n"), [["foo"]]);
        // A NUL before the line end hides the terminator (Redis scans with strchr).
        let limits = Limits {
            max_inline_len: 8,
            ..Limits::default()
        };
        assert_eq!(parse_all(b"*1\0\r\n", limits.clone(), true), (vec![], None));
        assert_eq!(
            error_of(b"*1\0\r\n$3\r\nfoo\r\n", limits.clone(), true),
            "Protocol error: too big mbulk count string"
        );
        assert_eq!(
            error_of(b"PING\0\r\nPING\r\n", limits, true),
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn stops_after_first_error() {
        let (cmds, err) = parse_all(
            b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n",
            Limits::default(),
            true,
        );
        assert_eq!(cmds.len(), 1);
        assert_eq!(err.unwrap(), "Protocol error: invalid bulk length");
    }

    /// A valid pipelined stream fed one byte at a time gives the same commands.
    #[test]
    fn byte_at_a_time_and_every_split_point() {
        let mut stream = Vec::new();
        encode_command(&["XADD", "s", "*", "f", "v"], &mut stream);
        stream.extend_from_slice(b"PING\r\n*0\r\nECHO 'a b' \"c\\x41\"\n");
        encode_command(&[&b""[..], b"\r\n\0", &[0xff; 70]], &mut stream);
        stream.extend_from_slice(b"\r\n");
        encode_command(&["GET", "k"], &mut stream);
        let (expected, err) = parse_all(&stream, Limits::default(), true);
        assert_eq!(err, None);
        assert_eq!(expected.len(), 5);
        assert_eq!(expected[2], [&b"ECHO"[..], b"a b", b"cA"]);

        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in &stream {
            buf.extend_from_slice(&[b]);
            while let Some(args) = parser.parse(&mut buf, true).unwrap() {
                got.push(args);
            }
        }
        assert_eq!(got, expected);
        assert!(buf.is_empty() && parser.is_idle());

        for cut in 0..=stream.len() {
            let mut parser = RequestParser::default();
            let mut buf = BytesMut::from(&stream[..cut]);
            let mut got = Vec::new();
            while let Some(args) = parser.parse(&mut buf, true).unwrap() {
                got.push(args);
            }
            buf.extend_from_slice(&stream[cut..]);
            while let Some(args) = parser.parse(&mut buf, true).unwrap() {
                got.push(args);
            }
            assert_eq!(got, expected, "split at {cut}");
        }
    }

    #[test]
    fn big_arguments_are_not_copied() {
        let value = vec![b'v'; BIG_ARG_LEN + 10];
        let mut stream = Vec::new();
        encode_command(&[&b"SET"[..], b"k", &value], &mut stream);
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        // Header and the start of the value, then the rest in small reads.
        buf.extend_from_slice(&stream[..100]);
        assert_eq!(parser.parse(&mut buf, true), Ok(None));
        assert!(!parser.is_idle());
        assert!(
            buf.capacity() >= stream.len(),
            "room for the whole argument"
        );
        // The buffer will not move again: the argument's bytes stay where they land now.
        let value_at = buf.as_ptr() as usize + (stream.len() - value.len() - 2);
        let mut rest = &stream[100..];
        let mut args = None;
        while !rest.is_empty() {
            let n = rest.len().min(1000);
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if let Some(a) = parser.parse(&mut buf, true).unwrap() {
                args = Some(a);
            }
        }
        let args = args.unwrap();
        assert_eq!(args, [&b"SET"[..], b"k", &value]);
        assert!(buf.is_empty());
        assert_eq!(
            args[2].as_ptr() as usize,
            value_at,
            "big argument was copied"
        );
        // Small arguments are copies, so they do not pin the read buffer.
        let small_at = value_at - b"$1\r\nk\r\n$32778\r\n".len() + 4;
        assert_ne!(args[1].as_ptr() as usize, small_at);
    }

    #[test]
    fn limits_can_change_between_commands() {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = BytesMut::from(&b"*1\r\n$3\r\nabc\r\n*1\r\n$3\r\nabc\r\n"[..]);
        assert!(parser.parse(&mut buf, true).unwrap().is_some());
        parser.set_limits(Limits {
            max_bulk_len: 2,
            ..Limits::default()
        });
        assert_eq!(parser.limits().max_bulk_len, 2);
        assert_eq!(
            parser.parse(&mut buf, true),
            Err(ProtocolError::InvalidBulkLength)
        );
    }

    #[test]
    fn stateless_parse_request() {
        let auth = RequestLimits {
            max_args: DEFAULT_MAX_ARGS,
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            authenticated: true,
        };
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI"[..]);
        assert_eq!(
            parse_request(&mut buf, &auth).unwrap().unwrap(),
            [&b"GET"[..], b"k"]
        );
        // A partial command is left untouched for the next call.
        assert_eq!(parse_request(&mut buf, &auth), Ok(None));
        assert_eq!(&buf[..], b"*1\r\n$4\r\nPI");
        buf.extend_from_slice(b"NG\r\n");
        assert_eq!(
            parse_request(&mut buf, &auth).unwrap().unwrap(),
            [&b"PING"[..]]
        );

        let unauth = RequestLimits {
            max_args: 10,
            max_bulk_len: 16384,
            authenticated: false,
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &unauth),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &unauth),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn encode_command_output() {
        let mut out = Vec::new();
        encode_command(&["SET", "k", ""], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
