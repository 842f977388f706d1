//! XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key… id…
//!
//! Prepare walks the streams in argument order exactly as Redis serves them (so a key named
//! twice sees the effects of its first occurrence) and records, per stream, whether the
//! consumer must be created, and which entries are delivered: new ones (`>`, with the group's
//! resulting last_id and entries_read) or this consumer's history (explicit ID, with the new
//! delivery count of each entry that still exists). Apply performs that list.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use bytes::Bytes;
use resp::Reply;

use super::info::{estimate_entries_read, tombstone_at_or_after};
use super::{
    arity_error, c_str, entry_reply, error_fmt, id_reply, is_token, streams_reply, Op,
    ERR_NOT_INTEGER, ERR_STALE, ERR_SYNTAX,
};
use crate::db::{Db, ERR_WRONGTYPE};
use crate::engine::{Ctx, Prepared};
use crate::id::{parse_i64, parse_id, StreamId, ERR_INVALID_ID};
use crate::stream::{Nack, Stream};

const ERR_UNBALANCED: &str = "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.";
const ERR_MISSING_GROUP: &str = "ERR Missing GROUP option for XREADGROUP";
const ERR_DOLLAR: &str = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
const ERR_PLUS: &str = "ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.";

/// A parsed XREADGROUP. `ids` are kept raw: they are checked stream by stream together with
/// the key, as Redis does.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadGroupCmd {
    pub group: Bytes,
    pub consumer: Bytes,
    /// 0 = unlimited.
    pub count: u64,
    pub block_ms: Option<u64>,
    pub noack: bool,
    pub keys: Vec<Bytes>,
    pub ids: Vec<Bytes>,
}

