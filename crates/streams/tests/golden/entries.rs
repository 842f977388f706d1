//! Golden tests of the entry commands (XADD, XTRIM, XDEL, XSETID, XLEN, XRANGE, XREVRANGE,
//! XREAD): command in, exact RESP2 and RESP3 bytes out. Expected texts follow Redis 8.0 (see
//! /work/shared/docs/streams-semantics.md §2–§6, §11); the version-independent ones were also
//! checked against a live redis-server.
use crate::common::{args, golden, golden2, run, run_ctx, wire};
use bytes::Bytes;
use resp::{Protocol, Reply};
use streams::{execute, parse, Command, Ctx, Db, Prepared, StreamId, Value};

// ------------------------------------------------------------------ wire builders

use crate::common::{a, b, err, i};
const OK: &str = "+OK\\r\\n";
const NULLA2: &str = "*-1\\r\\n";
const NULL3: &str = "_\\r\\n";
/// An entry `[id, [f, v, ...]]`.
fn ent(id: &str, fv: &[&str]) -> String {
    let mut s = a(2) + &b(id) + &a(fv.len());
    for x in fv {
        s += &b(x);
    }
    s
}
/// Entries with the same single field/value pair.
fn ents(ids: &[&str]) -> String {
    let mut s = a(ids.len());
    for id in ids {
        s += &ent(id, &["f", "v"]);
    }
    s
}
/// The XREAD top level over `(key, entries-wire)` pairs: RESP2 `*n` of `[key, entries]`,
/// RESP3 `%n` of `key → entries`.
fn xread(p3: bool, streams: &[(&str, String)]) -> String {
    let mut s = if p3 {
        format!("%{}\\r\\n", streams.len())
    } else {
        a(streams.len())
    };
    for (k, e) in streams {
        if !p3 {
            s += &a(2);
        }
        s += &b(k);
        s += e;
    }
    s
}
/// Asserts a reply built per protocol.
#[track_caller]
fn golden_p(db: &mut Db, now_ms: u64, line: &str, f: impl Fn(bool) -> String) {
    golden(db, now_ms, line, &f(false), &f(true));
}

const E_INVALID: &str = "ERR Invalid stream ID specified as stream command argument";
const E_SYNTAX: &str = "ERR syntax error";
const E_NOT_INT: &str = "ERR value is not an integer or out of range";
const E_WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const E_NOT_GREATER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const E_EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
const MAX_ID: &str = "18446744073709551615-18446744073709551615";

fn with_string(key: &str) -> Db {
    let mut db = Db::new();
    assert_eq!(run(&mut db, 0, &format!("SET {key} x")), Reply::ok());
    db
}

fn ctx(now_ms: u64, node_max_entries: u64) -> Ctx {
    Ctx {
        now_ms,
        node_max_entries,
    }
}

fn len(db: &mut Db, key: &str) -> i64 {
    match run(db, 0, &format!("XLEN {key}")) {
        Reply::Integer(n) => n,
        other => panic!("XLEN {key}: {other:?}"),
    }
}

fn stream<'a>(db: &'a Db, key: &str) -> &'a streams::Stream {
    match db.stream(key.as_bytes()) {
        Ok(Some(s)) => s,
        other => panic!("{key} is not a stream: {other:?}"),
    }
}

/// Adds `n` entries with `*` (one per ms from `t0`), node size `node_max_entries`.
fn fill(db: &mut Db, key: &str, n: u64, node_max_entries: u64) {
    for t in 1..=n {
        let r = run_ctx(db, ctx(t, node_max_entries), &format!("XADD {key} * f v"));
        assert!(matches!(r, Reply::Bulk(_)), "{r:?}");
    }
}

// ------------------------------------------------------------------ XADD: IDs

#[test]
fn xadd_explicit_ids() {
    let mut db = Db::new();
    golden2(&mut db, 0, "XADD s 1-1 f v", &b("1-1"));
    golden2(&mut db, 0, "XADD s 01-02 f v", &b("1-2"));
    golden2(&mut db, 0, "XADD s 2 f v", &b("2-0"));
    golden2(&mut db, 0, "XADD s 2-0 f v", &err(E_NOT_GREATER));
    golden2(&mut db, 0, "XADD s 1-5 f v", &err(E_NOT_GREATER));
    golden2(&mut db, 0, "XLEN s", &i(3));
}

#[test]
fn xadd_zero_id_is_rejected_before_the_key_lookup() {
    let mut db = with_string("str");
    golden2(
        &mut db,
        0,
        "XADD s 0-0 f v",
        &err("ERR The ID specified in XADD must be greater than 0-0"),
    );
    golden2(
        &mut db,
        0,
        "XADD s 0 f v",
        &err("ERR The ID specified in XADD must be greater than 0-0"),
    );
    assert!(!db.contains(b"s"), "nothing is created");
    golden2(
        &mut db,
        0,
        "XADD str 0-0 f v",
        &err("ERR The ID specified in XADD must be greater than 0-0"),
    );
    // `0-*` is not an explicit 0-0: on a new stream it becomes 0-1
    golden2(&mut db, 0, "XADD s 0-* f v", &b("0-1"));
}

#[test]
fn xadd_auto_id_uses_now_and_never_goes_back() {
    let mut db = Db::new();
    golden2(&mut db, 1000, "XADD s * f v", &b("1000-0"));
    // same ms: next sequence
    golden2(&mut db, 1000, "XADD s * f v", &b("1000-1"));
    // the clock went backwards: keep last.ms, count up
    golden2(&mut db, 999, "XADD s * f v", &b("1000-2"));
    golden2(&mut db, 5, "XADD s * f v", &b("1000-3"));
    golden2(&mut db, 1001, "XADD s * f v", &b("1001-0"));
    // an explicit ID in the future, then `*` with an older clock
    golden2(&mut db, 0, "XADD s 5000-7 f v", &b("5000-7"));
    golden2(&mut db, 2000, "XADD s * f v", &b("5000-8"));
}

#[test]
fn xadd_auto_id_after_a_full_sequence_moves_to_the_next_ms() {
    let mut db = Db::new();
    golden2(
        &mut db,
        0,
        "XADD s 5-18446744073709551615 f v",
        &b("5-18446744073709551615"),
    );
    golden2(&mut db, 3, "XADD s * f v", &b("6-0"));
}

