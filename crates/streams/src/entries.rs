//! Entry commands: XADD, XTRIM, XDEL, XSETID (writes) and XLEN, XRANGE, XREVRANGE, XREAD
//! (reads).
//!
//! Each command is parsed into a [`Cmd`] without looking at the state: everything Redis checks
//! before its key lookup is checked here. *Prepare* then checks the state in Redis's order.
//! Reads answer right there ([`Prepared::Reply`]); writes resolve every choice that depends on
//! the clock, the configuration or the node layout into an [`Op`]:
//!
//! - XADD `*` / `ms-*` become the concrete ID (`*` takes `max(now_ms, last.ms)`, so IDs never
//!   go backwards when the clock does);
//! - `MAXLEN|MINID ~ x [LIMIT n]` becomes an exact threshold that removes exactly the whole
//!   nodes Redis would remove (see [`trim`]);
//! - `stream-node-max-entries` travels in the op, so every replica lays out nodes alike.
//!
//! *Apply* performs the op through the mutators of [`crate::stream::Stream`] (which record what
//! to persist), re-checking that it still fits the state and answering with an error reply,
//! changing nothing, when it does not.
//!
//! ```text
//!  XADD s MAXLEN ~ 10 * f v ──parse──▶ AddCmd{id: Auto, trim: ~10}
//!      ──prepare(db, now_ms, node_max_entries)──▶ AddOp{id: now-0, trim: MaxLen(=k)}
//!      ──apply(db)──▶ append, trim exactly, signal ready, dirty++ ──▶ $id
//! ```

mod add;
mod del;
pub(crate) mod range;
mod read;
mod trim;

use bytes::Bytes;
use resp::Reply;

use crate::db::{Db, ERR_WRONGTYPE};
use crate::engine::{Block, Ctx, Prepared};
use crate::id::StreamId;
use crate::stream::Fields;

pub use add::{AddCmd, AddOp};
pub use del::{DelCmd, SetIdCmd};
pub use range::RangeCmd;
pub use read::{ReadCmd, ReadId};
pub use trim::{Threshold, TrimCmd, TrimSpec};

/// The generic syntax error.
pub(crate) const ERR_SYNTAX: &str = "ERR syntax error";
/// A non-integer where an integer is expected.
pub(crate) const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// A parsed entry command.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Add(AddCmd),
    Trim(TrimCmd),
    Del(DelCmd),
    SetId(SetIdCmd),
    Len { key: Bytes },
    Range(RangeCmd),
    Read(ReadCmd),
}

/// A resolved entry write.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// XADD with its concrete ID and exact trim.
    Add(AddOp),
    /// XTRIM with an exact threshold (approximate trims already resolved).
    Trim { key: Bytes, threshold: Threshold },
    /// XDEL of these IDs (those still present).
    Del { key: Bytes, ids: Vec<StreamId> },
    /// XSETID.
    SetId {
        key: Bytes,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted_id: Option<StreamId>,
    },
}

/// Parses `args` if `name` (lower-case `args[0]`) is an entry command.
pub fn parse(name: &[u8], args: &[Bytes]) -> Option<Result<Cmd, Reply>> {
    Some(match name {
        b"xadd" => add::parse(args).map(Cmd::Add),
        b"xtrim" => trim::parse(args).map(Cmd::Trim),
        b"xdel" => del::parse_del(args).map(Cmd::Del),
        b"xsetid" => del::parse_setid(args).map(Cmd::SetId),
        b"xlen" => match args {
            [_, key] => Ok(Cmd::Len { key: key.clone() }),
            _ => Err(arity_error("xlen")),
        },
        b"xrange" => range::parse(args, false).map(Cmd::Range),
        b"xrevrange" => range::parse(args, true).map(Cmd::Range),
        b"xread" => read::parse(args).map(Cmd::Read),
        _ => return None,
    })
}

