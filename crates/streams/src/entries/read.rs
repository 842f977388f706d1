//! XREAD: entries after given IDs from one or more streams, optionally blocking.

use bytes::Bytes;
use resp::Reply;

use super::range::range_entries;
use super::{arity_error, error, is_token, wrongtype, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Db;
use crate::engine::Ctx;
use crate::id::{parse_i64, parse_id, StreamId, ERR_INVALID_ID};

const ERR_GROUP_ON_XREAD: &str =
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
const ERR_NOACK_ON_XREAD: &str =
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
const ERR_UNBALANCED: &str = "ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified.";
const ERR_GT_ON_XREAD: &str = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";

/// One ID argument of XREAD, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadId {
    /// `$`: the stream's last ID when the command runs (pinned when it blocks).
    Last,
    /// `+`: the last live entry.
    LastEntry,
    /// `>`: XREADGROUP only (an error here, reported in the key pass).
    NewOnly,
    /// Entries strictly after this ID.
    After(StreamId),
    /// Not a valid ID (an error, reported in the key pass).
    Invalid,
}

/// XREAD [COUNT n] [BLOCK ms] STREAMS key... id...
#[derive(Debug, Clone, PartialEq)]
pub struct ReadCmd {
    /// Entries per stream (0 = all).
    pub count: u64,
    /// BLOCK milliseconds (0 = forever); `None` without BLOCK.
    pub block_ms: Option<u64>,
    pub keys: Vec<Bytes>,
    pub ids: Vec<ReadId>,
}

pub(super) fn parse(args: &[Bytes]) -> Result<ReadCmd, Reply> {
    let argc = args.len();
    if argc < 4 {
        return Err(arity_error("xread"));
    }
    let mut count = 0u64;
    let mut block_ms = None;
    let mut streams_arg = 0;
    let mut i = 1;
    while i < argc {
        let moreargs = argc - i - 1;
        let opt = &args[i][..];
        if is_token(opt, "block") && moreargs > 0 {
            i += 1;
            let t = parse_i64(&args[i])
                .ok_or_else(|| error("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(error("ERR timeout is negative"));
            }
            block_ms = Some(t as u64);
        } else if is_token(opt, "count") && moreargs > 0 {
            i += 1;
            let n = parse_i64(&args[i]).ok_or_else(|| error(ERR_NOT_INTEGER))?;
            count = n.max(0) as u64;
        } else if is_token(opt, "streams") && moreargs > 0 {
            streams_arg = i + 1;
            if !(argc - streams_arg).is_multiple_of(2) {
                return Err(error(ERR_UNBALANCED));
            }
            break;
        } else if is_token(opt, "group") && moreargs >= 2 {
            return Err(error(ERR_GROUP_ON_XREAD));
        } else if is_token(opt, "noack") {
            return Err(error(ERR_NOACK_ON_XREAD));
        } else {
            return Err(error(ERR_SYNTAX));
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(error(ERR_SYNTAX));
    }
    let n = (argc - streams_arg) / 2;
    let keys = args[streams_arg..streams_arg + n].to_vec();
    let ids = args[streams_arg + n..]
        .iter()
        .map(|a| match &a[..] {
            b"$" => ReadId::Last,
            b"+" => ReadId::LastEntry,
            b">" => ReadId::NewOnly,
            other => parse_id(other, true, 0).map_or(ReadId::Invalid, ReadId::After),
        })
        .collect();
    Ok(ReadCmd {
        count,
        block_ms,
        keys,
        ids,
    })
}

/// Resolves each key's ID in argument order, type-checking each key first (so the first
/// wrong-typed key or bad ID, whichever comes first, is the error).
fn resolve(cmd: &ReadCmd, db: &Db) -> Result<Vec<StreamId>, Reply> {
    let mut out = Vec::with_capacity(cmd.keys.len());
    for (key, id) in cmd.keys.iter().zip(&cmd.ids) {
        let s = db.stream(key).map_err(|_| wrongtype())?;
        out.push(match id {
            ReadId::Last => s.map_or(StreamId::MIN, |s| s.last_id()),
            // Just below the last live entry, so that entry is served; 0-0 when empty.
            ReadId::LastEntry => match s.filter(|s| !s.is_empty()) {
                Some(s) => s.top_id().prev().unwrap_or(StreamId::MIN),
                None => StreamId::MIN,
            },
            ReadId::NewOnly => return Err(error(ERR_GT_ON_XREAD)),
            ReadId::Invalid => return Err(error(ERR_INVALID_ID)),
            ReadId::After(id) => *id,
        });
    }
    Ok(out)
}

pub(super) fn read(cmd: &ReadCmd, db: &Db, ctx: &Ctx) -> Reply {
    // Redis turns the timeout into a deadline and rejects one that would overflow.
    if let Some(t) = cmd.block_ms {
        if t > 0 && t > (i64::MAX as u64).saturating_sub(ctx.now_ms) {
            return error("ERR timeout is out of range");
        }
    }
    let after = match resolve(cmd, db) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let mut served = Vec::new();
    for (key, gt) in cmd.keys.iter().zip(after) {
        let Ok(Some(s)) = db.stream(key) else {
            continue;
        };
        if s.is_empty() || s.top_id() <= gt {
            continue;
        }
        // top_id > gt, so gt has a successor
        let Some(start) = gt.next() else {
            continue;
        };
        let entries = range_entries(s, start, StreamId::MAX, cmd.count, false);
        served.push((Reply::Bulk(key.clone()), Reply::Array(entries)));
    }
    if served.is_empty() {
        Reply::NullArray
    } else {
        Reply::PairMap(served)
    }
}

/// Pins `$` to the key's current last ID (`0-0` when the key is missing or not a stream).
pub(super) fn pin(cmd: &mut ReadCmd, db: &Db) {
    for (key, id) in cmd.keys.iter().zip(cmd.ids.iter_mut()) {
        if *id == ReadId::Last {
            let last = match db.stream(key) {
                Ok(Some(s)) => s.last_id(),
                _ => StreamId::MIN,
            };
            *id = ReadId::After(last);
        }
    }
}
