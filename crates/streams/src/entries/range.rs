//! XRANGE and XREVRANGE, and the range walk that XREAD shares.

use bytes::Bytes;
use resp::Reply;

use super::{arity_error, entry_reply, error, is_token, wrongtype, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Db;
use crate::id::{parse_i64, parse_range_bound, StreamId};
use crate::stream::Stream;

/// XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n], bounds made inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeCmd {
    pub key: Bytes,
    pub start: StreamId,
    pub end: StreamId,
    /// COUNT as given (negative counts become 0); `None` without COUNT.
    pub count: Option<u64>,
    pub rev: bool,
}

pub(super) fn parse(args: &[Bytes], rev: bool) -> Result<RangeCmd, Reply> {
    let name = if rev { "xrevrange" } else { "xrange" };
    if args.len() < 4 {
        return Err(arity_error(name));
    }
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = parse_range_bound(start_arg, true).map_err(error)?;
    let end = parse_range_bound(end_arg, false).map_err(error)?;
    let mut count = None;
    let mut j = 4;
    while j < args.len() {
        if is_token(&args[j], "count") && j + 1 < args.len() {
            let n = parse_i64(&args[j + 1]).ok_or_else(|| error(ERR_NOT_INTEGER))?;
            count = Some(n.max(0) as u64);
            j += 2;
        } else {
            return Err(error(ERR_SYNTAX));
        }
    }
    Ok(RangeCmd {
        key: args[1].clone(),
        start,
        end,
        count,
        rev,
    })
}

pub(super) fn range(cmd: &RangeCmd, db: &Db) -> Reply {
    let s = match db.stream(&cmd.key) {
        Err(_) => return wrongtype(),
        Ok(None) => return Reply::Array(Vec::new()),
        Ok(Some(s)) => s,
    };
    match cmd.count {
        // Redis's quirk: COUNT 0 (or negative) is a null array, not an empty one.
        Some(0) => Reply::NullArray,
        count => Reply::Array(range_entries(
            s,
            cmd.start,
            cmd.end,
            count.unwrap_or(0),
            cmd.rev,
        )),
    }
}

/// The entries of `s` with `start <= id <= end`, oldest first (newest first if `rev`), at
/// most `count` of them (0 = all), as entry replies.
pub(crate) fn range_entries(
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: u64,
    rev: bool,
) -> Vec<Reply> {
    if start > end {
        return Vec::new();
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count).unwrap_or(usize::MAX)
    };
    let range = s.entries().range(start..=end);
    let mut out = Vec::with_capacity(limit.min(s.entries().len()).min(1024));
    if rev {
        out.extend(range.rev().take(limit).map(|(id, f)| entry_reply(*id, f)));
    } else {
        out.extend(range.take(limit).map(|(id, f)| entry_reply(*id, f)));
    }
    out
}
