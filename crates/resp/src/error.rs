//! The crate's one error type.

use bytes::Bytes;

use crate::Reply;

/// Malformed RESP. For requests, the server answers `-ERR <message>` (see [`Self::to_reply`])
/// and then closes the connection, as Redis does; the texts are Redis's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `*N` that is not a number or exceeds [`crate::Limits::max_args`].
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$N` that is not a number, negative, or exceeds [`crate::Limits::max_bulk_len`].
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// `*N` above [`crate::Limits::unauthenticated_max_args`] before AUTH.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// `$N` above [`crate::Limits::unauthenticated_max_bulk_len`] before AUTH.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// An argument header that does not start with `$` (carries the byte found).
    #[error("Protocol error: expected '$', got '{}'", char::from(sanitize_byte(*.0)))]
    ExpectedDollar(u8),
    /// No CR in [`crate::Limits::max_inline_len`] bytes while reading `*N`.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    /// No CR in [`crate::Limits::max_inline_len`] bytes while reading `$N`.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// No LF in [`crate::Limits::max_inline_len`] bytes while reading an inline command.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// An inline command with an unterminated quote, or a closing quote not followed by a
    /// space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A reply that [`crate::parse_frame`] cannot decode (only readers of replies see this).
    #[error("Protocol error: {0}")]
    InvalidFrame(&'static str),
}

impl ProtocolError {
    /// The error text after `-ERR `, e.g. `Protocol error: invalid bulk length`.
    ///
    /// Equal to `to_string()`; for [`Self::ExpectedDollar`] with a byte above 0x7F the
    /// byte-exact text is [`Self::message_bytes`].
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The error text after `-ERR ` exactly as Redis writes it (the offending byte of
    /// [`Self::ExpectedDollar`] is written raw, CR and LF turned into spaces).
    pub fn message_bytes(&self) -> Vec<u8> {
        match self {
            ProtocolError::ExpectedDollar(b) => {
                let mut out = b"Protocol error: expected '$', got '".to_vec();
                out.push(sanitize_byte(*b));
                out.push(b'\'');
                out
            }
            other => other.to_string().into_bytes(),
        }
    }

    /// The reply to send before closing the connection: `-ERR Protocol error: ...`.
    pub fn to_reply(&self) -> Reply {
        let mut line = b"ERR ".to_vec();
        line.extend_from_slice(&self.message_bytes());
        Reply::Error(Bytes::from(line))
    }
}

/// Redis writes error texts through `addReplyErrorFormat`, which maps CR and LF to spaces.
fn sanitize_byte(b: u8) -> u8 {
    match b {
        b'\r' | b'\n' => b' ',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;

    #[test]
    fn messages_are_redis_texts() {
        assert_eq!(
            ProtocolError::InvalidBulkLength.message(),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(b'f').message(),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(b'\r').message(),
            "Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(0xff).message_bytes(),
            b"Protocol error: expected '$', got '\xff'"
        );
        assert_eq!(
            ProtocolError::UnbalancedQuotes
                .to_reply()
                .to_bytes(Protocol::Resp2),
            b"-ERR Protocol error: unbalanced quotes in request\r\n"
        );
    }
}
