//! The sled trees of one database and their names.

use crate::error::StorageError;

/// One sled tree of the layout (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TreeId {
    Meta = 0,
    Streams,
    Entries,
    Nodes,
    Groups,
    Pel,
    Cpel,
    Consumers,
    Kv,
    /// Entries, many per item (format 3 on); `Entries` holds one per item (format 2 and
    /// before), read at open and migrated. Last, so that journal records keep their numbers.
    Chunks,
}

pub(crate) const TREE_COUNT: usize = 10;

impl TreeId {
    pub(crate) const ALL: [TreeId; TREE_COUNT] = [
        TreeId::Meta,
        TreeId::Streams,
        TreeId::Entries,
        TreeId::Nodes,
        TreeId::Groups,
        TreeId::Pel,
        TreeId::Cpel,
        TreeId::Consumers,
        TreeId::Kv,
        TreeId::Chunks,
    ];

    /// Every tree that holds keyspace data (all but `meta`).
    pub(crate) const DATA: [TreeId; TREE_COUNT - 1] = [
        TreeId::Streams,
        TreeId::Entries,
        TreeId::Nodes,
        TreeId::Groups,
        TreeId::Pel,
        TreeId::Cpel,
        TreeId::Consumers,
        TreeId::Kv,
        TreeId::Chunks,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            TreeId::Meta => "meta",
            TreeId::Streams => "streams",
            TreeId::Entries => "entries",
            TreeId::Nodes => "nodes",
            TreeId::Groups => "groups",
            TreeId::Pel => "pel",
            TreeId::Cpel => "cpel",
            TreeId::Consumers => "consumers",
            TreeId::Kv => "kv",
            TreeId::Chunks => "chunks",
        }
    }
}

/// The open sled database and its trees.
pub(crate) struct Trees {
    pub(crate) db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl Trees {
    pub(crate) fn open(db: sled::Db) -> Result<Trees, StorageError> {
        let mut trees = Vec::with_capacity(TREE_COUNT);
        for t in TreeId::ALL {
            trees.push(db.open_tree(t.name())?);
        }
        Ok(Trees { db, trees })
    }

    pub(crate) fn get(&self, t: TreeId) -> &sled::Tree {
        &self.trees[t as usize]
    }
}
