//! Opening one group replica's storage: one sled database (state trees + Raft log trees) in
//! `<dir>/db`, the current snapshot in `<dir>/snapshot.bin`.

use std::path::Path;

use storage::{Store, StoreOptions};

use crate::codec;
use crate::log_store::LogStore;
use crate::state_machine::{GroupShared, StateMachine, META_APPLIED, META_MEMBERSHIP};
use crate::types::{LogId, StoredMembership};

/// Errors opening a replica.
#[derive(Debug, thiserror::Error)]
pub enum RaftStorageError {
    #[error("storage: {0}")]
    Storage(#[from] storage::StorageError),
    #[error("{what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: codec::DecodeError,
    },
    #[error("cannot start the log flusher: {0}")]
    Thread(#[source] std::io::Error),
}

/// Opens (creating) the replica in `dir`.
pub fn open_replica(
    dir: &Path,
    opts: StoreOptions,
) -> Result<(LogStore, StateMachine), RaftStorageError> {
    let (store, db) = Store::open(&dir.join("db"), opts)?;
    let last_applied: Option<LogId> = match store.meta(META_APPLIED)? {
        None => None,
        Some(v) => codec::decode(&v).map_err(|source| RaftStorageError::Decode {
            what: "last applied log id",
            source,
        })?,
    };
    let membership: StoredMembership = match store.meta(META_MEMBERSHIP)? {
        None => StoredMembership::default(),
        Some(v) => codec::decode(&v).map_err(|source| RaftStorageError::Decode {
            what: "membership",
            source,
        })?,
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let log = LogStore::open(store.sled_db(), store.sync_handle(), &name)
        .map_err(RaftStorageError::Thread)?;
    tracing::info!(dir = %dir.display(), ?last_applied, "replica opened");
    let shared = GroupShared::new(dir, db, store, last_applied, membership);
    Ok((log, StateMachine::new(shared)))
}
