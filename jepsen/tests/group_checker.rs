//! The consumer-group checker on synthetic histories: each anomaly is detected; a clean
//! history (with unknown outcomes) passes.

use jepsen::group_checker::check_groups;
use jepsen::history::{Record, Type, Value};

#[derive(Default)]
struct H {
    records: Vec<Record>,
    t: u64,
}

fn e(entries: &[(&str, &str)]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|(i, p)| (i.to_string(), p.to_string()))
        .collect()
}

impl H {
    fn push(&mut self, process: u64, kind: Type, f: &str, value: Value) {
        self.t += 10;
        self.records.push(Record {
            index: self.records.len() as u64,
            time_ns: self.t,
            process,
            kind,
            f: f.into(),
            key: "s".into(),
            value,
            node: None,
            error: None,
        });
    }
    fn op(&mut self, p: u64, f: &str, invoke: Value, done: Type, value: Value) {
        self.push(p, Type::Invoke, f, invoke);
        self.push(p, done, f, value);
    }
    fn add(&mut self, payload: &str, id: &str) {
        self.op(
            1,
            "xadd",
            Value::Payload(payload.into()),
            Type::Ok,
            Value::Added {
                id: id.into(),
                payload: payload.into(),
            },
        );
    }
    fn deliver(&mut self, p: u64, consumer: &str, f: &str, claim: bool, entries: &[(&str, &str)]) {
        let c = Value::Consumer {
            consumer: consumer.into(),
        };
        self.op(
            p,
            f,
            c,
            Type::Ok,
            Value::Delivered {
                consumer: consumer.into(),
                claim,
                entries: e(entries),
            },
        );
    }
    fn read(&mut self, p: u64, consumer: &str, entries: &[(&str, &str)]) {
        self.deliver(p, consumer, "xreadgroup", false, entries);
    }
    fn ack(&mut self, p: u64, id: &str, kind: Type, count: Option<u64>) {
        let inv = Value::Ack {
            id: id.into(),
            count: None,
        };
        let done = Value::Ack {
            id: id.into(),
            count,
        };
        self.op(p, "xack", inv, kind, done);
    }
    fn pending(&mut self, n: u64) {
        self.op(
            9,
            "xpending",
            Value::None,
            Type::Ok,
            Value::PendingCount { pending: n },
        );
    }
    fn last_delivered(&mut self, id: &str) {
        self.op(
            9,
            "xinfo-group",
            Value::None,
            Type::Ok,
            Value::LastDelivered {
                last_delivered: id.into(),
            },
        );
    }
    fn finish(&mut self, log: &[(&str, &str)], pel: &[(&str, &str)], last: &str, drained: bool) {
        self.op(
            99,
            "final",
            Value::None,
            Type::Ok,
            Value::Read {
                after: None,
                entries: e(log),
            },
        );
        self.op(
            99,
            "final-group",
            Value::None,
            Type::Ok,
            Value::FinalGroup {
                pel: e(pel),
                last_delivered: last.into(),
                drained,
            },
        );
    }
    fn kinds(&self) -> Vec<&'static str> {
        check_groups(&self.records)
            .anomalies
            .iter()
            .map(|a| a.kind)
            .collect()
    }
}

const LOG: &[(&str, &str)] = &[("1-0", "a"), ("2-0", "b"), ("3-0", "c")];

/// Three entries; alice gets two, bob one; alice acks one, bob crashes; alice claims bob's.
fn base() -> H {
    let mut h = H::default();
    h.add("a", "1-0");
    h.add("b", "2-0");
    h.add("c", "3-0");
    h.read(2, "alice", &[("1-0", "a"), ("2-0", "b")]);
    h.read(3, "bob", &[("3-0", "c")]);
    h.ack(2, "1-0", Type::Ok, Some(1));
    h.pending(2);
    h.last_delivered("3-0");
    h.deliver(2, "alice", "xclaim", true, &[("3-0", "c")]);
    h
}

