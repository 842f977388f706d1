//! The log checker on synthetic histories: every anomaly of FAULTS.md's log checker is
//! detected, and clean histories (including unknown outcomes either way) pass.

use jepsen::history::{Record, Type, Value};
use jepsen::log_checker::check_log;

/// Builds histories with a monotonic clock.
#[derive(Default)]
struct H {
    records: Vec<Record>,
    t: u64,
}

impl H {
    fn push(&mut self, process: u64, kind: Type, f: &str, key: &str, value: Value) {
        self.t += 10;
        self.records.push(Record {
            index: self.records.len() as u64,
            time_ns: self.t,
            process,
            kind,
            f: f.into(),
            key: key.into(),
            value,
            node: None,
            error: None,
        });
    }
    fn invoke_add(&mut self, p: u64, key: &str, payload: &str) {
        self.push(p, Type::Invoke, "xadd", key, Value::Payload(payload.into()));
    }
    fn ok_add(&mut self, p: u64, key: &str, payload: &str, id: &str) {
        self.push(
            p,
            Type::Ok,
            "xadd",
            key,
            Value::Added {
                id: id.into(),
                payload: payload.into(),
            },
        );
    }
    /// A complete, acknowledged XADD.
    fn add(&mut self, p: u64, key: &str, payload: &str, id: &str) {
        self.invoke_add(p, key, payload);
        self.ok_add(p, key, payload, id);
    }
    fn end_add(&mut self, p: u64, key: &str, kind: Type) {
        self.push(p, kind, "xadd", key, Value::None);
    }
    fn read(&mut self, p: u64, f: &str, key: &str, after: Option<&str>, entries: &[(&str, &str)]) {
        self.push(p, Type::Invoke, f, key, Value::None);
        self.push(
            p,
            Type::Ok,
            f,
            key,
            Value::Read {
                after: after.map(str::to_string),
                entries: entries
                    .iter()
                    .map(|(i, p)| (i.to_string(), p.to_string()))
                    .collect(),
            },
        );
    }
    fn kinds(&self) -> Vec<&'static str> {
        let report = check_log(&self.records);
        report.anomalies.iter().map(|a| a.kind).collect()
    }
}

/// Three acknowledged adds by two writers, a leader read, a follower read, the final read.
fn clean() -> H {
    let mut h = H::default();
    h.add(1, "s", "1-0", "100-0");
    h.add(2, "s", "2-0", "101-0");
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[("100-0", "1-0"), ("101-0", "2-0")],
    );
    h.add(1, "s", "1-1", "102-0");
    h.read(
        4,
        "xread",
        "s",
        Some("100-0"),
        &[("101-0", "2-0"), ("102-0", "1-1")],
    );
    h
}

fn finish(h: &mut H, entries: &[(&str, &str)]) {
    h.read(99, "final", "s", None, entries);
}