#[test]
fn xadd_ms_star_ids() {
    let mut db = Db::new();
    golden2(&mut db, 0, "XADD s 5-* f v", &b("5-0"));
    golden2(&mut db, 0, "XADD s 5-* f v", &b("5-1"));
    golden2(&mut db, 0, "XADD s 4-* f v", &err(E_NOT_GREATER));
    golden2(&mut db, 0, "XADD s 7-* f v", &b("7-0"));
    golden2(
        &mut db,
        0,
        "XADD s 7-18446744073709551615 f v",
        &b("7-18446744073709551615"),
    );
    // the sequence is exhausted for this ms (7.2+ text)
    golden2(&mut db, 0, "XADD s 7-* f v", &err(E_NOT_GREATER));
    golden2(&mut db, 0, "XADD s 8-* f v", &b("8-0"));
}

#[test]
fn xadd_autos_within_one_ctx_get_consecutive_sequences() {
    let mut db = Db::new();
    let c = ctx(42, 100);
    for expect in ["42-0", "42-1", "42-2"] {
        let r = run_ctx(&mut db, c, "XADD s * f v");
        assert_eq!(wire(&r, Protocol::Resp2), b(expect));
    }
}

#[test]
fn xadd_exhausted_stream() {
    let mut db = Db::new();
    golden2(&mut db, 0, &format!("XADD s {MAX_ID} f v"), &b(MAX_ID));
    golden2(&mut db, 0, "XADD s * f v", &err(E_EXHAUSTED));
    golden2(&mut db, 0, "XADD s 1-* f v", &err(E_EXHAUSTED));
    golden2(&mut db, 0, "XADD s 1-1 f v", &err(E_EXHAUSTED));
    // exhaustion is about last_id, even when the stream is empty
    golden2(
        &mut db,
        0,
        "XDEL s 18446744073709551615-18446744073709551615",
        &i(1),
    );
    golden2(&mut db, 0, "XADD s * f v", &err(E_EXHAUSTED));
}

#[test]
fn xadd_nomkstream() {
    let mut db = Db::new();
    golden(&mut db, 0, "XADD s NOMKSTREAM * f v", "$-1\\r\\n", NULL3);
    golden(
        &mut db,
        0,
        "XADD s nomkstream MAXLEN 5 1-1 f v",
        "$-1\\r\\n",
        NULL3,
    );
    assert!(!db.contains(b"s"));
    golden2(&mut db, 0, "XADD s 1-1 f v", &b("1-1"));
    golden2(&mut db, 0, "XADD s NOMKSTREAM 2-1 f v", &b("2-1"));
    golden2(&mut db, 0, "XLEN s", &i(2));
}

#[test]
fn xadd_keeps_field_order_and_duplicates() {
    let mut db = Db::new();
    golden2(&mut db, 0, "XADD s 1-1 b 2 a 1 b 3", &b("1-1"));
    golden2(
        &mut db,
        0,
        "XRANGE s - +",
        &(a(1) + &ent("1-1", &["b", "2", "a", "1", "b", "3"])),
    );
}

#[test]
fn xadd_binary_key_and_fields() {
    let mut db = Db::new();
    let argv: Vec<Bytes> = vec![
        Bytes::from_static(b"XADD"),
        Bytes::from_static(b"k\0\r\n"),
        Bytes::from_static(b"1-1"),
        Bytes::from_static(b"f i"),
        Bytes::from_static(b""),
    ];
    let r = crate::common::run_args(&mut db, Ctx::default(), &argv);
    assert_eq!(wire(&r, Protocol::Resp2), b("1-1"));
    let s = db.stream(b"k\0\r\n").unwrap().unwrap();
    assert_eq!(
        s.entry(&StreamId::new(1, 1)),
        Some(&vec![Bytes::from_static(b"f i"), Bytes::new()])
    );
}

#[test]
fn xadd_wrongtype() {
    let mut db = with_string("str");
    golden2(&mut db, 0, "XADD str * f v", &err(E_WRONGTYPE));
    golden2(&mut db, 0, "XADD str NOMKSTREAM * f v", &err(E_WRONGTYPE));
}

// ------------------------------------------------------------------ XADD: parse errors

#[test]
fn xadd_arity() {
    let mut db = Db::new();
    let e = err("ERR wrong number of arguments for 'xadd' command");
    golden2(&mut db, 0, "XADD s * f", &e);
    golden2(&mut db, 0, "XADD s", &e);
    golden2(&mut db, 0, "XADD s * f v f2", &e);
    golden2(&mut db, 0, "XADD s MAXLEN 5 NOMKSTREAM", &e);
    golden2(&mut db, 0, "XADD s 1-1 f v x", &e);
    assert!(!db.contains(b"s"));
}

#[test]
fn xadd_option_errors() {
    let mut db = Db::new();
    golden2(&mut db, 0, "XADD s MAXLEN x * f v", &err(E_NOT_INT));
    golden2(&mut db, 0, "XADD s MAXLEN ~ x * f v", &err(E_NOT_INT));
    golden2(
        &mut db,
        0,
        "XADD s MAXLEN -1 * f v",
        &err("ERR The MAXLEN argument must be >= 0."),
    );
    golden2(
        &mut db,
        0,
        "XADD s MAXLEN ~ 1 LIMIT -1 * f v",
        &err("ERR The LIMIT argument must be >= 0."),
    );
    golden2(
        &mut db,
        0,
        "XADD s MAXLEN ~ 1 LIMIT x * f v",
        &err(E_NOT_INT),
    );
    golden2(
        &mut db,
        0,
        "XADD s LIMIT 5 * f v",
        &err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"),
    );
    // LIMIT 0 alone passes the first check and fails the second, as in Redis
    golden2(
        &mut db,
        0,
        "XADD s LIMIT 0 * f v",
        &err("ERR syntax error, LIMIT cannot be used without the special ~ option"),
    );
    golden2(
        &mut db,
        0,
        "XADD s MAXLEN 5 LIMIT 5 * f v",
        &err("ERR syntax error, LIMIT cannot be used without the special ~ option"),
    );
    golden2(
        &mut db,
        0,
        "XADD s MAXLEN = 5 LIMIT 5 * f v",
        &err("ERR syntax error, LIMIT cannot be used without the special ~ option"),
    );
    let both =
        err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
    golden2(&mut db, 0, "XADD s MAXLEN 5 MINID 5 * f v", &both);
    golden2(&mut db, 0, "XADD s MAXLEN 5 maxlen 6 * f v", &both);
    golden2(&mut db, 0, "XADD s MINID + * f v", &err(E_INVALID));
    golden2(&mut db, 0, "XADD s MINID - * f v", &err(E_INVALID));
    // an unknown token is taken as the ID
    golden2(&mut db, 0, "XADD s FOO * f v", &err(E_INVALID));
    golden2(&mut db, 0, "XADD s MAXLEN 5 f v", &err(E_INVALID));
    golden2(&mut db, 0, "XADD s 1-1-1 f v", &err(E_INVALID));
    golden2(&mut db, 0, "XADD s - f v", &err(E_INVALID));
    golden2(
        &mut db,
        0,
        "XADD s 18446744073709551616 f v",
        &err(E_INVALID),
    );
    assert!(!db.contains(b"s"));
}

