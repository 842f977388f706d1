//! XCLAIM and XAUTOCLAIM.
//!
//! Prepare resolves every claim into absolute values, like the `XCLAIM … TIME <ms>
//! RETRYCOUNT <n> FORCE JUSTID LASTID <id>` that Redis propagates: for each claimed ID its
//! delivery time and count, the IDs dropped from the PEL because their entry is gone, the
//! group's new last_id (LASTID), and for XAUTOCLAIM the cursor. Apply performs those steps.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use bytes::Bytes;
use resp::Reply;

use super::{
    arity_error, c_str, entry_reply, error_fmt, id_reply, is_token, nogroup_key_or_group, Op,
    ERR_STALE, ERR_SYNTAX,
};
use crate::db::{Db, ERR_WRONGTYPE};
use crate::engine::{Ctx, Prepared};
use crate::id::{parse_i64, parse_id, parse_range_bound, StreamId, ERR_INVALID_ID};
use crate::stream::Nack;

/// XCLAIM key group consumer min-idle-time id… [options]. Everything after the consumer is
/// parsed after the key and group lookups, as Redis does.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimCmd {
    pub key: Bytes,
    pub group: Bytes,
    pub consumer: Bytes,
    /// `min-idle-time id… [options]`, raw.
    pub rest: Vec<Bytes>,
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID], fully parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoClaimCmd {
    pub key: Bytes,
    pub group: Bytes,
    pub consumer: Bytes,
    pub min_idle_ms: i64,
    pub start: StreamId,
    pub count: u64,
    pub justid: bool,
}

