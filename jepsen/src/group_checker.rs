//! The consumer-group checker (FAULTS.md G1-G9) over a stored history: XREADGROUP `>`,
//! XACK of one ID per call, XCLAIM, XAUTOCLAIM, XPENDING, XINFO GROUPS, and the final sweep
//! of the group (`final-group`). One group per stream. A pure function.
//!
//! - G1 every delivered (or claimed) entry is in the final log F with its payload.
//! - G2 `>` never hands an ID out twice, and a `>` read invoked after another completed
//!   returns only higher IDs.
//! - G3 nothing skipped: every entry of F up to the final last-delivered-id was handed out
//!   by a definite read or claim, or sits in the final PEL.
//! - G4 at-least-once (runs that drained the group): every acknowledged XADD, and every
//!   entry of the final log, was acked, and the final PEL is empty.
//! - G5 no redelivery: no claim invoked after an XACK of the ID returned 1 hands it out.
//! - G6 XPENDING counts are within the bounds the history allows.
//! - G7 claims move ownership (the final PEL's owner of an ID is its last definite owner
//!   unless an unknown operation could have moved it); IDs XAUTOCLAIM reports deleted are
//!   not in F.
//! - G8 the last-delivered-id never decreases.
//! - G9 consumers abandoned mid-run: what they held is reclaimed (XAUTOCLAIM) and acked by
//!   others; G4 checks it (an entry left with an abandoned consumer is never acked, and
//!   the anomaly names its last owner).
//!
//! Unknown outcomes: an `info` XREADGROUP or claim may have handed out entries (they may sit
//! in the final PEL, and G3 accepts PEL entries); an `info` XACK creates no G5 obligation.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::history::{pair, Id, Op, Record, Type, Value};
use crate::log_checker::Anomaly;

#[derive(Debug, Default, serde::Serialize)]
pub struct GroupReport {
    pub groups: usize,
    pub deliveries: usize,
    pub acks: usize,
    pub claims: usize,
    pub anomalies: Vec<Anomaly>,
}

impl GroupReport {
    pub fn valid(&self) -> bool {
        self.anomalies.is_empty()
    }
}

fn id(s: &str) -> Option<Id> {
    Id::parse(s)
}

/// The final sweep: PEL as (id, consumer), last-delivered-id, drained.
type FinalGroup = (Vec<(Id, String)>, Id, bool);
/// What an operation handed out: consumer, entries, whether it was a claim.
type HandedOut<'a> = (&'a str, &'a [(String, String)], bool);
/// A definite hand-out: the operation, consumer, parsed entries, whether it was a claim.
type Out<'o, 'a> = (&'o Op<'a>, &'a str, Vec<(Id, &'a str)>, bool);

#[derive(Default)]
struct Stream<'a> {
    ops: Vec<Op<'a>>,
    final_log: Option<Vec<(Id, String)>>,
    final_group: Option<FinalGroup>,
    acked_adds: Vec<Id>,
}

pub fn check_groups(history: &[Record]) -> GroupReport {
    let mut report = GroupReport::default();
    let (ops, _) = pair(history);
    let mut streams: BTreeMap<String, Stream<'_>> = BTreeMap::new();
    for op in ops {
        if crate::liveness::is_liveness_op(&op.invoke.f) {
            continue;
        }
        let s = streams.entry(op.invoke.key.clone()).or_default();
        let done = op.complete.filter(|c| c.kind == Type::Ok);
        match (op.invoke.f.as_str(), done.map(|c| &c.value)) {
            ("final", Some(Value::Read { entries, .. })) => {
                s.final_log = Some(
                    entries
                        .iter()
                        .filter_map(|(i, p)| id(i).map(|i| (i, p.clone())))
                        .collect(),
                );
            }
            (
                "final-group",
                Some(Value::FinalGroup {
                    pel,
                    last_delivered,
                    drained,
                }),
            ) => {
                let pel = pel
                    .iter()
                    .filter_map(|(i, c)| id(i).map(|i| (i, c.clone())))
                    .collect();
                s.final_group = Some((pel, id(last_delivered).unwrap_or(Id(0, 0)), *drained));
            }
            ("xadd", Some(Value::Added { id: i, .. })) => {
                if let Some(i) = id(i) {
                    s.acked_adds.push(i);
                }
            }
            ("xreadgroup" | "xclaim" | "xautoclaim" | "xack" | "xpending" | "xinfo-group", _) => {
                s.ops.push(op)
            }
            _ => {}
        }
    }
    for (key, s) in &streams {
        if s.final_group.is_none() && s.ops.is_empty() {
            continue;
        }
        report.groups += 1;
        check_stream(key, s, &mut report);
    }
    report
}

