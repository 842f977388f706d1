//! XDEL and XSETID.

use bytes::Bytes;
use resp::Reply;

use super::{arity_error, error, is_token, write, wrongtype, Op, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Db;
use crate::engine::Prepared;
use crate::id::{parse_i64, parse_id, StreamId, ERR_INVALID_ID};
use crate::stream::Stream;

/// XDEL key id [id ...]
#[derive(Debug, Clone, PartialEq)]
pub struct DelCmd {
    pub key: Bytes,
    /// The IDs, or `None` if any of them is invalid (Redis reports that only after the key
    /// lookup).
    pub ids: Option<Vec<StreamId>>,
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
#[derive(Debug, Clone, PartialEq)]
pub struct SetIdCmd {
    pub key: Bytes,
    pub last_id: StreamId,
    pub entries_added: Option<u64>,
    pub max_deleted_id: Option<StreamId>,
}

pub(super) fn parse_del(args: &[Bytes]) -> Result<DelCmd, Reply> {
    if args.len() < 3 {
        return Err(arity_error("xdel"));
    }
    let ids = args[2..]
        .iter()
        .map(|a| parse_id(a, true, 0))
        .collect::<Option<Vec<_>>>();
    Ok(DelCmd {
        key: args[1].clone(),
        ids,
    })
}

pub(super) fn prepare_del(cmd: &DelCmd, db: &Db) -> Prepared {
    let s = match db.stream(&cmd.key) {
        Err(_) => return Prepared::Reply(wrongtype()),
        Ok(None) => return Prepared::Reply(Reply::Integer(0)),
        Ok(Some(s)) => s,
    };
    let Some(ids) = &cmd.ids else {
        return Prepared::Reply(error(ERR_INVALID_ID));
    };
    if !ids.iter().any(|id| s.entry(id).is_some()) {
        return Prepared::Reply(Reply::Integer(0));
    }
    write(Op::Del {
        key: cmd.key.clone(),
        ids: ids.clone(),
    })
}

pub(super) fn apply_del(db: &mut Db, key: &[u8], ids: &[StreamId]) -> Reply {
    let s = match db.stream_mut(key) {
        Err(_) => return wrongtype(),
        Ok(None) => return Reply::Integer(0),
        Ok(Some(s)) => s,
    };
    let mut deleted = 0u64;
    for id in ids {
        if s.remove_entry(id) {
            deleted += 1;
            if *id > s.max_deleted_id() {
                s.set_max_deleted_id(*id);
            }
        }
    }
    db.dirty += deleted;
    Reply::Integer(deleted as i64)
}

pub(super) fn parse_setid(args: &[Bytes]) -> Result<SetIdCmd, Reply> {
    if args.len() < 3 {
        return Err(arity_error("xsetid"));
    }
    let last_id = parse_id(&args[2], true, 0).ok_or_else(|| error(ERR_INVALID_ID))?;
    let mut entries_added = None;
    let mut max_deleted_id = None;
    let mut i = 3;
    while i < args.len() {
        let moreargs = args.len() - 1 - i;
        if is_token(&args[i], "entriesadded") && moreargs > 0 {
            let n = parse_i64(&args[i + 1]).ok_or_else(|| error(ERR_NOT_INTEGER))?;
            if n < 0 {
                return Err(error("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is_token(&args[i], "maxdeletedid") && moreargs > 0 {
            let id = parse_id(&args[i + 1], true, 0).ok_or_else(|| error(ERR_INVALID_ID))?;
            if last_id < id {
                return Err(error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted_id = Some(id);
        } else {
            return Err(error(ERR_SYNTAX));
        }
        i += 2;
    }
    Ok(SetIdCmd {
        key: args[1].clone(),
        last_id,
        entries_added,
        max_deleted_id,
    })
}

/// The state checks of XSETID, in Redis's order.
fn check_setid(
    s: Option<&Stream>,
    last_id: StreamId,
    entries_added: Option<u64>,
) -> Result<(), Reply> {
    let Some(s) = s else {
        return Err(error("ERR no such key"));
    };
    if last_id < s.max_deleted_id() {
        return Err(error(
            "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
        ));
    }
    if !s.is_empty() {
        if last_id < s.top_id() {
            return Err(error(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| n < s.len()) {
            return Err(error(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    Ok(())
}

pub(super) fn prepare_setid(cmd: &SetIdCmd, db: &Db) -> Prepared {
    let s = match db.stream(&cmd.key) {
        Err(_) => return Prepared::Reply(wrongtype()),
        Ok(s) => s,
    };
    if let Err(e) = check_setid(s, cmd.last_id, cmd.entries_added) {
        return Prepared::Reply(e);
    }
    write(Op::SetId {
        key: cmd.key.clone(),
        last_id: cmd.last_id,
        entries_added: cmd.entries_added,
        max_deleted_id: cmd.max_deleted_id,
    })
}

pub(super) fn apply_setid(
    db: &mut Db,
    key: &[u8],
    last_id: StreamId,
    entries_added: Option<u64>,
    max_deleted_id: Option<StreamId>,
) -> Reply {
    let s = match db.stream_mut(key) {
        Err(_) => return wrongtype(),
        Ok(s) => s,
    };
    if let Err(e) = check_setid(s.as_deref(), last_id, entries_added) {
        return e;
    }
    let Some(s) = s else {
        return error("ERR no such key");
    };
    s.set_last_id(last_id);
    if let Some(n) = entries_added {
        s.set_entries_added(n);
    }
    if let Some(id) = max_deleted_id.filter(|id| !id.is_zero()) {
        s.set_max_deleted_id(id);
    }
    db.dirty += 1;
    Reply::ok()
}
