//! Keyspace commands: the generic key commands (DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX,
//! DBSIZE, KEYS, SCAN, FLUSHALL, FLUSHDB, DUMP, RESTORE) and the minimal string, list and set
//! commands that exist so that WRONGTYPE and wake-up rules behave as in Redis (SET, GET,
//! LPUSH, RPUSH, LPOP, RPOP, LRANGE, LLEN, BLPOP, BRPOP, SADD, SREM, SMEMBERS, SCARD,
//! SISMEMBER).
//!
//! Parsing makes every check Redis makes before its key lookup. *Prepare* answers reads,
//! errors and no-op writes, and turns every other write into an [`Op`] (RESTORE's payload is
//! decoded there, so the op carries the value). *Apply* re-checks the state (an op may have
//! been prepared against an older one), mutates only through the [`Db`] mutators, bumps
//! `db.dirty` by what Redis counts and builds the reply.
//!
//! ```text
//!  RESTORE k 0 payload ──parse──▶ Cmd::Restore ──prepare: decode──▶ Op::Restore{value}
//!                                                                      │
//!                                         apply: db.set(k, value) ◀────┘
//! ```

mod dump;
mod generic;
pub mod glob;
mod lists;
mod scan;
mod sets;
mod strings;
mod timeout;

use bytes::Bytes;
use resp::Reply;

use crate::db::{Db, Value, ERR_WRONGTYPE};
use crate::engine::{Block, Ctx, Prepared};

pub use dump::{decode_value, encode_value, DecodeError, DUMP_VERSION};
pub use glob::string_match;
pub use scan::{scan_hash, ScanCmd, TypeFilter};
pub use strings::SetCmd;
pub use timeout::parse_timeout_secs;

/// The generic syntax error.
pub const ERR_SYNTAX: &str = "ERR syntax error";
/// A non-integer where an integer is expected.
pub const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// Which end of a list a push or pop works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum End {
    Head,
    Tail,
}

/// A parsed keyspace command.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// DEL and UNLINK.
    Del {
        keys: Vec<Bytes>,
    },
    Exists {
        keys: Vec<Bytes>,
    },
    Type {
        key: Bytes,
    },
    /// RENAME (`nx` false) and RENAMENX.
    Rename {
        src: Bytes,
        dst: Bytes,
        nx: bool,
    },
    DbSize,
    Keys {
        pattern: Bytes,
    },
    Scan(ScanCmd),
    /// FLUSHALL and FLUSHDB (one database).
    Flush,
    Dump {
        key: Bytes,
    },
    /// RESTORE; the TTL is checked after the key, so it stays raw until prepare.
    Restore {
        key: Bytes,
        ttl: Bytes,
        payload: Bytes,
        replace: bool,
    },
    Set(SetCmd),
    Get {
        key: Bytes,
    },
    /// LPUSH and RPUSH.
    Push {
        key: Bytes,
        values: Vec<Bytes>,
        end: End,
    },
    /// LPOP and RPOP; `count` when given.
    Pop {
        key: Bytes,
        end: End,
        count: Option<u64>,
    },
    LRange {
        key: Bytes,
        start: i64,
        stop: i64,
    },
    LLen {
        key: Bytes,
    },
    /// BLPOP and BRPOP; `timeout_ms` 0 waits forever.
    BlockingPop {
        keys: Vec<Bytes>,
        end: End,
        timeout_ms: u64,
    },
    SAdd {
        key: Bytes,
        members: Vec<Bytes>,
    },
    SRem {
        key: Bytes,
        members: Vec<Bytes>,
    },
    SMembers {
        key: Bytes,
    },
    SCard {
        key: Bytes,
    },
    SIsMember {
        key: Bytes,
        member: Bytes,
    },
}

/// A resolved keyspace write.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// Delete these keys (those present); replies with the number deleted.
    Del {
        keys: Vec<Bytes>,
    },
    /// Move `src` to `dst` (overwriting it unless `nx`).
    Rename {
        src: Bytes,
        dst: Bytes,
        nx: bool,
    },
    /// Remove every key.
    Flush,
    /// Create `key` from a decoded DUMP payload.
    Restore {
        key: Bytes,
        value: Value,
        replace: bool,
    },
    Set(SetCmd),
    Push {
        key: Bytes,
        values: Vec<Bytes>,
        end: End,
    },
    /// LPOP/RPOP (`blocking` false) or the pop of a BLPOP/BRPOP that found data, which
    /// replies `[key, value]`.
    Pop {
        key: Bytes,
        end: End,
        count: Option<u64>,
        blocking: bool,
    },
    SAdd {
        key: Bytes,
        members: Vec<Bytes>,
    },
    SRem {
        key: Bytes,
        members: Vec<Bytes>,
    },
}