// ------------------------------------------------------------------ XADD: trimming

#[test]
fn xadd_maxlen_zero_keeps_last_id() {
    let mut db = Db::new();
    golden2(&mut db, 0, "XADD s MAXLEN 0 5-0 f v", &b("5-0"));
    golden2(&mut db, 0, "XLEN s", &i(0));
    golden2(&mut db, 0, "XADD s 5-0 f v", &err(E_NOT_GREATER));
    golden2(&mut db, 0, "XRANGE s - +", &a(0));
    let s = stream(&db, "s");
    assert_eq!(s.last_id(), StreamId::new(5, 0));
    assert_eq!(s.entries_added(), 1);
    assert_eq!(
        s.max_deleted_id(),
        StreamId::MIN,
        "trimming is not deletion"
    );
    golden2(&mut db, 0, "XADD s 6-0 f v", &b("6-0"));
}

#[test]
fn xadd_exact_maxlen_and_minid() {
    let mut db = Db::new();
    fill(&mut db, "s", 10, 100);
    golden2(&mut db, 20, "XADD s MAXLEN 3 * f v", &b("20-0"));
    golden2(&mut db, 0, "XRANGE s - +", &ents(&["9-0", "10-0", "20-0"]));
    golden2(&mut db, 21, "XADD s MINID = 10 * f v", &b("21-0"));
    golden2(&mut db, 0, "XRANGE s - +", &ents(&["10-0", "20-0", "21-0"]));
    // MINID above the new entry removes it too
    golden2(&mut db, 22, "XADD s MINID 100 * f v", &b("22-0"));
    golden2(&mut db, 0, "XLEN s", &i(0));
    assert_eq!(stream(&db, "s").entries_added(), 13);
}

#[test]
fn xadd_approx_maxlen_555_over_1000_adds_keeps_600() {
    let mut db = Db::new();
    for t in 1..=1000u64 {
        run_ctx(&mut db, ctx(t, 100), "XADD s MAXLEN ~ 555 * xitem v");
    }
    assert_eq!(len(&mut db, "s"), 600);
    assert_eq!(stream(&db, "s").radix_tree_keys(), 6);
}

#[test]
fn xadd_approx_maxlen_with_limit_consecutive_calls() {
    let mut db = Db::new();
    fill(&mut db, "s", 100, 10);
    golden2(
        &mut db,
        0,
        "XADD s MAXLEN ~ 55 LIMIT 30 200-0 xitem v",
        &b("200-0"),
    );
    assert_eq!(len(&mut db, "s"), 71);
    let r = run_ctx(
        &mut db,
        ctx(300, 10),
        "XADD s MAXLEN ~ 55 LIMIT 30 * xitem v",
    );
    assert_eq!(wire(&r, Protocol::Resp2), b("300-0"));
    assert_eq!(len(&mut db, "s"), 62);
}

#[test]
fn xadd_approx_limit_delete_no_more_than_limit() {
    let mut db = Db::new();
    fill(&mut db, "s", 3, 100);
    golden2(
        &mut db,
        10,
        "XADD s MAXLEN ~ 0 limit 1 * xitem v",
        &b("10-0"),
    );
    golden2(&mut db, 0, "XLEN s", &i(4));
}

#[test]
fn xadd_approx_minid_removes_whole_nodes() {
    let mut db = Db::new();
    fill(&mut db, "s", 30, 10);
    // nodes 1..10, 11..20, 21..30: only the first node lies entirely below 15
    let r = run_ctx(&mut db, ctx(31, 10), "XADD s MINID ~ 15 * f v");
    assert_eq!(wire(&r, Protocol::Resp2), b("31-0"));
    assert_eq!(len(&mut db, "s"), 21);
    golden2(&mut db, 0, "XRANGE s - + COUNT 1", &ents(&["11-0"]));
}

// ------------------------------------------------------------------ XTRIM

#[test]
fn xtrim_exact_then_approximate() {
    let mut db = Db::new();
    fill(&mut db, "s", 1000, 100);
    golden2(&mut db, 0, "XTRIM s MAXLEN 666", &i(334));
    golden2(&mut db, 0, "XTRIM s MAXLEN = 555", &i(111));
    golden2(&mut db, 0, "XTRIM s MAXLEN ~ 444", &i(55));
    golden2(&mut db, 0, "XLEN s", &i(500));
    golden2(&mut db, 0, "XTRIM s MAXLEN ~ 400", &i(100));
    golden2(&mut db, 0, "XLEN s", &i(400));
    // nothing to do
    golden2(&mut db, 0, "XTRIM s MAXLEN ~ 399", &i(0));
    golden2(&mut db, 0, "XTRIM s MAXLEN 400", &i(0));
}

#[test]
fn xtrim_approx_is_limited_by_default() {
    let mut db = Db::new();
    fill(&mut db, "s", 102, 1);
    let r = run_ctx(&mut db, ctx(0, 1), "XTRIM s MAXLEN ~ 1");
    assert_eq!(wire(&r, Protocol::Resp2), i(100));
    assert_eq!(len(&mut db, "s"), 2);
}

#[test]
fn xtrim_exact_is_not_limited() {
    let mut db = Db::new();
    fill(&mut db, "s", 102, 1);
    let r = run_ctx(&mut db, ctx(0, 1), "XTRIM s MAXLEN 1");
    assert_eq!(wire(&r, Protocol::Resp2), i(101));
    assert_eq!(len(&mut db, "s"), 1);
}

#[test]
fn xtrim_limit_deletes_no_more_than_limit() {
    let mut db = Db::new();
    fill(&mut db, "s", 3, 2);
    let r = run_ctx(&mut db, ctx(0, 2), "XTRIM s MAXLEN ~ 0 LIMIT 1");
    assert_eq!(wire(&r, Protocol::Resp2), i(0));
    let r = run_ctx(&mut db, ctx(0, 2), "XTRIM s MAXLEN ~ 0 LIMIT 2");
    assert_eq!(wire(&r, Protocol::Resp2), i(2));
    assert_eq!(len(&mut db, "s"), 1);
}