/// A resolved XCLAIM / XAUTOCLAIM.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClaimOp {
    pub key: Bytes,
    pub group: Bytes,
    pub consumer: Bytes,
    pub now_ms: u64,
    /// LASTID, when it moves the group's last_id forward.
    pub last_id: Option<StreamId>,
    /// In command order.
    pub steps: Vec<ClaimStep>,
    pub justid: bool,
    pub reply: ClaimReply,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ClaimStep {
    /// The entry no longer exists: drop its NACK.
    Drop(StreamId),
    /// Give the NACK to the consumer with these values. `create` = FORCE made it.
    Claim {
        id: StreamId,
        delivery_time: u64,
        delivery_count: u64,
        create: bool,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ClaimReply {
    /// XCLAIM: the claimed entries (or IDs).
    Claimed,
    /// XAUTOCLAIM: `[cursor, claimed, dropped IDs]`.
    AutoClaim { cursor: StreamId },
}

pub(super) fn parse_claim(args: &[Bytes]) -> Result<ClaimCmd, Reply> {
    if args.len() < 6 {
        return Err(arity_error("xclaim"));
    }
    Ok(ClaimCmd {
        key: args[1].clone(),
        group: args[2].clone(),
        consumer: args[3].clone(),
        rest: args[4..].to_vec(),
    })
}

/// The largest COUNT XAUTOCLAIM accepts (LONG_MAX / 16).
const AUTOCLAIM_MAX_COUNT: i64 = i64::MAX / 16;
/// XAUTOCLAIM examines at most COUNT * this many PEL entries.
const AUTOCLAIM_ATTEMPTS_FACTOR: u64 = 10;

pub(super) fn parse_autoclaim(args: &[Bytes]) -> Result<AutoClaimCmd, Reply> {
    let argc = args.len();
    if argc < 6 {
        return Err(arity_error("xautoclaim"));
    }
    let min_idle_ms = parse_i64(&args[4])
        .ok_or_else(|| Reply::error("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_range_bound(&args[5], true).map_err(Reply::error)?;
    let mut count = 100u64;
    let mut justid = false;
    let mut j = 6;
    while j < argc {
        let more = argc - 1 - j;
        if is_token(&args[j], "COUNT") && more > 0 {
            count = match parse_i64(&args[j + 1]) {
                Some(n) if (1..=AUTOCLAIM_MAX_COUNT).contains(&n) => n as u64,
                _ => return Err(Reply::error("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is_token(&args[j], "JUSTID") {
            justid = true;
        } else {
            return Err(Reply::error(ERR_SYNTAX));
        }
        j += 1;
    }
    Ok(AutoClaimCmd {
        key: args[1].clone(),
        group: args[2].clone(),
        consumer: args[3].clone(),
        min_idle_ms,
        start,
        count,
        justid,
    })
}

fn idle_ms(now_ms: u64, delivery_time: u64) -> i64 {
    let d = now_ms as i128 - delivery_time as i128;
    d.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// A NACK as this command sees it: `owner` = None for one FORCE just made.
#[derive(Clone)]
struct NackView {
    owned: bool,
    delivery_time: u64,
    delivery_count: u64,
}

pub(super) fn prepare_claim(cmd: &ClaimCmd, db: &Db, ctx: &Ctx) -> Prepared {
    match prepare_claim_inner(cmd, db, ctx) {
        Ok(op) => super::write(Op::Claim(op)),
        Err(e) => Prepared::Reply(e),
    }
}

fn prepare_claim_inner(cmd: &ClaimCmd, db: &Db, ctx: &Ctx) -> Result<ClaimOp, Reply> {
    let s = db
        .stream(&cmd.key)
        .map_err(|_| Reply::error(ERR_WRONGTYPE))?;
    let (s, g) = match s.and_then(|s| s.group(&cmd.group).map(|g| (s, g))) {
        Some(sg) => sg,
        None => return Err(nogroup_key_or_group(&cmd.key, &cmd.group)),
    };
    let rest = &cmd.rest;
    let Some(min_idle) = rest.first() else {
        return Err(arity_error("xclaim"));
    };
    let min_idle_ms = parse_i64(min_idle)
        .ok_or_else(|| Reply::error("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    // IDs up to the first token that is not one; options after.
    let mut ids = Vec::new();
    let mut j = 1;
    while j < rest.len() {
        match parse_id(&rest[j], true, 0) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now_ms as i64;
    let mut delivery_time: Option<i64> = None;
    let mut retry_count: i64 = -1;
    let mut force = false;
    let mut justid = false;
    let mut lastid = StreamId::MIN;
    while j < rest.len() {
        let more = rest.len() - 1 - j;
        let opt = &rest[j];
        if is_token(opt, "FORCE") {
            force = true;
        } else if is_token(opt, "JUSTID") {
            justid = true;
        } else if is_token(opt, "IDLE") && more > 0 {
            j += 1;
            let idle = parse_i64(&rest[j])
                .ok_or_else(|| Reply::error("ERR Invalid IDLE option argument for XCLAIM"))?;
            delivery_time = Some(now.wrapping_sub(idle));
        } else if is_token(opt, "TIME") && more > 0 {
            j += 1;
            delivery_time = Some(
                parse_i64(&rest[j])
                    .ok_or_else(|| Reply::error("ERR Invalid TIME option argument for XCLAIM"))?,
            );
        } else if is_token(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            retry_count = parse_i64(&rest[j])
                .ok_or_else(|| Reply::error("ERR Invalid RETRYCOUNT option argument for XCLAIM"))?;
        } else if is_token(opt, "LASTID") && more > 0 {
            j += 1;
            lastid = parse_id(&rest[j], true, 0).ok_or_else(|| Reply::error(ERR_INVALID_ID))?;
        } else {
            return Err(error_fmt(&[
                b"ERR Unrecognized XCLAIM option '",
                c_str(opt),
                b"'",
            ]));
        }
        j += 1;
    }
    let delivery_time = match delivery_time {
        Some(t) if t >= 0 && t <= now => t as u64,
        _ => ctx.now_ms,
    };
    let mut view: HashMap<StreamId, Option<NackView>> = HashMap::new();
    let mut steps = Vec::new();
    for id in ids {
        let current = match view.get(&id) {
            Some(v) => v.clone(),
            None => g.pel().get(&id).map(|n| NackView {
                owned: true,
                delivery_time: n.delivery_time,
                delivery_count: n.delivery_count,
            }),
        };
        if s.entry(&id).is_none() {
            if current.is_some() {
                steps.push(ClaimStep::Drop(id));
                view.insert(id, None);
            }
            continue;
        }
        let (nack, create) = match current {
            Some(n) => (n, false),
            None if force => (
                NackView {
                    owned: false,
                    delivery_time: ctx.now_ms,
                    delivery_count: 1,
                },
                true,
            ),
            None => continue,
        };
        if nack.owned && min_idle_ms != 0 && idle_ms(ctx.now_ms, nack.delivery_time) < min_idle_ms {
            continue;
        }
        let delivery_count = if retry_count >= 0 {
            retry_count as u64
        } else if !justid {
            nack.delivery_count.wrapping_add(1)
        } else {
            nack.delivery_count
        };
        steps.push(ClaimStep::Claim {
            id,
            delivery_time,
            delivery_count,
            create,
        });
        view.insert(
            id,
            Some(NackView {
                owned: true,
                delivery_time,
                delivery_count,
            }),
        );
    }
    Ok(ClaimOp {
        key: cmd.key.clone(),
        group: cmd.group.clone(),
        consumer: cmd.consumer.clone(),
        now_ms: ctx.now_ms,
        last_id: (lastid > g.last_id).then_some(lastid),
        steps,
        justid,
        reply: ClaimReply::Claimed,
    })
}

pub(super) fn prepare_autoclaim(cmd: &AutoClaimCmd, db: &Db, ctx: &Ctx) -> Prepared {
    let s = match db.stream(&cmd.key) {
        Err(_) => return Prepared::Reply(Reply::error(ERR_WRONGTYPE)),
        Ok(s) => s,
    };
    let Some((s, g)) = s.and_then(|s| s.group(&cmd.group).map(|g| (s, g))) else {
        return Prepared::Reply(nogroup_key_or_group(&cmd.key, &cmd.group));
    };
    let mut attempts = cmd.count.saturating_mul(AUTOCLAIM_ATTEMPTS_FACTOR);
    let mut count = cmd.count;
    let mut steps = Vec::new();
    let mut pel = g
        .pel()
        .range((Bound::Included(cmd.start), Bound::Unbounded))
        .peekable();
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some((id, nack)) = pel.next() else {
            break;
        };
        if s.entry(id).is_none() {
            steps.push(ClaimStep::Drop(*id));
            count -= 1;
            continue;
        }
        if cmd.min_idle_ms != 0 && idle_ms(ctx.now_ms, nack.delivery_time) < cmd.min_idle_ms {
            continue;
        }
        let delivery_count = if cmd.justid {
            nack.delivery_count
        } else {
            nack.delivery_count.wrapping_add(1)
        };
        steps.push(ClaimStep::Claim {
            id: *id,
            delivery_time: ctx.now_ms,
            delivery_count,
            create: false,
        });
        count -= 1;
    }
    let cursor = pel.peek().map(|(id, _)| **id).unwrap_or(StreamId::MIN);
    super::write(Op::Claim(ClaimOp {
        key: cmd.key.clone(),
        group: cmd.group.clone(),
        consumer: cmd.consumer.clone(),
        now_ms: ctx.now_ms,
        last_id: None,
        steps,
        justid: cmd.justid,
        reply: ClaimReply::AutoClaim { cursor },
    }))
}

fn validate(db: &Db, op: &ClaimOp) -> Result<(), Reply> {
    let s = match db.stream(&op.key) {
        Err(_) => return Err(Reply::error(ERR_WRONGTYPE)),
        Ok(s) => s,
    };
    let Some((s, g)) = s.and_then(|s| s.group(&op.group).map(|g| (s, g))) else {
        return Err(nogroup_key_or_group(&op.key, &op.group));
    };
    let mut present: HashSet<StreamId> = HashSet::new();
    for step in &op.steps {
        match step {
            ClaimStep::Drop(id) => {
                present.remove(id);
            }
            ClaimStep::Claim { id, create, .. } => {
                let pending = g.pel().contains_key(id) || present.contains(id);
                if s.entry(id).is_none() || (!create && !pending) {
                    return Err(Reply::error(ERR_STALE));
                }
                present.insert(*id);
            }
        }
    }
    Ok(())
}

pub(super) fn apply(db: &mut Db, op: &ClaimOp) -> Reply {
    if let Err(e) = validate(db, op) {
        return e;
    }
    let Ok(Some(s)) = db.stream_mut(&op.key) else {
        return Reply::error(ERR_STALE);
    };
    let mut dirty = 0u64;
    if s.create_consumer(&op.group, op.consumer.clone(), op.now_ms) {
        dirty += 1;
    }
    s.touch_consumer(&op.group, &op.consumer, Some(op.now_ms), None);
    let mut last_id_moved = false;
    if let Some(last_id) = op.last_id {
        if let Some(g) = s.group(&op.group) {
            if last_id > g.last_id {
                let entries_read = g.entries_read;
                s.set_group_position(&op.group, last_id, entries_read);
                last_id_moved = true;
            }
        }
    }
    let mut claimed = Vec::new();
    let mut dropped = Vec::new();
    for step in &op.steps {
        match step {
            ClaimStep::Drop(id) => {
                if s.pel_remove(&op.group, id) {
                    dirty += 1;
                }
                dropped.push(id_reply(*id));
            }
            ClaimStep::Claim {
                id,
                delivery_time,
                delivery_count,
                ..
            } => {
                s.pel_put(
                    &op.group,
                    *id,
                    Nack {
                        consumer: op.consumer.clone(),
                        delivery_time: *delivery_time,
                        delivery_count: *delivery_count,
                    },
                );
                dirty += 1;
                if op.justid {
                    claimed.push(id_reply(*id));
                } else if let Some(f) = s.entry(id) {
                    claimed.push(entry_reply(*id, f));
                }
            }
        }
    }
    if !claimed.is_empty() {
        s.touch_consumer(&op.group, &op.consumer, None, Some(op.now_ms as i64));
    }
    if last_id_moved && op.steps.is_empty() {
        dirty += 1;
    }
    db.dirty += dirty;
    match op.reply {
        ClaimReply::Claimed => Reply::Array(claimed),
        ClaimReply::AutoClaim { cursor } => Reply::Array(vec![
            id_reply(cursor),
            Reply::Array(claimed),
            Reply::Array(dropped),
        ]),
    }
}