/// Parses `args` if `name` (lower-case `args[0]`) is a keyspace command.
pub fn parse(name: &[u8], args: &[Bytes]) -> Option<Result<Cmd, Reply>> {
    Some(match name {
        b"del" | b"unlink" | b"exists" | b"type" | b"rename" | b"renamenx" | b"dbsize"
        | b"flushall" | b"flushdb" => generic::parse(name, args),
        b"keys" | b"scan" => scan::parse(name, args),
        b"dump" | b"restore" => dump::parse(name, args),
        b"set" | b"get" => strings::parse(name, args),
        b"lpush" | b"rpush" | b"lpop" | b"rpop" | b"lrange" | b"llen" | b"blpop" | b"brpop" => {
            lists::parse(name, args)
        }
        b"sadd" | b"srem" | b"smembers" | b"scard" | b"sismember" => sets::parse(name, args),
        _ => return None,
    })
}

pub fn prepare(cmd: &Cmd, db: &Db, ctx: &Ctx) -> Prepared {
    let reply = match cmd {
        Cmd::Del { keys } => return generic::prepare_del(db, keys),
        Cmd::Exists { keys } => generic::exists(db, keys),
        Cmd::Type { key } => generic::type_of(db, key),
        Cmd::Rename { src, dst, nx } => return generic::prepare_rename(db, src, dst, *nx),
        Cmd::DbSize => generic::dbsize(db),
        Cmd::Keys { pattern } => scan::keys(db, pattern),
        Cmd::Scan(c) => scan::scan(db, c),
        Cmd::Flush => return write(Op::Flush),
        Cmd::Dump { key } => dump::dump(db, key),
        Cmd::Restore {
            key,
            ttl,
            payload,
            replace,
        } => return dump::prepare_restore(db, key, ttl, payload, *replace),
        Cmd::Set(c) => return strings::prepare_set(c, db),
        Cmd::Get { key } => strings::get(db, key),
        Cmd::Push { key, values, end } => return lists::prepare_push(db, key, values, *end),
        Cmd::Pop { key, end, count } => return lists::prepare_pop(db, key, *end, *count),
        Cmd::LRange { key, start, stop } => lists::lrange(db, key, *start, *stop),
        Cmd::LLen { key } => lists::llen(db, key),
        Cmd::BlockingPop {
            keys,
            end,
            timeout_ms,
        } => return lists::prepare_blocking_pop(db, ctx, keys, *end, *timeout_ms),
        Cmd::SAdd { key, members } => return sets::prepare_sadd(db, key, members),
        Cmd::SRem { key, members } => return sets::prepare_srem(db, key, members),
        Cmd::SMembers { key } => sets::smembers(db, key),
        Cmd::SCard { key } => sets::scard(db, key),
        Cmd::SIsMember { key, member } => sets::sismember(db, key, member),
    };
    Prepared::Reply(reply)
}

pub fn block(cmd: &Cmd) -> Option<Block> {
    match cmd {
        Cmd::BlockingPop {
            keys, timeout_ms, ..
        } => Some(Block {
            timeout_ms: *timeout_ms,
            keys: keys.clone(),
        }),
        _ => None,
    }
}

pub fn apply(db: &mut Db, op: &Op) -> Reply {
    match op {
        Op::Del { keys } => generic::apply_del(db, keys),
        Op::Rename { src, dst, nx } => generic::apply_rename(db, src, dst, *nx),
        Op::Flush => generic::apply_flush(db),
        Op::Restore {
            key,
            value,
            replace,
        } => dump::apply_restore(db, key, value, *replace),
        Op::Set(c) => strings::apply_set(db, c),
        Op::Push { key, values, end } => lists::apply_push(db, key, values, *end),
        Op::Pop {
            key,
            end,
            count,
            blocking,
        } => lists::apply_pop(db, key, *end, *count, *blocking),
        Op::SAdd { key, members } => sets::apply_sadd(db, key, members),
        Op::SRem { key, members } => sets::apply_srem(db, key, members),
    }
}

// ------------------------------------------------------------------ shared helpers

/// A prepared keyspace write.
fn write(op: Op) -> Prepared {
    Prepared::Write(crate::engine::Op::Keyspace(op))
}

fn wrongtype() -> Reply {
    Reply::error(ERR_WRONGTYPE)
}

/// Checks the command table's arity: `n > 0` exactly `n` arguments (the name included),
/// `n < 0` at least `-n`.
fn check_arity(args: &[Bytes], arity: i32, name: &str) -> Result<(), Reply> {
    let n = args.len() as i64;
    let ok = if arity >= 0 {
        n == arity as i64
    } else {
        n >= -(arity as i64)
    };
    if ok {
        Ok(())
    } else {
        Err(arity_error(name))
    }
}

fn arity_error(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// What C's `%s` and `strcasecmp` see of a binary-safe argument: the bytes before the first
/// NUL.
fn c_str(arg: &[u8]) -> &[u8] {
    match arg.iter().position(|&b| b == 0) {
        Some(n) => &arg[..n],
        None => arg,
    }
}

/// `strcasecmp(arg, token) == 0`.
fn is_token(arg: &[u8], token: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(token.as_bytes())
}

/// An error built from pieces (the first carries the prefix); CR and LF become spaces, as
/// Redis does for formatted errors.
fn error_fmt(pieces: &[&[u8]]) -> Reply {
    let mut msg: Vec<u8> = pieces.concat();
    for b in msg.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    Reply::Error(Bytes::from(msg))
}

fn int_reply(v: u64) -> Reply {
    Reply::Integer(i64::try_from(v).unwrap_or(i64::MAX))
}
