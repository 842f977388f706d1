//! The log checker (FAULTS.md L1-L9) over a stored history of XADDs, reads and trims of
//! streams. A pure function: history in, anomalies out.
//!
//! Each stream's final log F is its last `final` read (a leader read after healing, read until
//! stable). Checked per stream:
//! - L1 phantom: everything observed was attempted; aborted read: a definitely failed XADD is
//!   never observed.
//! - L2 duplicate: no payload twice in a read or in F.
//! - L3 one ID per payload and one payload per ID, across acknowledgements and observations.
//! - L4 reads strictly increase; leader reads (`xrange`, from the start) are prefixes of F
//!   (an entry read but missing from F is a rollback); a follower read (`xread` after a cursor)
//!   returns exactly the entries of F that follow the cursor (no gap, nothing outside F).
//!   Entries below the first ID of F that a trim may have removed are left out of both
//!   comparisons (see L9).
//! - L5 lost: every acknowledged XADD is in F at its acknowledged ID, unless it was
//!   legitimately trimmed (L9).
//! - L6 real-time order: an XADD acknowledged before another was invoked has the smaller ID.
//! - L7 leader reads are linearizable: a read contains every XADD acknowledged before it was
//!   invoked and still in F (else stale), nothing invoked after it completed (else future), and
//!   its part inside F is not shorter than that of a read that completed before it was invoked
//!   (else regression).
//! - L8 follower sessions: per process, successive `xread` cursors never go backwards and a
//!   read returns only entries above its cursor (`cursor-regression`). Follower lag is
//!   reported, never judged: for every entry a follower read returned whose XADD was
//!   acknowledged, the time from the acknowledgement to the read's completion (0 when the read
//!   completed first), as p50/p99/max over all streams ([`LagStats`]).
//! - L9 trimming with exact `XTRIM key MINID m`: a trim that may have happened (ok, info or
//!   never completed; not fail) may have removed any entry with ID < m whose XADD was invoked
//!   before the trim completed. An observed entry (acknowledged or read) missing from F is
//!   legitimately trimmed when such a trim covers it and its ID is below the first ID of F
//!   (F is a suffix of the log). Covered but above the first ID of F is a hole no trim
//!   explains (`not-suffix`, besides `lost` / `lost-after-visible`); not covered is a loss as
//!   usual. An entry acknowledged before an ok trim was invoked and below its MINID must be
//!   gone from F and from leader reads invoked after the trim completed (`untrimmed`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::history::{pair, Id, Op, Record, Type, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub kind: &'static str,
    pub key: String,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct LogReport {
    pub streams: usize,
    pub acknowledged: usize,
    pub failed: usize,
    pub unknown: usize,
    /// Unknown XADDs found in F (they may or may not have happened: both are fine).
    pub unknown_present: usize,
    pub reads: usize,
    /// XTRIM operations (any outcome).
    pub trims: usize,
    /// Acknowledged XADDs missing from F because a trim may have removed them (L9).
    pub trimmed: usize,
    /// Follower lag (L8), report only: never affects [`LogReport::valid`].
    pub follower_lag: LagStats,
    pub anomalies: Vec<Anomaly>,
}

/// Follower lag in milliseconds: for each entry returned by a follower read (`xread`) whose
/// XADD was acknowledged, read completion minus acknowledgement (0 when the follower returned
/// it before the writer heard back).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct LagStats {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LagStats {
    /// Nearest-rank quantiles of lags in nanoseconds.
    pub fn from_ns(mut lags: Vec<u64>) -> LagStats {
        if lags.is_empty() {
            return LagStats::default();
        }
        lags.sort_unstable();
        let q = |p: f64| {
            let rank = ((p * lags.len() as f64).ceil() as usize).clamp(1, lags.len());
            lags[rank - 1] as f64 / 1e6
        };
        LagStats {
            samples: lags.len(),
            p50_ms: q(0.50),
            p99_ms: q(0.99),
            max_ms: q(1.0),
        }
    }
}

impl LogReport {
    pub fn valid(&self) -> bool {
        self.anomalies.is_empty()
    }

    /// How many anomalies of each kind.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for a in &self.anomalies {
            *m.entry(a.kind).or_insert(0) += 1;
        }
        m
    }
}

struct Add<'a> {
    op: Op<'a>,
    payload: String,
    id: Option<Id>,
}

