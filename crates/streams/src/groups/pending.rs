//! XACK and XPENDING.

use std::collections::HashSet;

use bytes::Bytes;
use resp::Reply;

use super::{
    arity_error, id_reply, int_reply, is_token, nogroup_key_or_group, Op, ERR_NOT_INTEGER,
    ERR_SYNTAX,
};
use crate::db::{Db, ERR_WRONGTYPE};
use crate::engine::{Ctx, Prepared};
use crate::id::{parse_i64, parse_id, parse_range_bound, StreamId, ERR_INVALID_ID};
use crate::stream::Nack;

/// XACK key group id…; the IDs are parsed after the key lookup (a missing key or group
/// answers `:0` whatever they are), all before anything is acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct AckCmd {
    pub key: Bytes,
    pub group: Bytes,
    pub ids: Vec<Bytes>,
}

pub(super) fn parse_ack(args: &[Bytes]) -> Result<AckCmd, Reply> {
    if args.len() < 4 {
        return Err(arity_error("xack"));
    }
    Ok(AckCmd {
        key: args[1].clone(),
        group: args[2].clone(),
        ids: args[3..].to_vec(),
    })
}

pub(super) fn prepare_ack(cmd: &AckCmd, db: &Db) -> Prepared {
    let s = match db.stream(&cmd.key) {
        Err(_) => return Prepared::Reply(Reply::error(ERR_WRONGTYPE)),
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.group(&cmd.group)) else {
        return Prepared::Reply(Reply::Integer(0));
    };
    let mut ids = Vec::with_capacity(cmd.ids.len());
    for raw in &cmd.ids {
        match parse_id(raw, true, 0) {
            Some(id) => ids.push(id),
            None => return Prepared::Reply(Reply::error(ERR_INVALID_ID)),
        }
    }
    let mut seen = HashSet::new();
    ids.retain(|id| g.pel().contains_key(id) && seen.insert(*id));
    if ids.is_empty() {
        return Prepared::Reply(Reply::Integer(0));
    }
    super::write(Op::Ack {
        key: cmd.key.clone(),
        group: cmd.group.clone(),
        ids,
    })
}

pub(super) fn apply_ack(db: &mut Db, key: &Bytes, group: &Bytes, ids: &[StreamId]) -> Reply {
    let s = match db.stream_mut(key) {
        Err(_) => return Reply::error(ERR_WRONGTYPE),
        Ok(None) => return Reply::Integer(0),
        Ok(Some(s)) => s,
    };
    let mut acked = 0u64;
    for id in ids {
        if s.pel_remove(group, id) {
            acked += 1;
        }
    }
    db.dirty += acked;
    int_reply(acked)
}

/// XPENDING key group [[IDLE ms] start end count [consumer]].
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCmd {
    pub key: Bytes,
    pub group: Bytes,
    /// `None` = the summary form.
    pub range: Option<PendingRange>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingRange {
    pub min_idle_ms: i64,
    /// Inclusive bounds.
    pub start: StreamId,
    pub end: StreamId,
    pub count: u64,
    pub consumer: Option<Bytes>,
}

pub(super) fn parse_pending(args: &[Bytes]) -> Result<PendingCmd, Reply> {
    let argc = args.len();
    if argc < 3 {
        return Err(arity_error("xpending"));
    }
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Reply::error(ERR_SYNTAX));
    }
    let mut cmd = PendingCmd {
        key: args[1].clone(),
        group: args[2].clone(),
        range: None,
    };
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle_ms = 0;
        if is_token(&args[3], "IDLE") {
            min_idle_ms = parse_i64(&args[4]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if argc < 8 {
                return Err(Reply::error(ERR_SYNTAX));
            }
            at += 2;
        }
        let count = parse_i64(&args[at + 2]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
        let start = parse_range_bound(&args[at], true).map_err(Reply::error)?;
        let end = parse_range_bound(&args[at + 1], false).map_err(Reply::error)?;
        cmd.range = Some(PendingRange {
            min_idle_ms,
            start,
            end,
            count: count.max(0) as u64,
            consumer: args.get(at + 3).cloned(),
        });
    }
    Ok(cmd)
}

/// Milliseconds since `delivery_time` at `now_ms` (may be negative).
fn idle_ms(now_ms: u64, delivery_time: u64) -> i64 {
    let d = now_ms as i128 - delivery_time as i128;
    d.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// XPENDING is a read: idle times are computed from `ctx.now_ms`.
pub(super) fn pending(cmd: &PendingCmd, db: &Db, ctx: &Ctx) -> Reply {
    let s = match db.stream(&cmd.key) {
        Err(_) => return Reply::error(ERR_WRONGTYPE),
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.group(&cmd.group)) else {
        return nogroup_key_or_group(&cmd.key, &cmd.group);
    };
    let Some(range) = &cmd.range else {
        let pel = g.pel();
        let (Some((first, _)), Some((last, _))) = (pel.first_key_value(), pel.last_key_value())
        else {
            return Reply::Array(vec![
                Reply::Integer(0),
                Reply::Null,
                Reply::Null,
                Reply::NullArray,
            ]);
        };
        let consumers = g
            .consumers()
            .iter()
            .filter(|(_, c)| !c.pel().is_empty())
            .map(|(name, c)| {
                Reply::Array(vec![
                    Reply::Bulk(name.clone()),
                    Reply::Bulk(Bytes::from(c.pel().len().to_string())),
                ])
            })
            .collect();
        return Reply::Array(vec![
            int_reply(pel.len() as u64),
            id_reply(*first),
            id_reply(*last),
            Reply::Array(consumers),
        ]);
    };
    if range.start > range.end || range.count == 0 {
        return Reply::Array(vec![]);
    }
    let now = ctx.now_ms;
    let mut out = Vec::new();
    let emit = |id: StreamId, nack: &Nack, out: &mut Vec<Reply>| -> bool {
        let idle = idle_ms(now, nack.delivery_time);
        if range.min_idle_ms != 0 && idle < range.min_idle_ms {
            return false;
        }
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::Bulk(nack.consumer.clone()),
            Reply::Integer(idle.max(0)),
            int_reply(nack.delivery_count),
        ]));
        true
    };
    let mut left = range.count;
    match &range.consumer {
        Some(name) => {
            let Some(c) = g.consumer(name) else {
                return Reply::Array(vec![]);
            };
            for id in c.pel().range(range.start..=range.end) {
                if left == 0 {
                    break;
                }
                if let Some(nack) = g.pel().get(id) {
                    if emit(*id, nack, &mut out) {
                        left -= 1;
                    }
                }
            }
        }
        None => {
            for (id, nack) in g.pel().range(range.start..=range.end) {
                if left == 0 {
                    break;
                }
                if emit(*id, nack, &mut out) {
                    left -= 1;
                }
            }
        }
    }
    Reply::Array(out)
}
