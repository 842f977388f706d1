//! XADD: parse, resolve the ID and the trim, append.

use bytes::Bytes;
use resp::Reply;

use super::trim::{parse_add_trim, trim_exact, Threshold, TrimSpec};
use super::{arity_error, error, id_reply, write, wrongtype, Op};
use crate::db::Db;
use crate::engine::{Ctx, Prepared};
use crate::id::{AddId, StreamId};
use crate::stream::{Fields, Stream};

/// The most bytes the fields and values of one entry may take together (a listpack's limit).
pub const ENTRY_MAX_SIZE_BYTES: usize = 1 << 30;

const ERR_ZERO_ID: &str = "ERR The ID specified in XADD must be greater than 0-0";
const ERR_EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
const ERR_NOT_GREATER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const ERR_TOO_LARGE: &str = "ERR Elements are too large to be stored";

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] <*|ms-*|id> field value ...
#[derive(Debug, Clone, PartialEq)]
pub struct AddCmd {
    pub key: Bytes,
    pub nomkstream: bool,
    pub trim: Option<TrimSpec>,
    pub id: AddId,
    pub fields: Fields,
}

/// XADD resolved: the concrete ID, the exact trim, and the node size to lay the entry out
/// with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AddOp {
    pub key: Bytes,
    /// Do not create the stream when it is missing (reply null instead).
    pub nomkstream: bool,
    pub id: StreamId,
    pub fields: Fields,
    pub trim: Option<Threshold>,
    pub node_max_entries: u64,
}

pub(super) fn parse(args: &[Bytes]) -> Result<AddCmd, Reply> {
    if args.len() < 5 {
        return Err(arity_error("xadd"));
    }
    let parsed = parse_add_trim(args, true)?;
    let field_pos = parsed.id_pos + 1;
    let id = match parsed.id {
        Some(id) if field_pos < args.len() && (args.len() - field_pos).is_multiple_of(2) => id,
        _ => return Err(arity_error("xadd")),
    };
    if id == AddId::Explicit(StreamId::MIN) {
        return Err(error(ERR_ZERO_ID));
    }
    Ok(AddCmd {
        key: args[1].clone(),
        nomkstream: parsed.nomkstream,
        trim: parsed.trim,
        id,
        fields: args[field_pos..].to_vec(),
    })
}

/// The ID an XADD gets on a stream whose last ID is `last` (not `MAX`), or `None` if it is
/// not greater than `last`.
fn resolve_id(id: AddId, last: StreamId, now_ms: u64) -> Option<StreamId> {
    let id = match id {
        AddId::Auto if now_ms > last.ms => StreamId::new(now_ms, 0),
        // The clock did not move, or went back: keep last.ms and count up.
        AddId::Auto => last.next()?,
        AddId::AutoSeq(ms) if ms == last.ms => StreamId::new(ms, last.seq.checked_add(1)?),
        AddId::AutoSeq(ms) => StreamId::new(ms, 0),
        AddId::Explicit(id) => id,
    };
    (id > last).then_some(id)
}

fn too_large(fields: &Fields) -> bool {
    let mut total = 0usize;
    for f in fields {
        total = total.saturating_add(f.len());
    }
    total > ENTRY_MAX_SIZE_BYTES
}

/// The checks XADD makes on an existing stream before appending `id` (Redis's order).
fn check_append(s: &Stream, id: StreamId) -> Result<(), Reply> {
    if s.last_id() == StreamId::MAX {
        return Err(error(ERR_EXHAUSTED));
    }
    if id <= s.last_id() {
        return Err(error(ERR_NOT_GREATER));
    }
    Ok(())
}

pub(super) fn prepare(cmd: &AddCmd, db: &Db, ctx: &Ctx) -> Prepared {
    let s = match db.stream(&cmd.key) {
        Err(_) => return Prepared::Reply(wrongtype()),
        Ok(None) if cmd.nomkstream => return Prepared::Reply(Reply::Null),
        Ok(s) => s,
    };
    let last = s.map_or(StreamId::MIN, Stream::last_id);
    if last == StreamId::MAX {
        return Prepared::Reply(error(ERR_EXHAUSTED));
    }
    let Some(id) = resolve_id(cmd.id, last, ctx.now_ms) else {
        return Prepared::Reply(error(ERR_NOT_GREATER));
    };
    // A missing key is created before this check fails: leave that to apply.
    if s.is_some() && too_large(&cmd.fields) {
        return Prepared::Reply(error(ERR_TOO_LARGE));
    }
    let trim = cmd
        .trim
        .and_then(|spec| spec.resolve(s, Some(id), ctx.node_max_entries));
    write(Op::Add(AddOp {
        key: cmd.key.clone(),
        nomkstream: cmd.nomkstream,
        id,
        fields: cmd.fields.clone(),
        trim,
        node_max_entries: ctx.node_max_entries,
    }))
}

pub(super) fn apply(db: &mut Db, op: &AddOp) -> Reply {
    match db.stream(&op.key) {
        Err(_) => return wrongtype(),
        Ok(None) if op.nomkstream => return Reply::Null,
        Ok(None) => {}
        Ok(Some(s)) => {
            if let Err(e) = check_append(s, op.id) {
                return e;
            }
        }
    }
    let s = match db.stream_or_create(&op.key) {
        Ok(s) => s,
        Err(_) => return wrongtype(),
    };
    if too_large(&op.fields) {
        // Redis created the key before finding this out and leaves it, empty.
        return error(ERR_TOO_LARGE);
    }
    s.append(op.id, op.fields.clone(), op.node_max_entries);
    if let Some(threshold) = op.trim {
        trim_exact(s, threshold);
    }
    db.dirty += 1;
    db.signal_ready(&op.key);
    id_reply(op.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_ids_never_go_back() {
        let last = StreamId::new(10, 5);
        assert_eq!(
            resolve_id(AddId::Auto, last, 11),
            Some(StreamId::new(11, 0))
        );
        assert_eq!(
            resolve_id(AddId::Auto, last, 10),
            Some(StreamId::new(10, 6))
        );
        assert_eq!(resolve_id(AddId::Auto, last, 3), Some(StreamId::new(10, 6)));
        let full = StreamId::new(10, u64::MAX);
        assert_eq!(resolve_id(AddId::Auto, full, 3), Some(StreamId::new(11, 0)));
    }

    #[test]
    fn auto_seq_ids() {
        let last = StreamId::new(10, 5);
        assert_eq!(
            resolve_id(AddId::AutoSeq(10), last, 0),
            Some(StreamId::new(10, 6))
        );
        assert_eq!(
            resolve_id(AddId::AutoSeq(12), last, 0),
            Some(StreamId::new(12, 0))
        );
        assert_eq!(resolve_id(AddId::AutoSeq(9), last, 0), None);
        assert_eq!(
            resolve_id(AddId::AutoSeq(10), StreamId::new(10, u64::MAX), 0),
            None
        );
        assert_eq!(
            resolve_id(AddId::AutoSeq(0), StreamId::MIN, 0),
            Some(StreamId::new(0, 1))
        );
    }

    #[test]
    fn explicit_ids_must_grow() {
        let last = StreamId::new(10, 5);
        assert_eq!(resolve_id(AddId::Explicit(last), last, 0), None);
        assert_eq!(
            resolve_id(AddId::Explicit(StreamId::new(10, 6)), last, 0),
            Some(StreamId::new(10, 6))
        );
    }
}