struct Read {
    f: String,
    process: u64,
    after: Option<Id>,
    entries: Vec<(Id, String)>,
    invoked: u64,
    completed: u64,
    index: u64,
}

struct Trim<'a> {
    op: Op<'a>,
    minid: Id,
}

impl Trim<'_> {
    /// May this trim have removed an entry at `id` whose XADD was invoked at `added`?
    fn may_remove(&self, id: Id, added: u64) -> bool {
        self.op.outcome() != Type::Fail && id < self.minid && added < self.op.completed_at()
    }
}

pub fn check_log(history: &[Record]) -> LogReport {
    let mut report = LogReport::default();
    let (ops, problems) = pair(history);
    for p in problems {
        report.anomalies.push(Anomaly {
            kind: "malformed",
            key: String::new(),
            detail: p,
        });
    }
    let mut adds: BTreeMap<String, Vec<Add<'_>>> = BTreeMap::new();
    let mut reads: BTreeMap<String, Vec<Read>> = BTreeMap::new();
    let mut trims: BTreeMap<String, Vec<Trim<'_>>> = BTreeMap::new();
    for op in ops {
        if crate::liveness::is_liveness_op(&op.invoke.f) {
            continue;
        }
        let key = op.invoke.key.clone();
        match op.invoke.f.as_str() {
            "xadd" => {
                let Value::Payload(payload) = &op.invoke.value else {
                    report.anomalies.push(Anomaly {
                        kind: "malformed",
                        key,
                        detail: format!("record {}: xadd without a payload", op.invoke.index),
                    });
                    continue;
                };
                let payload = payload.clone();
                let id = match (op.outcome(), op.complete.map(|c| &c.value)) {
                    (Type::Ok, Some(Value::Added { id, .. })) => match Id::parse(id) {
                        Some(i) => Some(i),
                        None => {
                            report.anomalies.push(Anomaly {
                                kind: "malformed",
                                key: key.clone(),
                                detail: format!("bad id {id:?}"),
                            });
                            continue;
                        }
                    },
                    (Type::Ok, _) => {
                        report.anomalies.push(Anomaly {
                            kind: "malformed",
                            key: key.clone(),
                            detail: format!("record {}: ok xadd without an id", op.invoke.index),
                        });
                        continue;
                    }
                    _ => None,
                };
                adds.entry(key).or_default().push(Add { op, payload, id });
            }
            "xtrim" => {
                report.trims += 1;
                let minid = match &op.invoke.value {
                    Value::Trim { minid, .. } => Id::parse(minid),
                    _ => None,
                };
                let Some(minid) = minid else {
                    report.anomalies.push(Anomaly {
                        kind: "malformed",
                        key,
                        detail: format!("record {}: xtrim without a MINID", op.invoke.index),
                    });
                    continue;
                };
                trims.entry(key).or_default().push(Trim { op, minid });
            }
            "xrange" | "xread" | "final" => {
                let Some(c) = op.complete.filter(|c| c.kind == Type::Ok) else {
                    continue;
                };
                let Value::Read { after, entries } = &c.value else {
                    report.anomalies.push(Anomaly {
                        kind: "malformed",
                        key,
                        detail: format!("record {}: read without entries", c.index),
                    });
                    continue;
                };
                let mut parsed = Vec::with_capacity(entries.len());
                for (id, p) in entries {
                    match Id::parse(id) {
                        Some(i) => parsed.push((i, p.clone())),
                        None => report.anomalies.push(Anomaly {
                            kind: "malformed",
                            key: key.clone(),
                            detail: format!("record {}: bad id {id:?}", c.index),
                        }),
                    }
                }
                reads.entry(key).or_default().push(Read {
                    f: op.invoke.f.clone(),
                    process: op.invoke.process,
                    after: after.as_deref().and_then(Id::parse),
                    entries: parsed,
                    invoked: op.invoked_at(),
                    completed: c.time_ns,
                    index: c.index,
                });
            }
            _ => {}
        }
    }
    let keys: HashSet<&String> = adds.keys().chain(reads.keys()).collect();
    let mut keys: Vec<&String> = keys.into_iter().collect();
    keys.sort();
    report.streams = keys.len();
    let empty_adds = Vec::new();
    let empty_reads = Vec::new();
    let empty_trims = Vec::new();
    let mut lags = Vec::new();
    for key in keys {
        let s = Stream {
            key,
            adds: adds.get(key).unwrap_or(&empty_adds),
            reads: reads.get(key).unwrap_or(&empty_reads),
            trims: trims.get(key).unwrap_or(&empty_trims),
        };
        check_stream(&s, &mut report, &mut lags);
    }
    report.follower_lag = LagStats::from_ns(lags);
    report
}

