//! XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS / HELP, and the entries-read / lag
//! arithmetic of §10 of the reference (Redis 8.0, with the #13338 and #13473 fixes).

use bytes::Bytes;
use resp::Reply;

use super::{
    arity_error, entry_reply, help_reply, id_reply, int_reply, is_token, nogroup_for_key,
    subcommand_syntax_error, unknown_subcommand, ERR_NOT_INTEGER,
};
use crate::db::{Db, ERR_WRONGTYPE};
use crate::engine::Ctx;
use crate::id::{parse_i64, StreamId};
use crate::stream::{Group, Stream};

const HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// XINFO FULL's default COUNT.
const FULL_DEFAULT_COUNT: u64 = 10;

/// A parsed XINFO command. The STREAM options are checked after the key lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum InfoCmd {
    Help,
    Stream {
        key: Bytes,
        sub_typed: Bytes,
        options: Vec<Bytes>,
    },
    Groups {
        key: Bytes,
    },
    Consumers {
        key: Bytes,
        group: Bytes,
    },
}

pub(super) fn parse(args: &[Bytes]) -> Result<InfoCmd, Reply> {
    if args.len() < 2 {
        return Err(arity_error("xinfo"));
    }
    let typed = &args[1];
    let (name, arity): (&str, i32) = match typed.to_ascii_lowercase().as_slice() {
        b"help" => ("xinfo|help", 2),
        b"stream" => ("xinfo|stream", -3),
        b"groups" => ("xinfo|groups", 3),
        b"consumers" => ("xinfo|consumers", 4),
        _ => return Err(unknown_subcommand(typed, "XINFO")),
    };
    let argc = args.len();
    if (arity > 0 && argc != arity as usize) || (arity < 0 && argc < (-arity) as usize) {
        return Err(arity_error(name));
    }
    Ok(match name {
        "xinfo|help" => InfoCmd::Help,
        "xinfo|stream" => InfoCmd::Stream {
            key: args[2].clone(),
            sub_typed: typed.clone(),
            options: args[3..].to_vec(),
        },
        "xinfo|groups" => InfoCmd::Groups {
            key: args[2].clone(),
        },
        _ => InfoCmd::Consumers {
            key: args[2].clone(),
            group: args[3].clone(),
        },
    })
}

pub(super) fn info(cmd: &InfoCmd, db: &Db, ctx: &Ctx) -> Reply {
    let key = match cmd {
        InfoCmd::Help => return help_reply("XINFO", HELP),
        InfoCmd::Stream { key, .. } | InfoCmd::Groups { key } | InfoCmd::Consumers { key, .. } => {
            key
        }
    };
    let s = match db.stream(key) {
        Err(_) => return Reply::error(ERR_WRONGTYPE),
        Ok(None) => return Reply::error("ERR no such key"),
        Ok(Some(s)) => s,
    };
    match cmd {
        InfoCmd::Help => help_reply("XINFO", HELP),
        InfoCmd::Stream {
            sub_typed, options, ..
        } => stream_info(s, sub_typed, options),
        InfoCmd::Groups { .. } => Reply::Array(
            s.groups()
                .iter()
                .map(|(name, g)| {
                    Reply::Map(vec![
                        field("name", Reply::Bulk(name.clone())),
                        field("consumers", int_reply(g.consumers().len() as u64)),
                        field("pending", int_reply(g.pel().len() as u64)),
                        field("last-delivered-id", id_reply(g.last_id)),
                        field("entries-read", entries_read_reply(g)),
                        field("lag", lag_reply(s, g)),
                    ])
                })
                .collect(),
        ),
        InfoCmd::Consumers { key, group } => {
            let Some(g) = s.group(group) else {
                return nogroup_for_key(group, key);
            };
            let now = ctx.now_ms as i128;
            Reply::Array(
                g.consumers()
                    .iter()
                    .map(|(name, c)| {
                        let idle = (now - c.seen_time as i128).max(0);
                        let inactive = if c.active_time == -1 {
                            -1
                        } else {
                            now - c.active_time as i128
                        };
                        Reply::Map(vec![
                            field("name", Reply::Bulk(name.clone())),
                            field("pending", int_reply(c.pel().len() as u64)),
                            field("idle", Reply::Integer(clamp_i64(idle))),
                            field("inactive", Reply::Integer(clamp_i64(inactive))),
                        ])
                    })
                    .collect(),
            )
        }
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::Bulk(Bytes::from_static(name.as_bytes())), value)
}