#[test]
fn a_clean_history_passes_and_a_drained_one_too() {
    let mut h = base();
    h.finish(LOG, &[("2-0", "alice"), ("3-0", "alice")], "3-0", false);
    let r = check_groups(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
    let mut h = base();
    h.ack(2, "2-0", Type::Ok, Some(1));
    h.ack(2, "3-0", Type::Info, None); // unknown, but the PEL shows it was acked
    h.finish(LOG, &[], "3-0", true);
    let r = check_groups(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
}

#[test]
fn deliveries_outside_the_log_are_detected() {
    let mut h = base();
    h.read(2, "alice", &[("4-0", "zzz")]);
    h.finish(
        LOG,
        &[("2-0", "alice"), ("3-0", "alice"), ("4-0", "alice")],
        "4-0",
        false,
    );
    let k = h.kinds();
    assert!(k.contains(&"delivery-not-in-log"), "{k:?}");
}

#[test]
fn double_deliveries_and_order_violations_are_detected() {
    let mut h = base();
    h.read(3, "bob", &[("2-0", "b")]);
    h.finish(LOG, &[("2-0", "bob"), ("3-0", "alice")], "3-0", false);
    let k = h.kinds();
    assert!(k.contains(&"double-delivery"), "{k:?}");
    assert!(k.contains(&"delivery-order"), "{k:?}");
}

#[test]
fn skipped_entries_are_detected() {
    let mut h = H::default();
    h.add("a", "1-0");
    h.add("b", "2-0");
    h.read(2, "alice", &[("2-0", "b")]);
    h.finish(
        &[("1-0", "a"), ("2-0", "b")],
        &[("2-0", "alice")],
        "2-0",
        false,
    );
    let k = h.kinds();
    assert!(k.contains(&"skipped"), "{k:?}");
}

#[test]
fn an_undrained_group_and_unacked_entries_are_detected() {
    let mut h = base();
    h.finish(LOG, &[("2-0", "alice")], "3-0", true);
    let k = h.kinds();
    assert!(k.contains(&"not-drained"), "{k:?}");
    assert!(k.contains(&"never-acked"), "{k:?}");
}

#[test]
fn redelivery_after_an_ack_is_detected() {
    let mut h = base();
    h.deliver(3, "bob", "xautoclaim", true, &[("1-0", "a")]);
    h.finish(
        LOG,
        &[("1-0", "bob"), ("2-0", "alice"), ("3-0", "alice")],
        "3-0",
        false,
    );
    let k = h.kinds();
    assert!(k.contains(&"redelivery-after-ack"), "{k:?}");
}

#[test]
fn pending_counts_out_of_bounds_are_detected() {
    let mut h = base();
    h.pending(0);
    h.pending(7);
    h.finish(LOG, &[("2-0", "alice"), ("3-0", "alice")], "3-0", false);
    let k = h.kinds();
    assert!(k.contains(&"pending-too-low"), "{k:?}");
    assert!(k.contains(&"pending-too-high"), "{k:?}");
}

#[test]
fn claims_that_do_not_move_ownership_are_detected() {
    let mut h = base();
    h.finish(LOG, &[("2-0", "alice"), ("3-0", "bob")], "3-0", false);
    let k = h.kinds();
    assert_eq!(k, vec!["claim-owner"]);
}

#[test]
fn deleted_ids_still_present_and_a_decreasing_last_delivered_id_are_detected() {
    let mut h = base();
    h.op(
        4,
        "xautoclaim",
        Value::Consumer {
            consumer: "carol".into(),
        },
        Type::Ok,
        Value::AutoClaimed {
            consumer: "carol".into(),
            next: "0-0".into(),
            entries: vec![],
            deleted: vec!["2-0".into()],
        },
    );
    h.last_delivered("2-0");
    h.finish(LOG, &[("2-0", "alice"), ("3-0", "alice")], "3-0", false);
    let k = h.kinds();
    assert!(k.contains(&"deleted-but-present"), "{k:?}");
    assert!(k.contains(&"last-delivered-decreased"), "{k:?}");
}

const LOG4: &[(&str, &str)] = &[("1-0", "a"), ("2-0", "b"), ("3-0", "c"), ("4-0", "d")];

/// G9: four entries; alice reads two and acks them; bob reads two and is abandoned (never
/// acks, never comes back).
fn abandoned() -> H {
    let mut h = H::default();
    for (i, p) in LOG4 {
        h.add(p, i);
    }
    h.read(2, "alice", &[("1-0", "a"), ("2-0", "b")]);
    h.read(3, "bob", &[("3-0", "c"), ("4-0", "d")]);
    h.ack(2, "1-0", Type::Ok, Some(1));
    h.ack(2, "2-0", Type::Ok, Some(1));
    h
}

fn autoclaim(h: &mut H, p: u64, consumer: &str, entries: &[(&str, &str)]) {
    h.op(
        p,
        "xautoclaim",
        Value::Consumer {
            consumer: consumer.into(),
        },
        Type::Ok,
        Value::AutoClaimed {
            consumer: consumer.into(),
            next: "0-0".into(),
            entries: e(entries),
            deleted: vec![],
        },
    );
}

#[test]
fn an_abandoned_consumers_entries_reclaimed_and_acked_pass() {
    let mut h = abandoned();
    autoclaim(&mut h, 2, "alice", &[("3-0", "c"), ("4-0", "d")]);
    h.ack(2, "3-0", Type::Ok, Some(1));
    h.ack(2, "4-0", Type::Ok, Some(1));
    h.pending(0);
    h.finish(LOG4, &[], "4-0", true);
    let r = check_groups(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
    assert_eq!((r.deliveries, r.claims, r.acks), (4, 2, 4));
}

#[test]
fn an_abandoned_consumers_entries_never_reclaimed_fail_g4() {
    // Still pending for bob after the drain.
    let mut h = abandoned();
    h.finish(LOG4, &[("3-0", "bob"), ("4-0", "bob")], "4-0", true);
    let r = check_groups(&h.records);
    let k: Vec<&str> = r.anomalies.iter().map(|a| a.kind).collect();
    assert!(k.contains(&"not-drained"), "{k:?}");
    assert_eq!(
        k.iter().filter(|k| **k == "never-acked").count(),
        2,
        "{k:?}"
    );
    assert!(
        r.anomalies
            .iter()
            .any(|a| a.kind == "never-acked" && a.detail.contains("last handed to bob")),
        "{:?}",
        r.anomalies
    );
    // Or the PEL forgot them (the sweep finds nothing) though nobody acked them.
    let mut h = abandoned();
    h.finish(LOG4, &[], "4-0", true);
    assert_eq!(h.kinds(), vec!["never-acked", "never-acked"]);
    // Reclaimed by XAUTOCLAIM but the reclaimer never acked one of them.
    let mut h = abandoned();
    autoclaim(&mut h, 2, "alice", &[("3-0", "c"), ("4-0", "d")]);
    h.ack(2, "3-0", Type::Ok, Some(1));
    h.finish(LOG4, &[("4-0", "alice")], "4-0", true);
    let k = h.kinds();
    assert!(k.contains(&"not-drained"), "{k:?}");
    assert!(k.contains(&"never-acked"), "{k:?}");
    // Without a drain, what bob holds is legitimately pending.
    let mut h = abandoned();
    h.finish(LOG4, &[("3-0", "bob"), ("4-0", "bob")], "4-0", false);
    let r = check_groups(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
}

#[test]
fn a_drained_group_must_have_acked_entries_of_unknown_adds_too() {
    let mut h = H::default();
    h.add("a", "1-0");
    h.push(1, Type::Invoke, "xadd", Value::Payload("b".into()));
    h.push(1, Type::Info, "xadd", Value::None);
    h.read(2, "alice", &[("1-0", "a")]);
    h.ack(2, "1-0", Type::Ok, Some(1));
    let log = &[("1-0", "a"), ("2-0", "b")];
    // The unknown XADD took effect; the drain claims it was done but nobody consumed 2-0.
    h.finish(log, &[], "1-0", true);
    let r = check_groups(&h.records);
    assert_eq!(
        r.anomalies.iter().map(|a| a.kind).collect::<Vec<_>>(),
        vec!["never-acked"]
    );
    assert!(
        r.anomalies[0].detail.contains("unknown XADD"),
        "{:?}",
        r.anomalies
    );
}