pub fn prepare(cmd: &Cmd, db: &Db, ctx: &Ctx) -> Prepared {
    match cmd {
        Cmd::Add(c) => add::prepare(c, db, ctx),
        Cmd::Trim(c) => trim::prepare(c, db, ctx),
        Cmd::Del(c) => del::prepare_del(c, db),
        Cmd::SetId(c) => del::prepare_setid(c, db),
        Cmd::Len { key } => Prepared::Reply(match db.stream(key) {
            Ok(s) => Reply::Integer(s.map_or(0, |s| s.len() as i64)),
            Err(_) => wrongtype(),
        }),
        Cmd::Range(c) => Prepared::Reply(range::range(c, db)),
        Cmd::Read(c) => Prepared::Reply(read::read(c, db, ctx)),
    }
}

/// XREAD with BLOCK blocks on its keys; nothing else here blocks.
pub fn block(cmd: &Cmd) -> Option<Block> {
    match cmd {
        Cmd::Read(c) => c.block_ms.map(|timeout_ms| Block {
            timeout_ms,
            keys: c.keys.clone(),
        }),
        _ => None,
    }
}

pub fn apply(db: &mut Db, op: &Op) -> Reply {
    match op {
        Op::Add(o) => add::apply(db, o),
        Op::Trim { key, threshold } => trim::apply(db, key, *threshold),
        Op::Del { key, ids } => del::apply_del(db, key, ids),
        Op::SetId {
            key,
            last_id,
            entries_added,
            max_deleted_id,
        } => del::apply_setid(db, key, *last_id, *entries_added, *max_deleted_id),
    }
}

/// Pins XREAD's `$` to the key's current last ID (`0-0` when missing), as Redis 7.2+ rewrites
/// the argument when it blocks, so re-runs after wake-ups see only newer entries. `+` stays as
/// it is: Redis does not rewrite it either, and a re-run resolves it again to "the last live
/// entry", which is what a client blocked on `+` (on a missing or empty stream) must get.
pub fn pin_for_block(cmd: &mut Cmd, db: &Db) {
    if let Cmd::Read(c) = cmd {
        read::pin(c, db);
    }
}

// ------------------------------------------------------------------ shared helpers

/// A prepared entry write.
pub(crate) fn write(op: Op) -> Prepared {
    Prepared::Write(crate::engine::Op::Entries(op))
}

pub(crate) fn wrongtype() -> Reply {
    Reply::Error(Bytes::from_static(ERR_WRONGTYPE.as_bytes()))
}

pub(crate) fn error(msg: &'static str) -> Reply {
    Reply::Error(Bytes::from_static(msg.as_bytes()))
}

pub(crate) fn arity_error(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// ASCII case-insensitive comparison with an option token.
pub(crate) fn is_token(arg: &[u8], token: &str) -> bool {
    arg.eq_ignore_ascii_case(token.as_bytes())
}

/// The canonical text of an ID (`ms-seq`), written without the formatting machinery.
pub(crate) fn id_bytes(id: StreamId) -> Bytes {
    let mut buf = [0u8; 41];
    let mut pos = buf.len();
    for (i, mut v) in [id.seq, id.ms].into_iter().enumerate() {
        if i == 1 {
            pos -= 1;
            buf[pos] = b'-';
        }
        loop {
            pos -= 1;
            buf[pos] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
    }
    Bytes::copy_from_slice(&buf[pos..])
}

/// An ID as a bulk string.
pub(crate) fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id_bytes(id))
}

/// An entry: `[id, [f1, v1, ...]]`. The field and value buffers are shared, not copied.
pub(crate) fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        Reply::Array(fields.iter().cloned().map(Reply::Bulk).collect()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_text_matches_display() {
        for id in [
            StreamId::MIN,
            StreamId::new(1, 0),
            StreamId::new(0, 1),
            StreamId::new(1234567890123, 42),
            StreamId::new(u64::MAX, 9),
            StreamId::MAX,
        ] {
            assert_eq!(id_bytes(id), Bytes::from(id.to_string()));
        }
    }

    #[test]
    fn entry_reply_shape() {
        let f = vec![Bytes::from_static(b"a"), Bytes::from_static(b"1")];
        assert_eq!(
            entry_reply(StreamId::new(5, 1), &f),
            Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"5-1")),
                Reply::Array(vec![
                    Reply::Bulk(Bytes::from_static(b"a")),
                    Reply::Bulk(Bytes::from_static(b"1")),
                ]),
            ])
        );
    }
}
