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

impl H {
    /// An XREAD of a follower session: after `cursor`, these entries.
    fn follow(&mut self, p: u64, cursor: &str, entries: &[(&str, &str)]) {
        self.read(p, "xread", "s", Some(cursor), entries);
    }
    /// An exact `XTRIM s MINID minid` with this outcome (`removed` for ok).
    fn trim(&mut self, p: u64, minid: &str, outcome: Type, removed: u64) {
        let v = |removed| Value::Trim {
            minid: minid.into(),
            removed,
        };
        self.push(p, Type::Invoke, "xtrim", "s", v(None));
        match outcome {
            Type::Ok => self.push(p, Type::Ok, "xtrim", "s", v(Some(removed))),
            Type::Invoke => {}
            other => self.push(p, other, "xtrim", "s", Value::None),
        }
    }
}

const ALL: [(&str, &str); 3] = [("100-0", "1-0"), ("101-0", "2-0"), ("102-0", "1-1")];

#[test]
fn a_clean_follower_session_passes_and_reports_lag() {
    let mut h = H::default();
    h.follow(5, "0-0", &[]); // BLOCK timed out: an ok read with nothing
    h.add(1, "s", "1-0", "100-0");
    h.add(2, "s", "2-0", "101-0");
    h.follow(5, "0-0", &[("100-0", "1-0"), ("101-0", "2-0")]);
    h.follow(5, "101-0", &[]);
    h.add(1, "s", "1-1", "102-0");
    h.follow(5, "101-0", &[("102-0", "1-1")]);
    // A second session that started late, and one whose read was cut short by COUNT.
    h.follow(6, "0-0", &[("100-0", "1-0")]);
    h.follow(6, "100-0", &[("101-0", "2-0"), ("102-0", "1-1")]);
    finish(&mut h, &ALL);
    let r = check_log(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
    assert_eq!(r.follower_lag.samples, 6);
    assert!(r.follower_lag.p50_ms <= r.follower_lag.p99_ms);
    assert!(r.follower_lag.p99_ms <= r.follower_lag.max_ms && r.follower_lag.max_ms > 0.0);
}

#[test]
fn a_follower_read_that_skips_the_first_entry_after_its_cursor_is_a_gap() {
    let mut h = clean();
    h.follow(5, "0-0", &[("101-0", "2-0")]);
    finish(&mut h, &ALL);
    assert_eq!(h.kinds(), vec!["follower-gap"]);
}

#[test]
fn a_follower_read_of_an_entry_missing_from_the_final_log_is_reported() {
    let mut h = clean();
    h.invoke_add(7, "s", "7-0");
    h.follow(5, "102-0", &[("103-0", "7-0")]);
    h.end_add(7, "s", Type::Info);
    finish(&mut h, &ALL);
    assert_eq!(h.kinds(), vec!["lost-after-visible"]);
}

#[test]
fn a_session_whose_cursor_goes_backwards_is_detected() {
    let mut h = clean();
    h.follow(5, "101-0", &[("102-0", "1-1")]);
    h.follow(5, "100-0", &[("101-0", "2-0"), ("102-0", "1-1")]);
    finish(&mut h, &ALL);
    assert_eq!(h.kinds(), vec!["cursor-regression"]);
}

#[test]
fn a_follower_read_returning_its_cursor_is_a_cursor_regression() {
    let mut h = clean();
    h.follow(5, "101-0", &[("101-0", "2-0"), ("102-0", "1-1")]);
    finish(&mut h, &ALL);
    let k = h.kinds();
    assert!(k.contains(&"cursor-regression"), "{k:?}");
}

/// Four acknowledged adds, leader reads before and after a trim at `minid` with `outcome`.
fn trimmed(minid: &str, outcome: Type, removed: u64) -> H {
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
    h.trim(8, minid, outcome, removed);
    h
}

#[test]
fn acknowledged_entries_below_an_ok_trim_may_be_gone() {
    let mut h = trimmed("102-0", Type::Ok, 2);
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[("102-0", "1-1"), ("103-0", "2-1")],
    );
    // A follower that was behind reads on after the trim.
    h.follow(5, "100-0", &[("102-0", "1-1"), ("103-0", "2-1")]);
    h.add(1, "s", "1-2", "104-0");
    finish(
        &mut h,
        &[("102-0", "1-1"), ("103-0", "2-1"), ("104-0", "1-2")],
    );
    let r = check_log(&h.records);
    assert!(r.valid(), "{:?}", r.anomalies);
    assert_eq!((r.trims, r.trimmed, r.acknowledged), (1, 2, 5));
}

