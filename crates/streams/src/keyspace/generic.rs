//! DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, DBSIZE, FLUSHALL and FLUSHDB.

use bytes::Bytes;
use resp::Reply;

use super::{check_arity, int_reply, is_token, write, Cmd, Op, ERR_SYNTAX};
use crate::db::{Db, Value};
use crate::engine::Prepared;

const ERR_NO_SUCH_KEY: &str = "ERR no such key";

pub(super) fn parse(name: &[u8], args: &[Bytes]) -> Result<Cmd, Reply> {
    match name {
        b"del" | b"unlink" => {
            check_arity(args, -2, if name == b"del" { "del" } else { "unlink" })?;
            Ok(Cmd::Del {
                keys: args[1..].to_vec(),
            })
        }
        b"exists" => {
            check_arity(args, -2, "exists")?;
            Ok(Cmd::Exists {
                keys: args[1..].to_vec(),
            })
        }
        b"type" => {
            check_arity(args, 2, "type")?;
            Ok(Cmd::Type {
                key: args[1].clone(),
            })
        }
        b"rename" | b"renamenx" => {
            let nx = name == b"renamenx";
            check_arity(args, 3, if nx { "renamenx" } else { "rename" })?;
            Ok(Cmd::Rename {
                src: args[1].clone(),
                dst: args[2].clone(),
                nx,
            })
        }
        b"dbsize" => {
            check_arity(args, 1, "dbsize")?;
            Ok(Cmd::DbSize)
        }
        _ => {
            let cmd = if name == b"flushall" {
                "flushall"
            } else {
                "flushdb"
            };
            check_arity(args, -1, cmd)?;
            // `getFlushCommandFlags`: nothing, or exactly one of SYNC / ASYNC. Both flush at
            // once here (there is no lazy-free thread to hand the work to).
            match args.len() {
                1 => Ok(Cmd::Flush),
                2 if is_token(&args[1], "sync") || is_token(&args[1], "async") => Ok(Cmd::Flush),
                _ => Err(Reply::error(ERR_SYNTAX)),
            }
        }
    }
}

pub(super) fn prepare_del(db: &Db, keys: &[Bytes]) -> Prepared {
    if keys.iter().any(|k| db.contains(k)) {
        return write(Op::Del {
            keys: keys.to_vec(),
        });
    }
    Prepared::Reply(Reply::Integer(0))
}

/// EXISTS counts a key once per time it is named.
pub(super) fn exists(db: &Db, keys: &[Bytes]) -> Reply {
    int_reply(keys.iter().filter(|k| db.contains(k)).count() as u64)
}

pub(super) fn type_of(db: &Db, key: &[u8]) -> Reply {
    let name = db.get(key).map_or("none", Value::type_name);
    Reply::Simple(Bytes::from_static(name.as_bytes()))
}

pub(super) fn dbsize(db: &Db) -> Reply {
    int_reply(db.len() as u64)
}

pub(super) fn prepare_rename(db: &Db, src: &Bytes, dst: &Bytes, nx: bool) -> Prepared {
    match rename_check(db, src, dst, nx) {
        Ok(()) => write(Op::Rename {
            src: src.clone(),
            dst: dst.clone(),
            nx,
        }),
        Err(r) => Prepared::Reply(r),
    }
}

/// RENAME's checks in Redis's order: the source must exist (even for a same-key rename);
/// a same-key rename, or RENAMENX onto an existing key, is a no-op. `Err` is the reply of a
/// rename that does nothing.
fn rename_check(db: &Db, src: &[u8], dst: &[u8], nx: bool) -> Result<(), Reply> {
    if !db.contains(src) {
        return Err(Reply::error(ERR_NO_SUCH_KEY));
    }
    let noop = if nx { Reply::Integer(0) } else { Reply::ok() };
    if src == dst || (nx && db.contains(dst)) {
        return Err(noop);
    }
    Ok(())
}

pub(super) fn apply_del(db: &mut Db, keys: &[Bytes]) -> Reply {
    let mut deleted = 0u64;
    for k in keys {
        if db.remove(k).is_some() {
            deleted += 1;
        }
    }
    db.dirty += deleted;
    int_reply(deleted)
}

pub(super) fn apply_rename(db: &mut Db, src: &[u8], dst: &Bytes, nx: bool) -> Reply {
    if let Err(r) = rename_check(db, src, dst, nx) {
        return r;
    }
    let Some(mut value) = db.remove(src) else {
        return Reply::error(ERR_NO_SUCH_KEY);
    };
    // The destination is rewritten whole: item-level changes recorded earlier in the same
    // batch under the old name are moot.
    if let Value::Stream(s) = &mut value {
        s.take_changes();
    }
    db.set(dst.clone(), value);
    db.dirty += 1;
    if nx {
        Reply::Integer(1)
    } else {
        Reply::ok()
    }
}

/// FLUSHALL / FLUSHDB: the dirty counter grows by the number of keys removed.
pub(super) fn apply_flush(db: &mut Db) -> Reply {
    let removed = db.len() as u64;
    db.flush_all();
    db.dirty += removed;
    Reply::ok()
}