#[test]
fn a_clean_history_passes() {
    let mut h = clean();
    finish(
        &mut h,
        &[("100-0", "1-0"), ("101-0", "2-0"), ("102-0", "1-1")],
    );
    let r = check_log(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
    assert_eq!((r.acknowledged, r.reads), (3, 2));
}

#[test]
fn unknown_outcomes_may_be_present_or_absent_and_failures_absent() {
    let mut h = clean();
    h.invoke_add(5, "s", "5-0");
    h.end_add(5, "s", Type::Info);
    h.invoke_add(6, "s", "6-0");
    h.end_add(6, "s", Type::Info);
    h.invoke_add(7, "s", "7-0");
    h.end_add(7, "s", Type::Fail);
    h.invoke_add(8, "s", "8-0"); // never completed
    finish(
        &mut h,
        &[
            ("100-0", "1-0"),
            ("101-0", "2-0"),
            ("102-0", "1-1"),
            ("103-0", "6-0"),
        ],
    );
    let r = check_log(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
    assert_eq!((r.unknown, r.unknown_present, r.failed), (3, 1, 1));
}

#[test]
fn lost_writes_are_detected() {
    let mut h = clean();
    finish(&mut h, &[("100-0", "1-0"), ("101-0", "2-0")]);
    let k = h.kinds();
    assert!(k.contains(&"lost"), "{k:?}");
}

#[test]
fn duplicates_are_detected() {
    let mut h = clean();
    finish(
        &mut h,
        &[
            ("100-0", "1-0"),
            ("101-0", "2-0"),
            ("102-0", "1-1"),
            ("103-0", "1-1"),
        ],
    );
    let k = h.kinds();
    assert!(k.contains(&"duplicate"), "{k:?}");
    assert!(k.contains(&"id-conflict"), "{k:?}");
}

#[test]
fn phantoms_and_aborted_reads_are_detected() {
    let mut h = clean();
    h.invoke_add(7, "s", "7-0");
    h.end_add(7, "s", Type::Fail);
    finish(
        &mut h,
        &[
            ("100-0", "1-0"),
            ("101-0", "2-0"),
            ("102-0", "1-1"),
            ("103-0", "7-0"),
            ("104-0", "never"),
        ],
    );
    let k = h.kinds();
    assert!(k.contains(&"aborted-read"), "{k:?}");
    assert!(k.contains(&"phantom"), "{k:?}");
}

#[test]
fn stale_reads_are_detected() {
    let mut h = clean();
    // After 102-0 was acknowledged, a leader read returns only two entries.
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[("100-0", "1-0"), ("101-0", "2-0")],
    );
    finish(
        &mut h,
        &[("100-0", "1-0"), ("101-0", "2-0"), ("102-0", "1-1")],
    );
    let k = h.kinds();
    assert_eq!(k, vec!["stale-read"]);
}

#[test]
fn read_regressions_are_detected() {
    let mut h = H::default();
    h.add(1, "s", "1-0", "100-0");
    h.invoke_add(2, "s", "2-0");
    // 2-0's outcome is unknown, but a read saw it: a later read must see it too.
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[("100-0", "1-0"), ("101-0", "2-0")],
    );
    h.read(3, "xrange", "s", None, &[("100-0", "1-0")]);
    h.end_add(2, "s", Type::Info);
    finish(&mut h, &[("100-0", "1-0"), ("101-0", "2-0")]);
    let k = h.kinds();
    assert_eq!(k, vec!["read-regression"]);
}

#[test]
fn rollbacks_are_detected() {
    let mut h = clean();
    h.add(2, "s", "2-1", "103-0");
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[
            ("100-0", "1-0"),
            ("101-0", "2-0"),
            ("102-0", "1-1"),
            ("103-0", "2-1"),
        ],
    );
    // A new leader lost 103-0 after it had been read (and acknowledged).
    finish(
        &mut h,
        &[("100-0", "1-0"), ("101-0", "2-0"), ("102-0", "1-1")],
    );
    let k = h.kinds();
    assert!(k.contains(&"lost-after-visible"), "{k:?}");
    assert!(k.contains(&"lost"), "{k:?}");
}

#[test]
fn real_time_order_violations_are_detected() {
    let mut h = clean();
    // Acknowledged after 102-0 was, yet given a smaller ID.
    h.add(2, "s", "2-1", "99-0");
    finish(
        &mut h,
        &[
            ("99-0", "2-1"),
            ("100-0", "1-0"),
            ("101-0", "2-0"),
            ("102-0", "1-1"),
        ],
    );
    let k = h.kinds();
    assert!(k.contains(&"real-time-order"), "{k:?}");
}

#[test]
fn gaps_in_follower_reads_are_detected() {
    let mut h = clean();
    // After 100-0 a follower skipped 101-0.
    h.read(4, "xread", "s", Some("100-0"), &[("102-0", "1-1")]);
    finish(
        &mut h,
        &[("100-0", "1-0"), ("101-0", "2-0"), ("102-0", "1-1")],
    );
    let k = h.kinds();
    assert!(k.contains(&"follower-gap"), "{k:?}");
}

#[test]
fn unordered_reads_and_a_missing_final_read_are_detected() {
    let mut h = clean();
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[("101-0", "2-0"), ("100-0", "1-0")],
    );
    let k = h.kinds();
    assert!(k.contains(&"no-final-read"), "{k:?}");
    finish(
        &mut h,
        &[("100-0", "1-0"), ("101-0", "2-0"), ("102-0", "1-1")],
    );
    let k = h.kinds();
    assert!(k.contains(&"unordered-read"), "{k:?}");
}

#[test]
fn histories_round_trip_through_jsonl() {
    let mut h = clean();
    finish(
        &mut h,
        &[("100-0", "1-0"), ("101-0", "2-0"), ("102-0", "1-1")],
    );
    let mut buf = Vec::new();
    jepsen::history::write_jsonl(&h.records, &mut buf).unwrap();
    let back = jepsen::history::read_jsonl(std::io::BufReader::new(&buf[..])).unwrap();
    assert_eq!(back, h.records);
}
