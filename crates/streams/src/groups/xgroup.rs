//! XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER / HELP.
//!
//! Check order (as Redis): option syntax, then the key type (WRONGTYPE before a missing key),
//! the missing key (unless MKSTREAM), the missing group (SETID, CREATECONSUMER, DELCONSUMER),
//! the subcommand's argument count, and last the ID.

use bytes::Bytes;
use resp::Reply;

use super::{
    arity_error, help_reply, int_reply, is_token, nogroup_for_key, subcommand_syntax_error,
    unknown_subcommand, Op, ERR_NOT_INTEGER,
};
use crate::db::{Db, ERR_WRONGTYPE};
use crate::engine::{Ctx, Prepared};
use crate::id::{parse_i64, parse_id, StreamId, ERR_INVALID_ID};

const ERR_NO_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
const ERR_BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";

const HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSub {
    Create,
    SetId,
    Destroy,
    CreateConsumer,
    DelConsumer,
    Help,
}

/// A parsed XGROUP command. `arg` is the ID (CREATE, SETID) or the consumer name.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCmd {
    pub sub: GroupSub,
    /// The subcommand as typed (echoed in errors).
    pub sub_typed: Bytes,
    pub key: Bytes,
    pub group: Bytes,
    pub arg: Bytes,
    pub mkstream: bool,
    pub entries_read: Option<u64>,
    /// Whether the argument count fits the subcommand (checked after the key lookups).
    pub argc_ok: bool,
}

