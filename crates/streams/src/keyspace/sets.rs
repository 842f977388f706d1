//! SADD, SREM, SMEMBERS, SCARD and SISMEMBER: just enough of sets for the WRONGTYPE rules.
//! An emptied set is removed, as in Redis. Members are kept (and listed) in byte order.

use std::collections::BTreeSet;

use bytes::Bytes;
use resp::Reply;

use super::{check_arity, int_reply, write, wrongtype, Cmd, Op};
use crate::db::{Db, Value};
use crate::engine::Prepared;

pub(super) fn parse(name: &[u8], args: &[Bytes]) -> Result<Cmd, Reply> {
    match name {
        b"sadd" | b"srem" => {
            let add = name == b"sadd";
            check_arity(args, -3, if add { "sadd" } else { "srem" })?;
            let key = args[1].clone();
            let members = args[2..].to_vec();
            Ok(if add {
                Cmd::SAdd { key, members }
            } else {
                Cmd::SRem { key, members }
            })
        }
        b"smembers" | b"scard" => {
            let members = name == b"smembers";
            check_arity(args, 2, if members { "smembers" } else { "scard" })?;
            let key = args[1].clone();
            Ok(if members {
                Cmd::SMembers { key }
            } else {
                Cmd::SCard { key }
            })
        }
        _ => {
            check_arity(args, 3, "sismember")?;
            Ok(Cmd::SIsMember {
                key: args[1].clone(),
                member: args[2].clone(),
            })
        }
    }
}

fn set<'a>(db: &'a Db, key: &[u8]) -> Result<Option<&'a BTreeSet<Bytes>>, Reply> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(wrongtype()),
    }
}

/// SADD writes when the key is missing or a member is new; otherwise it replies 0.
fn sadd_writes(db: &Db, key: &[u8], members: &[Bytes]) -> Result<bool, Reply> {
    Ok(match set(db, key)? {
        None => true,
        Some(s) => members.iter().any(|m| !s.contains(m)),
    })
}

/// SREM writes when the set holds one of the members; otherwise it replies 0.
fn srem_writes(db: &Db, key: &[u8], members: &[Bytes]) -> Result<bool, Reply> {
    Ok(match set(db, key)? {
        None => false,
        Some(s) => members.iter().any(|m| s.contains(m)),
    })
}

pub(super) fn prepare_sadd(db: &Db, key: &Bytes, members: &[Bytes]) -> Prepared {
    match sadd_writes(db, key, members) {
        Err(e) => Prepared::Reply(e),
        Ok(false) => Prepared::Reply(Reply::Integer(0)),
        Ok(true) => write(Op::SAdd {
            key: key.clone(),
            members: members.to_vec(),
        }),
    }
}

pub(super) fn prepare_srem(db: &Db, key: &Bytes, members: &[Bytes]) -> Prepared {
    match srem_writes(db, key, members) {
        Err(e) => Prepared::Reply(e),
        Ok(false) => Prepared::Reply(Reply::Integer(0)),
        Ok(true) => write(Op::SRem {
            key: key.clone(),
            members: members.to_vec(),
        }),
    }
}

pub(super) fn smembers(db: &Db, key: &[u8]) -> Reply {
    match set(db, key) {
        Err(e) => e,
        Ok(None) => Reply::Set(Vec::new()),
        Ok(Some(s)) => Reply::Set(s.iter().cloned().map(Reply::Bulk).collect()),
    }
}

pub(super) fn scard(db: &Db, key: &[u8]) -> Reply {
    match set(db, key) {
        Err(e) => e,
        Ok(s) => int_reply(s.map_or(0, |s| s.len() as u64)),
    }
}

pub(super) fn sismember(db: &Db, key: &[u8], member: &[u8]) -> Reply {
    match set(db, key) {
        Err(e) => e,
        Ok(s) => Reply::Integer(s.is_some_and(|s| s.contains(member)) as i64),
    }
}

pub(super) fn apply_sadd(db: &mut Db, key: &Bytes, members: &[Bytes]) -> Reply {
    match sadd_writes(db, key, members) {
        Err(e) => return e,
        Ok(false) => return Reply::Integer(0),
        Ok(true) => {}
    }
    let added = match db.value_mut(key) {
        Some(Value::Set(s)) => members.iter().filter(|m| s.insert((*m).clone())).count(),
        Some(_) => return wrongtype(),
        None => {
            let s: BTreeSet<Bytes> = members.iter().cloned().collect();
            let n = s.len();
            db.set(key.clone(), Value::Set(s));
            n
        }
    } as u64;
    db.dirty += added;
    int_reply(added)
}

pub(super) fn apply_srem(db: &mut Db, key: &Bytes, members: &[Bytes]) -> Reply {
    match srem_writes(db, key, members) {
        Err(e) => return e,
        Ok(false) => return Reply::Integer(0),
        Ok(true) => {}
    }
    let Some(Value::Set(s)) = db.value_mut(key) else {
        return wrongtype();
    };
    let removed = members.iter().filter(|m| s.remove(m.as_ref())).count() as u64;
    if s.is_empty() {
        db.remove(key);
    }
    db.dirty += removed;
    int_reply(removed)
}
