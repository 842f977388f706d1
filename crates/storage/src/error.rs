//! The storage error type.

use std::path::PathBuf;

use crate::codec::DecodeError;

/// Everything that can go wrong opening, loading, committing or syncing a [`crate::Store`].
/// A failed commit or sync leaves memory ahead of disk: the caller must stop serving writes.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt item in tree `{tree}` (key {key}): {reason}")]
    Corrupt {
        tree: &'static str,
        /// The item's key, hex-escaped (at most the first 64 bytes).
        key: String,
        reason: String,
    },
    #[error("inconsistent stream {key} after loading: {reason}")]
    Inconsistent { key: String, reason: String },
    #[error("unsupported storage format version {found} (this build reads {expected})")]
    UnsupportedFormat { found: u32, expected: u32 },
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(tree: &'static str, key: &[u8], reason: impl ToString) -> Self {
        StorageError::Corrupt {
            tree,
            key: escape(key),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn decode(tree: &'static str, key: &[u8], e: DecodeError) -> Self {
        StorageError::corrupt(tree, key, e)
    }
}

/// Printable form of a binary key: ASCII graphic bytes as is, others as `\xNN`, cut at 64
/// bytes.
pub(crate) fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(64) {
        if c.is_ascii_graphic() && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    if b.len() > 64 {
        s.push_str("...");
    }
    s
}