/// The resolved XREADGROUP: one item per stream argument, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadGroupOp {
    pub group: Bytes,
    pub consumer: Bytes,
    pub now_ms: u64,
    pub noack: bool,
    pub streams: Vec<ReadStreamOp>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadStreamOp {
    pub key: Bytes,
    /// The consumer does not exist yet and is created (seen = now, never active).
    pub create_consumer: bool,
    pub served: Served,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Served {
    /// `>` with nothing new: the stream is left out of the reply.
    Nothing,
    /// `>`: these entries (ascending, all > `from_last_id`) are delivered; without NOACK each
    /// gets a NACK {this consumer, now, 1}. The group then sits at `last_id`/`entries_read`.
    New {
        from_last_id: StreamId,
        ids: Vec<StreamId>,
        last_id: StreamId,
        entries_read: Option<u64>,
    },
    /// An explicit ID: this consumer's pending entries; `Some(count)` = the entry exists and
    /// its NACK becomes {now, count}; `None` = deleted from the stream (replied as null).
    History { ids: Vec<(StreamId, Option<u64>)> },
}

pub(super) fn parse(args: &[Bytes]) -> Result<ReadGroupCmd, Reply> {
    let argc = args.len();
    if argc < 7 {
        return Err(arity_error("xreadgroup"));
    }
    let mut group: Option<(Bytes, Bytes)> = None;
    let mut count = 0u64;
    let mut block_ms = None;
    let mut noack = false;
    let mut streams_arg = 0;
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let o = &args[i];
        if is_token(o, "BLOCK") && more > 0 {
            i += 1;
            let t = parse_i64(&args[i])
                .ok_or_else(|| Reply::error("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(Reply::error("ERR timeout is negative"));
            }
            block_ms = Some(t as u64);
        } else if is_token(o, "COUNT") && more > 0 {
            i += 1;
            let n = parse_i64(&args[i]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            count = n.max(0) as u64;
        } else if is_token(o, "STREAMS") && more > 0 {
            streams_arg = i + 1;
            if !(argc - streams_arg).is_multiple_of(2) {
                return Err(Reply::error(ERR_UNBALANCED));
            }
            break;
        } else if is_token(o, "GROUP") && more >= 2 {
            group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if is_token(o, "NOACK") {
            noack = true;
        } else {
            return Err(Reply::error(ERR_SYNTAX));
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(Reply::error(ERR_SYNTAX));
    }
    let Some((group, consumer)) = group else {
        return Err(Reply::error(ERR_MISSING_GROUP));
    };
    let n = (argc - streams_arg) / 2;
    Ok(ReadGroupCmd {
        group,
        consumer,
        count,
        block_ms,
        noack,
        keys: args[streams_arg..streams_arg + n].to_vec(),
        ids: args[streams_arg + n..].to_vec(),
    })
}

/// The requested position of one stream: `>` or an explicit history ID.
#[derive(Clone, Copy)]
enum Want {
    New,
    After(StreamId),
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    error_fmt(&[
        b"NOGROUP No such key '",
        c_str(key),
        b"' or consumer group '",
        c_str(group),
        b"' in XREADGROUP with GROUP option",
    ])
}

/// What this command has done so far to one key's group (for keys named more than once).
struct KeyState {
    last_id: StreamId,
    entries_read: Option<u64>,
    consumer_exists: bool,
    /// IDs this command assigned to the consumer, with their current delivery count.
    mine: BTreeMap<StreamId, u64>,
}

pub(super) fn prepare(cmd: &ReadGroupCmd, db: &Db, ctx: &Ctx) -> Prepared {
    match prepare_inner(cmd, db, ctx) {
        Ok(op) => super::write(Op::ReadGroup(op)),
        Err(e) => Prepared::Reply(e),
    }
}

fn prepare_inner(cmd: &ReadGroupCmd, db: &Db, ctx: &Ctx) -> Result<ReadGroupOp, Reply> {
    if let Some(t) = cmd.block_ms {
        // Redis turns the timeout into a deadline at parse time.
        if t > 0 && t > (i64::MAX as u64).saturating_sub(ctx.now_ms) {
            return Err(Reply::error("ERR timeout is out of range"));
        }
    }
    // The ID pass: type, group and ID checks per stream, in order.
    let mut wants = Vec::with_capacity(cmd.keys.len());
    for (key, raw) in cmd.keys.iter().zip(&cmd.ids) {
        let s = db.stream(key).map_err(|_| Reply::error(ERR_WRONGTYPE))?;
        if s.and_then(|s| s.group(&cmd.group)).is_none() {
            return Err(nogroup(key, &cmd.group));
        }
        let want = match raw.as_ref() {
            b"$" => return Err(Reply::error(ERR_DOLLAR)),
            b"+" => return Err(Reply::error(ERR_PLUS)),
            b">" => Want::New,
            _ => match parse_id(raw, true, 0) {
                // Redis marks `>` internally with the maximum ID: an explicit one means `>`.
                Some(StreamId::MAX) => Want::New,
                Some(id) => Want::After(id),
                None => return Err(Reply::error(ERR_INVALID_ID)),
            },
        };
        wants.push(want);
    }
    // The serving pass.
    let mut states: HashMap<Bytes, KeyState> = HashMap::new();
    let mut streams = Vec::with_capacity(cmd.keys.len());
    for (key, want) in cmd.keys.iter().zip(wants) {
        let (s, g) = match db.stream(key) {
            Ok(Some(s)) => match s.group(&cmd.group) {
                Some(g) => (s, g),
                None => return Err(nogroup(key, &cmd.group)),
            },
            _ => return Err(nogroup(key, &cmd.group)),
        };
        let st = states.entry(key.clone()).or_insert_with(|| KeyState {
            last_id: g.last_id,
            entries_read: g.entries_read,
            consumer_exists: g.consumer(&cmd.consumer).is_some(),
            mine: BTreeMap::new(),
        });
        let create_consumer = !st.consumer_exists;
        st.consumer_exists = true;
        let served = match want {
            Want::New => serve_new(s, st, cmd.count, cmd.noack),
            Want::After(after) => {
                serve_history(s, g.pel(), g.consumer(&cmd.consumer), st, after, cmd.count)
            }
        };
        streams.push(ReadStreamOp {
            key: key.clone(),
            create_consumer,
            served,
        });
    }
    Ok(ReadGroupOp {
        group: cmd.group.clone(),
        consumer: cmd.consumer.clone(),
        now_ms: ctx.now_ms,
        noack: cmd.noack,
        streams,
    })
}

fn serve_new(s: &Stream, st: &mut KeyState, count: u64, noack: bool) -> Served {
    if s.is_empty() || s.top_id() <= st.last_id {
        return Served::Nothing;
    }
    let from_last_id = st.last_id;
    let mut ids = Vec::new();
    for id in s
        .entries()
        .range((Bound::Excluded(st.last_id), Bound::Unbounded))
        .map(|(id, _)| *id)
    {
        advance_group(s, &mut st.last_id, &mut st.entries_read, id);
        if !noack {
            st.mine.insert(id, 1);
        }
        ids.push(id);
        if count != 0 && ids.len() as u64 == count {
            break;
        }
    }
    Served::New {
        from_last_id,
        ids,
        last_id: st.last_id,
        entries_read: st.entries_read,
    }
}

/// The group position update for delivering `id` (> `last_id`), §10 of the reference, with
/// Redis 8.0.2's extra condition: the counter is only incremented while the group's last_id
/// is not behind the stream's first entry.
pub(super) fn advance_group(
    s: &Stream,
    last_id: &mut StreamId,
    entries_read: &mut Option<u64>,
    id: StreamId,
) {
    let counter_valid = *last_id >= s.first_id() && !tombstone_at_or_after(s, *last_id);
    if let (Some(n), true) = (*entries_read, counter_valid) {
        *entries_read = Some(n.wrapping_add(1));
    } else if s.entries_added() > 0 {
        *entries_read = estimate_entries_read(s, id);
    }
    *last_id = id;
}

fn serve_history(
    s: &Stream,
    pel: &BTreeMap<StreamId, Nack>,
    consumer: Option<&crate::stream::Consumer>,
    st: &mut KeyState,
    after: StreamId,
    count: u64,
) -> Served {
    let start = after.next().unwrap_or(StreamId::MIN);
    let mut base = consumer
        .map(|c| c.pel().range(start..))
        .into_iter()
        .flatten()
        .copied()
        .peekable();
    let mut extra = st
        .mine
        .range(start..)
        .map(|(id, _)| *id)
        .collect::<Vec<_>>()
        .into_iter()
        .peekable();
    let mut ids = Vec::new();
    while count == 0 || (ids.len() as u64) < count {
        let next = match (base.peek().copied(), extra.peek().copied()) {
            (None, None) => break,
            (Some(a), None) => {
                base.next();
                a
            }
            (None, Some(b)) => {
                extra.next();
                b
            }
            (Some(a), Some(b)) => {
                if a <= b {
                    base.next();
                }
                if b <= a {
                    extra.next();
                }
                a.min(b)
            }
        };
        if s.entry(&next).is_some() {
            let prev = match st.mine.get(&next) {
                Some(c) => *c,
                None => pel.get(&next).map(|n| n.delivery_count).unwrap_or(0),
            };
            let c = prev.wrapping_add(1);
            st.mine.insert(next, c);
            ids.push((next, Some(c)));
        } else {
            ids.push((next, None));
        }
    }
    Served::History { ids }
}

/// Checks that the op still fits the state; returns the error to reply otherwise.
fn validate(db: &Db, op: &ReadGroupOp) -> Result<(), Reply> {
    let mut positions: HashMap<&[u8], StreamId> = HashMap::new();
    let mut delivered: HashSet<(&[u8], StreamId)> = HashSet::new();
    for so in &op.streams {
        let s = match db.stream(&so.key) {
            Err(_) => return Err(Reply::error(ERR_WRONGTYPE)),
            Ok(None) => return Err(nogroup(&so.key, &op.group)),
            Ok(Some(s)) => s,
        };
        let Some(g) = s.group(&op.group) else {
            return Err(nogroup(&so.key, &op.group));
        };
        match &so.served {
            Served::Nothing => {}
            Served::New {
                from_last_id,
                ids,
                last_id,
                ..
            } => {
                let pos = positions.entry(so.key.as_ref()).or_insert(g.last_id);
                if pos != from_last_id {
                    return Err(Reply::error(ERR_STALE));
                }
                let mut prev = *from_last_id;
                for id in ids {
                    if *id <= prev || s.entry(id).is_none() {
                        return Err(Reply::error(ERR_STALE));
                    }
                    prev = *id;
                    if !op.noack {
                        delivered.insert((so.key.as_ref(), *id));
                    }
                }
                *pos = *last_id;
            }
            Served::History { ids } => {
                for (id, c) in ids {
                    if c.is_none() {
                        continue;
                    }
                    let owned = g.pel().get(id).is_some_and(|n| n.consumer == op.consumer);
                    if s.entry(id).is_none()
                        || !(owned || delivered.contains(&(so.key.as_ref(), *id)))
                    {
                        return Err(Reply::error(ERR_STALE));
                    }
                }
            }
        }
    }
    Ok(())
}

pub(super) fn apply(db: &mut Db, op: &ReadGroupOp) -> Reply {
    if let Err(e) = validate(db, op) {
        return e;
    }
    let mut pairs = Vec::new();
    let mut dirty = 0u64;
    for so in &op.streams {
        let Ok(Some(s)) = db.stream_mut(&so.key) else {
            continue; // validated above
        };
        if so.create_consumer && s.create_consumer(&op.group, op.consumer.clone(), op.now_ms) {
            dirty += 1;
        }
        s.touch_consumer(&op.group, &op.consumer, Some(op.now_ms), None);
        match &so.served {
            Served::Nothing => {}
            Served::New {
                ids,
                last_id,
                entries_read,
                ..
            } => {
                let mut entries = Vec::with_capacity(ids.len());
                for id in ids {
                    if !op.noack {
                        s.pel_put(
                            &op.group,
                            *id,
                            Nack {
                                consumer: op.consumer.clone(),
                                delivery_time: op.now_ms,
                                delivery_count: 1,
                            },
                        );
                    }
                    if let Some(f) = s.entry(id) {
                        entries.push(entry_reply(*id, f));
                    }
                }
                s.set_group_position(&op.group, *last_id, *entries_read);
                if !ids.is_empty() {
                    if !op.noack {
                        s.touch_consumer(&op.group, &op.consumer, None, Some(op.now_ms as i64));
                    }
                    dirty += 1;
                }
                pairs.push((Reply::Bulk(so.key.clone()), Reply::Array(entries)));
            }
            Served::History { ids } => {
                let mut entries = Vec::with_capacity(ids.len());
                for (id, c) in ids {
                    match (c, s.entry(id)) {
                        (Some(c), Some(f)) => {
                            let reply = entry_reply(*id, f);
                            s.pel_put(
                                &op.group,
                                *id,
                                Nack {
                                    consumer: op.consumer.clone(),
                                    delivery_time: op.now_ms,
                                    delivery_count: *c,
                                },
                            );
                            entries.push(reply);
                        }
                        _ => entries.push(Reply::Array(vec![id_reply(*id), Reply::NullArray])),
                    }
                }
                pairs.push((Reply::Bulk(so.key.clone()), Reply::Array(entries)));
            }
        }
    }
    db.dirty += dirty;
    if pairs.is_empty() {
        Reply::NullArray
    } else {
        streams_reply(pairs)
    }
}