#[test]
fn an_unknown_trim_may_or_may_not_have_happened() {
    for outcome in [Type::Info, Type::Invoke] {
        let mut h = trimmed("102-0", outcome, 0);
        finish(&mut h, &[("102-0", "1-1"), ("103-0", "2-1")]);
        let r = check_log(&h.records);
        assert!(r.valid(), "{outcome:?}: {:?}", r.anomalies);
        let mut h = trimmed("102-0", outcome, 0);
        finish(
            &mut h,
            &[
                ("100-0", "1-0"),
                ("101-0", "2-0"),
                ("102-0", "1-1"),
                ("103-0", "2-1"),
            ],
        );
        let r = check_log(&h.records);
        assert!(r.valid(), "{outcome:?}: {:?}", r.anomalies);
    }
}

#[test]
fn an_acknowledged_entry_at_or_above_the_minid_missing_is_lost() {
    // MINID 101-0 removes only 100-0; 101-0 is gone too.
    let mut h = trimmed("101-0", Type::Ok, 1);
    finish(&mut h, &[("102-0", "1-1"), ("103-0", "2-1")]);
    let r = check_log(&h.records);
    let lost: Vec<_> = r.anomalies.iter().filter(|a| a.kind == "lost").collect();
    assert_eq!(lost.len(), 1, "{:?}", r.anomalies);
    assert!(lost[0].detail.contains("101-0"), "{lost:?}");
    // The reads that had seen it report the rollback, nothing else.
    let r = r.counts();
    assert_eq!(
        r.keys().copied().collect::<Vec<_>>(),
        ["lost", "lost-after-visible"]
    );
}

#[test]
fn entries_below_a_failed_trim_missing_are_lost() {
    let mut h = trimmed("102-0", Type::Fail, 0);
    finish(&mut h, &[("102-0", "1-1"), ("103-0", "2-1")]);
    let r = check_log(&h.records).counts();
    assert_eq!(r.get("lost"), Some(&2), "{r:?}");
    assert_eq!(
        r.keys().copied().collect::<Vec<_>>(),
        ["lost", "lost-after-visible"]
    );
}

#[test]
fn a_trim_cannot_remove_what_was_added_after_it_completed() {
    let mut h = trimmed("200-0", Type::Ok, 4);
    h.add(1, "s", "1-2", "150-0"); // a later add below the MINID (the trim ran first)
    finish(&mut h, &[]);
    let k = h.kinds();
    assert_eq!(k, vec!["lost"], "{k:?}");
}

#[test]
fn a_hole_in_the_final_log_is_not_a_trim() {
    // A trim at 103-0 could have removed 101-0, but then 100-0 would be gone too.
    let mut h = trimmed("103-0", Type::Info, 0);
    finish(
        &mut h,
        &[("100-0", "1-0"), ("102-0", "1-1"), ("103-0", "2-1")],
    );
    let k = h.kinds();
    assert!(k.contains(&"not-suffix"), "{k:?}");
    assert!(k.contains(&"lost"), "{k:?}");
}

#[test]
fn entries_an_ok_trim_must_have_removed_are_untrimmed_when_seen_again() {
    let mut h = trimmed("102-0", Type::Ok, 2);
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[("101-0", "2-0"), ("102-0", "1-1"), ("103-0", "2-1")],
    );
    finish(&mut h, &[("102-0", "1-1"), ("103-0", "2-1")]);
    assert_eq!(h.kinds(), vec!["untrimmed"]);
    let mut h = trimmed("102-0", Type::Ok, 2);
    finish(
        &mut h,
        &[("101-0", "2-0"), ("102-0", "1-1"), ("103-0", "2-1")],
    );
    assert_eq!(h.kinds(), vec!["untrimmed"]);
}

#[test]
fn stale_reads_are_still_detected_after_a_trim() {
    let mut h = trimmed("102-0", Type::Ok, 2);
    h.add(1, "s", "1-2", "104-0");
    // After 104-0 was acknowledged, a leader read misses it.
    h.read(
        3,
        "xrange",
        "s",
        None,
        &[("102-0", "1-1"), ("103-0", "2-1")],
    );
    finish(
        &mut h,
        &[("102-0", "1-1"), ("103-0", "2-1"), ("104-0", "1-2")],
    );
    assert_eq!(h.kinds(), vec!["stale-read"]);
}

#[test]
fn trim_histories_round_trip_through_jsonl() {
    let mut h = trimmed("102-0", Type::Ok, 2);
    finish(&mut h, &[("102-0", "1-1"), ("103-0", "2-1")]);
    let mut buf = Vec::new();
    jepsen::history::write_jsonl(&h.records, &mut buf).unwrap();
    let back = jepsen::history::read_jsonl(std::io::BufReader::new(&buf[..])).unwrap();
    assert_eq!(back, h.records);
    assert!(check_log(&back).valid());
}
