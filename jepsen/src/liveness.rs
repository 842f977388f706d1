//! L10, liveness (a verdict of its own): after the heal, every shard accepts writes within a
//! bound. The run records the heal (`f = "heal"`, one invoke/ok pair at the moment every fault
//! was removed) and then, for every shard, probe XADDs (`f = "probe"`, key = a key of that
//! shard, value = the shard's number as the payload) retried until one is acknowledged. The
//! checker measures, per shard, the time from the heal to the completion of the first
//! acknowledged probe.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{pair, Record, Type, Value};

/// Operations that belong to the liveness check (the other checkers skip them).
pub fn is_liveness_op(f: &str) -> bool {
    matches!(f, "heal" | "probe")
}

#[derive(Debug, Default, Serialize)]
pub struct LivenessReport {
    /// Shard -> milliseconds from the heal to its first acknowledged write (None: never).
    pub shards: BTreeMap<u32, Option<f64>>,
    pub bound_ms: f64,
    pub failures: Vec<String>,
}

impl LivenessReport {
    pub fn valid(&self) -> bool {
        self.failures.is_empty()
    }
    pub fn worst_ms(&self) -> Option<f64> {
        self.shards
            .values()
            .map(|v| v.unwrap_or(f64::INFINITY))
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    }
}

/// `None` when the history has no heal record (a run without the liveness phase).
pub fn check_liveness(history: &[Record], bound_ms: f64) -> Option<LivenessReport> {
    let (ops, _) = pair(history);
    let heal = ops
        .iter()
        .filter(|o| o.invoke.f == "heal")
        .map(|o| o.invoke.time_ns)
        .max()?;
    let mut report = LivenessReport {
        bound_ms,
        ..LivenessReport::default()
    };
    for o in ops.iter().filter(|o| o.invoke.f == "probe") {
        let Value::Payload(shard) = &o.invoke.value else {
            continue;
        };
        let Ok(shard) = shard.parse::<u32>() else {
            continue;
        };
        let done = match o.complete {
            Some(c) if c.kind == Type::Ok => Some(c.time_ns.saturating_sub(heal) as f64 / 1e6),
            _ => None,
        };
        let e = report.shards.entry(shard).or_insert(None);
        if let Some(ms) = done {
            *e = Some(e.map_or(ms, |m: f64| m.min(ms)));
        }
    }
    for (shard, ms) in &report.shards {
        match ms {
            None => report
                .failures
                .push(format!("shard {shard} accepted no write after the heal")),
            Some(ms) if *ms > bound_ms => report.failures.push(format!(
                "shard {shard} accepted writes {ms:.0} ms after the heal (bound {bound_ms:.0} ms)"
            )),
            _ => {}
        }
    }
    if report.shards.is_empty() {
        report
            .failures
            .push("no shard was probed after the heal".into());
    }
    Some(report)
}

/// The liveness phase, right after the heal: records the heal, then for every shard retries
/// an XADD to a key of that shard until one is acknowledged or `give_up` has passed.
pub fn probe(
    proxy: std::net::SocketAddr,
    shard_keys: &[(u32, String)],
    rec: &crate::run::Recorder,
    give_up: std::time::Duration,
) {
    use crate::client::Client;
    use std::time::{Duration, Instant};
    let process = rec.process();
    rec.push(process, Type::Invoke, "heal", "", Value::None, None);
    rec.push(process, Type::Ok, "heal", "", Value::None, None);
    let deadline = Instant::now() + give_up;
    let threads: Vec<_> = shard_keys
        .iter()
        .cloned()
        .map(|(shard, key)| {
            let rec = rec.clone();
            std::thread::spawn(move || {
                let mut client = Client::new(proxy, Duration::from_secs(2));
                let mut process = rec.process();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let payload = shard.to_string();
                    rec.push(
                        process,
                        Type::Invoke,
                        "probe",
                        &key,
                        Value::Payload(payload),
                        None,
                    );
                    n += 1;
                    let p = format!("probe-{shard}-{n}");
                    let o = client.call(&[b"XADD", key.as_bytes(), b"*", b"p", p.as_bytes()]);
                    let (kind, _, error) = crate::run::add_outcome(o, &p);
                    rec.push(process, kind, "probe", &key, Value::None, error);
                    if kind == Type::Ok {
                        return;
                    }
                    if kind == Type::Info {
                        client.reset();
                        process = rec.process();
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(index: u64, ms: u64, process: u64, kind: Type, f: &str, value: Value) -> Record {
        Record {
            index,
            time_ns: ms * 1_000_000,
            process,
            kind,
            f: f.into(),
            key: "k".into(),
            value,
            node: None,
            error: None,
        }
    }

    fn history(probe_ok_at: &[(u32, u64, Type)]) -> Vec<Record> {
        let mut h = vec![
            rec(0, 1_000, 1, Type::Invoke, "heal", Value::None),
            rec(1, 1_000, 1, Type::Ok, "heal", Value::None),
        ];
        for (i, (shard, at, kind)) in probe_ok_at.iter().enumerate() {
            let p = 10 + i as u64;
            let n = h.len() as u64;
            let v = Value::Payload(shard.to_string());
            h.push(rec(n, at - 5, p, Type::Invoke, "probe", v));
            h.push(rec(n + 1, *at, p, *kind, "probe", Value::None));
        }
        h
    }

    #[test]
    fn shards_that_accept_writes_soon_after_the_heal_pass() {
        let h = history(&[
            (0, 1_200, Type::Ok),
            (1, 1_300, Type::Fail),
            (1, 2_500, Type::Ok),
        ]);
        let r = check_liveness(&h, 10_000.0).expect("a heal");
        assert!(r.valid(), "{r:?}");
        assert_eq!(r.shards[&1], Some(1_500.0));
        assert_eq!(r.worst_ms(), Some(1_500.0));
    }

    #[test]
    fn a_shard_that_stays_unavailable_or_comes_back_late_fails() {
        let h = history(&[(0, 30_000, Type::Ok), (1, 1_300, Type::Info)]);
        let r = check_liveness(&h, 10_000.0).expect("a heal");
        assert_eq!(r.failures.len(), 2, "{r:?}");
    }

    #[test]
    fn no_heal_no_verdict() {
        assert!(check_liveness(&[], 1.0).is_none());
    }
}
