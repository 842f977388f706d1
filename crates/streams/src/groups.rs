//! Consumer-group commands: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO.
//!
//! Each command is parsed into a [`Cmd`] without looking at the state (only the checks Redis
//! makes before its key lookup happen here). *Prepare* then checks the state in Redis's order
//! and either answers (reads, errors, no-op outcomes) or resolves every choice that depends on
//! the clock or on the state into an [`Op`]: which entries are delivered to which consumer,
//! with which delivery time and count, which PEL entries are dropped, the new group position.
//! *Apply* performs exactly that through the model mutators of [`crate::stream::Stream`]
//! (so every change is tracked for persistence), re-checking that the op still fits the state,
//! and builds the reply from the state.
//!
//! ```text
//!  XREADGROUP ──parse──▶ ReadGroupCmd ──prepare(db, now)──▶ Op::ReadGroup{deliveries, position}
//!                                                              │
//!                                       apply(db) ◀────────────┘  pel_put / set_group_position
//! ```

mod claim;
mod info;
mod pending;
mod read;
mod xgroup;

use bytes::Bytes;
use resp::Reply;

use crate::db::Db;
use crate::engine::{Block, Ctx, Prepared};
use crate::id::StreamId;

pub use claim::{AutoClaimCmd, ClaimCmd, ClaimOp, ClaimReply, ClaimStep};
pub use info::{estimate_entries_read, group_lag, InfoCmd};
pub use pending::{AckCmd, PendingCmd, PendingRange};
pub use read::{ReadGroupCmd, ReadGroupOp, ReadStreamOp, Served};
pub use xgroup::{GroupCmd, GroupSub};

/// The generic syntax error.
pub const ERR_SYNTAX: &str = "ERR syntax error";
/// A non-integer where an integer is expected.
pub const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// Apply found that the state no longer fits the prepared op (it was prepared against an older
/// state). Nothing was changed; the command can be retried.
pub const ERR_STALE: &str =
    "TRYAGAIN the stream changed between prepare and apply, nothing was done: retry";

/// A parsed consumer-group command.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Group(GroupCmd),
    ReadGroup(ReadGroupCmd),
    Ack(AckCmd),
    Pending(PendingCmd),
    Claim(ClaimCmd),
    AutoClaim(AutoClaimCmd),
    Info(InfoCmd),
}

/// A resolved consumer-group write.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// XGROUP CREATE: create the stream first when `mkstream` and it is missing.
    Create {
        key: Bytes,
        group: Bytes,
        id: StreamId,
        entries_read: Option<u64>,
        mkstream: bool,
    },
    /// XGROUP SETID.
    SetId {
        key: Bytes,
        group: Bytes,
        id: StreamId,
        entries_read: Option<u64>,
    },
    /// XGROUP DESTROY.
    Destroy { key: Bytes, group: Bytes },
    /// XGROUP CREATECONSUMER.
    CreateConsumer {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
        now_ms: u64,
    },
    /// XGROUP DELCONSUMER.
    DelConsumer {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
    },
    /// XACK: remove these IDs from the group PEL (those still there).
    Ack {
        key: Bytes,
        group: Bytes,
        ids: Vec<StreamId>,
    },
    /// XREADGROUP.
    ReadGroup(ReadGroupOp),
    /// XCLAIM and XAUTOCLAIM.
    Claim(ClaimOp),
}

/// Parses `args` if `name` (lower-case `args[0]`) is a consumer-group command.
pub fn parse(name: &[u8], args: &[Bytes]) -> Option<Result<Cmd, Reply>> {
    Some(match name {
        b"xgroup" => xgroup::parse(args).map(Cmd::Group),
        b"xreadgroup" => read::parse(args).map(Cmd::ReadGroup),
        b"xack" => pending::parse_ack(args).map(Cmd::Ack),
        b"xpending" => pending::parse_pending(args).map(Cmd::Pending),
        b"xclaim" => claim::parse_claim(args).map(Cmd::Claim),
        b"xautoclaim" => claim::parse_autoclaim(args).map(Cmd::AutoClaim),
        b"xinfo" => info::parse(args).map(Cmd::Info),
        _ => return None,
    })
}

pub fn prepare(cmd: &Cmd, db: &Db, ctx: &Ctx) -> Prepared {
    match cmd {
        Cmd::Group(c) => xgroup::prepare(c, db, ctx),
        Cmd::ReadGroup(c) => read::prepare(c, db, ctx),
        Cmd::Ack(c) => pending::prepare_ack(c, db),
        Cmd::Pending(c) => Prepared::Reply(pending::pending(c, db, ctx)),
        Cmd::Claim(c) => claim::prepare_claim(c, db, ctx),
        Cmd::AutoClaim(c) => claim::prepare_autoclaim(c, db, ctx),
        Cmd::Info(c) => Prepared::Reply(info::info(c, db, ctx)),
    }
}

