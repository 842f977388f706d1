//! Trimming: the XADD/XTRIM option parser, the approximate-trim planner and the exact trim
//! that every replica applies.
//!
//! Approximate trimming (`~`) removes only **whole nodes**, from the oldest, while the
//! condition holds, stopping at the first node that cannot go or that would take the number
//! of removed entries past LIMIT. Its outcome depends on the node layout, so *prepare* turns
//! it into an exact [`Threshold`] that removes exactly those nodes' entries (Redis propagates
//! `MAXLEN = <resulting length>` / `MINID = <first kept ID>` for the same reason). Exact
//! trimming then removes whole nodes while it can and single entries of the next node, which
//! is what Redis does, so the resulting layout is identical.

use bytes::Bytes;
use resp::Reply;

use super::{arity_error, error, is_token, write, wrongtype, Op, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Db;
use crate::engine::{Ctx, Prepared};
use crate::id::{parse_add_id, parse_id, AddId, StreamId, ERR_INVALID_ID};
use crate::stream::Stream;

/// What exact trimming keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Threshold {
    /// At most this many entries (the newest).
    MaxLen(u64),
    /// Only entries with an ID >= this one.
    MinId(StreamId),
}

/// A trimming request as given: the threshold, `~`, and LIMIT (only allowed with `~`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimSpec {
    pub threshold: Threshold,
    pub approx: bool,
    /// LIMIT as given (0 = unlimited); `None` = the default for `~`.
    pub limit: Option<u64>,
}

impl TrimSpec {
    /// The work limit in entries (0 = unlimited): LIMIT if given, else the default for `~`
    /// (`100 * stream-node-max-entries`, clamped to 10000 when that is <= 0 and to 1000000).
    pub fn effective_limit(&self, node_max_entries: u64) -> u64 {
        match self.limit {
            Some(l) => l,
            None => {
                // Redis computes this in a `long long`; keep its arithmetic.
                let l = (node_max_entries as i64).wrapping_mul(100);
                if l <= 0 {
                    10_000
                } else {
                    l.min(1_000_000) as u64
                }
            }
        }
    }

    /// The exact threshold that removes what this request removes from `s`, after appending
    /// `pending` (XADD) laid out with `node_max_entries`; `None` when nothing would go.
    pub fn resolve(
        &self,
        s: Option<&Stream>,
        pending: Option<StreamId>,
        node_max_entries: u64,
    ) -> Option<Threshold> {
        if !self.approx {
            return Some(self.threshold);
        }
        let limit = self.effective_limit(node_max_entries);
        plan_approx(s, pending, node_max_entries, self.threshold, limit)
    }
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]
#[derive(Debug, Clone, PartialEq)]
pub struct TrimCmd {
    pub key: Bytes,
    pub spec: TrimSpec,
}

/// The options of XADD (before its ID) and of XTRIM.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AddTrimArgs {
    pub trim: Option<TrimSpec>,
    pub nomkstream: bool,
    /// XADD: the position of the ID argument (`args.len()` if none was found).
    pub id_pos: usize,
    /// XADD: the ID (`None` only when no ID was found).
    pub id: Option<AddId>,
}

const ERR_BOTH_STRATEGIES: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";