#[test]
fn xtrim_limit_zero_is_unlimited() {
    let mut db = Db::new();
    fill(&mut db, "s", 250, 1);
    let r = run_ctx(&mut db, ctx(0, 1), "XTRIM s MAXLEN ~ 0 LIMIT 0");
    assert_eq!(wire(&r, Protocol::Resp2), i(250));
}

#[test]
fn xtrim_minid_exact_and_approx() {
    let mut db = Db::new();
    fill(&mut db, "s", 30, 10);
    let r = run_ctx(&mut db, ctx(0, 10), "XTRIM s MINID ~ 25");
    assert_eq!(wire(&r, Protocol::Resp2), i(20));
    golden2(&mut db, 0, "XTRIM s MINID 25", &i(4));
    golden2(&mut db, 0, "XRANGE s - + COUNT 1", &ents(&["25-0"]));
    golden2(&mut db, 0, "XTRIM s MINID 25", &i(0));
    golden2(&mut db, 0, "XTRIM s MINID = 25-1", &i(1));
}

#[test]
fn xtrim_keeps_counters_and_the_key() {
    let mut db = Db::new();
    fill(&mut db, "s", 5, 100);
    golden2(&mut db, 0, "XTRIM s MAXLEN 0", &i(5));
    let s = stream(&db, "s");
    assert_eq!(s.max_deleted_id(), StreamId::MIN);
    assert_eq!(s.entries_added(), 5);
    assert_eq!(s.last_id(), StreamId::new(5, 0));
    assert!(db.contains(b"s"));
}

#[test]
fn xtrim_missing_key_and_wrongtype() {
    let mut db = with_string("str");
    golden2(&mut db, 0, "XTRIM nokey MAXLEN 0", &i(0));
    golden2(&mut db, 0, "XTRIM str MAXLEN 0", &err(E_WRONGTYPE));
    assert!(!db.contains(b"nokey"));
}

#[test]
fn xtrim_errors() {
    let mut db = Db::new();
    golden2(
        &mut db,
        0,
        "XTRIM s MAXLEN",
        &err("ERR wrong number of arguments for 'xtrim' command"),
    );
    golden2(&mut db, 0, "XTRIM s MAXLEN 0 extra", &err(E_SYNTAX));
    golden2(&mut db, 0, "XTRIM s NOMKSTREAM MAXLEN 1", &err(E_SYNTAX));
    golden2(&mut db, 0, "XTRIM s FOO 1", &err(E_SYNTAX));
    golden2(&mut db, 0, "XTRIM s MAXLEN ~", &err(E_NOT_INT));
    golden2(&mut db, 0, "XTRIM s MINID ~ -", &err(E_INVALID));
    golden2(
        &mut db,
        0,
        "XTRIM s LIMIT 0",
        &err("ERR syntax error, XTRIM must be called with a trimming strategy"),
    );
    golden2(
        &mut db,
        0,
        "XTRIM s LIMIT 10",
        &err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"),
    );
    golden2(
        &mut db,
        0,
        "XTRIM s MAXLEN 1 LIMIT 30",
        &err("ERR syntax error, LIMIT cannot be used without the special ~ option"),
    );
    golden2(
        &mut db,
        0,
        "XTRIM s MAXLEN -1",
        &err("ERR The MAXLEN argument must be >= 0."),
    );
    golden2(
        &mut db,
        0,
        "XTRIM s MINID 1 MAXLEN 1",
        &err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"),
    );
}

// ------------------------------------------------------------------ XDEL

#[test]
fn xdel_counts_only_deleted_entries() {
    let mut db = Db::new();
    fill(&mut db, "s", 5, 100);
    golden2(&mut db, 0, "XDEL s 2-0 2-0 9-0 4", &i(2));
    golden2(&mut db, 0, "XRANGE s - +", &ents(&["1-0", "3-0", "5-0"]));
    assert_eq!(stream(&db, "s").max_deleted_id(), StreamId::new(4, 0));
    golden2(&mut db, 0, "XDEL s 1-0", &i(1));
    // max_deleted_id only grows
    assert_eq!(stream(&db, "s").max_deleted_id(), StreamId::new(4, 0));
    golden2(&mut db, 0, "XDEL s 1-0", &i(0));
}

#[test]
fn xdel_one_bad_id_fails_the_whole_command() {
    let mut db = Db::new();
    fill(&mut db, "s", 3, 100);
    golden2(&mut db, 0, "XDEL s 1-0 bad 2-0", &err(E_INVALID));
    golden2(&mut db, 0, "XDEL s 1-0 -", &err(E_INVALID));
    golden2(&mut db, 0, "XDEL s +", &err(E_INVALID));
    golden2(&mut db, 0, "XLEN s", &i(3));
}

#[test]
fn xdel_looks_the_key_up_before_parsing_ids() {
    let mut db = with_string("str");
    golden2(&mut db, 0, "XDEL nokey bad", &i(0));
    golden2(&mut db, 0, "XDEL str bad", &err(E_WRONGTYPE));
    golden2(&mut db, 0, "XDEL str 1-0", &err(E_WRONGTYPE));
    golden2(
        &mut db,
        0,
        "XDEL s",
        &err("ERR wrong number of arguments for 'xdel' command"),
    );
}

#[test]
fn xdel_never_removes_the_key_and_ids_are_not_reused() {
    let mut db = Db::new();
    golden2(&mut db, 0, "XADD s 1-1 f v", &b("1-1"));
    golden2(&mut db, 0, "XDEL s 1-1", &i(1));
    assert!(db.contains(b"s"));
    golden2(&mut db, 0, "XLEN s", &i(0));
    golden2(&mut db, 0, "XADD s 1-1 f v", &err(E_NOT_GREATER));
    golden2(&mut db, 0, "XADD s 1-* f v", &b("1-2"));
    assert_eq!(stream(&db, "s").entries_added(), 2);
}

// ------------------------------------------------------------------ XLEN

