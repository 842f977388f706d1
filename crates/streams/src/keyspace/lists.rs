//! LPUSH, RPUSH, LPOP, RPOP, LRANGE, LLEN, BLPOP and BRPOP: just enough of lists for the
//! WRONGTYPE and wake-up rules. An emptied list is removed, as in Redis.
//!
//! BLPOP/BRPOP pop at once from the first non-empty list they name; when every list is
//! missing the reply is a null array and [`super::block`] tells the server how to wait. The
//! server re-runs the command when a key it waits on is signalled and holds a list.

use std::collections::VecDeque;

use bytes::Bytes;
use resp::Reply;

use super::timeout::{parse_timeout_secs, ERR_TIMEOUT_RANGE};
use super::{arity_error, check_arity, int_reply, write, wrongtype, Cmd, End, Op, ERR_NOT_INTEGER};
use crate::db::{Db, Value};
use crate::engine::{Ctx, Prepared};
use crate::id::parse_i64_strict;

const ERR_NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

pub(super) fn parse(name: &[u8], args: &[Bytes]) -> Result<Cmd, Reply> {
    let end = if name.first() == Some(&b'r') || name.starts_with(b"br") {
        End::Tail
    } else {
        End::Head
    };
    match name {
        b"lpush" | b"rpush" => {
            check_arity(args, -3, if end == End::Head { "lpush" } else { "rpush" })?;
            Ok(Cmd::Push {
                key: args[1].clone(),
                values: args[2..].to_vec(),
                end,
            })
        }
        b"lpop" | b"rpop" => {
            let cmd = if end == End::Head { "lpop" } else { "rpop" };
            check_arity(args, -2, cmd)?;
            if args.len() > 3 {
                return Err(arity_error(cmd));
            }
            let count = match args.get(2) {
                None => None,
                Some(a) => match parse_i64_strict(a) {
                    Some(n) if n >= 0 => Some(n as u64),
                    _ => return Err(Reply::error(ERR_NOT_POSITIVE)),
                },
            };
            Ok(Cmd::Pop {
                key: args[1].clone(),
                end,
                count,
            })
        }
        b"lrange" => {
            check_arity(args, 4, "lrange")?;
            let int = |a: &Bytes| parse_i64_strict(a).ok_or_else(|| Reply::error(ERR_NOT_INTEGER));
            Ok(Cmd::LRange {
                key: args[1].clone(),
                start: int(&args[2])?,
                stop: int(&args[3])?,
            })
        }
        b"llen" => {
            check_arity(args, 2, "llen")?;
            Ok(Cmd::LLen {
                key: args[1].clone(),
            })
        }
        _ => {
            check_arity(args, -3, if end == End::Head { "blpop" } else { "brpop" })?;
            let last = args.len() - 1;
            Ok(Cmd::BlockingPop {
                keys: args[1..last].to_vec(),
                end,
                timeout_ms: parse_timeout_secs(&args[last])?,
            })
        }
    }
}

fn list<'a>(db: &'a Db, key: &[u8]) -> Result<Option<&'a VecDeque<Bytes>>, Reply> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(wrongtype()),
    }
}

pub(super) fn prepare_push(db: &Db, key: &Bytes, values: &[Bytes], end: End) -> Prepared {
    match list(db, key) {
        Err(e) => Prepared::Reply(e),
        Ok(_) => write(Op::Push {
            key: key.clone(),
            values: values.to_vec(),
            end,
        }),
    }
}

pub(super) fn prepare_pop(db: &Db, key: &Bytes, end: End, count: Option<u64>) -> Prepared {
    match list(db, key) {
        Err(e) => Prepared::Reply(e),
        Ok(None) if count.is_some() => Prepared::Reply(Reply::NullArray),
        Ok(None) => Prepared::Reply(Reply::Null),
        Ok(Some(_)) if count == Some(0) => Prepared::Reply(Reply::Array(Vec::new())),
        Ok(Some(_)) => write(Op::Pop {
            key: key.clone(),
            end,
            count,
            blocking: false,
        }),
    }
}