/// The entries an operation handed out, with the consumer, if it completed ok.
fn handed_out<'a>(op: &Op<'a>) -> Option<HandedOut<'a>> {
    match &op.complete.filter(|c| c.kind == Type::Ok)?.value {
        Value::Delivered {
            consumer,
            claim,
            entries,
        } => Some((consumer.as_str(), entries.as_slice(), *claim)),
        Value::AutoClaimed {
            consumer, entries, ..
        } => Some((consumer.as_str(), entries.as_slice(), true)),
        _ => None,
    }
}

fn check_stream(key: &str, s: &Stream<'_>, report: &mut GroupReport) {
    let mut push = |kind: &'static str, detail: String| {
        report.anomalies.push(Anomaly {
            kind,
            key: key.to_string(),
            detail,
        })
    };
    let fin: HashMap<Id, &str> = s
        .final_log
        .as_ref()
        .map(|f| f.iter().map(|(i, p)| (*i, p.as_str())).collect())
        .unwrap_or_default();
    if s.final_log.is_none() {
        push(
            "no-final-read",
            "the stream was never read after healing".into(),
        );
    }

    // Definite hand-outs, in completion order.
    let mut outs: Vec<Out<'_, '_>> = Vec::new();
    for op in &s.ops {
        if let Some((consumer, entries, claim)) = handed_out(op) {
            let parsed = entries
                .iter()
                .filter_map(|(i, p)| id(i).map(|i| (i, p.as_str())))
                .collect();
            outs.push((op, consumer, parsed, claim));
        }
    }
    outs.sort_by_key(|(op, ..)| op.completed_at());
    report.deliveries += outs
        .iter()
        .filter(|o| !o.3)
        .map(|o| o.2.len())
        .sum::<usize>();
    report.claims += outs
        .iter()
        .filter(|o| o.3)
        .map(|o| o.2.len())
        .sum::<usize>();

    // G1.
    if s.final_log.is_some() {
        for (op, _, entries, _) in &outs {
            for (i, p) in entries {
                match fin.get(i) {
                    Some(fp) if fp == p => {}
                    Some(fp) => push(
                        "delivery-mismatch",
                        format!(
                            "{} handed out {i} as {p:?}; the log has {fp:?}",
                            op.invoke.f
                        ),
                    ),
                    None => push(
                        "delivery-not-in-log",
                        format!("{} handed out {i} {p:?}, not in the final log", op.invoke.f),
                    ),
                }
            }
        }
    }

    // G2.
    let reads: Vec<&Out<'_, '_>> = outs.iter().filter(|o| !o.3).collect();
    let mut given: HashSet<Id> = HashSet::new();
    for (_, consumer, entries, _) in &reads {
        for (i, _) in entries {
            if !given.insert(*i) {
                push(
                    "double-delivery",
                    format!("`>` handed out {i} twice (again to {consumer})"),
                );
            }
        }
    }
    let mut by_invoke = reads.clone();
    by_invoke.sort_by_key(|o| o.0.invoked_at());
    let (mut j, mut highest) = (0, None::<Id>);
    for r in &by_invoke {
        while j < reads.len() && reads[j].0.completed_at() < r.0.invoked_at() {
            highest = highest.max(reads[j].2.iter().map(|(i, _)| *i).max());
            j += 1;
        }
        if let (Some(h), Some(lo)) = (highest, r.2.iter().map(|(i, _)| *i).min()) {
            if lo <= h {
                push(
                    "delivery-order",
                    format!("`>` handed out {lo} after an earlier read had handed out {h}"),
                );
            }
        }
    }

    // Acks.
    let mut acked_ok: HashMap<Id, u64> = HashMap::new(); // id -> completion time of an XACK returning 1
    let mut ack_invoked: Vec<(u64, Id)> = Vec::new();
    let mut ack_unknown: HashSet<Id> = HashSet::new();
    for op in s.ops.iter().filter(|o| o.invoke.f == "xack") {
        let Value::Ack { id: i, .. } = &op.invoke.value else {
            continue;
        };
        let Some(i) = id(i) else { continue };
        report.acks += 1;
        ack_invoked.push((op.invoked_at(), i));
        match op.complete.map(|c| (c.kind, &c.value)) {
            Some((Type::Ok, Value::Ack { count: Some(1), .. })) => {
                acked_ok.entry(i).or_insert(op.completed_at());
            }
            Some((Type::Ok, _)) | Some((Type::Fail, _)) => {}
            _ => {
                ack_unknown.insert(i);
            }
        }
    }

    // G5: a claim invoked after an XACK of the ID returned 1.
    for (op, consumer, entries, claim) in &outs {
        if !claim {
            continue;
        }
        for (i, _) in entries {
            if let Some(t) = acked_ok.get(i) {
                if *t < op.invoked_at() {
                    push(
                        "redelivery-after-ack",
                        format!(
                            "{} handed {i} to {consumer} after it was acked",
                            op.invoke.f
                        ),
                    );
                }
            }
        }
    }

    // G7 (deleted IDs) and G8.
    for op in &s.ops {
        if let Some(Value::AutoClaimed { deleted, .. }) =
            op.complete.filter(|c| c.kind == Type::Ok).map(|c| &c.value)
        {
            for d in deleted.iter().filter_map(|d| id(d)) {
                if fin.contains_key(&d) {
                    push(
                        "deleted-but-present",
                        format!("xautoclaim reported {d} deleted; the log has it"),
                    );
                }
            }
        }
    }
    let mut infos: Vec<(u64, u64, Id)> = s
        .ops
        .iter()
        .filter_map(
            |op| match op.complete.filter(|c| c.kind == Type::Ok).map(|c| &c.value) {
                Some(Value::LastDelivered { last_delivered }) => {
                    id(last_delivered).map(|i| (op.invoked_at(), op.completed_at(), i))
                }
                _ => None,
            },
        )
        .collect();
    infos.sort_by_key(|x| x.1);
    for (k, a) in infos.iter().enumerate() {
        for b in &infos[k + 1..] {
            if a.1 < b.0 && b.2 < a.2 {
                push(
                    "last-delivered-decreased",
                    format!("last-delivered-id went from {} to {}", a.2, b.2),
                );
            }
        }
    }

    // G6: XPENDING within bounds.
    let unknown_handouts: Vec<u64> = s
        .ops
        .iter()
        .filter(|o| matches!(o.invoke.f.as_str(), "xreadgroup" | "xclaim" | "xautoclaim"))
        .filter(|o| o.outcome() != Type::Ok && o.outcome() != Type::Fail)
        .map(|o| o.invoked_at())
        .collect();
    for op in s.ops.iter().filter(|o| o.invoke.f == "xpending") {
        let Some(Value::PendingCount { pending }) =
            op.complete.filter(|c| c.kind == Type::Ok).map(|c| &c.value)
        else {
            continue;
        };
        // Definitely pending: handed out (by `>`) before the call, no XACK of it invoked
        // before the call completed.
        let lower = reads
            .iter()
            .filter(|o| o.0.completed_at() < op.invoked_at())
            .flat_map(|o| o.2.iter().map(|(i, _)| *i))
            .filter(|i| {
                !ack_invoked
                    .iter()
                    .any(|(t, a)| a == i && *t < op.completed_at())
            })
            .collect::<HashSet<Id>>()
            .len() as u64;
        if *pending < lower {
            push(
                "pending-too-low",
                format!("XPENDING said {pending}; at least {lower} were pending"),
            );
        }
        // Possibly pending: handed out by anything invoked before the call completed, minus
        // what an XACK returning 1 removed before the call was invoked. Unknown hand-outs
        // leave no upper bound.
        if !unknown_handouts.iter().any(|t| *t < op.completed_at()) {
            let upper = outs
                .iter()
                .filter(|o| o.0.invoked_at() < op.completed_at())
                .flat_map(|o| o.2.iter().map(|(i, _)| *i))
                .filter(|i| acked_ok.get(i).is_none_or(|t| *t >= op.invoked_at()))
                .collect::<HashSet<Id>>()
                .len() as u64;
            if *pending > upper {
                push(
                    "pending-too-high",
                    format!("XPENDING said {pending}; at most {upper} could be pending"),
                );
            }
        }
    }

    let Some((pel, last_delivered, drained)) = &s.final_group else {
        push(
            "no-final-group",
            "the group was never swept after healing".into(),
        );
        return;
    };
    let pel_ids: HashMap<Id, &str> = pel.iter().map(|(i, c)| (*i, c.as_str())).collect();
    // G8 against the final state.
    if let Some(max) = infos.iter().map(|x| x.2).max() {
        if *last_delivered < max {
            push(
                "last-delivered-decreased",
                format!("final last-delivered-id {last_delivered} < {max} seen before"),
            );
        }
    }
    // G3.
    let handed: HashSet<Id> = outs
        .iter()
        .flat_map(|o| o.2.iter().map(|(i, _)| *i))
        .collect();
    if let Some(f) = &s.final_log {
        for (i, _) in f.iter().filter(|(i, _)| i <= last_delivered) {
            if !handed.contains(i)
                && !pel_ids.contains_key(i)
                && !acked_ok.contains_key(i)
                && !ack_unknown.contains(i)
            {
                push(
                    "skipped",
                    format!("{i} <= last-delivered-id {last_delivered} was never handed out"),
                );
            }
        }
    }
    for (i, _) in pel {
        if !fin.contains_key(i) && s.final_log.is_some() {
            push(
                "pel-not-in-log",
                format!("the final PEL holds {i}, not in the log"),
            );
        }
    }
    // G7: owners. The last definite hand-out of an ID decides its owner, unless another
    // hand-out of it overlaps that one in time or a claim's outcome is unknown.
    let unknown_claims = s.ops.iter().any(|o| {
        matches!(o.invoke.f.as_str(), "xclaim" | "xautoclaim")
            && o.outcome() != Type::Ok
            && o.outcome() != Type::Fail
    });
    if !unknown_claims {
        let mut windows: HashMap<Id, Vec<(u64, u64, &str)>> = HashMap::new();
        for (op, consumer, entries, _) in &outs {
            for (i, _) in entries {
                windows
                    .entry(*i)
                    .or_default()
                    .push((op.invoked_at(), op.completed_at(), consumer));
            }
        }
        for (i, c) in pel {
            let Some(w) = windows.get(i) else { continue };
            let last = w.iter().max_by_key(|x| x.1).expect("non-empty");
            let overlapped = w.iter().any(|x| x != last && x.1 > last.0);
            if !overlapped && last.2 != c {
                push(
                    "claim-owner",
                    format!("{i} is pending for {c}; it was last handed to {}", last.2),
                );
            }
        }
    }
    // G4, and with it G9 (consumers abandoned mid-run hold entries they never ack: others
    // must reclaim and ack them). A drained group has an empty PEL, and every acknowledged
    // XADD, as every entry of the final log (an unknown XADD that took effect too), was
    // acked.
    if *drained {
        if !pel.is_empty() {
            let mut owners: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, c) in pel {
                *owners.entry(c.as_str()).or_default() += 1;
            }
            let owners: Vec<String> = owners.iter().map(|(c, n)| format!("{c}: {n}")).collect();
            push(
                "not-drained",
                format!(
                    "{} entries still pending after the drain ({})",
                    pel.len(),
                    owners.join(", ")
                ),
            );
        }
        // The last definite owner of each ID (`outs` is in completion order).
        let mut owner: HashMap<Id, &str> = HashMap::new();
        for (_, consumer, entries, _) in &outs {
            for (i, _) in entries {
                owner.insert(*i, consumer);
            }
        }
        let adds: HashSet<Id> = s.acked_adds.iter().copied().collect();
        let mut must: Vec<Id> = s.acked_adds.clone();
        if let Some(f) = &s.final_log {
            must.extend(f.iter().map(|(i, _)| *i).filter(|i| !adds.contains(i)));
        }
        must.sort();
        must.dedup();
        for a in &must {
            // Acked for sure, or an unknown XACK of it and it is no longer pending.
            let acked =
                acked_ok.contains_key(a) || (ack_unknown.contains(a) && !pel_ids.contains_key(a));
            if !acked {
                let what = if adds.contains(a) {
                    "acknowledged XADD"
                } else {
                    "log entry (of an unknown XADD)"
                };
                let whose = match owner.get(a) {
                    Some(c) => format!("last handed to {c}"),
                    None => "never handed out".into(),
                };
                push(
                    "never-acked",
                    format!("{what} {a} was never delivered and acked ({whose})"),
                );
            }
        }
    }
}
