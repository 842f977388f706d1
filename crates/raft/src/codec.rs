//! Binary encoding of openraft's types (log entries, votes, log ids, memberships, snapshot
//! metadata) for the sled trees and the wire: a format version byte, then bincode (1.3,
//! fixed-width little-endian integers) of the type's serde form, read with a size limit so a
//! corrupt length never allocates without bound.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The format version written by this build.
pub const FORMAT_VERSION: u8 = 1;
/// Upper bound on what one decode may read.
pub const MAX_DECODE_BYTES: u64 = 1 << 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty input")]
    Empty,
    #[error("unsupported format version {0} (this build reads {FORMAT_VERSION})")]
    Version(u8),
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_DECODE_BYTES)
}

/// Encodes `value` (versioned).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
    if let Err(e) = options().serialize_into(&mut out, value) {
        // Only reachable past MAX_DECODE_BYTES, which no entry the batcher builds reaches.
        panic!("encoding failed: {e}");
    }
    out
}

/// Decodes what [`encode`] wrote.
pub fn decode<T: DeserializeOwned>(buf: &[u8]) -> Result<T, DecodeError> {
    let (&version, mut body) = buf.split_first().ok_or(DecodeError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version(version));
    }
    let value = options()
        .deserialize_from(&mut body)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !body.is_empty() {
        return Err(DecodeError::Trailing(body.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Entry, LogId, Proposal, Vote};
    use openraft::{CommittedLeaderId, EntryPayload};

    #[test]
    fn round_trips_and_rejects_garbage() {
        let log_id = LogId::new(CommittedLeaderId::new(3, 2), 17);
        let e = Entry {
            log_id,
            payload: EntryPayload::Normal(Proposal(bytes::Bytes::from_static(b"abc"))),
        };
        let buf = encode(&e);
        let back: Entry = decode(&buf).unwrap();
        assert_eq!(back.log_id, log_id);
        assert!(matches!(back.payload, EntryPayload::Normal(ref p) if p.0.as_ref() == b"abc"));
        let v = Vote::new(4, 1);
        assert_eq!(decode::<Vote>(&encode(&v)).unwrap(), v);
        assert_eq!(decode::<Vote>(&[]), Err(DecodeError::Empty));
        assert_eq!(decode::<Vote>(&[7]), Err(DecodeError::Version(7)));
        let mut long = encode(&v);
        long.push(0);
        assert_eq!(decode::<Vote>(&long), Err(DecodeError::Trailing(1)));
        for cut in 1..buf.len() {
            assert!(decode::<Entry>(&buf[..cut]).is_err());
        }
    }
}