pub fn block(cmd: &Cmd) -> Option<Block> {
    match cmd {
        Cmd::ReadGroup(c) => c.block_ms.map(|timeout_ms| Block {
            timeout_ms,
            keys: c.keys.clone(),
        }),
        _ => None,
    }
}

pub fn apply(db: &mut Db, op: &Op) -> Reply {
    match op {
        Op::Create { .. }
        | Op::SetId { .. }
        | Op::Destroy { .. }
        | Op::CreateConsumer { .. }
        | Op::DelConsumer { .. } => xgroup::apply(db, op),
        Op::Ack { key, group, ids } => pending::apply_ack(db, key, group, ids),
        Op::ReadGroup(o) => read::apply(db, o),
        Op::Claim(o) => claim::apply(db, o),
    }
}

// ------------------------------------------------------------------ shared helpers

/// A prepared consumer-group write.
pub(crate) fn write(op: Op) -> Prepared {
    Prepared::Write(crate::engine::Op::Groups(op))
}

/// An error reply from raw bytes (which already carry the prefix), with CR and LF turned into
/// spaces as Redis does for formatted errors.
pub(crate) fn error_bytes(mut msg: Vec<u8>) -> Reply {
    for b in msg.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    Reply::Error(Bytes::from(msg))
}

/// What C's `%s` prints of a binary-safe argument: everything before the first NUL.
pub(crate) fn c_str(arg: &[u8]) -> &[u8] {
    match arg.iter().position(|&b| b == 0) {
        Some(n) => &arg[..n],
        None => arg,
    }
}

/// Builds an error from pieces, where `args` are user-supplied strings printed with `%s`.
pub(crate) fn error_fmt(pieces: &[&[u8]]) -> Reply {
    let mut msg = Vec::new();
    for p in pieces {
        msg.extend_from_slice(p);
    }
    error_bytes(msg)
}

pub(crate) fn arity_error(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// `-NOGROUP No such key 'k' or consumer group 'g'` (XPENDING, XCLAIM, XAUTOCLAIM).
pub(crate) fn nogroup_key_or_group(key: &[u8], group: &[u8]) -> Reply {
    error_fmt(&[
        b"NOGROUP No such key '",
        c_str(key),
        b"' or consumer group '",
        c_str(group),
        b"'",
    ])
}

/// `-NOGROUP No such consumer group 'g' for key name 'k'` (XGROUP, XINFO CONSUMERS).
pub(crate) fn nogroup_for_key(group: &[u8], key: &[u8]) -> Reply {
    error_fmt(&[
        b"NOGROUP No such consumer group '",
        c_str(group),
        b"' for key name '",
        c_str(key),
        b"'",
    ])
}

/// `ERR unknown subcommand or wrong number of arguments for 'sub'. Try CMD HELP.`
pub(crate) fn subcommand_syntax_error(sub: &[u8], cmd: &str) -> Reply {
    let sub = c_str(sub);
    let sub = &sub[..sub.len().min(128)];
    error_fmt(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        sub,
        b"'. Try ",
        cmd.as_bytes(),
        b" HELP.",
    ])
}

/// `ERR unknown subcommand 'sub'. Try CMD HELP.`
pub(crate) fn unknown_subcommand(sub: &[u8], cmd: &str) -> Reply {
    let sub = c_str(sub);
    let sub = &sub[..sub.len().min(128)];
    error_fmt(&[
        b"ERR unknown subcommand '",
        sub,
        b"'. Try ",
        cmd.as_bytes(),
        b" HELP.",
    ])
}

/// A HELP reply: header, the lines, and the HELP footer, all simple strings.
pub(crate) fn help_reply(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Simple(Bytes::from(format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))));
    for l in lines {
        out.push(Reply::Simple(Bytes::copy_from_slice(l.as_bytes())));
    }
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Print this help."));
    Reply::Array(out)
}

/// ASCII case-insensitive comparison with an option token.
pub(crate) fn is_token(arg: &[u8], token: &str) -> bool {
    arg.eq_ignore_ascii_case(token.as_bytes())
}

pub(crate) use crate::entries::{entry_reply, id_reply};

/// The top-level reply of XREADGROUP: `[key, entries]` pairs in RESP2, a map in RESP3.
pub(crate) fn streams_reply(pairs: Vec<(Reply, Reply)>) -> Reply {
    Reply::PairMap(pairs)
}

/// An unsigned 64-bit value as a RESP integer (Redis prints `long long`s).
pub(crate) fn int_reply(v: u64) -> Reply {
    Reply::Integer(v as i64)
}