pub(super) fn parse(args: &[Bytes]) -> Result<GroupCmd, Reply> {
    if args.len() < 2 {
        return Err(arity_error("xgroup"));
    }
    let typed = &args[1];
    let (sub, name, arity): (GroupSub, &str, i32) = match typed.to_ascii_lowercase().as_slice() {
        b"create" => (GroupSub::Create, "xgroup|create", -5),
        b"setid" => (GroupSub::SetId, "xgroup|setid", -5),
        b"destroy" => (GroupSub::Destroy, "xgroup|destroy", 4),
        b"createconsumer" => (GroupSub::CreateConsumer, "xgroup|createconsumer", 5),
        b"delconsumer" => (GroupSub::DelConsumer, "xgroup|delconsumer", 5),
        b"help" => (GroupSub::Help, "xgroup|help", 2),
        _ => return Err(unknown_subcommand(typed, "XGROUP")),
    };
    let argc = args.len();
    if (arity > 0 && argc != arity as usize) || (arity < 0 && argc < (-arity) as usize) {
        return Err(arity_error(name));
    }
    let mut cmd = GroupCmd {
        sub,
        sub_typed: typed.clone(),
        key: Bytes::new(),
        group: Bytes::new(),
        arg: Bytes::new(),
        mkstream: false,
        entries_read: None,
        argc_ok: true,
    };
    if sub == GroupSub::Help {
        return Ok(cmd);
    }
    // Options (CREATE and SETID) start after the ID.
    let mut i = 5;
    while i < argc {
        let opt = &args[i];
        let create = sub == GroupSub::Create;
        if create && is_token(opt, "MKSTREAM") {
            cmd.mkstream = true;
            i += 1;
        } else if (create || sub == GroupSub::SetId) && is_token(opt, "ENTRIESREAD") && i + 1 < argc
        {
            let n = parse_i64(&args[i + 1]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if n < 0 && n != -1 {
                return Err(Reply::error(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            cmd.entries_read = if n == -1 { None } else { Some(n as u64) };
            i += 2;
        } else {
            return Err(subcommand_syntax_error(typed, "XGROUP"));
        }
    }
    cmd.key = args[2].clone();
    cmd.group = args[3].clone();
    if argc > 4 {
        cmd.arg = args[4].clone();
    }
    cmd.argc_ok = match sub {
        GroupSub::Create => argc <= 8,
        GroupSub::SetId => argc == 5 || argc == 7,
        _ => true,
    };
    Ok(cmd)
}

pub(super) fn prepare(cmd: &GroupCmd, db: &Db, ctx: &Ctx) -> Prepared {
    match prepare_inner(cmd, db, ctx) {
        Ok(p) => p,
        Err(e) => Prepared::Reply(e),
    }
}

fn prepare_inner(cmd: &GroupCmd, db: &Db, ctx: &Ctx) -> Result<Prepared, Reply> {
    if cmd.sub == GroupSub::Help {
        return Ok(Prepared::Reply(help_reply("XGROUP", HELP)));
    }
    let stream = db
        .stream(&cmd.key)
        .map_err(|_| Reply::error(ERR_WRONGTYPE))?;
    if !cmd.mkstream {
        let Some(s) = stream else {
            return Err(Reply::error(ERR_NO_KEY));
        };
        let needs_group = matches!(
            cmd.sub,
            GroupSub::SetId | GroupSub::CreateConsumer | GroupSub::DelConsumer
        );
        if needs_group && s.group(&cmd.group).is_none() {
            return Err(nogroup_for_key(&cmd.group, &cmd.key));
        }
    }
    if !cmd.argc_ok {
        return Err(subcommand_syntax_error(&cmd.sub_typed, "XGROUP"));
    }
    let key = cmd.key.clone();
    let group = cmd.group.clone();
    match cmd.sub {
        GroupSub::Create => {
            let id = if cmd.arg.as_ref() == b"$" {
                stream.map(|s| s.last_id()).unwrap_or(StreamId::MIN)
            } else {
                parse_id(&cmd.arg, true, 0).ok_or_else(|| Reply::error(ERR_INVALID_ID))?
            };
            if stream.is_some_and(|s| s.group(&cmd.group).is_some()) {
                return Err(Reply::error(ERR_BUSYGROUP));
            }
            Ok(super::write(Op::Create {
                key,
                group,
                id,
                entries_read: cmd.entries_read,
                mkstream: cmd.mkstream,
            }))
        }
        GroupSub::SetId => {
            let id = if cmd.arg.as_ref() == b"$" {
                stream.map(|s| s.last_id()).unwrap_or(StreamId::MIN)
            } else {
                parse_id(&cmd.arg, false, 0).ok_or_else(|| Reply::error(ERR_INVALID_ID))?
            };
            Ok(super::write(Op::SetId {
                key,
                group,
                id,
                entries_read: cmd.entries_read,
            }))
        }
        GroupSub::Destroy => {
            if stream.is_some_and(|s| s.group(&cmd.group).is_some()) {
                Ok(super::write(Op::Destroy { key, group }))
            } else {
                Ok(Prepared::Reply(Reply::Integer(0)))
            }
        }
        GroupSub::CreateConsumer => {
            let exists = stream
                .and_then(|s| s.group(&cmd.group))
                .is_some_and(|g| g.consumer(&cmd.arg).is_some());
            if exists {
                return Ok(Prepared::Reply(Reply::Integer(0)));
            }
            Ok(super::write(Op::CreateConsumer {
                key,
                group,
                consumer: cmd.arg.clone(),
                now_ms: ctx.now_ms,
            }))
        }
        GroupSub::DelConsumer => {
            let exists = stream
                .and_then(|s| s.group(&cmd.group))
                .is_some_and(|g| g.consumer(&cmd.arg).is_some());
            if !exists {
                return Ok(Prepared::Reply(Reply::Integer(0)));
            }
            Ok(super::write(Op::DelConsumer {
                key,
                group,
                consumer: cmd.arg.clone(),
            }))
        }
        GroupSub::Help => Ok(Prepared::Reply(help_reply("XGROUP", HELP))),
    }
}

/// Applies the XGROUP ops. Missing keys or groups give the same errors as prepare would.
pub(super) fn apply(db: &mut Db, op: &Op) -> Reply {
    match op {
        Op::Create {
            key,
            group,
            id,
            entries_read,
            mkstream,
        } => {
            let exists = match db.stream(key) {
                Err(_) => return Reply::error(ERR_WRONGTYPE),
                Ok(s) => s.is_some(),
            };
            if !exists {
                if !mkstream {
                    return Reply::error(ERR_NO_KEY);
                }
                if db.stream_or_create(key).is_err() {
                    return Reply::error(ERR_WRONGTYPE);
                }
                db.signal_ready(key);
            }
            let Ok(Some(s)) = db.stream_mut(key) else {
                return Reply::error(ERR_WRONGTYPE);
            };
            if s.create_group(group.clone(), *id, *entries_read) {
                db.dirty += 1;
                Reply::ok()
            } else {
                Reply::error(ERR_BUSYGROUP)
            }
        }
        Op::SetId {
            key,
            group,
            id,
            entries_read,
        } => {
            let s = match db.stream_mut(key) {
                Err(_) => return Reply::error(ERR_WRONGTYPE),
                Ok(None) => return Reply::error(ERR_NO_KEY),
                Ok(Some(s)) => s,
            };
            if s.group(group).is_none() {
                return nogroup_for_key(group, key);
            }
            s.set_group_position(group, *id, *entries_read);
            db.dirty += 1;
            Reply::ok()
        }
        Op::Destroy { key, group } => {
            let s = match db.stream_mut(key) {
                Err(_) => return Reply::error(ERR_WRONGTYPE),
                Ok(None) => return Reply::error(ERR_NO_KEY),
                Ok(Some(s)) => s,
            };
            if s.destroy_group(group) {
                db.dirty += 1;
                // Blocked XREADGROUP clients re-run and get NOGROUP.
                db.signal_ready(key);
                Reply::Integer(1)
            } else {
                Reply::Integer(0)
            }
        }
        Op::CreateConsumer {
            key,
            group,
            consumer,
            now_ms,
        } => {
            let s = match db.stream_mut(key) {
                Err(_) => return Reply::error(ERR_WRONGTYPE),
                Ok(None) => return Reply::error(ERR_NO_KEY),
                Ok(Some(s)) => s,
            };
            if s.group(group).is_none() {
                return nogroup_for_key(group, key);
            }
            if s.create_consumer(group, consumer.clone(), *now_ms) {
                db.dirty += 1;
                Reply::Integer(1)
            } else {
                Reply::Integer(0)
            }
        }
        Op::DelConsumer {
            key,
            group,
            consumer,
        } => {
            let s = match db.stream_mut(key) {
                Err(_) => return Reply::error(ERR_WRONGTYPE),
                Ok(None) => return Reply::error(ERR_NO_KEY),
                Ok(Some(s)) => s,
            };
            if s.group(group).is_none() {
                return nogroup_for_key(group, key);
            }
            match s.delete_consumer(group, consumer) {
                Some(n) => {
                    db.dirty += 1;
                    int_reply(n)
                }
                None => Reply::Integer(0),
            }
        }
        _ => Reply::error(super::ERR_STALE),
    }
}