#[test]
fn xlen() {
    let mut db = with_string("str");
    golden2(&mut db, 0, "XLEN nokey", &i(0));
    golden2(&mut db, 0, "XLEN str", &err(E_WRONGTYPE));
    golden2(
        &mut db,
        0,
        "XLEN a b",
        &err("ERR wrong number of arguments for 'xlen' command"),
    );
    fill(&mut db, "s", 3, 100);
    golden2(&mut db, 0, "XLEN s", &i(3));
}

// ------------------------------------------------------------------ XRANGE / XREVRANGE

fn range_db() -> Db {
    let mut db = Db::new();
    for id in ["1-0", "1-1", "2-0", "2-5", "3-0"] {
        run(&mut db, 0, &format!("XADD s {id} f v"));
    }
    db
}

#[test]
fn xrange_bounds() {
    let mut db = range_db();
    golden2(
        &mut db,
        0,
        "XRANGE s - +",
        &ents(&["1-0", "1-1", "2-0", "2-5", "3-0"]),
    );
    // incomplete IDs: start gets seq 0, end gets seq max
    golden2(&mut db, 0, "XRANGE s 1 1", &ents(&["1-0", "1-1"]));
    golden2(&mut db, 0, "XRANGE s 2 +", &ents(&["2-0", "2-5", "3-0"]));
    golden2(&mut db, 0, "XRANGE s 1-1 2-0", &ents(&["1-1", "2-0"]));
    // exclusive bounds
    golden2(&mut db, 0, "XRANGE s (1-1 (3-0", &ents(&["2-0", "2-5"]));
    // an incomplete exclusive start is `(ms-0`, an incomplete exclusive end `(ms-max`
    golden2(
        &mut db,
        0,
        "XRANGE s (1 +",
        &ents(&["1-1", "2-0", "2-5", "3-0"]),
    );
    golden2(
        &mut db,
        0,
        "XRANGE s - (2",
        &ents(&["1-0", "1-1", "2-0", "2-5"]),
    );
    golden2(&mut db, 0, "XRANGE s - (2-0", &ents(&["1-0", "1-1"]));
    // start > end
    golden2(&mut db, 0, "XRANGE s 3 1", &a(0));
    golden2(&mut db, 0, "XRANGE s (2-0 (2-1", &a(0));
    golden2(&mut db, 0, "XRANGE s 4 +", &a(0));
}

#[test]
fn xrange_count() {
    let mut db = range_db();
    golden2(&mut db, 0, "XRANGE s - + COUNT 2", &ents(&["1-0", "1-1"]));
    golden2(&mut db, 0, "XRANGE s - + count 2 COUNT 1", &ents(&["1-0"]));
    golden2(
        &mut db,
        0,
        "XRANGE s - + COUNT 100",
        &ents(&["1-0", "1-1", "2-0", "2-5", "3-0"]),
    );
    // COUNT 0 and negative counts: a null array
    golden(&mut db, 0, "XRANGE s - + COUNT 0", NULLA2, NULL3);
    golden(&mut db, 0, "XRANGE s - + COUNT -1", NULLA2, NULL3);
    golden(&mut db, 0, "XREVRANGE s + - COUNT 0", NULLA2, NULL3);
    // ... but a missing key is an empty array first
    golden2(&mut db, 0, "XRANGE nokey - + COUNT 0", &a(0));
}

#[test]
fn xrange_errors() {
    let mut db = with_string("str");
    golden2(&mut db, 0, "XRANGE s - + COUNT", &err(E_SYNTAX));
    golden2(&mut db, 0, "XRANGE s - + FOO 1", &err(E_SYNTAX));
    golden2(&mut db, 0, "XRANGE s - + COUNT x", &err(E_NOT_INT));
    golden2(&mut db, 0, "XRANGE s - + COUNT 1 x", &err(E_SYNTAX));
    golden2(&mut db, 0, "XRANGE s ( +", &err(E_INVALID));
    golden2(&mut db, 0, "XRANGE s (- +", &err(E_INVALID));
    golden2(&mut db, 0, "XRANGE s - (+", &err(E_INVALID));
    golden2(&mut db, 0, "XRANGE s 1-1-1 +", &err(E_INVALID));
    golden2(
        &mut db,
        0,
        &format!("XRANGE s ({MAX_ID} +"),
        &err("ERR invalid start ID for the interval"),
    );
    golden2(
        &mut db,
        0,
        "XRANGE s - (0-0",
        &err("ERR invalid end ID for the interval"),
    );
    golden2(
        &mut db,
        0,
        "XRANGE s -",
        &err("ERR wrong number of arguments for 'xrange' command"),
    );
    golden2(
        &mut db,
        0,
        "XREVRANGE s +",
        &err("ERR wrong number of arguments for 'xrevrange' command"),
    );
    // arguments are parsed before the key is looked up
    golden2(&mut db, 0, "XRANGE str bad +", &err(E_INVALID));
    golden2(&mut db, 0, "XRANGE str - +", &err(E_WRONGTYPE));
    golden2(&mut db, 0, "XRANGE nokey - +", &a(0));
}

#[test]
fn xrevrange() {
    let mut db = range_db();
    golden2(
        &mut db,
        0,
        "XREVRANGE s + -",
        &ents(&["3-0", "2-5", "2-0", "1-1", "1-0"]),
    );
    golden2(
        &mut db,
        0,
        "XREVRANGE s + - COUNT 2",
        &ents(&["3-0", "2-5"]),
    );
    // the end comes first; an incomplete end gets seq max
    golden2(
        &mut db,
        0,
        "XREVRANGE s 2 1-1",
        &ents(&["2-5", "2-0", "1-1"]),
    );
    golden2(&mut db, 0, "XREVRANGE s (3-0 (1-1", &ents(&["2-5", "2-0"]));
    golden2(&mut db, 0, "XREVRANGE s - +", &a(0));
    golden2(
        &mut db,
        0,
        &format!("XREVRANGE s + ({MAX_ID}"),
        &err("ERR invalid start ID for the interval"),
    );
    golden2(
        &mut db,
        0,
        "XREVRANGE s (0-0 -",
        &err("ERR invalid end ID for the interval"),
    );
}

// ------------------------------------------------------------------ XREAD

fn read_db() -> Db {
    let mut db = with_string("str");
    for id in ["1-0", "2-0", "3-0"] {
        run(&mut db, 0, &format!("XADD s1 {id} f v"));
    }
    for id in ["1-5", "4-0"] {
        run(&mut db, 0, &format!("XADD s2 {id} f v"));
    }
    db
}