fn entries_read_reply(g: &Group) -> Reply {
    match g.entries_read {
        Some(n) => Reply::Integer(n as i64),
        None => Reply::Null,
    }
}

fn lag_reply(s: &Stream, g: &Group) -> Reply {
    match group_lag(s, g) {
        Some(lag) => Reply::Integer(lag),
        None => Reply::Null,
    }
}

fn stream_info(s: &Stream, sub_typed: &Bytes, options: &[Bytes]) -> Reply {
    let mut full = false;
    let mut count = FULL_DEFAULT_COUNT;
    if !options.is_empty() {
        if options.len() != 1 && options.len() != 3 {
            return subcommand_syntax_error(sub_typed, "XINFO");
        }
        if !is_token(&options[0], "FULL") {
            return subcommand_syntax_error(sub_typed, "XINFO");
        }
        if options.len() == 3 {
            if !is_token(&options[1], "COUNT") {
                return subcommand_syntax_error(sub_typed, "XINFO");
            }
            let Some(n) = parse_i64(&options[2]) else {
                return Reply::error(ERR_NOT_INTEGER);
            };
            // 0 = unlimited; a negative COUNT means the default.
            count = if n < 0 { FULL_DEFAULT_COUNT } else { n as u64 };
        }
        full = true;
    }
    let mut m = vec![
        field("length", int_reply(s.len())),
        field("radix-tree-keys", int_reply(s.radix_tree_keys())),
        field("radix-tree-nodes", int_reply(s.radix_tree_nodes())),
        field("last-generated-id", id_reply(s.last_id())),
        field("max-deleted-entry-id", id_reply(s.max_deleted_id())),
        field("entries-added", int_reply(s.entries_added())),
        field("recorded-first-entry-id", id_reply(s.first_id())),
    ];
    let limit = |n: usize| count == 0 || (n as u64) < count;
    if !full {
        m.push(field("groups", int_reply(s.groups().len() as u64)));
        let first = s.entries().iter().next();
        let last = s.entries().iter().next_back();
        m.push(field(
            "first-entry",
            first.map_or(Reply::Null, |(id, f)| entry_reply(*id, f)),
        ));
        m.push(field(
            "last-entry",
            last.map_or(Reply::Null, |(id, f)| entry_reply(*id, f)),
        ));
        return Reply::Map(m);
    }
    let mut entries = Vec::new();
    for (id, f) in s.entries() {
        if !limit(entries.len()) {
            break;
        }
        entries.push(entry_reply(*id, f));
    }
    m.push(field("entries", Reply::Array(entries)));
    let groups = s
        .groups()
        .iter()
        .map(|(name, g)| {
            let mut pending = Vec::new();
            for (id, nack) in g.pel() {
                if !limit(pending.len()) {
                    break;
                }
                pending.push(Reply::Array(vec![
                    id_reply(*id),
                    Reply::Bulk(nack.consumer.clone()),
                    int_reply(nack.delivery_time),
                    int_reply(nack.delivery_count),
                ]));
            }
            let consumers = g
                .consumers()
                .iter()
                .map(|(cname, c)| {
                    let mut cpending = Vec::new();
                    for id in c.pel() {
                        if !limit(cpending.len()) {
                            break;
                        }
                        if let Some(nack) = g.pel().get(id) {
                            cpending.push(Reply::Array(vec![
                                id_reply(*id),
                                int_reply(nack.delivery_time),
                                int_reply(nack.delivery_count),
                            ]));
                        }
                    }
                    Reply::Map(vec![
                        field("name", Reply::Bulk(cname.clone())),
                        field("seen-time", int_reply(c.seen_time)),
                        field("active-time", Reply::Integer(c.active_time)),
                        field("pel-count", int_reply(c.pel().len() as u64)),
                        field("pending", Reply::Array(cpending)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                field("name", Reply::Bulk(name.clone())),
                field("last-delivered-id", id_reply(g.last_id)),
                field("entries-read", entries_read_reply(g)),
                field("lag", lag_reply(s, g)),
                field("pel-count", int_reply(g.pel().len() as u64)),
                field("pending", Reply::Array(pending)),
                field("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    m.push(field("groups", Reply::Array(groups)));
    Reply::Map(m)
}

/// Whether the stream has a tombstone at or after `from` (Redis's
/// `streamRangeHasTombstones(s, from, NULL)`): never for an empty stream or one without XDELs.
pub(crate) fn tombstone_at_or_after(s: &Stream, from: StreamId) -> bool {
    let max_deleted = s.max_deleted_id();
    !s.is_empty() && !max_deleted.is_zero() && from <= max_deleted
}

/// The logical read counter of `id` (its distance from the first entry ever added), when it
/// can be known; `None` = invalid. Redis's `streamEstimateDistanceFromFirstEverEntry`.
pub fn estimate_entries_read(s: &Stream, id: StreamId) -> Option<u64> {
    let added = s.entries_added();
    if added == 0 {
        return Some(0);
    }
    let last = s.last_id();
    if s.is_empty() && id <= last {
        return Some(added);
    }
    let max_deleted = s.max_deleted_id();
    if !id.is_zero() && id < max_deleted {
        return None;
    }
    if id == last {
        return Some(added);
    }
    if id > last {
        return None;
    }
    let first = s.first_id();
    if max_deleted.is_zero() || max_deleted < first {
        if id < first {
            return Some(added.wrapping_sub(s.len()));
        }
        if id == first {
            return Some(added.wrapping_sub(s.len()).wrapping_add(1));
        }
    }
    None
}

/// A group's lag as XINFO reports it; `None` = null (not computable). Redis computes it in
/// signed 64-bit arithmetic, so an ENTRIESREAD beyond entries-added gives a negative lag.
pub fn group_lag(s: &Stream, g: &Group) -> Option<i64> {
    let added = s.entries_added() as i64;
    if added == 0 || s.is_empty() {
        return Some(0);
    }
    let first = s.first_id();
    if g.last_id < first && s.max_deleted_id() < first {
        return Some(s.len() as i64);
    }
    if let Some(read) = g.entries_read {
        if !tombstone_at_or_after(s, g.last_id) {
            return Some(added.wrapping_sub(read as i64));
        }
    }
    estimate_entries_read(s, g.last_id).map(|read| added.wrapping_sub(read as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(ids: &[u64]) -> Stream {
        let mut s = Stream::new();
        for &ms in ids {
            s.append(StreamId::new(ms, 0), vec![Bytes::from_static(b"f")], 100);
        }
        s
    }

    #[test]
    fn estimate_follows_the_reference_table() {
        let id = |ms| StreamId::new(ms, 0);
        // never used
        assert_eq!(estimate_entries_read(&Stream::new(), id(7)), Some(0));
        let mut s = stream(&[1, 2, 3, 4, 5]);
        assert_eq!(estimate_entries_read(&s, id(5)), Some(5)); // the last ID
        assert_eq!(estimate_entries_read(&s, id(6)), None); // the future
        assert_eq!(estimate_entries_read(&s, id(1)), Some(1)); // the first entry
        assert_eq!(estimate_entries_read(&s, StreamId::MIN), Some(0)); // before the first
        assert_eq!(estimate_entries_read(&s, id(3)), None); // in the middle
        assert!(s.remove_entry(&id(1)));
        assert_eq!(estimate_entries_read(&s, id(1)), Some(1)); // trimmed: before the first
        assert_eq!(estimate_entries_read(&s, id(2)), Some(2));
        assert!(s.remove_entry(&id(4)));
        s.set_max_deleted_id(id(4));
        assert_eq!(estimate_entries_read(&s, id(2)), None); // a tombstone after it
        assert_eq!(estimate_entries_read(&s, id(5)), Some(5));
        for ms in [2, 3, 5] {
            assert!(s.remove_entry(&id(ms)));
        }
        // empty: anything up to last_id counts as everything read
        assert_eq!(estimate_entries_read(&s, id(2)), Some(5));
    }

    #[test]
    fn lag_follows_the_reference_rules() {
        let id = |ms| StreamId::new(ms, 0);
        let s = stream(&[1, 2, 3]);
        assert_eq!(group_lag(&s, &Group::new(StreamId::MIN, None)), Some(3));
        assert_eq!(group_lag(&s, &Group::new(id(2), Some(2))), Some(1));
        assert_eq!(group_lag(&s, &Group::new(id(2), None)), None);
        assert_eq!(group_lag(&s, &Group::new(id(3), None)), Some(0));
        assert_eq!(group_lag(&s, &Group::new(id(3), Some(10))), Some(-7));
        assert_eq!(group_lag(&Stream::new(), &Group::new(id(3), None)), Some(0));
    }
}
