//! Golden tests of the keyspace commands: command in, exact RESP2 and RESP3 bytes out.
//! Expected texts follow Redis 8.0 (checked against a live 7.0 server where the two agree;
//! where 8.0 differs, e.g. SCAN's cursor and TYPE checks, the 8.0 source decides).
use std::collections::{BTreeSet, HashSet};

use crate::common::{args, golden, golden2, run, run_args, wire};
use bytes::Bytes;
use resp::{Protocol, Reply};
use streams::keyspace::{decode_value, encode_value, scan_hash, string_match, DecodeError};
use streams::{execute, parse, Change, Ctx, Db, Nack, Prepared, Stream, StreamId, Value};

// ------------------------------------------------------------------ wire builders

use crate::common::{a, b, err, i, st};
const OK: &str = "+OK\\r\\n";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[track_caller]
fn golden_err(db: &mut Db, line: &str, msg: &str) {
    golden2(db, 1, line, &err(msg));
}

#[track_caller]
fn golden_ok(db: &mut Db, line: &str) {
    golden2(db, 1, line, OK);
}

/// Null bulk: `$-1` / `_`.
#[track_caller]
fn golden_null(db: &mut Db, line: &str) {
    golden(db, 1, line, "$-1\\r\\n", "_\\r\\n");
}

/// Null array: `*-1` / `_`.
#[track_caller]
fn golden_null_array(db: &mut Db, line: &str) {
    golden(db, 1, line, "*-1\\r\\n", "_\\r\\n");
}

fn bulks(items: &[&str]) -> String {
    let mut s = a(items.len());
    for x in items {
        s += &b(x);
    }
    s
}