#[test]
fn xread_one_stream() {
    let mut db = read_db();
    golden_p(&mut db, 0, "XREAD STREAMS s1 1-0", |p3| {
        xread(p3, &[("s1", ents(&["2-0", "3-0"]))])
    });
    golden_p(&mut db, 0, "XREAD STREAMS s1 0", |p3| {
        xread(p3, &[("s1", ents(&["1-0", "2-0", "3-0"]))])
    });
    golden(&mut db, 0, "XREAD STREAMS s1 3-0", NULLA2, NULL3);
    golden(&mut db, 0, "XREAD STREAMS s1 $", NULLA2, NULL3);
}

#[test]
fn xread_multiple_streams_count_per_stream() {
    let mut db = read_db();
    golden_p(
        &mut db,
        0,
        "XREAD COUNT 1 STREAMS s1 nokey s2 0 0 0",
        |p3| xread(p3, &[("s1", ents(&["1-0"])), ("s2", ents(&["1-5"]))]),
    );
    // streams with nothing to return are omitted
    golden_p(&mut db, 0, "xread streams s1 s2 $ 1-5", |p3| {
        xread(p3, &[("s2", ents(&["4-0"]))])
    });
    // the same key twice is served twice
    golden_p(&mut db, 0, "XREAD COUNT 5 STREAMS s2 s2 1-5 1-5", |p3| {
        xread(p3, &[("s2", ents(&["4-0"])), ("s2", ents(&["4-0"]))])
    });
    // a negative COUNT is 0: unlimited
    golden_p(&mut db, 0, "XREAD COUNT -3 STREAMS s1 0", |p3| {
        xread(p3, &[("s1", ents(&["1-0", "2-0", "3-0"]))])
    });
    golden(&mut db, 0, "XREAD STREAMS nokey 0", NULLA2, NULL3);
}

#[test]
fn xread_plus_is_the_last_entry() {
    let mut db = read_db();
    golden_p(
        &mut db,
        0,
        "XREAD COUNT 3 STREAMS s1 s2 nokey + + +",
        |p3| xread(p3, &[("s1", ents(&["3-0"])), ("s2", ents(&["4-0"]))]),
    );
    // the last *live* entry, even after the top one was deleted
    run(&mut db, 0, "XDEL s1 3-0");
    golden_p(&mut db, 0, "XREAD STREAMS s1 +", |p3| {
        xread(p3, &[("s1", ents(&["2-0"]))])
    });
    // an empty stream has no last entry
    run(&mut db, 0, "XDEL s1 1-0 2-0");
    golden(&mut db, 0, "XREAD STREAMS s1 +", NULLA2, NULL3);
}

#[test]
fn xread_errors() {
    let mut db = read_db();
    golden2(
        &mut db,
        0,
        "XREAD GROUP g c STREAMS s1 0",
        &err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."),
    );
    golden2(
        &mut db,
        0,
        "XREAD NOACK STREAMS s1 0",
        &err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."),
    );
    golden2(
        &mut db,
        0,
        "XREAD STREAMS s1 s2 0",
        &err("ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified."),
    );
    golden2(&mut db, 0, "XREAD COUNT 1 FOO s1", &err(E_SYNTAX));
    golden2(&mut db, 0, "XREAD COUNT 1 BLOCK 1", &err(E_SYNTAX));
    golden2(&mut db, 0, "XREAD COUNT 1 STREAMS", &err(E_SYNTAX));
    golden2(&mut db, 0, "XREAD COUNT x STREAMS s1 0", &err(E_NOT_INT));
    golden2(
        &mut db,
        0,
        "XREAD BLOCK x STREAMS s1 0",
        &err("ERR timeout is not an integer or out of range"),
    );
    golden2(
        &mut db,
        0,
        "XREAD BLOCK -1 STREAMS s1 0",
        &err("ERR timeout is negative"),
    );
    golden2(
        &mut db,
        0,
        "XREAD STREAMS s1 >",
        &err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."),
    );
    golden2(&mut db, 0, "XREAD STREAMS s1 -", &err(E_INVALID));
    golden2(&mut db, 0, "XREAD STREAMS s1 1-1-1", &err(E_INVALID));
    golden2(
        &mut db,
        0,
        "XREAD STREAMS s1",
        &err("ERR wrong number of arguments for 'xread' command"),
    );
}

#[test]
fn xread_checks_types_and_ids_in_argument_order() {
    let mut db = read_db();
    golden2(&mut db, 0, "XREAD STREAMS s1 str 0 0", &err(E_WRONGTYPE));
    golden2(&mut db, 0, "XREAD STREAMS str s1 bad 0", &err(E_WRONGTYPE));
    golden2(&mut db, 0, "XREAD STREAMS s1 str bad 0", &err(E_INVALID));
    golden2(&mut db, 0, "XREAD STREAMS s1 str > 0", &err(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
    ));
}

