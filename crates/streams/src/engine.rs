//! The engine's narrow interface: parse a command, *prepare* it against the current state and
//! the caller's clock (reads answer here; writes resolve every nondeterministic choice into an
//! [`Op`]), then *apply* the op deterministically.
//!
//! ```text
//!   args ──parse──▶ Command ──prepare(db, ctx)──▶ Prepared::Reply(reply)        (reads, errors)
//!                                             └─▶ Prepared::Write(op) ──apply(db, op)──▶ reply
//! ```
//!
//! `apply` reads nothing but the op and the state: no clock, no randomness, no configuration.
//! After `apply`, [`Db::take_changes`] lists the persisted items touched and
//! [`Db::take_ready`] the keys whose blocked readers must re-run their command.

use bytes::Bytes;
use resp::Reply;

use crate::db::Db;
use crate::{entries, groups, keyspace};

/// Inputs that a command's *prepare* step may depend on besides the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// The wall-clock time of this command (frozen for a whole MULTI/EXEC or a batch).
    pub now_ms: u64,
    /// `stream-node-max-entries` (0 = no entry limit per node).
    pub node_max_entries: u64,
}

impl Default for Ctx {
    fn default() -> Ctx {
        Ctx {
            now_ms: 0,
            node_max_entries: 100,
        }
    }
}

/// A parsed command of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Entries(entries::Cmd),
    Groups(groups::Cmd),
    Keyspace(keyspace::Cmd),
}

/// A write with every nondeterministic choice resolved: what goes into the (future Raft) log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    Entries(entries::Op),
    Groups(groups::Op),
    Keyspace(keyspace::Op),
}

/// The result of preparing a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// A read, or an error: nothing to apply.
    Reply(Reply),
    /// A write to apply.
    Write(Op),
}

/// How a blocking command waits: the keys to watch and the timeout (0 = forever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub timeout_ms: u64,
    pub keys: Vec<Bytes>,
}

/// Parses a command (`args[0]` is the name, any case). `None` if the engine does not own this
/// command (connection and server commands belong to the server). Never panics, whatever the
/// arguments.
pub fn parse(args: &[Bytes]) -> Option<Result<Command, Reply>> {
    let name = args.first()?.to_ascii_lowercase();
    if let Some(r) = entries::parse(&name, args) {
        return Some(r.map(Command::Entries));
    }
    if let Some(r) = groups::parse(&name, args) {
        return Some(r.map(Command::Groups));
    }
    keyspace::parse(&name, args).map(|r| r.map(Command::Keyspace))
}

impl Command {
    /// Resolves the command against the state and `ctx`.
    pub fn prepare(&self, db: &Db, ctx: &Ctx) -> Prepared {
        match self {
            Command::Entries(c) => entries::prepare(c, db, ctx),
            Command::Groups(c) => groups::prepare(c, db, ctx),
            Command::Keyspace(c) => keyspace::prepare(c, db, ctx),
        }
    }

    /// If this command may block (BLOCK given / BLPOP), how. The server blocks only when the
    /// reply was a null array (nothing served) and it is not inside MULTI.
    pub fn block(&self) -> Option<Block> {
        match self {
            Command::Entries(c) => entries::block(c),
            Command::Groups(c) => groups::block(c),
            Command::Keyspace(c) => keyspace::block(c),
        }
    }

    /// Called once when the command is about to block: pins IDs that are relative to the state
    /// at call time (XREAD `$`, `+`) so that re-runs on wake-up see new entries only.
    pub fn pin_for_block(&mut self, db: &Db) {
        match self {
            Command::Entries(c) => entries::pin_for_block(c, db),
            Command::Groups(_) | Command::Keyspace(_) => {}
        }
    }
}

/// Applies a resolved write. Deterministic: the same op on the same state gives the same
/// reply and the same state on every replica. Never panics on an op that does not fit the
/// state (a stale prepare): it replies with an error instead and changes nothing.
pub fn apply(db: &mut Db, op: &Op) -> Reply {
    match op {
        Op::Entries(o) => entries::apply(db, o),
        Op::Groups(o) => groups::apply(db, o),
        Op::Keyspace(o) => keyspace::apply(db, o),
    }
}

/// Parse, prepare and apply in one step (single-node use and tests).
pub fn execute(db: &mut Db, args: &[Bytes], ctx: &Ctx) -> Option<Reply> {
    let cmd = match parse(args)? {
        Ok(c) => c,
        Err(e) => return Some(e),
    };
    Some(match cmd.prepare(db, ctx) {
        Prepared::Reply(r) => r,
        Prepared::Write(op) => apply(db, &op),
    })
}
