//! Protocol-neutral reply values. The engine builds these; [`Reply::encode`] renders them as
//! RESP2 or RESP3 bytes the way Redis does (maps flatten to arrays in RESP2, both nulls become
//! `_` in RESP3, and so on).

use bytes::Bytes;

/// Which wire protocol a connection speaks (`HELLO 2` / `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// A reply, independent of the protocol it will be written in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Reply {
    /// `+text`
    Simple(Bytes),
    /// `-text`: the full error line without the leading `-`, e.g. `ERR syntax error`.
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len\r\nbytes`
    Bulk(Bytes),
    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// Null array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// `*n`
    Array(Vec<Reply>),
    /// `%n` in RESP3; a flat `*2n` array of keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// `%n` in RESP3; in RESP2 an array of 2-element `[key, value]` arrays (the top level of
    /// XREAD/XREADGROUP replies), not a flat array.
    PairMap(Vec<(Reply, Reply)>),
    /// `~n` in RESP3; an array in RESP2.
    Set(Vec<Reply>),
    /// `,f` in RESP3; a bulk string in RESP2.
    Double(f64),
    /// `#t`/`#f` in RESP3; `:1`/`:0` in RESP2.
    Boolean(bool),
    /// `=len\r\ntxt:...` in RESP3; a bulk string in RESP2.
    Verbatim { format: [u8; 3], text: Bytes },
    /// `>n` in RESP3; an array in RESP2.
    Push(Vec<Reply>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }
    pub fn simple(s: &'static str) -> Reply {
        Reply::Simple(Bytes::from_static(s.as_bytes()))
    }
    /// An error reply; `msg` includes the prefix (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(msg: impl Into<String>) -> Reply {
        Reply::Error(Bytes::from(msg.into()))
    }
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}