/// Parses the options of XADD (`xadd`) or XTRIM in Redis's order, with its error texts.
pub(crate) fn parse_add_trim(args: &[Bytes], xadd: bool) -> Result<AddTrimArgs, Reply> {
    let argc = args.len();
    let mut out = AddTrimArgs::default();
    let mut threshold: Option<Threshold> = None;
    let mut approx = false;
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut i = 2;
    while i < argc {
        let moreargs = argc - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            out.id = Some(AddId::Auto);
            break;
        } else if moreargs > 0 && (is_token(opt, "maxlen") || is_token(opt, "minid")) {
            if threshold.is_some() {
                return Err(error(ERR_BOTH_STRATEGIES));
            }
            approx = false;
            let next = &args[i + 1][..];
            if moreargs >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if moreargs >= 2 && next == b"=" {
                i += 1;
            }
            let value = &args[i + 1][..];
            threshold = Some(if is_token(opt, "maxlen") {
                let n = crate::id::parse_i64(value).ok_or_else(|| error(ERR_NOT_INTEGER))?;
                if n < 0 {
                    return Err(error("ERR The MAXLEN argument must be >= 0."));
                }
                Threshold::MaxLen(n as u64)
            } else {
                Threshold::MinId(parse_id(value, true, 0).ok_or_else(|| error(ERR_INVALID_ID))?)
            });
            i += 1;
        } else if moreargs > 0 && is_token(opt, "limit") {
            limit = crate::id::parse_i64(&args[i + 1]).ok_or_else(|| error(ERR_NOT_INTEGER))?;
            if limit < 0 {
                return Err(error("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is_token(opt, "nomkstream") {
            out.nomkstream = true;
        } else if xadd {
            // Anything else is the ID; everything after it is field/value pairs.
            out.id = Some(parse_add_id(opt).ok_or_else(|| error(ERR_INVALID_ID))?);
            break;
        } else {
            return Err(error(ERR_SYNTAX));
        }
        i += 1;
    }
    out.id_pos = i;

    if limit != 0 && threshold.is_none() {
        return Err(error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && threshold.is_none() {
        return Err(error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given && !approx {
        return Err(error(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    out.trim = threshold.map(|threshold| TrimSpec {
        threshold,
        approx,
        limit: limit_given.then_some(limit as u64),
    });
    Ok(out)
}

pub(super) fn parse(args: &[Bytes]) -> Result<TrimCmd, Reply> {
    if args.len() < 4 {
        return Err(arity_error("xtrim"));
    }
    let parsed = parse_add_trim(args, false)?;
    match parsed.trim {
        Some(spec) => Ok(TrimCmd {
            key: args[1].clone(),
            spec,
        }),
        // parse_add_trim rejects XTRIM without a strategy
        None => Err(error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        )),
    }
}

pub(super) fn prepare(cmd: &TrimCmd, db: &Db, ctx: &Ctx) -> Prepared {
    let s = match db.stream(&cmd.key) {
        Err(_) => return Prepared::Reply(wrongtype()),
        Ok(None) => return Prepared::Reply(Reply::Integer(0)),
        Ok(Some(s)) => s,
    };
    match cmd.spec.resolve(Some(s), None, ctx.node_max_entries) {
        Some(threshold) if would_remove(s, threshold) => write(Op::Trim {
            key: cmd.key.clone(),
            threshold,
        }),
        _ => Prepared::Reply(Reply::Integer(0)),
    }
}

pub(super) fn apply(db: &mut Db, key: &[u8], threshold: Threshold) -> Reply {
    let removed = match db.stream_mut(key) {
        Err(_) => return wrongtype(),
        Ok(None) => 0,
        Ok(Some(s)) => trim_exact(s, threshold),
    };
    db.dirty += removed;
    Reply::Integer(removed as i64)
}

/// Whether exact trimming to `threshold` removes anything from `s`.
fn would_remove(s: &Stream, threshold: Threshold) -> bool {
    match threshold {
        Threshold::MaxLen(n) => s.len() > n,
        Threshold::MinId(min) => !s.is_empty() && s.first_id() < min,
    }
}

/// The greatest live ID of the node starting at `master`.
fn node_last_id(s: &Stream, master: StreamId) -> Option<StreamId> {
    let next_master = s
        .nodes()
        .range((
            std::ops::Bound::Excluded(master),
            std::ops::Bound::Unbounded,
        ))
        .next()
        .map(|(m, _)| *m);
    let last = match next_master {
        Some(next) => s.entries().range(master..next).next_back(),
        None => s.entries().range(master..).next_back(),
    };
    last.map(|(id, _)| *id)
}

/// Whether an entry appended now joins the tail node (else it opens a new node). The same
/// rule as [`Stream::append`]: a node takes entries until it has held `node_max_entries`,
/// deleted ones included; 0 means no limit.
fn joins_tail(s: Option<&Stream>, node_max_entries: u64) -> bool {
    match s.and_then(|s| s.nodes().iter().next_back()) {
        Some((_, tail)) => node_max_entries == 0 || tail.count < node_max_entries,
        None => false,
    }
}

/// A node as the planner sees it (possibly with the pending entry in it).
struct NodeView {
    master: StreamId,
    live: u64,
    /// Set when the pending entry is this node's last entry.
    last: Option<StreamId>,
}

/// Plans approximate trimming over the layout `s` would have after appending `pending`.
/// Returns the exact threshold removing the same entries, or `None` if none would go.
fn plan_approx(
    s: Option<&Stream>,
    pending: Option<StreamId>,
    node_max_entries: u64,
    threshold: Threshold,
    limit: u64,
) -> Option<Threshold> {
    let joins = pending.is_some() && joins_tail(s, node_max_entries);
    let node_count = s.map_or(0, |s| s.nodes().len());
    let real = s
        .into_iter()
        .flat_map(|s| s.nodes().iter())
        .enumerate()
        .map(|(i, (master, node))| {
            let is_tail = i + 1 == node_count;
            NodeView {
                master: *master,
                live: node.live + u64::from(joins && is_tail),
                last: if joins && is_tail { pending } else { None },
            }
        });
    let extra = pending.filter(|_| !joins).map(|id| NodeView {
        master: id,
        live: 1,
        last: Some(id),
    });

    let mut len = s.map_or(0, |s| s.len()) + u64::from(pending.is_some());
    let mut deleted = 0u64;
    let mut first_kept: Option<StreamId> = None;
    for view in real.chain(extra) {
        if let Threshold::MaxLen(n) = threshold {
            if len <= n {
                first_kept = Some(view.master);
                break;
            }
        }
        if limit != 0 && deleted.saturating_add(view.live) > limit {
            first_kept = Some(view.master);
            break;
        }
        let remove = match threshold {
            Threshold::MaxLen(n) => len - view.live >= n,
            Threshold::MinId(min) => {
                let last = view
                    .last
                    .or_else(|| s.and_then(|s| node_last_id(s, view.master)));
                last.is_some_and(|last| last < min)
            }
        };
        if !remove {
            first_kept = Some(view.master);
            break;
        }
        len -= view.live;
        deleted += view.live;
    }
    if deleted == 0 {
        return None;
    }
    Some(match threshold {
        Threshold::MaxLen(_) => Threshold::MaxLen(len),
        // Entries below the first kept node's master are exactly the removed nodes' entries;
        // when every node goes, every entry is below the requested threshold.
        Threshold::MinId(min) => Threshold::MinId(first_kept.unwrap_or(min)),
    })
}

/// Trims `s` exactly to `threshold`: whole nodes from the oldest while the whole node goes,
/// then single entries of the next node. Returns the number of entries removed. Trimming
/// leaves `max_deleted_id` and `entries_added` alone.
pub(crate) fn trim_exact(s: &mut Stream, threshold: Threshold) -> u64 {
    let mut removed = 0;
    while let Some((master, node)) = s.nodes().iter().next().map(|(m, n)| (*m, *n)) {
        let whole = match threshold {
            Threshold::MaxLen(n) => {
                if s.len() <= n {
                    break;
                }
                s.len() - node.live >= n
            }
            Threshold::MinId(min) => node_last_id(s, master).is_some_and(|last| last < min),
        };
        if whole {
            removed += s.remove_node(&master);
            continue;
        }
        let doomed: Vec<StreamId> = match threshold {
            Threshold::MaxLen(n) => {
                let excess = (s.len() - n) as usize;
                s.entries()
                    .range(master..)
                    .take(excess)
                    .map(|(id, _)| *id)
                    .collect()
            }
            Threshold::MinId(min) => s
                .entries()
                .range(master..)
                .take_while(|(id, _)| **id < min)
                .map(|(id, _)| *id)
                .collect(),
        };
        for id in &doomed {
            if s.remove_entry(id) {
                removed += 1;
            }
        }
        break;
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Fields;

    fn fields() -> Fields {
        vec![Bytes::from_static(b"f"), Bytes::from_static(b"v")]
    }

    fn stream(n: u64, node_max_entries: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.append(StreamId::new(i, 0), fields(), node_max_entries);
        }
        s
    }

    fn spec(threshold: Threshold, approx: bool, limit: Option<u64>) -> TrimSpec {
        TrimSpec {
            threshold,
            approx,
            limit,
        }
    }

    #[test]
    fn default_limit_is_clamped() {
        let s = spec(Threshold::MaxLen(0), true, None);
        assert_eq!(s.effective_limit(0), 10_000);
        assert_eq!(s.effective_limit(1), 100);
        assert_eq!(s.effective_limit(100), 10_000);
        assert_eq!(s.effective_limit(20_000), 1_000_000);
        assert_eq!(s.effective_limit(u64::MAX), 10_000);
        assert_eq!(
            spec(Threshold::MaxLen(0), true, Some(0)).effective_limit(5),
            0
        );
    }

    #[test]
    fn approx_maxlen_removes_whole_nodes_only() {
        let s = stream(25, 10);
        let t = spec(Threshold::MaxLen(12), true, None).resolve(Some(&s), None, 10);
        assert_eq!(t, Some(Threshold::MaxLen(15)));
        let t = spec(Threshold::MaxLen(16), true, None).resolve(Some(&s), None, 10);
        assert_eq!(t, None);
    }

    #[test]
    fn approx_minid_keeps_first_node_that_reaches_threshold() {
        let s = stream(25, 10);
        let t = spec(Threshold::MinId(StreamId::new(15, 0)), true, None);
        assert_eq!(
            t.resolve(Some(&s), None, 10),
            Some(Threshold::MinId(StreamId::new(11, 0)))
        );
        let t = spec(Threshold::MinId(StreamId::new(100, 0)), true, None);
        assert_eq!(
            t.resolve(Some(&s), None, 10),
            Some(Threshold::MinId(StreamId::new(100, 0)))
        );
    }

    #[test]
    fn planning_sees_the_pending_entry() {
        // 10 entries in one full node of 10: the pending entry opens a new node
        let s = stream(10, 10);
        let t = spec(Threshold::MaxLen(1), true, None);
        assert_eq!(
            t.resolve(Some(&s), Some(StreamId::new(11, 0)), 10),
            Some(Threshold::MaxLen(1))
        );
        // with room in the tail node, the node cannot go whole
        let s = stream(9, 10);
        assert_eq!(t.resolve(Some(&s), Some(StreamId::new(10, 0)), 10), None);
    }

    #[test]
    fn exact_trim_matches_node_semantics() {
        let mut s = stream(25, 10);
        assert_eq!(trim_exact(&mut s, Threshold::MaxLen(12)), 13);
        assert_eq!(s.len(), 12);
        assert_eq!(s.radix_tree_keys(), 2);
        assert_eq!(s.first_id(), StreamId::new(14, 0));
        assert_eq!(
            trim_exact(&mut s, Threshold::MinId(StreamId::new(22, 0))),
            8
        );
        assert_eq!(s.first_id(), StreamId::new(22, 0));
        assert_eq!(s.radix_tree_keys(), 1);
        assert_eq!(s.last_id(), StreamId::new(25, 0));
        s.check_invariants().unwrap();
        assert_eq!(trim_exact(&mut s, Threshold::MaxLen(0)), 4);
        assert!(s.is_empty());
        assert_eq!(s.radix_tree_keys(), 0);
    }
}