fn ctx() -> Ctx {
    Ctx {
        now_ms: 1,
        ..Ctx::default()
    }
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// A stream key made with the group commands (no dependency on XADD).
fn make_stream(db: &mut Db, key: &str) {
    let r = run(db, 1, &format!("XGROUP CREATE {key} g0 $ MKSTREAM"));
    assert!(!r.is_error(), "{r:?}");
}

fn dump(db: &mut Db, key: &str) -> Bytes {
    match run(db, 1, &format!("DUMP {key}")) {
        Reply::Bulk(p) => p,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

fn restore(db: &mut Db, key: &str, payload: &Bytes, extra: &[&str]) -> Reply {
    let mut v = vec![bytes("RESTORE"), bytes(key), bytes("0"), payload.clone()];
    v.extend(extra.iter().map(|x| bytes(x)));
    run_args(db, ctx(), &v)
}

// ------------------------------------------------------------------ DEL, EXISTS, TYPE

#[test]
fn del_unlink_exists() {
    let mut db = Db::new();
    golden2(&mut db, 1, "DEL a b", &i(0));
    golden_ok(&mut db, "SET a 1");
    golden_ok(&mut db, "SET b 2");
    golden2(&mut db, 1, "EXISTS a a b c", &i(3));
    golden2(&mut db, 1, "DEL a a c", &i(1));
    golden2(&mut db, 1, "EXISTS a", &i(0));
    golden2(&mut db, 1, "UNLINK b nokey", &i(1));
    golden2(&mut db, 1, "DBSIZE", &i(0));
    golden_err(
        &mut db,
        "DEL",
        "ERR wrong number of arguments for 'del' command",
    );
    golden_err(
        &mut db,
        "unlink",
        "ERR wrong number of arguments for 'unlink' command",
    );
    golden_err(
        &mut db,
        "EXISTS",
        "ERR wrong number of arguments for 'exists' command",
    );
}

#[test]
fn type_of_every_kind() {
    let mut db = Db::new();
    golden_ok(&mut db, "SET s v");
    golden2(&mut db, 1, "RPUSH l a", &i(1));
    golden2(&mut db, 1, "SADD t m", &i(1));
    make_stream(&mut db, "x");
    golden2(&mut db, 1, "TYPE s", &st("string"));
    golden2(&mut db, 1, "TYPE l", &st("list"));
    golden2(&mut db, 1, "TYPE t", &st("set"));
    golden2(&mut db, 1, "type x", &st("stream"));
    golden2(&mut db, 1, "TYPE nokey", &st("none"));
    golden_err(
        &mut db,
        "TYPE a b",
        "ERR wrong number of arguments for 'type' command",
    );
    golden2(&mut db, 1, "DBSIZE", &i(4));
    golden_err(
        &mut db,
        "DBSIZE x",
        "ERR wrong number of arguments for 'dbsize' command",
    );
}

// ------------------------------------------------------------------ RENAME

#[test]
fn rename_errors_and_no_ops() {
    let mut db = Db::new();
    golden_err(&mut db, "RENAME nokey x", "ERR no such key");
    golden_err(&mut db, "RENAME nokey nokey", "ERR no such key");
    golden_err(&mut db, "RENAMENX nokey x", "ERR no such key");
    golden_err(
        &mut db,
        "RENAME a",
        "ERR wrong number of arguments for 'rename' command",
    );
    golden_err(
        &mut db,
        "RENAMENX a b c",
        "ERR wrong number of arguments for 'renamenx' command",
    );
    golden_ok(&mut db, "SET b 2");
    let dirty = db.dirty;
    golden_ok(&mut db, "RENAME b b");
    golden2(&mut db, 1, "RENAMENX b b", &i(0));
    assert_eq!(db.dirty, dirty, "a same-key rename changes nothing");
    golden_ok(&mut db, "SET c 3");
    golden2(&mut db, 1, "RENAMENX b c", &i(0));
    golden2(&mut db, 1, "GET c", &b("3"));
}

#[test]
fn rename_moves_and_overwrites() {
    let mut db = Db::new();
    golden_ok(&mut db, "SET b 2");
    golden2(&mut db, 1, "RPUSH c x", &i(1));
    let dirty = db.dirty;
    golden_ok(&mut db, "RENAME b c");
    assert_eq!(db.dirty, dirty + 1);
    golden2(&mut db, 1, "GET c", &b("2"));
    golden2(&mut db, 1, "EXISTS b", &i(0));
    golden2(&mut db, 1, "RENAMENX c d", &i(1));
    golden2(&mut db, 1, "KEYS *", &bulks(&["d"]));
}

#[test]
fn rename_moves_a_stream_with_its_groups_and_signals_both_keys() {
    let mut db = Db::new();
    make_stream(&mut db, "src{t}");
    let before = run(&mut db, 1, "XINFO STREAM src{t} FULL");
    let parsed = parse(&args("RENAME src{t} dst{t}"))
        .expect("engine")
        .expect("parses");
    let Prepared::Write(op) = parsed.prepare(&db, &ctx()) else {
        panic!("RENAME is a write");
    };
    assert_eq!(streams::apply(&mut db, &op), Reply::ok());
    let ready: HashSet<Bytes> = db.take_ready().into_iter().collect();
    assert!(ready.contains(&bytes("src{t}")) && ready.contains(&bytes("dst{t}")));
    let changes = db.take_changes();
    assert!(changes.contains(&Change::Key(bytes("src{t}"))));
    assert!(changes.contains(&Change::Key(bytes("dst{t}"))));
    let after = run(&mut db, 1, "XINFO STREAM dst{t} FULL");
    assert_eq!(
        wire(&before, Protocol::Resp3),
        wire(&after, Protocol::Resp3)
    );
    golden_err(&mut db, "XINFO GROUPS src{t}", "ERR no such key");
    golden2(&mut db, 1, "TYPE src{t}", &st("none"));
}

#[test]
fn rename_applied_after_the_source_vanished_changes_nothing() {
    let mut db = Db::new();
    golden_ok(&mut db, "SET a 1");
    let cmd = parse(&args("RENAME a b")).expect("engine").expect("parses");
    let Prepared::Write(op) = cmd.prepare(&db, &ctx()) else {
        panic!("a write");
    };
    run(&mut db, 1, "DEL a");
    let r = streams::apply(&mut db, &op);
    assert_eq!(wire(&r, Protocol::Resp2), err("ERR no such key"));
    assert!(db.is_empty());
}

// ------------------------------------------------------------------ FLUSHALL / FLUSHDB

#[test]
fn flush_commands() {
    let mut db = Db::new();
    golden_ok(&mut db, "SET a 1");
    golden2(&mut db, 1, "SADD b x y", &i(2));
    make_stream(&mut db, "c");
    golden_err(&mut db, "FLUSHALL FOO", "ERR syntax error");
    golden_err(&mut db, "FLUSHALL SYNC ASYNC", "ERR syntax error");
    golden_err(&mut db, "FLUSHDB now", "ERR syntax error");
    let dirty = db.dirty;
    let cmd = parse(&args("FLUSHALL")).expect("engine").expect("parses");
    let Prepared::Write(op) = cmd.prepare(&db, &ctx()) else {
        panic!("a write");
    };
    assert_eq!(streams::apply(&mut db, &op), Reply::ok());
    assert_eq!(db.dirty, dirty + 3, "FLUSHALL counts the keys removed");
    assert_eq!(db.take_changes(), vec![Change::FlushAll]);
    assert_eq!(db.take_ready().len(), 3);
    golden2(&mut db, 1, "DBSIZE", &i(0));
    golden_ok(&mut db, "SET a 1");
    golden_ok(&mut db, "FLUSHDB async");
    golden_ok(&mut db, "flushall sync");
    golden2(&mut db, 1, "KEYS *", &a(0));
}

// ------------------------------------------------------------------ KEYS and SCAN

fn scan_all(db: &mut Db, opts: &str) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let r = run(db, 1, &format!("SCAN {cursor} {opts}"));
        let Reply::Array(parts) = r else {
            panic!("SCAN: {r:?}")
        };
        let [Reply::Bulk(next), Reply::Array(keys)] = &parts[..] else {
            panic!("SCAN shape: {parts:?}")
        };
        for k in keys {
            let Reply::Bulk(k) = k else { panic!("{k:?}") };
            out.push(String::from_utf8_lossy(k).into_owned());
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            return out;
        }
    }
    panic!("SCAN never ended");
}

#[test]
fn keys_with_globs() {
    let mut db = Db::new();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "a[b", "x",
    ] {
        golden_ok(&mut db, &format!("SET {k} v"));
    }
    let keys = |db: &mut Db, p: &str| -> BTreeSet<String> {
        let Reply::Array(items) = run(db, 1, &format!("KEYS {p}")) else {
            panic!("KEYS")
        };
        items
            .into_iter()
            .map(|r| match r {
                Reply::Bulk(k) => String::from_utf8_lossy(&k).into_owned(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        keys(&mut db, "h?llo"),
        set(&["hello", "hallo", "hxllo", "h*llo"])
    );
    assert_eq!(
        keys(&mut db, "h*llo"),
        set(&["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"])
    );
    assert_eq!(keys(&mut db, "h[ae]llo"), set(&["hello", "hallo"]));
    assert_eq!(keys(&mut db, "h[^e]llo"), set(&["hallo", "hxllo", "h*llo"]));
    assert_eq!(keys(&mut db, "h[a-b]llo"), set(&["hallo"]));
    assert_eq!(keys(&mut db, "h\\*llo"), set(&["h*llo"]));
    assert_eq!(keys(&mut db, "a\\[b"), set(&["a[b"]));
    assert_eq!(keys(&mut db, "*").len(), 8);
    assert_eq!(keys(&mut db, "nothing*"), set(&[]));
    golden2(&mut db, 1, "KEYS x", &bulks(&["x"]));
    golden_err(
        &mut db,
        "KEYS",
        "ERR wrong number of arguments for 'keys' command",
    );
    // KEYS and SCAN agree on order.
    let Reply::Array(all) = run(&mut db, 1, "KEYS *") else {
        panic!()
    };
    let listed: Vec<String> = all
        .iter()
        .map(|r| match r {
            Reply::Bulk(k) => String::from_utf8_lossy(k).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(scan_all(&mut db, "COUNT 3"), listed);
}

#[test]
fn glob_matches_redis_stringmatchlen() {
    assert!(string_match(b"*", b"anything", false));
    assert!(!string_match(b"*", b"", false));
    assert!(string_match(b"a*b*c", b"aXbYc", false));
    assert!(string_match(b"[a-c]?", b"bz", false));
    assert!(string_match(b"[c-a]?", b"bz", false));
    assert!(!string_match(b"[^a-c]?", b"bz", false));
    assert!(string_match(b"\\?", b"?", false));
    assert!(!string_match(b"\\?", b"x", false));
    assert!(string_match(b"[\\-]", b"-", false));
    assert!(string_match(b"[abc", b"c", false));
    assert!(string_match(b"HELLO*", b"hello world", true));
    assert!(!string_match(b"HELLO*", b"hello world", false));
    assert!(string_match(b"a\x00b", b"a\x00b", false));
}

#[test]
fn scan_errors() {
    let mut db = Db::new();
    golden_err(&mut db, "SCAN abc", "ERR invalid cursor");
    golden_err(&mut db, "SCAN -1", "ERR invalid cursor");
    golden_err(&mut db, "SCAN 18446744073709551616", "ERR invalid cursor");
    golden_err(&mut db, "SCAN 0 COUNT 0", "ERR syntax error");
    golden_err(&mut db, "SCAN 0 COUNT -5", "ERR syntax error");
    golden_err(
        &mut db,
        "SCAN 0 COUNT x",
        "ERR value is not an integer or out of range",
    );
    golden_err(&mut db, "SCAN 0 TYPE foo", "ERR unknown type name 'foo'");
    golden_err(
        &mut db,
        "SCAN 0 NOVALUES",
        "ERR NOVALUES option can only be used in HSCAN",
    );
    golden_err(&mut db, "SCAN 0 MATCH", "ERR syntax error");
    golden_err(&mut db, "SCAN 0 FOO bar", "ERR syntax error");
    golden_err(
        &mut db,
        "SCAN",
        "ERR wrong number of arguments for 'scan' command",
    );
    golden2(&mut db, 1, "SCAN 0", &(a(2) + &b("0") + &a(0)));
    golden2(
        &mut db,
        1,
        "SCAN 18446744073709551615 TYPE hash COUNT 5",
        &(a(2) + &b("0") + &a(0)),
    );
}

#[test]
fn scan_filters_by_match_and_type() {
    let mut db = Db::new();
    for n in 0..30 {
        golden_ok(&mut db, &format!("SET str:{n} v"));
        golden2(&mut db, 1, &format!("RPUSH list:{n} v"), &i(1));
    }
    make_stream(&mut db, "stream:1");
    let strings = scan_all(&mut db, "TYPE string");
    assert_eq!(strings.len(), 30);
    assert!(strings.iter().all(|k| k.starts_with("str:")));
    let lists = scan_all(&mut db, "MATCH list:1* COUNT 4");
    let want: BTreeSet<String> = (0..30)
        .map(|n| format!("list:{n}"))
        .filter(|k| k.starts_with("list:1"))
        .collect();
    assert_eq!(lists.iter().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(lists.len(), want.len());
    assert_eq!(
        scan_all(&mut db, "type STREAM"),
        vec!["stream:1".to_string()]
    );
    assert!(scan_all(&mut db, "TYPE zset").is_empty());
    assert_eq!(scan_all(&mut db, "MATCH * COUNT 1000").len(), 61);
}

#[test]
fn scan_cursor_is_a_hash_position() {
    let mut db = Db::new();
    for n in 0..50 {
        golden_ok(&mut db, &format!("SET k{n} v"));
    }
    let Reply::Array(parts) = run(&mut db, 1, "SCAN 0 COUNT 10") else {
        panic!()
    };
    let (Reply::Bulk(cursor), Reply::Array(keys)) = (&parts[0], &parts[1]) else {
        panic!()
    };
    assert_eq!(keys.len(), 10);
    let cursor: u64 = std::str::from_utf8(cursor).unwrap().parse().unwrap();
    assert!(cursor > 0 && cursor <= i64::MAX as u64);
    for k in keys {
        let Reply::Bulk(k) = k else { panic!() };
        assert!(scan_hash(k) < cursor);
    }
}

// ------------------------------------------------------------------ SET / GET

#[test]
fn set_and_get() {
    let mut db = Db::new();
    golden_ok(&mut db, "SET s v");
    golden2(&mut db, 1, "GET s", &b("v"));
    golden_null(&mut db, "GET nokey");
    golden2(&mut db, 1, "SET s v2 GET", &b("v"));
    golden_null(&mut db, "SET s v3 NX");
    golden2(&mut db, 1, "SET s v3 NX GET", &b("v2"));
    golden_null(&mut db, "SET n v XX");
    golden_null(&mut db, "SET n v XX GET");
    golden2(&mut db, 1, "SET s v GET get", &b("v2"));
    golden_ok(&mut db, "SET n v nx");
    golden_ok(&mut db, "SET n w XX");
    golden2(&mut db, 1, "GET n", &b("w"));
    golden_err(&mut db, "SET s v NX XX", "ERR syntax error");
    golden_err(&mut db, "SET s v FOO", "ERR syntax error");
    golden_err(&mut db, "SET s v EX", "ERR syntax error");
    golden_err(&mut db, "SET s v EX 10 PX 5", "ERR syntax error");
    golden_err(&mut db, "SET s v KEEPTTL EX 5", "ERR syntax error");
    golden_err(
        &mut db,
        "SET s v EX 10",
        "ERR xraft does not support key expiry",
    );
    golden_err(
        &mut db,
        "SET s v px 10 PX 20",
        "ERR xraft does not support key expiry",
    );
    golden_err(
        &mut db,
        "SET s v EXAT 10",
        "ERR xraft does not support key expiry",
    );
    golden_err(
        &mut db,
        "SET s v PXAT 10",
        "ERR xraft does not support key expiry",
    );
    golden_err(
        &mut db,
        "SET s v KEEPTTL",
        "ERR xraft does not support key expiry",
    );
    golden_err(
        &mut db,
        "SET k",
        "ERR wrong number of arguments for 'set' command",
    );
    golden_err(
        &mut db,
        "GET",
        "ERR wrong number of arguments for 'get' command",
    );
    golden2(&mut db, 1, "GET s", &b("v"));
}

#[test]
fn set_over_other_types() {
    let mut db = Db::new();
    golden2(&mut db, 1, "LPUSH l a", &i(1));
    golden_err(&mut db, "GET l", WRONGTYPE);
    golden_err(&mut db, "SET l v GET", WRONGTYPE);
    golden2(&mut db, 1, "TYPE l", &st("list"));
    golden_null(&mut db, "SET l v NX");
    make_stream(&mut db, "x");
    // A plain SET overwrites any type, and signals the key (blocked XREADGROUP → WRONGTYPE).
    let cmd = parse(&args("SET x v")).expect("engine").expect("parses");
    let Prepared::Write(op) = cmd.prepare(&db, &ctx()) else {
        panic!("a write");
    };
    assert_eq!(streams::apply(&mut db, &op), Reply::ok());
    assert_eq!(db.take_ready(), vec![bytes("x")]);
    golden2(&mut db, 1, "TYPE x", &st("string"));
}

// ------------------------------------------------------------------ lists

#[test]
fn list_commands() {
    let mut db = Db::new();
    golden2(&mut db, 1, "RPUSH l a b c", &i(3));
    golden2(&mut db, 1, "LPUSH l x y", &i(5));
    golden2(
        &mut db,
        1,
        "LRANGE l 0 -1",
        &bulks(&["y", "x", "a", "b", "c"]),
    );
    golden2(
        &mut db,
        1,
        "LRANGE l -100 100",
        &bulks(&["y", "x", "a", "b", "c"]),
    );
    golden2(&mut db, 1, "LRANGE l -2 -1", &bulks(&["b", "c"]));
    golden2(&mut db, 1, "LRANGE l 5 10", &a(0));
    golden2(&mut db, 1, "LRANGE l 3 1", &a(0));
    golden_err(
        &mut db,
        "LRANGE l a 1",
        "ERR value is not an integer or out of range",
    );
    golden2(&mut db, 1, "LRANGE nol 0 -1", &a(0));
    golden2(&mut db, 1, "LLEN l", &i(5));
    golden2(&mut db, 1, "LLEN nol", &i(0));
    golden2(&mut db, 1, "LPOP l", &b("y"));
    golden2(&mut db, 1, "RPOP l 2", &bulks(&["c", "b"]));
    golden2(&mut db, 1, "LPOP l 0", &a(0));
    golden_null(&mut db, "LPOP nol");
    golden_null_array(&mut db, "LPOP nol 2");
    golden_err(
        &mut db,
        "LPOP l abc",
        "ERR value is out of range, must be positive",
    );
    golden_err(
        &mut db,
        "LPOP l -1",
        "ERR value is out of range, must be positive",
    );
    golden_err(
        &mut db,
        "LPOP k 1 2",
        "ERR wrong number of arguments for 'lpop' command",
    );
    golden_err(
        &mut db,
        "LPUSH k",
        "ERR wrong number of arguments for 'lpush' command",
    );
    golden2(&mut db, 1, "LPOP l 10", &bulks(&["x", "a"]));
    golden2(&mut db, 1, "EXISTS l", &i(0));
    golden_null(&mut db, "RPOP l");
    golden_ok(&mut db, "SET s v");
    golden_err(&mut db, "LPUSH s a", WRONGTYPE);
    golden_err(&mut db, "LLEN s", WRONGTYPE);
    golden_err(&mut db, "LRANGE s 0 1", WRONGTYPE);
    golden_err(&mut db, "RPOP s", WRONGTYPE);
}

#[test]
fn pushes_and_pops_count_as_dirty_and_signal() {
    let mut db = Db::new();
    let d0 = db.dirty;
    assert_eq!(
        execute(&mut db, &args("RPUSH l a b c"), &ctx()),
        Some(Reply::Integer(3))
    );
    assert_eq!(db.dirty, d0 + 3);
    assert!(db.take_ready().contains(&bytes("l")));
    execute(&mut db, &args("LPUSH l z"), &ctx());
    assert_eq!(
        db.take_ready(),
        vec![bytes("l")],
        "a push onto a list signals it"
    );
    execute(&mut db, &args("RPOP l 2"), &ctx());
    assert_eq!(db.dirty, d0 + 6);
    execute(&mut db, &args("LPOP l 0"), &ctx());
    assert_eq!(db.dirty, d0 + 6);
    execute(&mut db, &args("LPOP l 5"), &ctx());
    assert_eq!(db.dirty, d0 + 8);
    assert!(!db.contains(b"l"), "an emptied list is removed");
    let changes = db.take_changes();
    assert!(changes.contains(&Change::Key(bytes("l"))));
}

#[test]
fn blocking_pops() {
    let mut db = Db::new();
    golden_null_array(&mut db, "BLPOP a b 0");
    golden2(&mut db, 1, "RPUSH b x y", &i(2));
    golden2(&mut db, 1, "BLPOP a b 0", &bulks(&["b", "x"]));
    golden2(&mut db, 1, "BRPOP a b 1.5", &bulks(&["b", "y"]));
    golden2(&mut db, 1, "EXISTS b", &i(0));
    golden_ok(&mut db, "SET s v");
    golden_err(&mut db, "BLPOP a s 0", WRONGTYPE);
    golden2(&mut db, 1, "RPUSH a q", &i(1));
    // A list with data before the wrong-type key is served first, as in Redis.
    golden2(&mut db, 1, "BLPOP a s 0", &bulks(&["a", "q"]));
    golden_err(
        &mut db,
        "BLPOP a abc",
        "ERR timeout is not a float or out of range",
    );
    golden_err(&mut db, "BLPOP a -1", "ERR timeout is negative");
    golden_err(&mut db, "BRPOP a -inf", "ERR timeout is negative");
    golden_err(&mut db, "BLPOP a inf", "ERR timeout is out of range");
    golden_err(&mut db, "BLPOP a 1e400", "ERR timeout is out of range");
    golden_err(
        &mut db,
        "BLPOP a 1e5000",
        "ERR timeout is not a float or out of range",
    );
    golden_err(
        &mut db,
        "BLPOP a nan",
        "ERR timeout is not a float or out of range",
    );
    golden_err(
        &mut db,
        "BLPOP k",
        "ERR wrong number of arguments for 'blpop' command",
    );
    golden_err(
        &mut db,
        "BRPOP k",
        "ERR wrong number of arguments for 'brpop' command",
    );
    // A deadline past i64::MAX ms from now is out of range.
    let r = run(&mut db, u64::MAX / 2, "BLPOP a 9223372036854775");
    assert_eq!(
        wire(&r, Protocol::Resp2),
        err("ERR timeout is out of range")
    );
}

#[test]
fn blocking_pop_tells_the_server_how_to_wait() {
    let cmd = parse(&args("BLPOP a b 0.0015"))
        .expect("engine")
        .expect("parses");
    let block = cmd.block().expect("BLPOP blocks");
    assert_eq!(block.timeout_ms, 2, "seconds × 1000, rounded up");
    assert_eq!(block.keys, vec![bytes("a"), bytes("b")]);
    let cmd = parse(&args("BRPOP a 0")).expect("engine").expect("parses");
    assert_eq!(cmd.block().expect("blocks").timeout_ms, 0);
    let cmd = parse(&args("LPOP a")).expect("engine").expect("parses");
    assert!(cmd.block().is_none());
    // With nothing to pop the reply is a null array and nothing is written.
    let db = Db::new();
    let cmd = parse(&args("BLPOP a 0")).expect("engine").expect("parses");
    assert_eq!(cmd.prepare(&db, &ctx()), Prepared::Reply(Reply::NullArray));
}

// ------------------------------------------------------------------ sets

#[test]
fn set_commands() {
    let mut db = Db::new();
    golden2(&mut db, 1, "SADD st b a b", &i(2));
    golden2(&mut db, 1, "SADD st a", &i(0));
    golden(
        &mut db,
        1,
        "SMEMBERS st",
        &bulks(&["a", "b"]),
        "~2\\r\\n$1\\r\\na\\r\\n$1\\r\\nb\\r\\n",
    );
    golden(&mut db, 1, "SMEMBERS nost", &a(0), "~0\\r\\n");
    golden2(&mut db, 1, "SCARD st", &i(2));
    golden2(&mut db, 1, "SCARD nost", &i(0));
    golden2(&mut db, 1, "SISMEMBER st a", &i(1));
    golden2(&mut db, 1, "SISMEMBER st z", &i(0));
    golden2(&mut db, 1, "SISMEMBER nost z", &i(0));
    golden2(&mut db, 1, "SREM st a z", &i(1));
    golden2(&mut db, 1, "SREM nost a", &i(0));
    let d = db.dirty;
    golden2(&mut db, 1, "SREM st b", &i(1));
    assert_eq!(db.dirty, d + 1);
    golden2(&mut db, 1, "EXISTS st", &i(0));
    golden_ok(&mut db, "SET s v");
    golden_err(&mut db, "SADD s a", WRONGTYPE);
    golden_err(&mut db, "SREM s a", WRONGTYPE);
    golden_err(&mut db, "SMEMBERS s", WRONGTYPE);
    golden_err(&mut db, "SCARD s", WRONGTYPE);
    golden_err(&mut db, "SISMEMBER s a", WRONGTYPE);
    golden_err(
        &mut db,
        "SADD k",
        "ERR wrong number of arguments for 'sadd' command",
    );
    golden_err(
        &mut db,
        "SISMEMBER k",
        "ERR wrong number of arguments for 'sismember' command",
    );
    golden_err(
        &mut db,
        "SMEMBERS",
        "ERR wrong number of arguments for 'smembers' command",
    );
}

#[test]
fn wrongtype_against_a_stream() {
    let mut db = Db::new();
    make_stream(&mut db, "x");
    for line in [
        "GET x",
        "LPUSH x a",
        "RPOP x",
        "LLEN x",
        "BLPOP x 0",
        "SADD x m",
        "SCARD x",
        "SET x v GET",
    ] {
        golden_err(&mut db, line, WRONGTYPE);
    }
    golden2(&mut db, 1, "TYPE x", &st("stream"));
}

// ------------------------------------------------------------------ dirty accounting

#[test]
fn dirty_counts_like_redis() {
    let mut db = Db::new();
    let steps: &[(&str, u64)] = &[
        ("SET a 1", 1),
        ("SET a 1 NX", 0),
        ("SET b 2", 1),
        ("DEL a b c", 2),
        ("DEL a", 0),
        ("SADD s x y z", 3),
        ("SADD s x", 0),
        ("SREM s x q", 1),
        ("RENAME s t", 1),
        ("RENAMENX t t", 0),
        ("RPUSH l 1 2", 2),
        ("FLUSHALL", 2),
        ("FLUSHALL", 0),
    ];
    for (line, delta) in steps {
        let before = db.dirty;
        run(&mut db, 1, line);
        assert_eq!(db.dirty - before, *delta, "dirty after `{line}`");
    }
}

// ------------------------------------------------------------------ DUMP / RESTORE

fn fields(pairs: &[&[u8]]) -> Vec<Bytes> {
    pairs.iter().map(|x| Bytes::copy_from_slice(x)).collect()
}

/// A stream with everything DUMP must carry: entries (binary fields, repeated field names),
/// deleted entries (a whole freed node too), a node size of 3, a moved last ID, counters,
/// two groups (one with an invalid entries-read), consumers with and without activity, and
/// a PEL that includes a deleted entry.
fn rich_stream() -> Stream {
    let mut s = Stream::new();
    for n in 1..=14u64 {
        let v = format!("value-{n}");
        s.append(
            StreamId::new(1_000 + n / 2, n % 2),
            fields(&[b"f", v.as_bytes(), b"f", b"", b"bin\x00\xff", b"\r\n"]),
            3,
        );
    }
    for id in [
        StreamId::new(1_001, 0),
        StreamId::new(1_002, 1),
        StreamId::new(1_003, 0),
    ] {
        assert!(s.remove_entry(&id));
    }
    // 1_004-0 .. 1_005-0 share a node: freeing both frees the node.
    for id in [
        StreamId::new(1_004, 0),
        StreamId::new(1_004, 1),
        StreamId::new(1_005, 0),
    ] {
        s.remove_entry(&id);
    }
    s.set_max_deleted_id(StreamId::new(1_005, 0));
    s.set_last_id(StreamId::new(9_999, 7));
    s.set_entries_added(40);
    let g1 = Bytes::from_static(b"g1");
    assert!(s.create_group(g1.clone(), StreamId::new(1_006, 1), Some(12)));
    assert!(s.create_group(Bytes::from_static(b"g\x00two"), StreamId::MIN, None));
    assert!(s.create_consumer(b"g1", Bytes::from_static(b"alice"), 5_000));
    assert!(s.create_consumer(b"g1", Bytes::from_static(b"bob"), 6_000));
    assert!(s.create_consumer(b"g1", Bytes::from_static(b"idle"), 7_000));
    s.touch_consumer(b"g1", b"alice", Some(8_000), Some(8_000));
    let nack = |c: &'static [u8], t: u64, n: u64| Nack {
        consumer: Bytes::from_static(c),
        delivery_time: t,
        delivery_count: n,
    };
    assert!(s.pel_put(b"g1", StreamId::new(1_000, 1), nack(b"alice", 8_000, 3)));
    assert!(s.pel_put(b"g1", StreamId::new(1_001, 0), nack(b"alice", 8_001, 1))); // deleted
    assert!(s.pel_put(b"g1", StreamId::new(1_006, 0), nack(b"bob", 6_500, 2)));
    assert!(s.create_consumer(b"g\x00two", Bytes::from_static(b"carol"), 1));
    assert!(s.pel_put(
        b"g\x00two",
        StreamId::new(1_007, 0),
        nack(b"carol", 2, u64::MAX)
    ));
    s.take_changes();
    s.check_invariants().expect("a valid stream");
    assert!(s.radix_tree_keys() >= 3, "a non-default node layout");
    s
}

#[test]
fn dump_restore_round_trips_a_rich_stream() {
    let mut db = Db::new();
    let original = rich_stream();
    db.load(bytes("s"), Value::Stream(Box::new(original.clone())));
    let info_before = run(&mut db, 1, "XINFO STREAM s FULL");
    let groups_before = run(&mut db, 1, "XINFO GROUPS s");
    let payload = dump(&mut db, "s");

    golden_err(
        &mut db,
        "RESTORE s 0 payload",
        "BUSYKEY Target key name already exists.",
    );
    golden2(&mut db, 1, "DEL s", &i(1));
    let dirty = db.dirty;
    assert_eq!(restore(&mut db, "s", &payload, &[]), Reply::ok());
    assert_eq!(db.dirty, dirty + 1);

    let Some(Value::Stream(restored)) = db.get(b"s") else {
        panic!("a stream")
    };
    assert_eq!(**restored, original);
    assert_eq!(restored.nodes(), original.nodes());
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        assert_eq!(
            wire(&run(&mut db, 1, "XINFO STREAM s FULL"), proto),
            wire(&info_before, proto)
        );
        assert_eq!(
            wire(&run(&mut db, 1, "XINFO GROUPS s"), proto),
            wire(&groups_before, proto)
        );
    }
    // Deterministic: the restored stream dumps to the same bytes.
    assert_eq!(dump(&mut db, "s"), payload);
    // REPLACE overwrites, and the value stays the same.
    assert_eq!(
        restore(
            &mut db,
            "s",
            &payload,
            &["REPLACE", "ABSTTL", "IDLETIME", "10"]
        ),
        Reply::ok()
    );
    assert_eq!(dump(&mut db, "s"), payload);
    // Under another name too.
    assert_eq!(
        restore(&mut db, "copy", &payload, &["FREQ", "5"]),
        Reply::ok()
    );
    assert_eq!(db.get(b"copy"), db.get(b"s"));
}

#[test]
fn restore_records_a_whole_key_rewrite_and_signals() {
    let mut db = Db::new();
    db.load(bytes("s"), Value::Stream(Box::new(rich_stream())));
    let payload = dump(&mut db, "s");
    let cmd = parse(&[bytes("RESTORE"), bytes("t"), bytes("0"), payload])
        .expect("engine")
        .expect("parses");
    let Prepared::Write(op) = cmd.prepare(&db, &ctx()) else {
        panic!("a write")
    };
    assert_eq!(streams::apply(&mut db, &op), Reply::ok());
    assert_eq!(db.take_changes(), vec![Change::Key(bytes("t"))]);
    assert_eq!(db.take_ready(), vec![bytes("t")]);
    // Applying the same op again (a stale prepare) is refused: the key exists now.
    let r = streams::apply(&mut db, &op);
    assert_eq!(
        wire(&r, Protocol::Resp2),
        err("BUSYKEY Target key name already exists.")
    );
}

#[test]
fn dump_restore_round_trips_empty_and_other_values() {
    let mut db = Db::new();
    make_stream(&mut db, "empty");
    golden_ok(&mut db, "SET str hello");
    golden2(&mut db, 1, "RPUSH lst a b c", &i(3));
    golden2(&mut db, 1, "SADD set x y", &i(2));
    for key in ["empty", "str", "lst", "set"] {
        let before = db.get(key.as_bytes()).cloned();
        let payload = dump(&mut db, key);
        golden2(&mut db, 1, &format!("DEL {key}"), &i(1));
        assert_eq!(restore(&mut db, key, &payload, &[]), Reply::ok(), "{key}");
        assert_eq!(db.get(key.as_bytes()).cloned(), before, "{key}");
    }
    golden2(&mut db, 1, "LRANGE lst 0 -1", &bulks(&["a", "b", "c"]));
    golden_null(&mut db, "DUMP nokey");
    golden_err(
        &mut db,
        "DUMP",
        "ERR wrong number of arguments for 'dump' command",
    );
}

#[test]
fn restore_errors_in_redis_order() {
    let mut db = Db::new();
    golden_ok(&mut db, "SET src v");
    let good = dump(&mut db, "src");
    golden_err(
        &mut db,
        "RESTORE k 0 xxxxxxxxxxxxxxxxxxxxxx",
        "ERR DUMP payload version or checksum are wrong",
    );
    golden_err(
        &mut db,
        "RESTORE k 0 short",
        "ERR DUMP payload version or checksum are wrong",
    );
    golden_err(
        &mut db,
        "RESTORE k -1 xx",
        "ERR Invalid TTL value, must be >= 0",
    );
    golden_err(
        &mut db,
        "RESTORE k abc xx",
        "ERR value is not an integer or out of range",
    );
    golden_err(
        &mut db,
        "RESTORE k 0 xx REPLACE ABSTTL IDLETIME 5",
        "ERR DUMP payload version or checksum are wrong",
    );
    golden_err(
        &mut db,
        "RESTORE k 0 xx IDLETIME -1",
        "ERR Invalid IDLETIME value, must be >= 0",
    );
    golden_err(
        &mut db,
        "RESTORE k 0 xx IDLETIME 5 FREQ 3",
        "ERR syntax error",
    );
    golden_err(
        &mut db,
        "RESTORE k 0 xx FREQ 3 IDLETIME 5",
        "ERR syntax error",
    );
    golden_err(
        &mut db,
        "RESTORE k 0 xx FREQ 300",
        "ERR Invalid FREQ value, must be >= 0 and <= 255",
    );
    golden_err(
        &mut db,
        "RESTORE k 0 xx FREQ x",
        "ERR value is not an integer or out of range",
    );
    golden_err(&mut db, "RESTORE k 0 xx BAR", "ERR syntax error");
    golden_err(&mut db, "RESTORE k 0 xx IDLETIME", "ERR syntax error");
    golden_err(
        &mut db,
        "RESTORE k 0",
        "ERR wrong number of arguments for 'restore' command",
    );
    // The key check comes before the TTL check; REPLACE skips it.
    golden_err(
        &mut db,
        "RESTORE src -1 xx",
        "BUSYKEY Target key name already exists.",
    );
    golden_err(
        &mut db,
        "RESTORE src -1 xx REPLACE",
        "ERR Invalid TTL value, must be >= 0",
    );
    // No expiry here: any positive TTL is refused, before the payload is looked at.
    golden_err(
        &mut db,
        "RESTORE k 1000 xx",
        "ERR xraft does not support key expiry (ttl must be 0)",
    );
    let r = restore_ttl(&mut db, "k", "5", &good);
    assert_eq!(
        wire(&r, Protocol::Resp2),
        err("ERR xraft does not support key expiry (ttl must be 0)")
    );
    assert!(!db.contains(b"k"));

    // A right trailer around a wrong body: Bad data format.
    for body in [
        &b""[..],
        b"X",
        b"X\x09",
        b"X\x01\x05ab",
        b"Z\x01\x01a",
        b"X\x02\x00",
        b"X\x01\x01ab",
    ] {
        let r = run_args(
            &mut db,
            ctx(),
            &[
                bytes("RESTORE"),
                bytes("k"),
                bytes("0"),
                Bytes::from(with_trailer(body, 1)),
            ],
        );
        assert_eq!(
            wire(&r, Protocol::Resp2),
            err("ERR Bad data format"),
            "{body:?}"
        );
    }
    // Another version with a right checksum.
    let r = run_args(
        &mut db,
        ctx(),
        &[
            bytes("RESTORE"),
            bytes("k"),
            bytes("0"),
            Bytes::from(with_trailer(b"X\x01\x01a", 9)),
        ],
    );
    assert_eq!(
        wire(&r, Protocol::Resp2),
        err("ERR DUMP payload version or checksum are wrong")
    );
    let r = run_args(
        &mut db,
        ctx(),
        &[
            bytes("RESTORE"),
            bytes("k"),
            bytes("0"),
            Bytes::from(with_trailer(b"X\x01\x01a", 1)),
        ],
    );
    assert_eq!(r, Reply::ok());
    golden2(&mut db, 1, "GET k", &b("a"));
}

fn restore_ttl(db: &mut Db, key: &str, ttl: &str, payload: &Bytes) -> Reply {
    run_args(
        db,
        ctx(),
        &[bytes("RESTORE"), bytes(key), bytes(ttl), payload.clone()],
    )
}

/// `body ‖ version ‖ crc64` as DUMP writes it.
fn with_trailer(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64_redis(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// Redis's CRC-64 (Jones polynomial, reflected), bit by bit: an independent check of the
/// trailer the engine writes.
fn crc64_redis(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut crc = 0u64;
    for &byte in data {
        crc ^= byte as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[test]
fn dump_trailer_is_redis_crc64() {
    assert_eq!(crc64_redis(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    let p = encode_value(&Value::String(bytes("hello")));
    let n = p.len();
    assert_eq!(&p[n - 10..n - 8], &1u16.to_le_bytes());
    assert_eq!(p[n - 8..], crc64_redis(&p[..n - 8]).to_le_bytes());
    assert_eq!(&p[..2], b"X\x01");
}

#[test]
fn decoder_rejects_inconsistent_streams() {
    let good = encode_value(&Value::Stream(Box::new(rich_stream())));
    let body = &good[..good.len() - 10];
    assert!(decode_value(&with_trailer(body, 1)).is_ok());
    // Truncating the body anywhere, or adding a byte, is a format error.
    for cut in 0..body.len() {
        assert_eq!(
            decode_value(&with_trailer(&body[..cut], 1)),
            Err(DecodeError::BadFormat),
            "cut at {cut}"
        );
    }
    let mut longer = body.to_vec();
    longer.push(0);
    assert_eq!(
        decode_value(&with_trailer(&longer, 1)),
        Err(DecodeError::BadFormat)
    );
    // Empty lists and sets do not exist in Redis.
    assert_eq!(
        decode_value(&with_trailer(b"X\x02\x00", 1)),
        Err(DecodeError::BadFormat)
    );
    assert_eq!(
        decode_value(&with_trailer(b"X\x03\x00", 1)),
        Err(DecodeError::BadFormat)
    );
    // Set members must be unique.
    assert_eq!(
        decode_value(&with_trailer(b"X\x03\x02\x01a\x01a", 1)),
        Err(DecodeError::BadFormat)
    );
}

// ------------------------------------------------------------------ properties

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Insert(u16),
        Delete(u16),
        Scan(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u16..400).prop_map(Step::Insert),
            (0u16..400).prop_map(Step::Delete),
            (1u8..20).prop_map(Step::Scan),
        ]
    }

    fn key(n: u16) -> Bytes {
        Bytes::from(format!("key:{n}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// A full SCAN iteration, interleaved with inserts and deletes, returns every key
        /// present from its start to its end, and no key twice.
        #[test]
        fn scan_returns_every_key_present_throughout(
            initial in proptest::collection::btree_set(0u16..400, 0..150),
            steps in proptest::collection::vec(step(), 0..300),
        ) {
            let mut db = Db::new();
            for n in &initial {
                db.load(key(*n), Value::String(Bytes::from_static(b"v")));
            }
            let mut always: BTreeSet<Bytes> = initial.iter().map(|n| key(*n)).collect();
            let mut seen: Vec<Bytes> = Vec::new();
            let mut cursor = 0u64;
            let mut finished = false;
            let mut steps = steps.into_iter();
            let mut scans = 0;
            while !finished {
                let count = match steps.next() {
                    Some(Step::Insert(n)) => {
                        db.set(key(n), Value::String(Bytes::from_static(b"w")));
                        continue;
                    }
                    Some(Step::Delete(n)) => {
                        db.remove(&key(n));
                        always.remove(&key(n));
                        continue;
                    }
                    Some(Step::Scan(c)) => c as u64,
                    None => 10,
                };
                scans += 1;
                prop_assert!(scans < 10_000);
                let line = [
                    Bytes::from_static(b"SCAN"),
                    Bytes::from(cursor.to_string()),
                    Bytes::from_static(b"COUNT"),
                    Bytes::from(count.to_string()),
                ];
                let r = execute(&mut db, &line, &Ctx::default()).expect("engine");
                let Reply::Array(parts) = r else { panic!("{r:?}") };
                let (Reply::Bulk(next), Reply::Array(keys)) = (&parts[0], &parts[1]) else {
                    panic!("{parts:?}")
                };
                for k in keys {
                    let Reply::Bulk(k) = k else { panic!("{k:?}") };
                    seen.push(k.clone());
                }
                cursor = std::str::from_utf8(next).unwrap().parse().unwrap();
                finished = cursor == 0;
            }
            let unique: HashSet<&Bytes> = seen.iter().collect();
            prop_assert_eq!(unique.len(), seen.len(), "a key came back twice");
            for k in &always {
                prop_assert!(unique.contains(k), "missed {:?}", k);
            }
        }

        /// Decoding arbitrary bytes never panics (with a random or a right trailer).
        #[test]
        fn restore_of_arbitrary_bytes_never_panics(
            raw in proptest::collection::vec(any::<u8>(), 0..400),
            with_good_trailer in any::<bool>(),
        ) {
            let payload = if with_good_trailer { with_trailer(&raw, 1) } else { raw };
            let mut db = Db::new();
            let r = run_args(
                &mut db,
                ctx(),
                &[bytes("RESTORE"), bytes("k"), bytes("0"), Bytes::from(payload.clone())],
            );
            match decode_value(&payload) {
                Ok(v) => {
                    prop_assert_eq!(r, Reply::ok());
                    // Whatever decodes dumps back to the same value.
                    prop_assert_eq!(decode_value(&encode_value(&v)), Ok(v));
                }
                Err(_) => prop_assert!(r.is_error()),
            }
        }

        /// Corrupting a real stream dump (then fixing the trailer) never panics, and what
        /// still decodes is a valid stream.
        #[test]
        fn mutated_stream_dumps_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let good = encode_value(&Value::Stream(Box::new(rich_stream())));
            let mut body = good[..good.len() - 10].to_vec();
            for (at, byte) in edits {
                let i = at.index(body.len());
                body[i] = byte;
            }
            if truncate {
                body.truncate(cut.index(body.len() + 1));
            }
            if let Ok(Value::Stream(s)) = decode_value(&with_trailer(&body, 1)) {
                prop_assert!(s.check_invariants().is_ok());
            }
        }
    }
}

/// The official suite's flow ("Consumer seen-time and active-time"): a stream built with the
/// stream commands survives DUMP / DEL / RESTORE with every XINFO field unchanged.
#[test]
fn dump_restore_after_stream_commands() {
    let mut db = Db::new();
    let ok = |r: Reply| assert!(!r.is_error(), "{r:?}");
    let c = Ctx {
        now_ms: 1_000,
        node_max_entries: 2,
    };
    let exec = |db: &mut Db, now_ms: u64, line: &str| {
        crate::common::run_ctx(db, Ctx { now_ms, ..c }, line)
    };
    ok(exec(
        &mut db,
        1_000,
        "XGROUP CREATE mystream mygroup $ MKSTREAM",
    ));
    for n in 1..=7 {
        ok(exec(
            &mut db,
            1_000 + n,
            &format!("XADD mystream * f{n} v{n}"),
        ));
    }
    ok(exec(
        &mut db,
        2_000,
        "XREADGROUP GROUP mygroup Alice COUNT 3 STREAMS mystream >",
    ));
    ok(exec(
        &mut db,
        2_500,
        "XREADGROUP GROUP mygroup Bob COUNT 2 STREAMS mystream >",
    ));
    ok(exec(&mut db, 2_600, "XDEL mystream 1002-0 1004-0"));
    ok(exec(&mut db, 2_700, "XGROUP CREATE mystream other 0"));
    let info = exec(&mut db, 3_000, "XINFO STREAM mystream FULL");
    let payload = dump(&mut db, "mystream");
    let mut twin = Db::new();
    twin.load(
        bytes("mystream"),
        db.get(b"mystream").cloned().expect("the stream"),
    );
    golden2(&mut db, 1, "DEL mystream", &i(1));
    assert_eq!(restore(&mut db, "mystream", &payload, &[]), Reply::ok());
    let again = exec(&mut db, 3_000, "XINFO STREAM mystream FULL");
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        assert_eq!(wire(&again, proto), wire(&info, proto));
    }
    // New entries land in the same nodes as they do in the original.
    for d in [&mut db, &mut twin] {
        ok(exec(d, 4_000, "XADD mystream * f8 v8"));
        ok(exec(d, 4_001, "XADD mystream * f9 v9"));
    }
    assert_eq!(db.get(b"mystream"), twin.get(b"mystream"));
    let Some(Value::Stream(s)) = db.get(b"mystream") else {
        panic!("a stream")
    };
    assert!(s.radix_tree_keys() >= 3, "node size 2 splits the stream");
}
