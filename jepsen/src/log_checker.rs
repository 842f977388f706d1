//! The log checker (FAULTS.md L1-L7) over a stored history of XADDs and reads of streams.
//! A pure function: history in, anomalies out.
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
//! - L5 lost: every acknowledged XADD is in F at its acknowledged ID.
//! - L6 real-time order: an XADD acknowledged before another was invoked has the smaller ID.
//! - L7 leader reads are linearizable: a read contains every XADD acknowledged before it was
//!   invoked (else stale), nothing invoked after it completed (else future), and is not
//!   shorter than a read that completed before it was invoked (else regression).

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
    pub anomalies: Vec<Anomaly>,
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
    after: Option<Id>,
    entries: Vec<(Id, String)>,
    invoked: u64,
    completed: u64,
    index: u64,
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
    for op in ops {
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
    for key in keys {
        let a = adds.get(key).unwrap_or(&empty_adds);
        let r = reads.get(key).unwrap_or(&empty_reads);
        check_stream(key, a, r, &mut report);
    }
    report
}

fn check_stream(key: &str, adds: &[Add<'_>], reads: &[Read], report: &mut LogReport) {
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
    for (id, p, what) in observations {
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
    // L4: leader reads are prefixes of F, follower reads continue F after their cursor.
    for r in reads.iter().filter(|r| r.f != "final") {
        match (r.f.as_str(), r.after) {
            ("xrange", None) => {
                for (i, (id, p)) in r.entries.iter().enumerate() {
                    match fin.get(i) {
                        Some((fid, fp)) if fid == id && fp == p => {}
                        _ if !pos_of.contains_key(p.as_str()) => push(
                            "lost-after-visible",
                            format!("xrange read {p:?} at {id}; the final log lacks it"),
                        ),
                        _ => push(
                            "not-prefix",
                            format!("xrange entry {i} is {id} {p:?}, the final log differs"),
                        ),
                    }
                }
            }
            (_, after) => {
                let start = fin.partition_point(|(fid, _)| after.is_some_and(|c| *fid <= c));
                for (k, (id, p)) in r.entries.iter().enumerate() {
                    match fin.get(start + k) {
                        Some((fid, fp)) if fid == id && fp == p => {}
                        _ if !pos_of.contains_key(p.as_str()) => push(
                            "lost-after-visible",
                            format!("{} read {p:?} at {id}; the final log lacks it", r.f),
                        ),
                        Some((fid, _)) => push(
                            "follower-gap",
                            format!(
                                "{} after {} returned {id} as entry {k}; the final log has {fid} there",
                                r.f,
                                after.map_or("-".into(), |c| c.to_string())
                            ),
                        ),
                        None => push("follower-gap", format!("{} returned {id} past the end", r.f)),
                    }
                }
            }
        }
    }

    // L5 lost, and the counts.
    for a in adds {
        match a.op.outcome() {
            Type::Ok => {
                report.acknowledged += 1;
                let id = a.id.expect("ok adds have ids");
                match pos_of.get(a.payload.as_str()) {
                    None => push(
                        "lost",
                        format!(
                            "acknowledged {id} {:?} (process {}) is not in the final log",
                            a.payload, a.op.invoke.process
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

    // L7 leader reads.
    let mut leader_reads: Vec<&Read> = reads
        .iter()
        .filter(|r| r.f == "xrange" && r.after.is_none())
        .collect();
    report.reads += reads.iter().filter(|r| r.f != "final").count();
    // Stale: an add acknowledged before the read was invoked must be inside it.
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
        if k > 0 && prefix_max[k - 1] > r.entries.len() {
            push(
                "stale-read",
                format!(
                    "xrange invoked after {} entries were acknowledged returned {}",
                    prefix_max[k - 1],
                    r.entries.len()
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
            longest = longest.max(leader_reads[j].entries.len());
            j += 1;
        }
        if r.entries.len() < longest {
            push(
                "read-regression",
                format!(
                    "xrange returned {} entries after one had returned {longest}",
                    r.entries.len()
                ),
            );
        }
    }
}
