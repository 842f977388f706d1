//! SET and GET: just enough of strings to create keys of another type.

use bytes::Bytes;
use resp::Reply;

use super::{check_arity, is_token, write, wrongtype, Cmd, Op, ERR_SYNTAX};
use crate::db::{Db, Value};
use crate::engine::Prepared;

/// The error for every expiry option: keys never expire here.
pub const ERR_NO_EXPIRY: &str = "ERR xraft does not support key expiry";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SetCmd {
    pub key: Bytes,
    pub value: Bytes,
    pub nx: bool,
    pub xx: bool,
    /// Reply with the old value.
    pub get: bool,
}

#[derive(Default)]
struct Flags {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Which of EX, PX, EXAT or PXAT was given (Redis accepts one of them, repeated).
    expire: Option<&'static str>,
}

pub(super) fn parse(name: &[u8], args: &[Bytes]) -> Result<Cmd, Reply> {
    if name == b"get" {
        check_arity(args, 2, "get")?;
        return Ok(Cmd::Get {
            key: args[1].clone(),
        });
    }
    check_arity(args, -3, "set")?;
    // `parseExtendedStringArgumentsOrReply`, with the same incompatibilities.
    let mut f = Flags::default();
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let has_next = j + 1 < args.len();
        if is_token(opt, "nx") && !f.xx {
            f.nx = true;
        } else if is_token(opt, "xx") && !f.nx {
            f.xx = true;
        } else if is_token(opt, "get") {
            f.get = true;
        } else if is_token(opt, "keepttl") && f.expire.is_none() {
            f.keepttl = true;
        } else if let Some(kind) = ["ex", "px", "exat", "pxat"]
            .into_iter()
            .find(|t| is_token(opt, t))
            .filter(|k| !f.keepttl && f.expire.is_none_or(|e| e == *k) && has_next)
        {
            f.expire = Some(kind);
            j += 1;
        } else {
            return Err(Reply::error(ERR_SYNTAX));
        }
        j += 1;
    }
    if f.expire.is_some() || f.keepttl {
        return Err(Reply::error(ERR_NO_EXPIRY));
    }
    Ok(Cmd::Set(SetCmd {
        key: args[1].clone(),
        value: args[2].clone(),
        nx: f.nx,
        xx: f.xx,
        get: f.get,
    }))
}

pub(super) fn get(db: &Db, key: &[u8]) -> Reply {
    match db.get(key) {
        None => Reply::Null,
        Some(Value::String(v)) => Reply::Bulk(v.clone()),
        Some(_) => wrongtype(),
    }
}

/// SET's checks in Redis's order. `Err` is the reply of a SET that writes nothing; `Ok` the
/// reply of one that writes.
fn check_set(db: &Db, c: &SetCmd) -> Result<Reply, Reply> {
    let old = if c.get {
        let r = get(db, &c.key);
        if r.is_error() {
            return Err(r);
        }
        Some(r)
    } else {
        None
    };
    let found = db.contains(&c.key);
    if (c.nx && found) || (c.xx && !found) {
        return Err(old.unwrap_or(Reply::Null));
    }
    Ok(old.unwrap_or_else(Reply::ok))
}

pub(super) fn prepare_set(c: &SetCmd, db: &Db) -> Prepared {
    match check_set(db, c) {
        Ok(_) => write(Op::Set(c.clone())),
        Err(r) => Prepared::Reply(r),
    }
}

pub(super) fn apply_set(db: &mut Db, c: &SetCmd) -> Reply {
    match check_set(db, c) {
        Ok(reply) => {
            db.set(c.key.clone(), Value::String(c.value.clone()));
            db.dirty += 1;
            reply
        }
        Err(r) => r,
    }
}