pub(super) fn lrange(db: &Db, key: &[u8], start: i64, stop: i64) -> Reply {
    let l = match list(db, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(Vec::new()),
        Ok(Some(l)) => l,
    };
    let len = l.len() as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return Reply::Array(Vec::new());
    }
    if stop >= len {
        stop = len - 1;
    }
    let out = l
        .iter()
        .skip(start as usize)
        .take((stop - start + 1) as usize)
        .cloned()
        .map(Reply::Bulk)
        .collect();
    Reply::Array(out)
}

pub(super) fn llen(db: &Db, key: &[u8]) -> Reply {
    match list(db, key) {
        Err(e) => e,
        Ok(l) => int_reply(l.map_or(0, |l| l.len() as u64)),
    }
}

/// BLPOP/BRPOP: pops from the first non-empty list; a null array when there is none. A key
/// of another type met before one with data is a WRONGTYPE error.
pub(super) fn prepare_blocking_pop(
    db: &Db,
    ctx: &Ctx,
    keys: &[Bytes],
    end: End,
    timeout_ms: u64,
) -> Prepared {
    // The deadline (`now + timeout`) must fit a signed 64-bit millisecond time.
    if timeout_ms > (i64::MAX as u64).saturating_sub(ctx.now_ms) {
        return Prepared::Reply(Reply::error(ERR_TIMEOUT_RANGE));
    }
    for key in keys {
        match list(db, key) {
            Err(e) => return Prepared::Reply(e),
            Ok(Some(l)) if !l.is_empty() => {
                return write(Op::Pop {
                    key: key.clone(),
                    end,
                    count: None,
                    blocking: true,
                })
            }
            Ok(_) => {}
        }
    }
    Prepared::Reply(Reply::NullArray)
}

pub(super) fn apply_push(db: &mut Db, key: &Bytes, values: &[Bytes], end: End) -> Reply {
    let push = |l: &mut VecDeque<Bytes>| {
        for v in values {
            match end {
                End::Head => l.push_front(v.clone()),
                End::Tail => l.push_back(v.clone()),
            }
        }
        l.len() as u64
    };
    let len = match list(db, key) {
        Err(e) => return e,
        Ok(None) => {
            let mut l = VecDeque::with_capacity(values.len());
            let len = push(&mut l);
            db.set(key.clone(), Value::List(l));
            len
        }
        Ok(Some(_)) => match db.value_mut(key) {
            Some(Value::List(l)) => {
                let len = push(l);
                db.signal_ready(key);
                len
            }
            _ => return wrongtype(),
        },
    };
    db.dirty += values.len() as u64;
    int_reply(len)
}

pub(super) fn apply_pop(
    db: &mut Db,
    key: &Bytes,
    end: End,
    count: Option<u64>,
    blocking: bool,
) -> Reply {
    match list(db, key) {
        Err(e) => return e,
        Ok(None) if blocking || count.is_some() => return Reply::NullArray,
        Ok(None) => return Reply::Null,
        Ok(Some(_)) if count == Some(0) => return Reply::Array(Vec::new()),
        Ok(Some(_)) => {}
    }
    let Some(Value::List(l)) = db.value_mut(key) else {
        return wrongtype();
    };
    let n = count.unwrap_or(1).min(l.len() as u64) as usize;
    let popped: Vec<Bytes> = match end {
        End::Head => l.drain(..n).collect(),
        End::Tail => l.drain(l.len() - n..).rev().collect(),
    };
    let emptied = l.is_empty();
    if emptied {
        db.remove(key);
    }
    db.dirty += popped.len() as u64;
    let mut items = popped.into_iter().map(Reply::Bulk);
    if blocking {
        match items.next() {
            Some(v) => Reply::Array(vec![Reply::Bulk(key.clone()), v]),
            None => Reply::NullArray,
        }
    } else if count.is_some() {
        Reply::Array(items.collect())
    } else {
        items.next().unwrap_or(Reply::Null)
    }
}