#[test]
fn xread_block_and_pinning() {
    let mut db = read_db();
    let parsed = parse(&args("XREAD BLOCK 500 COUNT 2 STREAMS s1 nokey s2 $ $ +"));
    let Some(Ok(cmd)) = parsed else {
        panic!("parse: {parsed:?}");
    };
    let block = cmd.block().expect("BLOCK given");
    assert_eq!(block.timeout_ms, 500);
    assert_eq!(block.keys, args("s1 nokey s2"));
    let Prepared::Reply(r) = cmd.prepare(&db, &Ctx::default()) else {
        panic!("XREAD is a read");
    };
    // s2's `+` serves its last entry right away
    assert_eq!(
        wire(&r, Protocol::Resp2),
        xread(false, &[("s2", ents(&["4-0"]))])
    );

    let mut cmd = match parse(&args("XREAD BLOCK 0 STREAMS s1 nokey $ $")) {
        Some(Ok(c)) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(cmd.block().map(|b| b.timeout_ms), Some(0));
    cmd.pin_for_block(&db);
    let prep = |cmd: &Command, db: &Db| match cmd.prepare(db, &Ctx::default()) {
        Prepared::Reply(r) => wire(&r, Protocol::Resp3),
        Prepared::Write(op) => panic!("XREAD wrote {op:?}"),
    };
    assert_eq!(prep(&cmd, &db), NULL3);
    // a new entry in s1 and a first one in nokey: the pinned `$`s see exactly those
    run(&mut db, 0, "XADD s1 9-0 f v");
    run(&mut db, 0, "XADD nokey 1-0 f v");
    assert_eq!(
        prep(&cmd, &db),
        xread(true, &[("s1", ents(&["9-0"])), ("nokey", ents(&["1-0"]))])
    );
    // an unpinned `$` would have seen nothing
    assert_eq!(
        run(&mut db, 0, "XREAD STREAMS s1 nokey $ $"),
        Reply::NullArray
    );
    // XREAD without BLOCK does not block
    let cmd = match parse(&args("XREAD STREAMS s1 $")) {
        Some(Ok(c)) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(cmd.block(), None);
}

#[test]
fn xread_timeout_out_of_range() {
    let mut db = read_db();
    golden2(
        &mut db,
        1000,
        "XREAD BLOCK 9223372036854775807 STREAMS s1 $",
        &err("ERR timeout is out of range"),
    );
}

// ------------------------------------------------------------------ XSETID

#[test]
fn xsetid_sets_the_counters() {
    let mut db = Db::new();
    fill(&mut db, "s", 3, 100);
    golden2(&mut db, 0, "XSETID s 10-0", OK);
    golden2(&mut db, 0, "XADD s 10-0 f v", &err(E_NOT_GREATER));
    golden2(
        &mut db,
        0,
        "XSETID s 20-0 ENTRIESADDED 100 MAXDELETEDID 15-0",
        OK,
    );
    let s = stream(&db, "s");
    assert_eq!(s.last_id(), StreamId::new(20, 0));
    assert_eq!(s.entries_added(), 100);
    assert_eq!(s.max_deleted_id(), StreamId::new(15, 0));
    // it may go down to the top entry; MAXDELETEDID 0-0 leaves the tombstone alone
    golden2(
        &mut db,
        0,
        "XSETID s 15 maxdeletedid 0-0 entriesadded 3",
        OK,
    );
    assert_eq!(stream(&db, "s").max_deleted_id(), StreamId::new(15, 0));
    golden2(&mut db, 0, "XADD s 15-* f v", &b("15-1"));
}

#[test]
fn xsetid_on_an_empty_stream_can_lower_last_id() {
    let mut db = Db::new();
    golden2(&mut db, 0, "XADD s MAXLEN 0 10-0 f v", &b("10-0"));
    golden2(&mut db, 0, "XSETID s 5-0", OK);
    golden2(&mut db, 0, "XADD s 6-0 f v", &b("6-0"));
}

#[test]
fn xsetid_errors() {
    let mut db = with_string("str");
    fill(&mut db, "s", 3, 100);
    run(&mut db, 0, "XDEL s 2-0");
    golden2(
        &mut db,
        0,
        "XSETID s",
        &err("ERR wrong number of arguments for 'xsetid' command"),
    );
    golden2(&mut db, 0, "XSETID s bad", &err(E_INVALID));
    golden2(&mut db, 0, "XSETID s +", &err(E_INVALID));
    golden2(&mut db, 0, "XSETID s 5 ENTRIESADDED x", &err(E_NOT_INT));
    golden2(
        &mut db,
        0,
        "XSETID s 5 ENTRIESADDED -1",
        &err("ERR entries_added must be positive"),
    );
    golden2(
        &mut db,
        0,
        "XSETID s 5 MAXDELETEDID 6",
        &err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"),
    );
    golden2(&mut db, 0, "XSETID s 5 MAXDELETEDID -", &err(E_INVALID));
    golden2(&mut db, 0, "XSETID s 5 FOO", &err(E_SYNTAX));
    golden2(&mut db, 0, "XSETID s 5 ENTRIESADDED", &err(E_SYNTAX));
    // option errors come before the key lookup
    golden2(&mut db, 0, "XSETID nokey 5 FOO", &err(E_SYNTAX));
    golden2(&mut db, 0, "XSETID nokey 5", &err("ERR no such key"));
    golden2(&mut db, 0, "XSETID str 5", &err(E_WRONGTYPE));
    golden2(
        &mut db,
        0,
        "XSETID s 1-5",
        &err("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"),
    );
    golden2(
        &mut db,
        0,
        "XSETID s 2-5",
        &err("ERR The ID specified in XSETID is smaller than the target stream top item"),
    );
    golden2(
        &mut db,
        0,
        "XSETID s 5 ENTRIESADDED 1",
        &err("ERR The entries_added specified in XSETID is smaller than the target stream length"),
    );
    // nothing changed
    assert_eq!(stream(&db, "s").last_id(), StreamId::new(3, 0));
}

// ------------------------------------------------------------------ side effects

#[test]
fn dirty_counter_and_ready_keys() {
    let mut db = Db::new();
    let c = Ctx::default();
    let exec = |db: &mut Db, line: &str| execute(db, &args(line), &c).expect("engine command");
    exec(&mut db, "XADD s 1-0 f v");
    exec(&mut db, "XADD s 2-0 f v");
    exec(&mut db, "XADD s 3-0 f v");
    assert_eq!(db.dirty, 3);
    assert_eq!(db.take_ready(), args("s s s"));
    exec(&mut db, "XDEL s 1-0 2-0 7-0");
    assert_eq!(db.dirty, 5);
    exec(&mut db, "XADD s MAXLEN 0 4-0 f v");
    assert_eq!(db.dirty, 6, "XADD counts once, trimmed or not");
    exec(&mut db, "XSETID s 10-0");
    assert_eq!(db.dirty, 7);
    // failures and no-ops change nothing
    exec(&mut db, "XTRIM s MAXLEN 0");
    exec(&mut db, "XDEL s 9-0");
    exec(&mut db, "XADD s 1-0 f v");
    exec(&mut db, "XADD nokey NOMKSTREAM * f v");
    assert_eq!(db.dirty, 7);
    assert_eq!(db.take_ready(), args("s"), "only XADD signals readers");
    fill(&mut db, "t", 4, 100);
    db.dirty = 0;
    exec(&mut db, "XTRIM t MAXLEN 1");
    assert_eq!(db.dirty, 3);
    assert!(db.take_ready().is_empty());
}

#[test]
fn xadd_records_changes_for_storage() {
    let mut db = Db::new();
    execute(&mut db, &args("XADD s 1-0 f v"), &Ctx::default());
    let changes = db.take_changes();
    assert!(changes.contains(&streams::Change::Stream(
        Bytes::from_static(b"s"),
        streams::StreamChange::Entry(StreamId::new(1, 0))
    )));
    assert!(changes.contains(&streams::Change::Stream(
        Bytes::from_static(b"s"),
        streams::StreamChange::Meta
    )));
}

#[test]
fn xadds_record_the_metadata_once_and_each_node_once() {
    let mut db = Db::new();
    let ctx = Ctx {
        node_max_entries: 4,
        ..Ctx::default()
    };
    for i in 1..=10 {
        execute(&mut db, &args(&format!("XADD s {i}-0 f v")), &ctx);
    }
    execute(&mut db, &args("XDEL s 2-0"), &ctx);
    let changes = db.take_changes();
    let count = |pred: &dyn Fn(&streams::StreamChange) -> bool| {
        changes
            .iter()
            .filter(|c| matches!(c, streams::Change::Stream(_, sc) if pred(sc)))
            .count()
    };
    assert_eq!(count(&|c| matches!(c, streams::StreamChange::Meta)), 1);
    assert_eq!(count(&|c| matches!(c, streams::StreamChange::Entry(_))), 11);
    // Nodes 1-0, 5-0, 9-0 opened, then 1-0 again (the XDEL): each named, none missed.
    let mut nodes: Vec<StreamId> = changes
        .iter()
        .filter_map(|c| match c {
            streams::Change::Stream(_, streams::StreamChange::Node(m)) => Some(*m),
            _ => None,
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes, [1, 5, 9].map(|ms| StreamId::new(ms, 0)));
    assert!(count(&|c| matches!(c, streams::StreamChange::Node(_))) <= 4);
    // Nothing left over for the next commit.
    assert!(db.take_changes().is_empty());
}

// ------------------------------------------------------------------ determinism

/// A copy of every key (the change lists are not copied).
fn clone_db(db: &Db) -> Db {
    let mut out = Db::new();
    for (k, v) in db.iter() {
        out.load(k.clone(), v.clone());
    }
    out
}

fn same_state(a: &Db, b: &Db) {
    assert_eq!(a.len(), b.len());
    for (k, v) in a.iter() {
        assert_eq!(Some(v), b.get(k), "key {k:?}");
    }
    for (k, v) in a.iter() {
        if let Value::Stream(s) = v {
            let Some(Value::Stream(t)) = b.get(k) else {
                panic!("{k:?} missing");
            };
            assert_eq!(s.nodes(), t.nodes(), "node layout of {k:?}");
        }
    }
}

#[test]
fn ops_applied_to_a_copy_of_the_pre_state_give_the_same_state() {
    let mut db = Db::new();
    fill(&mut db, "s", 57, 10);
    run(&mut db, 0, "XDEL s 3-0 14-0 15-0");
    let lines = [
        "XADD s MAXLEN ~ 20 LIMIT 25 * f v",
        "XADD s MINID ~ 40 * f v",
        "XADD s 5000-* a b c d",
        "XADD s * f v",
        "XADD t MAXLEN 0 * f v",
        "XTRIM s MAXLEN ~ 10",
        "XTRIM s MINID 5000-0",
        "XDEL s 5000-0 999-0",
        "XSETID s 6000-0 ENTRIESADDED 1000 MAXDELETEDID 5500-0",
    ];
    for (n, line) in lines.iter().enumerate() {
        let c = ctx(1000 + n as u64, 10);
        let cmd = match parse(&args(line)) {
            Some(Ok(cmd)) => cmd,
            other => panic!("{line}: {other:?}"),
        };
        let op = match cmd.prepare(&db, &c) {
            Prepared::Write(op) => op,
            Prepared::Reply(r) => panic!("{line} did not write: {r:?}"),
        };
        let mut replica = clone_db(&db);
        let r1 = streams::apply(&mut db, &op);
        // the replica applies the same op, with a different ctx that apply must not read
        let r2 = streams::apply(&mut replica, &op);
        assert_eq!(r1, r2, "{line}");
        assert!(!r1.is_error(), "{line}: {r1:?}");
        same_state(&db, &replica);
        db.take_changes();
        db.take_ready();
    }
    // the resolved op carries the concrete ID and an exact trim
    let mut db = Db::new();
    fill(&mut db, "s", 30, 10);
    let cmd = match parse(&args("XADD s MAXLEN ~ 1 * f v")) {
        Some(Ok(cmd)) => cmd,
        other => panic!("{other:?}"),
    };
    match cmd.prepare(&db, &ctx(7777, 10)) {
        Prepared::Write(streams::Op::Entries(streams::entries::Op::Add(op))) => {
            assert_eq!(op.id, StreamId::new(7777, 0));
            assert_eq!(op.node_max_entries, 10);
            // three full nodes go whole; the new entry opens the fourth
            assert_eq!(op.trim, Some(streams::entries::Threshold::MaxLen(1)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stale_op_is_refused_without_changes() {
    let mut db = Db::new();
    run(&mut db, 0, "XADD s 1-0 f v");
    let cmd = match parse(&args("XADD s 2-0 f v")) {
        Some(Ok(cmd)) => cmd,
        other => panic!("{other:?}"),
    };
    let Prepared::Write(op) = cmd.prepare(&db, &Ctx::default()) else {
        panic!("XADD writes");
    };
    run(&mut db, 0, "XADD s 5-0 f v");
    let before = clone_db(&db);
    let r = streams::apply(&mut db, &op);
    assert_eq!(wire(&r, Protocol::Resp2), err(E_NOT_GREATER));
    same_state(&db, &before);
    // a stale op against a key that changed type
    let mut db2 = with_string("s");
    let r = streams::apply(&mut db2, &op);
    assert_eq!(wire(&r, Protocol::Resp2), err(E_WRONGTYPE));
}

#[test]
fn no_panics_on_odd_input() {
    let mut db = read_db();
    let lines = [
        "XADD",
        "XADD s",
        "XADD s MAXLEN",
        "XADD s MAXLEN ~",
        "XADD s MINID ~ 1",
        "XADD s LIMIT",
        "XTRIM",
        "XTRIM s",
        "XTRIM s MAXLEN ~ 1 LIMIT",
        "XDEL",
        "XLEN",
        "XRANGE",
        "XRANGE s",
        "XRANGE s ( (",
        "XREVRANGE s ( ( COUNT",
        "XREAD",
        "XREAD STREAMS",
        "XREAD BLOCK",
        "XREAD COUNT",
        "XREAD STREAMS s1 s1 s1",
        "XSETID",
        "XSETID s 1 MAXDELETEDID",
        "XADD s * * * *",
        "XRANGE s (18446744073709551615 (0",
    ];
    for line in lines {
        let r = execute(&mut db, &args(line), &Ctx::default());
        assert!(r.is_some(), "{line}");
    }
}
