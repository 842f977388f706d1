//! The history model of `../shared/docs/FAULTS.md`: one record per invocation and per
//! completion, stored as JSON lines (`history.jsonl`).
//!
//! `ok` = happened with this value; `fail` = certainly did not happen; `info` = unknown (may
//! take effect at any time after its invocation). A completion belongs to the latest
//! invocation of the same process; after an `info` the worker takes a new process id.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// A stream ID as `(ms, seq)`, parsed from `"ms-seq"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u64, pub u64);

impl Id {
    pub fn parse(s: &str) -> Option<Id> {
        let (ms, seq) = s.split_once('-')?;
        Some(Id(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// One stream entry as observed: `[id, payload]`.
pub type Entry = (String, String);

/// What an operation carried or returned. Consumer-group operations concern the stream's one
/// group (the workloads use one group per stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum Value {
    #[default]
    None,
    /// XADD invocation: the unique payload.
    Payload(String),
    /// XADD ok: the ID it was given.
    Added { id: String, payload: String },
    /// XAUTOCLAIM ok: what it claimed for `consumer`, its next cursor, the deleted IDs.
    AutoClaimed {
        consumer: String,
        next: String,
        entries: Vec<Entry>,
        deleted: Vec<String>,
    },
    /// XREADGROUP `>` ok (`claim: false`) or XCLAIM ok (`claim: true`): the entries handed
    /// to `consumer`.
    Delivered {
        consumer: String,
        claim: bool,
        entries: Vec<Entry>,
    },
    /// XACK of one ID: the invocation (`count` absent) and its reply (0 or 1).
    Ack { id: String, count: Option<u64> },
    /// XPENDING summary ok: the group's pending count.
    PendingCount { pending: u64 },
    /// The final sweep of the group after healing (`f = final-group`): its PEL as
    /// `[id, consumer]`, its last-delivered-id, and whether the run drained the group (every
    /// entry consumed and acknowledged) before it.
    // Before `LastDelivered`: untagged deserialization takes the first variant whose fields
    // are present, and `LastDelivered`'s one field is also `FinalGroup`'s.
    FinalGroup {
        pel: Vec<(String, String)>,
        last_delivered: String,
        drained: bool,
    },
    /// XINFO GROUPS ok: the group's last-delivered-id.
    LastDelivered { last_delivered: String },
    /// Invocation of a group operation by `consumer` (XREADGROUP, XCLAIM, XAUTOCLAIM).
    Consumer { consumer: String },
    /// A read: the cursor it read after (`None`: from the start) and what it returned.
    Read {
        after: Option<String>,
        entries: Vec<Entry>,
    },
    /// An exact `XTRIM key MINID minid`: the invocation (`removed` absent) and its reply (how
    /// many entries it removed). Kept last and keyed by `minid`, a field no other variant has,
    /// so that untagged deserialization never mistakes another variant for it or it for one.
    Trim { minid: String, removed: Option<u64> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub index: u64,
    /// One monotonic clock in the harness.
    pub time_ns: u64,
    pub process: u64,
    #[serde(rename = "type")]
    pub kind: Type,
    /// `xadd`, `xrange` (a leader read), `xread` (a follower read after a cursor), `xtrim`
    /// (an exact `XTRIM MINID`), `final` (the final read of a stream after healing, from the
    /// leader, read until stable).
    pub f: String,
    pub key: String,
    #[serde(default)]
    pub value: Value,
    #[serde(default)]
    pub node: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
}

pub fn write_jsonl(records: &[Record], mut out: impl Write) -> std::io::Result<()> {
    for r in records {
        serde_json::to_writer(&mut out, r)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub fn read_jsonl(input: impl BufRead) -> anyhow::Result<Vec<Record>> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| anyhow::anyhow!("history line {}: {e}", n + 1))?,
        );
    }
    Ok(out)
}

/// An operation: an invocation and its completion (`None`: never completed, which counts as
/// `info` with an infinite window).
#[derive(Debug, Clone)]
pub struct Op<'a> {
    pub invoke: &'a Record,
    pub complete: Option<&'a Record>,
}

impl Op<'_> {
    pub fn outcome(&self) -> Type {
        self.complete.map_or(Type::Info, |c| c.kind)
    }
    pub fn invoked_at(&self) -> u64 {
        self.invoke.time_ns
    }
    /// Completion time of a definite outcome; `u64::MAX` when unknown.
    pub fn completed_at(&self) -> u64 {
        match self.complete {
            Some(c) if c.kind != Type::Info => c.time_ns,
            _ => u64::MAX,
        }
    }
}

/// Pairs every invocation with the next completion of the same process, in history order.
pub fn pair(history: &[Record]) -> (Vec<Op<'_>>, Vec<String>) {
    let mut open: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let mut ops: Vec<Op<'_>> = Vec::new();
    let mut problems = Vec::new();
    for r in history {
        if r.kind == Type::Invoke {
            if let Some(prev) = open.insert(r.process, ops.len()) {
                problems.push(format!(
                    "process {} invoked record {} before record {} completed",
                    r.process, r.index, ops[prev].invoke.index
                ));
            }
            ops.push(Op {
                invoke: r,
                complete: None,
            });
        } else {
            match open.remove(&r.process) {
                Some(i) => ops[i].complete = Some(r),
                None => problems.push(format!(
                    "record {}: completion without an invocation (process {})",
                    r.index, r.process
                )),
            }
        }
    }
    (ops, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant comes back as itself through JSON: `Value` is untagged, so a variant whose
    /// fields another variant could absorb would silently change meaning in a stored history.
    #[test]
    fn every_value_round_trips_as_itself() {
        let e = |i: &str, p: &str| (i.to_string(), p.to_string());
        let values = vec![
            Value::None,
            Value::Payload("1-0".into()),
            Value::Added {
                id: "5-0".into(),
                payload: "1-0".into(),
            },
            Value::AutoClaimed {
                consumer: "c".into(),
                next: "0-0".into(),
                entries: vec![e("5-0", "1-0")],
                deleted: vec!["4-0".into()],
            },
            Value::Delivered {
                consumer: "c".into(),
                claim: true,
                entries: vec![],
            },
            Value::Ack {
                id: "5-0".into(),
                count: None,
            },
            Value::Ack {
                id: "5-0".into(),
                count: Some(1),
            },
            Value::PendingCount { pending: 3 },
            Value::LastDelivered {
                last_delivered: "5-0".into(),
            },
            Value::FinalGroup {
                pel: vec![("5-0".into(), "c".into())],
                last_delivered: "5-0".into(),
                drained: false,
            },
            Value::Consumer {
                consumer: "c".into(),
            },
            Value::Read {
                after: None,
                entries: vec![],
            },
            Value::Read {
                after: Some("5-0".into()),
                entries: vec![e("6-0", "1-1")],
            },
            Value::Trim {
                minid: "5-0".into(),
                removed: None,
            },
            Value::Trim {
                minid: "5-0".into(),
                removed: Some(0),
            },
            Value::Trim {
                minid: "5-0".into(),
                removed: Some(7),
            },
        ];
        for v in values {
            let json = serde_json::to_string(&v).unwrap();
            let back: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(back, v, "{json}");
        }
        // A stored trim record reads back as a trim.
        let r: Record = serde_json::from_str(
            r#"{"index":3,"time_ns":9,"process":2,"type":"ok","f":"xtrim","key":"s0","value":{"minid":"5-0","removed":2}}"#,
        )
        .unwrap();
        assert_eq!(
            r.value,
            Value::Trim {
                minid: "5-0".into(),
                removed: Some(2)
            }
        );
    }
}