/// One stream's operations.
struct Stream<'s, 'a> {
    key: &'s str,
    adds: &'s [Add<'a>],
    reads: &'s [Read],
    trims: &'s [Trim<'a>],
}

fn check_stream(s: &Stream<'_, '_>, report: &mut LogReport, lags: &mut Vec<u64>) {
    let (key, adds, reads, trims) = (s.key, s.adds, s.reads, s.trims);
    let mut push = |kind: &'static str, detail: String| {
        report.anomalies.push(Anomaly {
            kind,
            key: key.to_string(),
            detail,
        })
    };
    let by_payload: HashMap<&str, &Add<'_>> =
        adds.iter().map(|a| (a.payload.as_str(), a)).collect();
    let Some(final_read) = reads
        .iter()
        .filter(|r| r.f == "final")
        .max_by_key(|r| r.index)
    else {
        push(
            "no-final-read",
            "the stream was never read after healing".into(),
        );
        return;
    };
    let fin = &final_read.entries;
    let pos_of: HashMap<&str, usize> = fin
        .iter()
        .enumerate()
        .map(|(i, (_, p))| (p.as_str(), i))
        .collect();
    // L9: below the first ID of F (everything, when F is empty).
    let first_f = fin.first().map(|(id, _)| *id);
    let below_f = |id: Id| first_f.is_none_or(|f| id < f);
    // L9: a trim that may have happened may have removed the entry at `id` holding `p`.
    let trim_covers = |id: Id, p: &str| {
        let added = by_payload.get(p).map_or(0, |a| a.op.invoked_at());
        trims.iter().any(|t| t.may_remove(id, added))
    };
    let trim_note = |id: Id, p: &str| {
        if trim_covers(id, p) {
            " (a trim may have removed it, but the final log holds older entries)"
        } else {
            ""
        }
    };

    // L1, L2, L4 (ordering) for every observation, F included.
    for r in reads {
        let mut seen = HashSet::new();
        for (i, (id, p)) in r.entries.iter().enumerate() {
            match by_payload.get(p.as_str()) {
                None => push(
                    "phantom",
                    format!("{} read {p:?} at {id}, never written", r.f),
                ),
                Some(a) if a.op.outcome() == Type::Fail => push(
                    "aborted-read",
                    format!("{} read {p:?} at {id}, whose XADD definitely failed", r.f),
                ),
                _ => {}
            }
            if !seen.insert(p.as_str()) {
                push("duplicate", format!("{} returned {p:?} twice", r.f));
            }
            if i > 0 && r.entries[i - 1].0 >= *id {
                push(
                    "unordered-read",
                    format!("{} returned {} before {id}", r.f, r.entries[i - 1].0),
                );
            }
        }
    }
    // L3 across acknowledgements and observations.
    let mut observations: Vec<(Id, &str, &str)> = Vec::new();
    for a in adds {
        if let Some(id) = a.id {
            observations.push((id, a.payload.as_str(), "acknowledged"));
        }
    }
    for r in reads {
        for (id, p) in &r.entries {
            observations.push((*id, p.as_str(), r.f.as_str()));
        }
    }
    let mut id_of: HashMap<&str, Id> = HashMap::new();
    let mut payload_of: HashMap<Id, &str> = HashMap::new();
    for &(id, p, what) in &observations {
        if let Some(prev) = id_of.insert(p, id) {
            if prev != id {
                push(
                    "id-conflict",
                    format!("{p:?} seen at {prev} and at {id} ({what})"),
                );
            }
        }
        if let Some(prev) = payload_of.insert(id, p) {
            if prev != p {
                push(
                    "id-conflict",
                    format!("{id} holds {prev:?} and {p:?} ({what})"),
                );
            }
        }
    }
    // L9: F is a suffix of what was observed: an observed entry a trim could have removed but
    // at or above the first ID of F is a hole (a trim removes a prefix).
    let mut holes: BTreeMap<Id, &str> = BTreeMap::new();
    for &(id, p, _) in &observations {
        if !pos_of.contains_key(p) && !below_f(id) && trim_covers(id, p) {
            holes.insert(id, p);
        }
    }
    for (id, p) in holes {
        push(
            "not-suffix",
            format!(
                "{id} {p:?} is missing from the final log, which starts at {} (a trim removes only a prefix)",
                first_f.expect("not below an empty log")
            ),
        );
    }

    // L4: leader reads are prefixes of F, follower reads continue F after their cursor; in
    // both, entries below the first ID of F are checked against the trims instead.
    for r in reads.iter().filter(|r| r.f != "final") {
        let start = fin.partition_point(|(fid, _)| r.after.is_some_and(|c| *fid <= c));
        let mut k = 0;
        for (id, p) in &r.entries {
            if below_f(*id) {
                if !pos_of.contains_key(p.as_str()) && !trim_covers(*id, p) {
                    push(
                        "lost-after-visible",
                        format!(
                            "{} read {p:?} at {id}; the final log lacks it and no trim explains it",
                            r.f
                        ),
                    );
                }
                continue;
            }
            match fin.get(start + k) {
                Some((fid, fp)) if fid == id && fp == p => {}
                _ if !pos_of.contains_key(p.as_str()) => push(
                    "lost-after-visible",
                    format!(
                        "{} read {p:?} at {id}; the final log lacks it{}",
                        r.f,
                        trim_note(*id, p)
                    ),
                ),
                _ if r.f == "xrange" => push(
                    "not-prefix",
                    format!("xrange entry {k} of the final log's part is {id} {p:?}, the final log differs"),
                ),
                Some((fid, _)) => push(
                    "follower-gap",
                    format!(
                        "{} after {} returned {id} as entry {k}; the final log has {fid} there",
                        r.f,
                        r.after.map_or("-".into(), |c| c.to_string())
                    ),
                ),
                None => push("follower-gap", format!("{} returned {id} past the end", r.f)),
            }
            k += 1;
        }
    }

    // L5 lost, and the counts.
    for a in adds {
        match a.op.outcome() {
            Type::Ok => {
                report.acknowledged += 1;
                let id = a.id.expect("ok adds have ids");
                match pos_of.get(a.payload.as_str()) {
                    None if below_f(id) && trim_covers(id, &a.payload) => report.trimmed += 1,
                    None => push(
                        "lost",
                        format!(
                            "acknowledged {id} {:?} (process {}) is not in the final log{}",
                            a.payload,
                            a.op.invoke.process,
                            trim_note(id, &a.payload)
                        ),
                    ),
                    Some(&i) if fin[i].0 != id => push(
                        "lost",
                        format!(
                            "acknowledged at {id}, {:?} is at {} in the final log",
                            a.payload, fin[i].0
                        ),
                    ),
                    _ => {}
                }
            }
            Type::Fail => report.failed += 1,
            Type::Info | Type::Invoke => {
                report.unknown += 1;
                if pos_of.contains_key(a.payload.as_str()) {
                    report.unknown_present += 1;
                }
            }
        }
    }

    // L6 real-time order among acknowledged XADDs.
    let mut ok: Vec<&Add<'_>> = adds.iter().filter(|a| a.id.is_some()).collect();
    ok.sort_by_key(|a| a.op.completed_at());
    let mut by_invoke: Vec<&Add<'_>> = ok.clone();
    by_invoke.sort_by_key(|a| a.op.invoked_at());
    let mut j = 0;
    let mut max_before: Option<&Add<'_>> = None;
    for b in &by_invoke {
        while j < ok.len() && ok[j].op.completed_at() < b.op.invoked_at() {
            if max_before.is_none_or(|m| ok[j].id > m.id) {
                max_before = Some(ok[j]);
            }
            j += 1;
        }
        if let Some(m) = max_before {
            if m.id >= b.id {
                push(
                    "real-time-order",
                    format!(
                        "{:?} got {} although {:?} had been acknowledged at {} before it was invoked",
                        b.payload,
                        b.id.expect("ok"),
                        m.payload,
                        m.id.expect("ok")
                    ),
                );
            }
        }
    }

    // L7 leader reads, measured by their part inside F (trims shorten reads from the front).
    let mut leader_reads: Vec<&Read> = reads
        .iter()
        .filter(|r| r.f == "xrange" && r.after.is_none())
        .collect();
    let in_f = |r: &Read| r.entries.iter().filter(|(id, _)| !below_f(*id)).count();
    report.reads += reads.iter().filter(|r| r.f != "final").count();
    // Stale: an add acknowledged before the read was invoked (and in F) must be inside it.
    let mut done: Vec<(u64, usize)> = ok
        .iter()
        .filter_map(|a| {
            pos_of
                .get(a.payload.as_str())
                .map(|&p| (a.op.completed_at(), p))
        })
        .collect();
    done.sort();
    let mut prefix_max = Vec::with_capacity(done.len());
    let mut m = 0usize;
    for (_, p) in &done {
        m = m.max(p + 1);
        prefix_max.push(m);
    }
    for r in &leader_reads {
        let k = done.partition_point(|(t, _)| *t < r.invoked);
        let len = in_f(r);
        if k > 0 && prefix_max[k - 1] > len {
            push(
                "stale-read",
                format!(
                    "xrange invoked after {} entries of the final log were acknowledged returned {len} of them",
                    prefix_max[k - 1],
                ),
            );
        }
        for (id, p) in &r.entries {
            if let Some(a) = by_payload.get(p.as_str()) {
                if a.op.invoked_at() > r.completed {
                    push(
                        "future-read",
                        format!("xrange returned {id} {p:?} before its XADD was invoked"),
                    );
                }
            }
        }
    }
    leader_reads.sort_by_key(|r| r.completed);
    let mut by_inv = leader_reads.clone();
    by_inv.sort_by_key(|r| r.invoked);
    let (mut j, mut longest) = (0, 0usize);
    for r in by_inv {
        while j < leader_reads.len() && leader_reads[j].completed < r.invoked {
            longest = longest.max(in_f(leader_reads[j]));
            j += 1;
        }
        let len = in_f(r);
        if len < longest {
            push(
                "read-regression",
                format!(
                    "xrange returned {len} entries of the final log after one had returned {longest}"
                ),
            );
        }
    }

    // L8 follower sessions: cursors never go backwards, entries lie above the cursor; lag.
    let mut sessions: BTreeMap<u64, Vec<&Read>> = BTreeMap::new();
    for r in reads.iter().filter(|r| r.f == "xread") {
        sessions.entry(r.process).or_default().push(r);
    }
    for (process, mut rs) in sessions {
        rs.sort_by_key(|r| r.index);
        let mut prev: Option<Id> = None;
        for r in rs {
            let cursor = r.after.unwrap_or(Id(0, 0));
            if let Some(p) = prev.filter(|p| cursor < *p) {
                push(
                    "cursor-regression",
                    format!("process {process} read after {cursor} after having read after {p}"),
                );
            }
            prev = Some(prev.map_or(cursor, |p| p.max(cursor)));
            if let Some((id, _)) = r.entries.iter().find(|(id, _)| *id <= cursor) {
                push(
                    "cursor-regression",
                    format!("process {process}: xread after {cursor} returned {id}"),
                );
            }
            for (_, p) in &r.entries {
                if let Some(a) = by_payload.get(p.as_str()).filter(|a| a.id.is_some()) {
                    lags.push(r.completed.saturating_sub(a.op.completed_at()));
                }
            }
        }
    }

    // L9: an exact trim that returned ok removed every entry below its MINID acknowledged
    // before it was invoked; F and later leader reads must not hold one.
    for t in trims.iter().filter(|t| t.op.outcome() == Type::Ok) {
        let must_go = |p: &str, id: Id| {
            id < t.minid
                && by_payload
                    .get(p)
                    .is_some_and(|a| a.id.is_some() && a.op.completed_at() < t.op.invoked_at())
        };
        let what = format!(
            "XTRIM MINID {} (record {})",
            t.minid,
            t.op.complete.map_or(0, |c| c.index)
        );
        if let Some((id, p)) = fin.iter().find(|(id, p)| must_go(p, *id)) {
            push(
                "untrimmed",
                format!("the final log holds {id} {p:?}, acknowledged before {what} was invoked"),
            );
        }
        for r in leader_reads
            .iter()
            .filter(|r| r.invoked > t.op.completed_at())
        {
            if let Some((id, p)) = r.entries.iter().find(|(id, p)| must_go(p, *id)) {
                push(
                    "untrimmed",
                    format!(
                        "xrange (record {}) returned {id} {p:?}, acknowledged before {what} was invoked, after it completed",
                        r.index
                    ),
                );
            }
        }
    }
}
