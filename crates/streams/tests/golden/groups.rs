//! Golden tests of the consumer-group commands: command in, exact RESP2 and RESP3 bytes out.
//! Expected texts follow Redis 8.0 (see /work/shared/docs/streams-semantics.md §6.2, §7–§10).
use crate::common::{args, golden, golden2, run, run_args, wire};
use bytes::Bytes;
use resp::{Protocol, Reply};
use streams::id::parse_id;
use streams::{execute, Ctx, Db, Prepared, StreamId, Value};

// ------------------------------------------------------------------ wire builders

use crate::common::{a, b, err, i, st};
/// A dict header: a flat array in RESP2, a map in RESP3.
fn map(p3: bool, n: usize) -> String {
    if p3 {
        format!("%{n}\\r\\n")
    } else {
        a(2 * n)
    }
}
/// Null bulk / null array in RESP2, `_` in RESP3.
fn nullb(p3: bool) -> String {
    if p3 { "_\\r\\n" } else { "$-1\\r\\n" }.to_string()
}
fn nulla(p3: bool) -> String {
    if p3 { "_\\r\\n" } else { "*-1\\r\\n" }.to_string()
}
/// An entry `[id, [f, v, ...]]`.
fn ent(id: &str, fv: &[&str]) -> String {
    let mut s = a(2) + &b(id) + &a(fv.len());
    for x in fv {
        s += &b(x);
    }
    s
}
/// The XREADGROUP top level for `n` streams.
fn top(p3: bool, n: usize) -> String {
    if p3 {
        format!("%{n}\\r\\n")
    } else {
        a(n)
    }
}
/// One `key → entries` item of the XREADGROUP top level.
fn stream_item(p3: bool, key: &str, n_entries: usize) -> String {
    if p3 {
        b(key) + &a(n_entries)
    } else {
        a(2) + &b(key) + &a(n_entries)
    }
}

#[track_caller]
fn golden_err(db: &mut Db, now: u64, line: &str, msg: &str) {
    golden2(db, now, line, &err(msg));
}

#[track_caller]
fn golden_fn(db: &mut Db, now: u64, line: &str, f: impl Fn(bool) -> String) {
    golden(db, now, line, &f(false), &f(true));
}

// ------------------------------------------------------------------ state setup
//
// Entries are added with the engine's XADD/XDEL/XTRIM when the engine has them, and through
// the model API otherwise, so these tests do not depend on the entries commands' progress.

fn ctx(now_ms: u64) -> Ctx {
    Ctx {
        now_ms,
        ..Ctx::default()
    }
}

fn try_engine(db: &mut Db, line: &str) -> bool {
    if streams::parse(&args(line)).is_none() {
        return false;
    }
    let r = run_args(db, ctx(1), &args(line));
    assert!(!r.is_error(), "`{line}` failed: {r:?}");
    true
}

fn xadd(db: &mut Db, key: &str, id: &str, fv: &[&str]) {
    let line = format!("XADD {key} {id} {}", fv.join(" "));
    if try_engine(db, &line) {
        return;
    }
    let id = parse_id(id.as_bytes(), true, 0).expect("a test ID");
    let fields = fv
        .iter()
        .map(|x| Bytes::copy_from_slice(x.as_bytes()))
        .collect();
    let s = db
        .stream_or_create(&Bytes::copy_from_slice(key.as_bytes()))
        .expect("a stream key");
    s.append(id, fields, 100);
    db.take_changes();
}

fn xdel(db: &mut Db, key: &str, id: &str) {
    if try_engine(db, &format!("XDEL {key} {id}")) {
        return;
    }
    let id = parse_id(id.as_bytes(), true, 0).expect("a test ID");
    let Ok(Some(s)) = db.stream_mut(key.as_bytes()) else {
        panic!("no stream {key}");
    };
    if s.remove_entry(&id) && id > s.max_deleted_id() {
        s.set_max_deleted_id(id);
    }
    db.take_changes();
}

fn xtrim_all(db: &mut Db, key: &str) {
    if try_engine(db, &format!("XTRIM {key} MAXLEN 0")) {
        return;
    }
    let Ok(Some(s)) = db.stream_mut(key.as_bytes()) else {
        panic!("no stream {key}");
    };
    let ids: Vec<StreamId> = s.entries().keys().copied().collect();
    for id in ids {
        s.remove_entry(&id);
    }
    db.take_changes();
}

fn set_string(db: &mut Db, key: &str) {
    let r = run(db, 1, &format!("SET {key} x"));
    assert_eq!(r, Reply::ok());
}

/// Stream `s` with entries 1-0..n-0 (`f i`) and group `g` at 0.
fn stream_with_group(n: u64) -> Db {
    let mut db = Db::new();
    for k in 1..=n {
        xadd(&mut db, "s", &format!("{k}-0"), &["f", &k.to_string()]);
    }
    golden2(&mut db, 1000, "XGROUP CREATE s g 0", OK);
    db
}

const OK: &str = "+OK\\r\\n";

// ------------------------------------------------------------------ XGROUP

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
];

#[test]
fn xgroup_help_and_generic_errors() {
    let mut db = Db::new();
    let mut help = a(XGROUP_HELP.len());
    for l in XGROUP_HELP {
        help += &st(l);
    }
    golden2(&mut db, 1, "XGROUP HELP", &help);
    golden2(&mut db, 1, "xgroup help", &help);
    golden_err(
        &mut db,
        1,
        "XGROUP HELP extra",
        "ERR wrong number of arguments for 'xgroup|help' command",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP",
        "ERR wrong number of arguments for 'xgroup' command",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP foo s g",
        "ERR unknown subcommand 'foo'. Try XGROUP HELP.",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP CREATE s g",
        "ERR wrong number of arguments for 'xgroup|create' command",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP SETID s g",
        "ERR wrong number of arguments for 'xgroup|setid' command",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP DESTROY s",
        "ERR wrong number of arguments for 'xgroup|destroy' command",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP DESTROY s g x",
        "ERR wrong number of arguments for 'xgroup|destroy' command",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP CREATECONSUMER s g",
        "ERR wrong number of arguments for 'xgroup|createconsumer' command",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP DELCONSUMER s g c x",
        "ERR wrong number of arguments for 'xgroup|delconsumer' command",
    );
}

#[test]
fn xgroup_create() {
    let mut db = Db::new();
    let no_key = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
    golden_err(&mut db, 1, "XGROUP CREATE s g $", no_key);
    assert!(!db.contains(b"s"), "a failed CREATE creates nothing");
    golden2(&mut db, 1, "XGROUP CREATE s g $ MKSTREAM", OK);
    assert!(db.contains(b"s"));
    golden_err(
        &mut db,
        1,
        "XGROUP CREATE s g $",
        "BUSYGROUP Consumer Group name already exists",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP CREATE s g $ MKSTREAM",
        "BUSYGROUP Consumer Group name already exists",
    );
    // Options come first: unknown ones are reported before the key is looked at.
    golden_err(
        &mut db,
        1,
        "XGROUP create nokey g $ FOO",
        "ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP.",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP CREATE s g2 $ ENTRIESREAD",
        "ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP CREATE s g2 $ ENTRIESREAD abc",
        "ERR value is not an integer or out of range",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP CREATE s g2 $ ENTRIESREAD -2",
        "ERR value for ENTRIESREAD must be positive or -1",
    );
    // Too many (valid) options: reported after the key checks.
    golden_err(
        &mut db,
        1,
        "XGROUP CREATE s g2 $ MKSTREAM MKSTREAM MKSTREAM MKSTREAM",
        "ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.",
    );
    for bad in ["-", "+", "abc", "1-1-1", "18446744073709551616"] {
        golden_err(
            &mut db,
            1,
            &format!("XGROUP CREATE s g2 {bad}"),
            "ERR Invalid stream ID specified as stream command argument",
        );
    }
    golden2(&mut db, 1, "XGROUP CREATE s g2 99-1 ENTRIESREAD -1", OK);
    golden2(
        &mut db,
        1,
        "XGROUP CREATE s g3 7 ENTRIESREAD 4 MKSTREAM",
        OK,
    );
    golden_fn(&mut db, 1, "XINFO GROUPS s", |p3| {
        let g = |name: &str, last: &str, read: Option<i64>| {
            map(p3, 6)
                + &b("name")
                + &b(name)
                + &b("consumers")
                + &i(0)
                + &b("pending")
                + &i(0)
                + &b("last-delivered-id")
                + &b(last)
                + &b("entries-read")
                + &read.map_or(nullb(p3), i)
                + &b("lag")
                + &i(0)
        };
        a(3) + &g("g", "0-0", None) + &g("g2", "99-1", None) + &g("g3", "7-0", Some(4))
    });
}

#[test]
fn xgroup_wrongtype_comes_before_missing_key() {
    let mut db = Db::new();
    set_string(&mut db, "str");
    let wt = "WRONGTYPE Operation against a key holding the wrong kind of value";
    golden_err(&mut db, 1, "XGROUP CREATE str g $", wt);
    golden_err(&mut db, 1, "XGROUP CREATE str g $ MKSTREAM", wt);
    golden_err(&mut db, 1, "XGROUP SETID str g $", wt);
    golden_err(&mut db, 1, "XGROUP DESTROY str g", wt);
    golden_err(&mut db, 1, "XGROUP CREATECONSUMER str g c", wt);
    golden_err(&mut db, 1, "XGROUP DELCONSUMER str g c", wt);
}

#[test]
fn xgroup_setid() {
    let mut db = stream_with_group(3);
    golden_err(
        &mut db,
        1,
        "XGROUP SETID s nog 0",
        "NOGROUP No such consumer group 'nog' for key name 's'",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP SETID nokey g 0",
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP SETID s g 0 MKSTREAM",
        "ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP SETID s g 0 ENTRIESREAD",
        "ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP SETID s g 0 ENTRIESREAD 1 ENTRIESREAD 2",
        "ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.",
    );
    golden_err(
        &mut db,
        1,
        "XGROUP SETID s g x",
        "ERR Invalid stream ID specified as stream command argument",
    );
    let last = |db: &mut Db| -> String {
        let r = run(db, 1, "XINFO GROUPS s");
        let Reply::Array(groups) = r else {
            panic!("{r:?}")
        };
        let Reply::Map(fields) = &groups[0] else {
            panic!()
        };
        match (&fields[3].1, &fields[4].1) {
            (Reply::Bulk(id), er) => format!("{} {:?}", String::from_utf8_lossy(id), er),
            other => panic!("{other:?}"),
        }
    };
    // SETID parses non-strictly: - and + are accepted.
    golden2(&mut db, 1, "XGROUP SETID s g +", OK);
    assert_eq!(
        last(&mut db),
        "18446744073709551615-18446744073709551615 Null"
    );
    golden2(&mut db, 1, "XGROUP SETID s g - ENTRIESREAD 0", OK);
    assert_eq!(last(&mut db), "0-0 Integer(0)");
    golden2(&mut db, 1, "XGROUP SETID s g $ ENTRIESREAD 3", OK);
    assert_eq!(last(&mut db), "3-0 Integer(3)");
    golden2(&mut db, 1, "XGROUP SETID s g 2", OK);
    assert_eq!(last(&mut db), "2-0 Null");
}

#[test]
fn xgroup_destroy_signals_the_key() {
    let mut db = stream_with_group(1);
    let r = execute(&mut db, &args("XGROUP DESTROY s g"), &ctx(1)).expect("engine command");
    assert_eq!(r, Reply::Integer(1));
    assert!(db.take_ready().iter().any(|k| k.as_ref() == b"s"));
    golden2(&mut db, 1, "XGROUP DESTROY s g", &i(0));
    golden_err(
        &mut db,
        1,
        "XGROUP DESTROY nokey g",
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS s >",
        "NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option",
    );
}

#[test]
fn xgroup_consumers() {
    let mut db = stream_with_group(3);
    golden2(&mut db, 5, "XGROUP CREATECONSUMER s g alice", &i(1));
    golden2(&mut db, 5, "XGROUP CREATECONSUMER s g alice", &i(0));
    golden_err(
        &mut db,
        5,
        "XGROUP CREATECONSUMER s nog alice",
        "NOGROUP No such consumer group 'nog' for key name 's'",
    );
    golden_err(
        &mut db,
        5,
        "XGROUP DELCONSUMER s nog alice",
        "NOGROUP No such consumer group 'nog' for key name 's'",
    );
    // alice gets two entries, bob one.
    run(&mut db, 6, "XREADGROUP GROUP g alice COUNT 2 STREAMS s >");
    run(&mut db, 6, "XREADGROUP GROUP g bob STREAMS s >");
    golden2(&mut db, 7, "XGROUP DELCONSUMER s g nobody", &i(0));
    golden2(&mut db, 7, "XGROUP DELCONSUMER s g alice", &i(2));
    // alice's entries are gone from the group PEL too.
    golden2(
        &mut db,
        7,
        "XPENDING s g",
        &(a(4) + &i(1) + &b("3-0") + &b("3-0") + &a(1) + &a(2) + &b("bob") + &b("1")),
    );
    golden_fn(&mut db, 10, "XINFO CONSUMERS s g", |p3| {
        a(1) + &map(p3, 4)
            + &b("name")
            + &b("bob")
            + &b("pending")
            + &i(1)
            + &b("idle")
            + &i(4)
            + &b("inactive")
            + &i(4)
    });
}

// ------------------------------------------------------------------ XREADGROUP

#[test]
fn xreadgroup_parse_errors() {
    let mut db = stream_with_group(2);
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS s",
        "ERR wrong number of arguments for 'xreadgroup' command",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP COUNT 1 NOACK STREAMS s >",
        "ERR Missing GROUP option for XREADGROUP",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS s t >",
        "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c FOO STREAMS s >",
        "ERR syntax error",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c COUNT 1 NOACK s",
        "ERR syntax error",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c COUNT x STREAMS s >",
        "ERR value is not an integer or out of range",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c BLOCK x STREAMS s >",
        "ERR timeout is not an integer or out of range",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c BLOCK -1 STREAMS s >",
        "ERR timeout is negative",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS s $",
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS s +",
        "ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS s -",
        "ERR Invalid stream ID specified as stream command argument",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS nokey >",
        "NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option",
    );
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP nog c STREAMS s >",
        "NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option",
    );
    set_string(&mut db, "str");
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS s str > >",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
    // Streams are checked in order: the missing one first.
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c STREAMS nokey str > >",
        "NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option",
    );
    // No error created the consumer.
    golden2(&mut db, 1, "XINFO CONSUMERS s g", &a(0));
}

#[test]
fn xreadgroup_new_entries() {
    let mut db = stream_with_group(3);
    golden_fn(
        &mut db,
        100,
        "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
        |p3| {
            top(p3, 1)
                + &stream_item(p3, "s", 2)
                + &ent("1-0", &["f", "1"])
                + &ent("2-0", &["f", "2"])
        },
    );
    golden(
        &mut db,
        101,
        "XREADGROUP GROUP g bob STREAMS s >",
        "*1\\r\\n*2\\r\\n$1\\r\\ns\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n3-0\\r\\n*2\\r\\n$1\\r\\nf\\r\\n$1\\r\\n3\\r\\n",
        "%1\\r\\n$1\\r\\ns\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n3-0\\r\\n*2\\r\\n$1\\r\\nf\\r\\n$1\\r\\n3\\r\\n",
    );
    // Nothing new: a null array (the server may block on it).
    golden(
        &mut db,
        102,
        "XREADGROUP GROUP g alice STREAMS s >",
        "*-1\\r\\n",
        "_\\r\\n",
    );
    golden2(
        &mut db,
        150,
        "XPENDING s g - + 10",
        &(a(3)
            + &a(4)
            + &b("1-0")
            + &b("alice")
            + &i(50)
            + &i(1)
            + &a(4)
            + &b("2-0")
            + &b("alice")
            + &i(50)
            + &i(1)
            + &a(4)
            + &b("3-0")
            + &b("bob")
            + &i(49)
            + &i(1)),
    );
}

#[test]
fn xreadgroup_history_reads() {
    let mut db = stream_with_group(3);
    run(&mut db, 100, "XREADGROUP GROUP g c STREAMS s >");
    // History: every pending entry of this consumer after the ID; each delivery counts.
    golden_fn(&mut db, 200, "XREADGROUP GROUP g c STREAMS s 0", |p3| {
        top(p3, 1)
            + &stream_item(p3, "s", 3)
            + &ent("1-0", &["f", "1"])
            + &ent("2-0", &["f", "2"])
            + &ent("3-0", &["f", "3"])
    });
    golden_fn(
        &mut db,
        300,
        "XREADGROUP GROUP g c COUNT 1 STREAMS s 1-0",
        |p3| top(p3, 1) + &stream_item(p3, "s", 1) + &ent("2-0", &["f", "2"]),
    );
    golden2(
        &mut db,
        350,
        "XPENDING s g - + 10",
        &(a(3)
            + &a(4)
            + &b("1-0")
            + &b("c")
            + &i(150)
            + &i(2)
            + &a(4)
            + &b("2-0")
            + &b("c")
            + &i(50)
            + &i(3)
            + &a(4)
            + &b("3-0")
            + &b("c")
            + &i(150)
            + &i(2)),
    );
    // A deleted entry shows as [id, null] and its NACK is untouched.
    xdel(&mut db, "s", "2-0");
    golden(
        &mut db,
        400,
        "XREADGROUP GROUP g c STREAMS s 1",
        "*1\\r\\n*2\\r\\n$1\\r\\ns\\r\\n*2\\r\\n*2\\r\\n$3\\r\\n2-0\\r\\n*-1\\r\\n*2\\r\\n$3\\r\\n3-0\\r\\n*2\\r\\n$1\\r\\nf\\r\\n$1\\r\\n3\\r\\n",
        "%1\\r\\n$1\\r\\ns\\r\\n*2\\r\\n*2\\r\\n$3\\r\\n2-0\\r\\n_\\r\\n*2\\r\\n$3\\r\\n3-0\\r\\n*2\\r\\n$1\\r\\nf\\r\\n$1\\r\\n3\\r\\n",
    );
    golden2(
        &mut db,
        400,
        "XPENDING s g 2-0 2-0 10",
        &(a(1) + &a(4) + &b("2-0") + &b("c") + &i(100) + &i(3)),
    );
    // An empty history still lists the stream.
    golden(
        &mut db,
        500,
        "XREADGROUP GROUP g c STREAMS s 3-0",
        "*1\\r\\n*2\\r\\n$1\\r\\ns\\r\\n*0\\r\\n",
        "%1\\r\\n$1\\r\\ns\\r\\n*0\\r\\n",
    );
    // Another consumer's history is its own (empty); it is created by the read.
    golden_fn(&mut db, 500, "XREADGROUP GROUP g other STREAMS s 0", |p3| {
        top(p3, 1) + &stream_item(p3, "s", 0)
    });
    let r = run(&mut db, 500, "XINFO CONSUMERS s g");
    assert!(wire(&r, Protocol::Resp2).contains("$5\\r\\nother\\r\\n"));
}

#[test]
fn xreadgroup_explicit_max_id_means_new_entries() {
    let mut db = stream_with_group(2);
    let max = "18446744073709551615-18446744073709551615";
    golden_fn(
        &mut db,
        10,
        &format!("XREADGROUP GROUP g c STREAMS s {max}"),
        |p3| {
            top(p3, 1)
                + &stream_item(p3, "s", 2)
                + &ent("1-0", &["f", "1"])
                + &ent("2-0", &["f", "2"])
        },
    );
    golden_fn(
        &mut db,
        20,
        &format!("XREADGROUP GROUP g c STREAMS s {max}"),
        nulla,
    );
}

#[test]
fn xreadgroup_noack() {
    let mut db = stream_with_group(2);
    golden_fn(
        &mut db,
        10,
        "XREADGROUP GROUP g c NOACK STREAMS s >",
        |p3| {
            top(p3, 1)
                + &stream_item(p3, "s", 2)
                + &ent("1-0", &["f", "1"])
                + &ent("2-0", &["f", "2"])
        },
    );
    golden_fn(&mut db, 10, "XPENDING s g", |p3| {
        a(4) + &i(0) + &nullb(p3) + &nullb(p3) + &nulla(p3)
    });
    golden_fn(&mut db, 10, "XINFO GROUPS s", |p3| {
        a(1) + &map(p3, 6)
            + &b("name")
            + &b("g")
            + &b("consumers")
            + &i(1)
            + &b("pending")
            + &i(0)
            + &b("last-delivered-id")
            + &b("2-0")
            + &b("entries-read")
            + &i(2)
            + &b("lag")
            + &i(0)
    });
    // NOACK does not make the consumer active.
    golden_fn(&mut db, 15, "XINFO CONSUMERS s g", |p3| {
        a(1) + &map(p3, 4)
            + &b("name")
            + &b("c")
            + &b("pending")
            + &i(0)
            + &b("idle")
            + &i(5)
            + &b("inactive")
            + &i(-1)
    });
}

#[test]
fn xreadgroup_multiple_streams_and_same_key_twice() {
    let mut db = stream_with_group(2);
    xadd(&mut db, "t", "5-0", &["a", "b"]);
    golden2(&mut db, 1, "XGROUP CREATE t g $", OK);
    // Only streams with something new are listed.
    golden_fn(&mut db, 10, "XREADGROUP GROUP g c STREAMS s t > >", |p3| {
        top(p3, 1) + &stream_item(p3, "s", 2) + &ent("1-0", &["f", "1"]) + &ent("2-0", &["f", "2"])
    });
    xadd(&mut db, "s", "3-0", &["f", "3"]);
    xadd(&mut db, "s", "4-0", &["f", "4"]);
    // The second occurrence sees what the first delivered; history sees both.
    golden_fn(
        &mut db,
        20,
        "XREADGROUP GROUP g c COUNT 1 STREAMS s s s > > 2-0",
        |p3| {
            top(p3, 3)
                + &stream_item(p3, "s", 1)
                + &ent("3-0", &["f", "3"])
                + &stream_item(p3, "s", 1)
                + &ent("4-0", &["f", "4"])
                + &stream_item(p3, "s", 1)
                + &ent("3-0", &["f", "3"])
        },
    );
    golden2(
        &mut db,
        30,
        "XPENDING s g 3 4 10",
        &(a(2)
            + &a(4)
            + &b("3-0")
            + &b("c")
            + &i(10)
            + &i(2)
            + &a(4)
            + &b("4-0")
            + &b("c")
            + &i(10)
            + &i(1)),
    );
}

#[test]
fn xreadgroup_redelivery_after_setid_reassigns() {
    let mut db = stream_with_group(2);
    run(&mut db, 10, "XREADGROUP GROUP g alice STREAMS s >");
    run(&mut db, 20, "XREADGROUP GROUP g alice STREAMS s 0"); // counts become 2
    golden2(&mut db, 30, "XGROUP SETID s g 0", OK);
    golden_fn(
        &mut db,
        40,
        "XREADGROUP GROUP g bob COUNT 1 STREAMS s >",
        |p3| top(p3, 1) + &stream_item(p3, "s", 1) + &ent("1-0", &["f", "1"]),
    );
    golden2(
        &mut db,
        50,
        "XPENDING s g - + 10",
        &(a(2)
            + &a(4)
            + &b("1-0")
            + &b("bob")
            + &i(10)
            + &i(1)
            + &a(4)
            + &b("2-0")
            + &b("alice")
            + &i(30)
            + &i(2)),
    );
    golden2(
        &mut db,
        50,
        "XPENDING s g",
        &(a(4)
            + &i(2)
            + &b("1-0")
            + &b("2-0")
            + &a(2)
            + &a(2)
            + &b("alice")
            + &b("1")
            + &a(2)
            + &b("bob")
            + &b("1")),
    );
}

#[test]
fn xreadgroup_dirty_and_block() {
    let mut db = stream_with_group(1);
    let d0 = db.dirty;
    run(&mut db, 10, "XREADGROUP GROUP g c STREAMS s >");
    // consumer creation + a delivering read
    assert_eq!(db.dirty - d0, 2);
    let d1 = db.dirty;
    run(&mut db, 11, "XREADGROUP GROUP g c STREAMS s >");
    run(&mut db, 12, "XREADGROUP GROUP g c STREAMS s 0");
    assert_eq!(db.dirty, d1, "reads that deliver nothing new do not count");
    run(&mut db, 13, "XREADGROUP GROUP g d STREAMS s 0");
    assert_eq!(db.dirty, d1 + 1, "creating a consumer counts");

    let cmd = match streams::parse(&args("XREADGROUP GROUP g c BLOCK 500 STREAMS s t > >")) {
        Some(Ok(c)) => c,
        other => panic!("{other:?}"),
    };
    let block = cmd.block().expect("BLOCK given");
    assert_eq!(block.timeout_ms, 500);
    assert_eq!(
        block.keys,
        vec![Bytes::from_static(b"s"), Bytes::from_static(b"t")]
    );
    let cmd = match streams::parse(&args("XREADGROUP GROUP g c STREAMS s >")) {
        Some(Ok(c)) => c,
        other => panic!("{other:?}"),
    };
    assert!(cmd.block().is_none());
    // A read that delivers nothing is still a write (seen-time), replying a null array.
    match cmd.prepare(&db, &ctx(99)) {
        Prepared::Write(op) => assert_eq!(streams::apply(&mut db, &op), Reply::NullArray),
        other => panic!("{other:?}"),
    }
    golden_err(
        &mut db,
        1,
        "XREADGROUP GROUP g c BLOCK 9223372036854775807 STREAMS s >",
        "ERR timeout is out of range",
    );
}

#[test]
fn xreadgroup_times_in_xinfo_full() {
    let mut db = stream_with_group(2);
    run(&mut db, 100, "XREADGROUP GROUP g c COUNT 1 STREAMS s >");
    run(&mut db, 150, "XREADGROUP GROUP g c STREAMS s 5");
    golden_fn(&mut db, 200, "XINFO STREAM s FULL", |p3| {
        let s_nodes = {
            let mut d = Db::new();
            xadd(&mut d, "x", "1-0", &["f", "1"]);
            xadd(&mut d, "x", "2-0", &["f", "2"]);
            match d.stream(b"x") {
                Ok(Some(s)) => s.radix_tree_nodes() as i64,
                _ => unreachable!(),
            }
        };
        map(p3, 9)
            + &b("length")
            + &i(2)
            + &b("radix-tree-keys")
            + &i(1)
            + &b("radix-tree-nodes")
            + &i(s_nodes)
            + &b("last-generated-id")
            + &b("2-0")
            + &b("max-deleted-entry-id")
            + &b("0-0")
            + &b("entries-added")
            + &i(2)
            + &b("recorded-first-entry-id")
            + &b("1-0")
            + &b("entries")
            + &a(2)
            + &ent("1-0", &["f", "1"])
            + &ent("2-0", &["f", "2"])
            + &b("groups")
            + &a(1)
            + &map(p3, 7)
            + &b("name")
            + &b("g")
            + &b("last-delivered-id")
            + &b("1-0")
            + &b("entries-read")
            + &i(1)
            + &b("lag")
            + &i(1)
            + &b("pel-count")
            + &i(1)
            + &b("pending")
            + &a(1)
            + &a(4)
            + &b("1-0")
            + &b("c")
            + &i(100)
            + &i(1)
            + &b("consumers")
            + &a(1)
            + &map(p3, 5)
            + &b("name")
            + &b("c")
            + &b("seen-time")
            + &i(150)
            + &b("active-time")
            + &i(100)
            + &b("pel-count")
            + &i(1)
            + &b("pending")
            + &a(1)
            + &a(3)
            + &b("1-0")
            + &i(100)
            + &i(1)
    });
}

// ------------------------------------------------------------------ XACK

#[test]
fn xack() {
    let mut db = stream_with_group(3);
    run(&mut db, 10, "XREADGROUP GROUP g c STREAMS s >");
    golden_err(
        &mut db,
        1,
        "XACK s g",
        "ERR wrong number of arguments for 'xack' command",
    );
    golden_err(
        &mut db,
        1,
        "XACK s g 1-0 bad",
        "ERR Invalid stream ID specified as stream command argument",
    );
    golden_err(
        &mut db,
        1,
        "XACK s g 1-0 +",
        "ERR Invalid stream ID specified as stream command argument",
    );
    // The bad ID above acknowledged nothing.
    golden2(&mut db, 1, "XACK s g 1-0 1-0 9-0", &i(1));
    golden2(&mut db, 1, "XACK s g 1-0", &i(0));
    golden2(&mut db, 1, "XACK s nog 2-0", &i(0));
    golden2(&mut db, 1, "XACK nokey g 2-0", &i(0));
    // A missing key or group answers before the IDs are parsed.
    golden2(&mut db, 1, "XACK nokey g bad", &i(0));
    set_string(&mut db, "str");
    golden_err(
        &mut db,
        1,
        "XACK str g 1-0",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
    let d = db.dirty;
    golden2(&mut db, 1, "XACK s g 2 3-0", &i(2));
    assert_eq!(db.dirty - d, 2);
    golden_fn(&mut db, 1, "XPENDING s g", |p3| {
        a(4) + &i(0) + &nullb(p3) + &nullb(p3) + &nulla(p3)
    });
}

// ------------------------------------------------------------------ XPENDING

#[test]
fn xpending_summary() {
    let mut db = stream_with_group(4);
    // The empty summary in both protocols.
    golden(
        &mut db,
        1,
        "XPENDING s g",
        "*4\\r\\n:0\\r\\n$-1\\r\\n$-1\\r\\n*-1\\r\\n",
        "*4\\r\\n:0\\r\\n_\\r\\n_\\r\\n_\\r\\n",
    );
    run(&mut db, 10, "XREADGROUP GROUP g c1 COUNT 3 STREAMS s >");
    run(&mut db, 10, "XREADGROUP GROUP g c2 STREAMS s >");
    run(&mut db, 10, "XGROUP CREATECONSUMER s g c0");
    golden2(
        &mut db,
        1,
        "XPENDING s g",
        "*4\\r\\n:4\\r\\n$3\\r\\n1-0\\r\\n$3\\r\\n4-0\\r\\n*2\\r\\n*2\\r\\n$2\\r\\nc1\\r\\n$1\\r\\n3\\r\\n*2\\r\\n$2\\r\\nc2\\r\\n$1\\r\\n1\\r\\n",
    );
    golden_err(
        &mut db,
        1,
        "XPENDING s",
        "ERR wrong number of arguments for 'xpending' command",
    );
    golden_err(&mut db, 1, "XPENDING s g - +", "ERR syntax error");
    golden_err(
        &mut db,
        1,
        "XPENDING s g - + 10 c a b c",
        "ERR syntax error",
    );
    golden_err(
        &mut db,
        1,
        "XPENDING s nog",
        "NOGROUP No such key 's' or consumer group 'nog'",
    );
    golden_err(
        &mut db,
        1,
        "XPENDING nokey g",
        "NOGROUP No such key 'nokey' or consumer group 'g'",
    );
    set_string(&mut db, "str");
    golden_err(
        &mut db,
        1,
        "XPENDING str g",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
}

#[test]
fn xpending_extended() {
    let mut db = stream_with_group(4);
    run(&mut db, 100, "XREADGROUP GROUP g c1 COUNT 2 STREAMS s >");
    run(&mut db, 200, "XREADGROUP GROUP g c2 STREAMS s >");
    let row = |id: &str, c: &str, idle: i64, n: i64| a(4) + &b(id) + &b(c) + &i(idle) + &i(n);
    golden2(
        &mut db,
        300,
        "XPENDING s g - + 3",
        &(a(3) + &row("1-0", "c1", 200, 1) + &row("2-0", "c1", 200, 1) + &row("3-0", "c2", 100, 1)),
    );
    golden2(
        &mut db,
        300,
        "XPENDING s g IDLE 150 - + 10",
        &(a(2) + &row("1-0", "c1", 200, 1) + &row("2-0", "c1", 200, 1)),
    );
    golden2(
        &mut db,
        300,
        "XPENDING s g idle 150 - + 1",
        &(a(1) + &row("1-0", "c1", 200, 1)),
    );
    golden2(
        &mut db,
        300,
        "XPENDING s g - + 10 c2",
        &(a(2) + &row("3-0", "c2", 100, 1) + &row("4-0", "c2", 100, 1)),
    );
    golden2(
        &mut db,
        300,
        "XPENDING s g IDLE 50 (3-0 + 10 c2",
        &(a(1) + &row("4-0", "c2", 100, 1)),
    );
    // Up to two tokens after the consumer are ignored without IDLE.
    golden2(
        &mut db,
        300,
        "XPENDING s g - (2-0 10 c1 extra extra",
        &(a(1) + &row("1-0", "c1", 200, 1)),
    );
    golden2(&mut db, 300, "XPENDING s g - + 10 nobody", &a(0));
    golden2(&mut db, 300, "XPENDING s g - + 0", &a(0));
    golden2(&mut db, 300, "XPENDING s g - + -5", &a(0));
    golden2(&mut db, 300, "XPENDING s g 3 2 10", &a(0));
    // The clock behind a delivery time: idle is clamped at 0.
    golden2(
        &mut db,
        50,
        "XPENDING s g 1 1 1",
        &(a(1) + &row("1-0", "c1", 0, 1)),
    );
    // Argument errors come before the key lookup.
    golden_err(
        &mut db,
        300,
        "XPENDING nokey g - + x",
        "ERR value is not an integer or out of range",
    );
    golden_err(
        &mut db,
        300,
        "XPENDING s g IDLE x - + 10",
        "ERR value is not an integer or out of range",
    );
    golden_err(&mut db, 300, "XPENDING s g IDLE 10 - +", "ERR syntax error");
    golden_err(
        &mut db,
        300,
        "XPENDING nokey g x + 10",
        "ERR Invalid stream ID specified as stream command argument",
    );
    golden_err(
        &mut db,
        300,
        "XPENDING s g (18446744073709551615-18446744073709551615 + 10",
        "ERR invalid start ID for the interval",
    );
    golden_err(
        &mut db,
        300,
        "XPENDING s g - (0-0 10",
        "ERR invalid end ID for the interval",
    );
    golden_err(
        &mut db,
        300,
        "XPENDING s g (- + 10",
        "ERR Invalid stream ID specified as stream command argument",
    );
    golden_err(
        &mut db,
        300,
        "XPENDING nokey g - + 10",
        "NOGROUP No such key 'nokey' or consumer group 'g'",
    );
}

// ------------------------------------------------------------------ XCLAIM

#[test]
fn xclaim_errors() {
    let mut db = stream_with_group(3);
    run(&mut db, 100, "XREADGROUP GROUP g alice STREAMS s >");
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0",
        "ERR wrong number of arguments for 'xclaim' command",
    );
    // NOGROUP comes first, even before min-idle-time.
    golden_err(
        &mut db,
        1,
        "XCLAIM nokey g bob x 1-0",
        "NOGROUP No such key 'nokey' or consumer group 'g'",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s nog bob 0 1-0",
        "NOGROUP No such key 's' or consumer group 'nog'",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob x 1-0",
        "ERR Invalid min-idle-time argument for XCLAIM",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 abc",
        "ERR Unrecognized XCLAIM option 'abc'",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 1-0 FOO",
        "ERR Unrecognized XCLAIM option 'FOO'",
    );
    // IDs cannot follow options.
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 1-0 JUSTID 2-0",
        "ERR Unrecognized XCLAIM option '2-0'",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 1-0 IDLE x",
        "ERR Invalid IDLE option argument for XCLAIM",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 1-0 TIME x",
        "ERR Invalid TIME option argument for XCLAIM",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 1-0 RETRYCOUNT x",
        "ERR Invalid RETRYCOUNT option argument for XCLAIM",
    );
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 1-0 LASTID -",
        "ERR Invalid stream ID specified as stream command argument",
    );
    // An option missing its value is unrecognized.
    golden_err(
        &mut db,
        1,
        "XCLAIM s g bob 0 1-0 IDLE",
        "ERR Unrecognized XCLAIM option 'IDLE'",
    );
    set_string(&mut db, "str");
    golden_err(
        &mut db,
        1,
        "XCLAIM str g bob 0 1-0",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
    // None of the failed calls created bob.
    let r = run(&mut db, 1, "XINFO CONSUMERS s g");
    assert!(!wire(&r, Protocol::Resp2).contains("bob"));
}

#[test]
fn xclaim_claims() {
    let mut db = stream_with_group(4);
    run(&mut db, 100, "XREADGROUP GROUP g alice COUNT 3 STREAMS s >");
    // Not idle long enough: nothing, but bob is created and seen.
    golden2(&mut db, 150, "XCLAIM s g bob 100 1-0 2-0", &a(0));
    golden_fn(&mut db, 150, "XINFO CONSUMERS s g", |p3| {
        let c = |n: &str, pending: i64, idle: i64, inactive: i64| {
            map(p3, 4)
                + &b("name")
                + &b(n)
                + &b("pending")
                + &i(pending)
                + &b("idle")
                + &i(idle)
                + &b("inactive")
                + &i(inactive)
        };
        a(2) + &c("alice", 3, 50, 50) + &c("bob", 0, 0, -1)
    });
    golden2(
        &mut db,
        200,
        "XCLAIM s g bob 100 1-0 2-0",
        &(a(2) + &ent("1-0", &["f", "1"]) + &ent("2-0", &["f", "2"])),
    );
    let row = |id: &str, c: &str, idle: i64, n: i64| a(4) + &b(id) + &b(c) + &i(idle) + &i(n);
    golden2(
        &mut db,
        210,
        "XPENDING s g - + 10",
        &(a(3)
            + &row("1-0", "bob", 10, 2)
            + &row("2-0", "bob", 10, 2)
            + &row("3-0", "alice", 110, 1)),
    );
    // JUSTID: IDs only, the count is unchanged; IDLE sets the delivery time back.
    golden2(
        &mut db,
        300,
        "XCLAIM s g carol 0 3-0 IDLE 40 JUSTID",
        &(a(1) + &b("3-0")),
    );
    golden2(
        &mut db,
        300,
        "XPENDING s g 3 3 1",
        &(a(1) + &row("3-0", "carol", 40, 1)),
    );
    // TIME in the future is clamped to now; RETRYCOUNT sets the count.
    golden2(
        &mut db,
        300,
        "XCLAIM s g carol 0 1-0 TIME 999999 RETRYCOUNT 7 JUSTID",
        &(a(1) + &b("1-0")),
    );
    golden2(
        &mut db,
        310,
        "XPENDING s g 1 1 1",
        &(a(1) + &row("1-0", "carol", 10, 7)),
    );
    // TIME in the past is kept.
    golden2(
        &mut db,
        400,
        "XCLAIM s g carol 0 1-0 TIME 250 JUSTID",
        &(a(1) + &b("1-0")),
    );
    golden2(
        &mut db,
        400,
        "XPENDING s g 1 1 1",
        &(a(1) + &row("1-0", "carol", 150, 7)),
    );
    // Not pending: skipped without FORCE; FORCE creates it (count 1, then +1 = 2).
    golden2(&mut db, 500, "XCLAIM s g dave 0 4-0", &a(0));
    golden2(
        &mut db,
        500,
        "XCLAIM s g dave 0 4-0 FORCE",
        &(a(1) + &ent("4-0", &["f", "4"])),
    );
    golden2(
        &mut db,
        500,
        "XPENDING s g 4 4 1",
        &(a(1) + &row("4-0", "dave", 0, 2)),
    );
}

#[test]
fn xclaim_force_justid_and_deleted_entries() {
    let mut db = stream_with_group(3);
    golden2(
        &mut db,
        10,
        "XCLAIM s g c 0 1-0 FORCE JUSTID",
        &(a(1) + &b("1-0")),
    );
    let row = |id: &str, c: &str, idle: i64, n: i64| a(4) + &b(id) + &b(c) + &i(idle) + &i(n);
    golden2(
        &mut db,
        10,
        "XPENDING s g - + 10",
        &(a(1) + &row("1-0", "c", 0, 1)),
    );
    // A deleted entry is silently removed from the PEL and not in the reply.
    run(&mut db, 10, "XREADGROUP GROUP g c STREAMS s >");
    xdel(&mut db, "s", "2-0");
    golden2(
        &mut db,
        20,
        "XCLAIM s g d 0 2-0 3-0",
        &(a(1) + &ent("3-0", &["f", "3"])),
    );
    golden2(
        &mut db,
        20,
        "XPENDING s g - + 10",
        &(a(2) + &row("1-0", "c", 10, 1) + &row("3-0", "d", 0, 2)),
    );
    // The same ID twice is claimed twice.
    golden2(
        &mut db,
        30,
        "XCLAIM s g d 0 3-0 3-0 JUSTID",
        &(a(2) + &b("3-0") + &b("3-0")),
    );
    // LASTID moves last-delivered-id forward only, leaving entries-read alone.
    golden2(&mut db, 40, "XCLAIM s g d 0 LASTID 9-0", &a(0));
    golden2(&mut db, 40, "XCLAIM s g d 0 LASTID 1-0", &a(0));
    golden_fn(&mut db, 40, "XINFO GROUPS s", |p3| {
        a(1) + &map(p3, 6)
            + &b("name")
            + &b("g")
            + &b("consumers")
            + &i(2)
            + &b("pending")
            + &i(2)
            + &b("last-delivered-id")
            + &b("9-0")
            + &b("entries-read")
            + &i(3)
            + &b("lag")
            + &i(0)
    });
}

// ------------------------------------------------------------------ XAUTOCLAIM

#[test]
fn xautoclaim_errors() {
    let mut db = stream_with_group(2);
    golden_err(
        &mut db,
        1,
        "XAUTOCLAIM s g c 0",
        "ERR wrong number of arguments for 'xautoclaim' command",
    );
    golden_err(
        &mut db,
        1,
        "XAUTOCLAIM s g c x 0",
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    );
    for count in ["0", "-1", "x", "576460752303423488"] {
        golden_err(
            &mut db,
            1,
            &format!("XAUTOCLAIM s g c 0 0 COUNT {count}"),
            "ERR COUNT must be > 0",
        );
    }
    golden_err(&mut db, 1, "XAUTOCLAIM s g c 0 0 COUNT", "ERR syntax error");
    golden_err(&mut db, 1, "XAUTOCLAIM s g c 0 0 FOO", "ERR syntax error");
    golden_err(
        &mut db,
        1,
        "XAUTOCLAIM s g c 0 x",
        "ERR Invalid stream ID specified as stream command argument",
    );
    golden_err(
        &mut db,
        1,
        "XAUTOCLAIM s g c 0 (18446744073709551615-18446744073709551615",
        "ERR invalid start ID for the interval",
    );
    // Parsing comes before the key lookup.
    golden_err(
        &mut db,
        1,
        "XAUTOCLAIM nokey g c 0 0 COUNT 0",
        "ERR COUNT must be > 0",
    );
    golden_err(
        &mut db,
        1,
        "XAUTOCLAIM nokey g c 0 0",
        "NOGROUP No such key 'nokey' or consumer group 'g'",
    );
    set_string(&mut db, "str");
    golden_err(
        &mut db,
        1,
        "XAUTOCLAIM str g c 0 0",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
}

#[test]
fn xautoclaim_claims_and_deleted_ids() {
    let mut db = stream_with_group(5);
    run(&mut db, 100, "XREADGROUP GROUP g alice STREAMS s >");
    xdel(&mut db, "s", "2-0");
    // COUNT 2: claims 1-0, drops 2-0 (which spends one unit too); the cursor is 3-0.
    golden2(
        &mut db,
        200,
        "XAUTOCLAIM s g bob 50 - COUNT 2",
        "*3\\r\\n$3\\r\\n3-0\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n1-0\\r\\n*2\\r\\n$1\\r\\nf\\r\\n$1\\r\\n1\\r\\n*1\\r\\n$3\\r\\n2-0\\r\\n",
    );
    // JUSTID from the cursor to the end: the cursor is 0-0.
    golden2(
        &mut db,
        200,
        "XAUTOCLAIM s g bob 50 3-0 JUSTID",
        &(a(3) + &b("0-0") + &a(3) + &b("3-0") + &b("4-0") + &b("5-0") + &a(0)),
    );
    let row = |id: &str, c: &str, idle: i64, n: i64| a(4) + &b(id) + &b(c) + &i(idle) + &i(n);
    golden2(
        &mut db,
        210,
        "XPENDING s g - + 10",
        &(a(4)
            + &row("1-0", "bob", 10, 2)
            + &row("3-0", "bob", 10, 1)
            + &row("4-0", "bob", 10, 1)
            + &row("5-0", "bob", 10, 1)),
    );
    // Exclusive start, and nothing idle enough: the consumer is still created.
    golden2(
        &mut db,
        210,
        "XAUTOCLAIM s g carol 100 (1-0",
        &(a(3) + &b("0-0") + &a(0) + &a(0)),
    );
    let r = run(&mut db, 210, "XINFO CONSUMERS s g");
    assert!(wire(&r, Protocol::Resp2).contains("carol"));
}

#[test]
fn xautoclaim_attempts_limit_sets_the_cursor() {
    let mut db = stream_with_group(12);
    run(&mut db, 100, "XREADGROUP GROUP g alice STREAMS s >");
    // COUNT 1 examines at most 10 entries; none is idle enough.
    golden2(
        &mut db,
        110,
        "XAUTOCLAIM s g bob 1000 0 COUNT 1",
        &(a(3) + &b("11-0") + &a(0) + &a(0)),
    );
    golden2(
        &mut db,
        2000,
        "XAUTOCLAIM s g bob 1000 11-0 COUNT 1 JUSTID",
        &(a(3) + &b("12-0") + &a(1) + &b("11-0") + &a(0)),
    );
}

// ------------------------------------------------------------------ XINFO

#[test]
fn xinfo_errors_and_help() {
    let mut db = stream_with_group(1);
    let help = a(9)
        + &st("XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        + &st("CONSUMERS <key> <groupname>")
        + &st("    Show consumers of <groupname>.")
        + &st("GROUPS <key>")
        + &st("    Show the stream consumer groups.")
        + &st("STREAM <key> [FULL [COUNT <count>]")
        + &st("    Show information about the stream.")
        + &st("HELP")
        + &st("    Print this help.");
    golden2(&mut db, 1, "XINFO HELP", &help);
    golden_err(
        &mut db,
        1,
        "XINFO HELP xxx",
        "ERR wrong number of arguments for 'xinfo|help' command",
    );
    golden_err(
        &mut db,
        1,
        "XINFO foo s",
        "ERR unknown subcommand 'foo'. Try XINFO HELP.",
    );
    golden_err(
        &mut db,
        1,
        "XINFO STREAM",
        "ERR wrong number of arguments for 'xinfo|stream' command",
    );
    golden_err(
        &mut db,
        1,
        "XINFO GROUPS s x",
        "ERR wrong number of arguments for 'xinfo|groups' command",
    );
    golden_err(
        &mut db,
        1,
        "XINFO CONSUMERS s",
        "ERR wrong number of arguments for 'xinfo|consumers' command",
    );
    golden_err(&mut db, 1, "XINFO STREAM nokey", "ERR no such key");
    golden_err(&mut db, 1, "XINFO GROUPS nokey", "ERR no such key");
    golden_err(&mut db, 1, "XINFO CONSUMERS nokey g", "ERR no such key");
    golden_err(
        &mut db,
        1,
        "XINFO CONSUMERS s nog",
        "NOGROUP No such consumer group 'nog' for key name 's'",
    );
    for extra in [
        "FULL x",
        "FOO",
        "FULL COUNT",
        "FULL COUNT 1 x",
        "FULL LIMIT 1",
    ] {
        golden_err(
            &mut db,
            1,
            &format!("XINFO stream s {extra}"),
            "ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.",
        );
    }
    golden_err(
        &mut db,
        1,
        "XINFO STREAM s FULL COUNT x",
        "ERR value is not an integer or out of range",
    );
    set_string(&mut db, "str");
    golden_err(
        &mut db,
        1,
        "XINFO STREAM str",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
}

fn radix_nodes(db: &Db, key: &str) -> i64 {
    match db.stream(key.as_bytes()) {
        Ok(Some(s)) => s.radix_tree_nodes() as i64,
        _ => panic!("no stream {key}"),
    }
}

#[test]
fn xinfo_stream_basic() {
    let mut db = Db::new();
    golden2(&mut db, 1, "XGROUP CREATE e g $ MKSTREAM", OK);
    let nodes = radix_nodes(&db, "e");
    golden_fn(&mut db, 1, "XINFO STREAM e", |p3| {
        map(p3, 10)
            + &b("length")
            + &i(0)
            + &b("radix-tree-keys")
            + &i(0)
            + &b("radix-tree-nodes")
            + &i(nodes)
            + &b("last-generated-id")
            + &b("0-0")
            + &b("max-deleted-entry-id")
            + &b("0-0")
            + &b("entries-added")
            + &i(0)
            + &b("recorded-first-entry-id")
            + &b("0-0")
            + &b("groups")
            + &i(1)
            + &b("first-entry")
            + &nullb(p3)
            + &b("last-entry")
            + &nullb(p3)
    });
    xadd(&mut db, "s", "1-1", &["a", "1"]);
    xadd(&mut db, "s", "2-2", &["b", "2", "c", "3"]);
    xadd(&mut db, "s", "3-3", &["d", "4"]);
    xdel(&mut db, "s", "3-3");
    let nodes = radix_nodes(&db, "s");
    golden_fn(&mut db, 1, "XINFO STREAM s", |p3| {
        map(p3, 10)
            + &b("length")
            + &i(2)
            + &b("radix-tree-keys")
            + &i(1)
            + &b("radix-tree-nodes")
            + &i(nodes)
            + &b("last-generated-id")
            + &b("3-3")
            + &b("max-deleted-entry-id")
            + &b("3-3")
            + &b("entries-added")
            + &i(3)
            + &b("recorded-first-entry-id")
            + &b("1-1")
            + &b("groups")
            + &i(0)
            + &b("first-entry")
            + &ent("1-1", &["a", "1"])
            + &b("last-entry")
            + &ent("2-2", &["b", "2", "c", "3"])
    });
}

#[test]
fn xinfo_stream_full_count_rules() {
    let mut db = stream_with_group(12);
    run(&mut db, 100, "XREADGROUP GROUP g c STREAMS s >");
    let counts = |db: &mut Db, line: &str| -> (usize, usize, usize) {
        let Reply::Map(top) = run(db, 200, line) else {
            panic!()
        };
        let Reply::Array(entries) = &top[7].1 else {
            panic!()
        };
        let Reply::Array(groups) = &top[8].1 else {
            panic!()
        };
        let Reply::Map(g) = &groups[0] else { panic!() };
        let Reply::Array(pending) = &g[5].1 else {
            panic!()
        };
        let Reply::Array(consumers) = &g[6].1 else {
            panic!()
        };
        let Reply::Map(c) = &consumers[0] else {
            panic!()
        };
        let Reply::Array(cpending) = &c[4].1 else {
            panic!()
        };
        (entries.len(), pending.len(), cpending.len())
    };
    assert_eq!(counts(&mut db, "XINFO STREAM s FULL"), (10, 10, 10));
    assert_eq!(counts(&mut db, "XINFO STREAM s FULL COUNT 3"), (3, 3, 3));
    assert_eq!(counts(&mut db, "XINFO STREAM s full count 0"), (12, 12, 12));
    assert_eq!(
        counts(&mut db, "XINFO STREAM s FULL COUNT -1"),
        (10, 10, 10)
    );
    let r = run(&mut db, 200, "XINFO STREAM s FULL");
    assert!(wire(&r, Protocol::Resp2).starts_with("*18\\r\\n$6\\r\\nlength\\r\\n:12\\r\\n"));
    assert!(wire(&r, Protocol::Resp3).starts_with("%9\\r\\n$6\\r\\nlength\\r\\n:12\\r\\n"));
}

/// entries-read and lag of each group, as `name:entries-read/lag`.
fn lags(db: &mut Db) -> String {
    let Reply::Array(groups) = run(db, 1, "XINFO GROUPS s") else {
        panic!()
    };
    let show = |r: &Reply| match r {
        Reply::Integer(n) => n.to_string(),
        Reply::Null => "null".to_string(),
        other => panic!("{other:?}"),
    };
    groups
        .iter()
        .map(|g| {
            let Reply::Map(f) = g else { panic!() };
            let Reply::Bulk(name) = &f[0].1 else { panic!() };
            format!(
                "{}:{}/{}",
                String::from_utf8_lossy(name),
                show(&f[4].1),
                show(&f[5].1)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn lag_sequence_of_the_reference() {
    let mut db = Db::new();
    for k in 1..=5 {
        xadd(&mut db, "s", &format!("{k}-0"), &["f", "v"]);
    }
    golden2(&mut db, 1, "XGROUP CREATE s g 0", OK);
    golden2(&mut db, 1, "XGROUP CREATE s g9 $", OK);
    golden2(&mut db, 1, "XGROUP CREATE s gmid 2-0", OK);
    assert_eq!(lags(&mut db), "g:null/5 g9:null/0 gmid:null/null");
    run(&mut db, 1, "XREADGROUP GROUP g c COUNT 2 STREAMS s >");
    assert_eq!(lags(&mut db), "g:2/3 g9:null/0 gmid:null/null");
    xdel(&mut db, "s", "4-0");
    assert_eq!(lags(&mut db), "g:2/null g9:null/0 gmid:null/null");
    run(&mut db, 1, "XREADGROUP GROUP g c STREAMS s >");
    assert_eq!(lags(&mut db), "g:5/0 g9:null/0 gmid:null/null");
    xtrim_all(&mut db, "s");
    assert_eq!(lags(&mut db), "g:5/0 g9:null/0 gmid:null/0");
    xadd(&mut db, "s", "6-0", &["f", "v"]);
    assert_eq!(lags(&mut db), "g:5/1 g9:null/1 gmid:null/1");
    // gmid reads the new entry: its counter is estimated from the stream.
    run(&mut db, 1, "XREADGROUP GROUP gmid c STREAMS s >");
    assert_eq!(lags(&mut db), "g:5/1 g9:null/1 gmid:6/0");
}

#[test]
fn lag_edge_cases() {
    let mut db = Db::new();
    for k in 1..=5 {
        xadd(&mut db, "s", &format!("{k}-0"), &["f", "v"]);
    }
    // ENTRIESREAD beyond entries-added is not capped in 8.0: the lag goes negative.
    golden2(&mut db, 1, "XGROUP CREATE s big $ ENTRIESREAD 100", OK);
    golden2(&mut db, 1, "XGROUP CREATE s mid 3-0 ENTRIESREAD 3", OK);
    assert_eq!(lags(&mut db), "big:100/-95 mid:3/2");
    // Deleting the first entry: a group behind the first entry has lag = length.
    xdel(&mut db, "s", "1-0");
    golden2(&mut db, 1, "XGROUP CREATE s zero 0", OK);
    assert_eq!(lags(&mut db), "big:100/-95 mid:3/2 zero:null/4");
    // zero reads one entry: its position is estimated; the tombstone is behind it.
    run(&mut db, 1, "XREADGROUP GROUP zero c COUNT 1 STREAMS s >");
    assert_eq!(lags(&mut db), "big:100/-95 mid:3/2 zero:2/3");
}

// ------------------------------------------------------------------ determinism

/// Builds the same pre-state twice.
fn pre_state() -> Db {
    let mut db = stream_with_group(6);
    run(&mut db, 100, "XREADGROUP GROUP g alice COUNT 3 STREAMS s >");
    run(&mut db, 150, "XREADGROUP GROUP g bob COUNT 1 STREAMS s >");
    xdel(&mut db, "s", "2-0");
    db.take_changes();
    db.take_ready();
    db
}

fn snapshot(db: &Db) -> Vec<(Bytes, Value)> {
    let mut v: Vec<(Bytes, Value)> = db.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn prepared_ops_apply_identically_on_a_copy_of_the_state() {
    let lines = [
        "XREADGROUP GROUP g carol STREAMS s >",
        "XREADGROUP GROUP g alice STREAMS s 0",
        "XREADGROUP GROUP g alice NOACK STREAMS s s > 0",
        "XCLAIM s g carol 10 1-0 2-0 3-0 4-0 IDLE 5 RETRYCOUNT 3",
        "XCLAIM s g carol 0 5-0 FORCE LASTID 9-0",
        "XAUTOCLAIM s g dave 0 - COUNT 3",
        "XACK s g 1-0 3-0",
        "XGROUP CREATECONSUMER s g erin",
        "XGROUP DELCONSUMER s g alice",
        "XGROUP SETID s g 1-0 ENTRIESREAD 1",
        "XGROUP CREATE s g2 $",
        "XGROUP CREATE t g $ MKSTREAM",
        "XGROUP DESTROY s g",
    ];
    for line in lines {
        let mut a = pre_state();
        let mut b = pre_state();
        assert_eq!(snapshot(&a), snapshot(&b));
        let cmd = match streams::parse(&args(line)) {
            Some(Ok(c)) => c,
            other => panic!("`{line}`: {other:?}"),
        };
        let op = match cmd.prepare(&a, &ctx(1000)) {
            Prepared::Write(op) => op,
            other => panic!("`{line}` is not a write: {other:?}"),
        };
        // The op is applied on each replica, at different wall-clock times.
        let ra = streams::apply(&mut a, &op);
        let rb = streams::apply(&mut b, &op);
        assert!(!ra.is_error(), "`{line}`: {ra:?}");
        assert_eq!(ra, rb, "`{line}`");
        assert_eq!(snapshot(&a), snapshot(&b), "`{line}`");
        assert_eq!(a.take_changes(), b.take_changes(), "`{line}`");
        assert_eq!(a.dirty, b.dirty, "`{line}`");
        // and it did change something
        assert_ne!(snapshot(&a), snapshot(&pre_state()), "`{line}`");
    }
}

#[test]
fn a_stale_op_is_refused_and_changes_nothing() {
    let mut db = pre_state();
    let cmd = match streams::parse(&args("XREADGROUP GROUP g carol STREAMS s >")) {
        Some(Ok(c)) => c,
        other => panic!("{other:?}"),
    };
    let Prepared::Write(op) = cmd.prepare(&db, &ctx(1000)) else {
        panic!()
    };
    // Another consumer reads first.
    run(&mut db, 1000, "XREADGROUP GROUP g dave STREAMS s >");
    let before = snapshot(&db);
    let r = streams::apply(&mut db, &op);
    assert!(
        matches!(&r, Reply::Error(e) if e.starts_with(b"TRYAGAIN")),
        "{r:?}"
    );
    assert_eq!(snapshot(&db), before);

    let cmd = match streams::parse(&args("XCLAIM s g carol 0 1-0")) {
        Some(Ok(c)) => c,
        other => panic!("{other:?}"),
    };
    let Prepared::Write(op) = cmd.prepare(&db, &ctx(1000)) else {
        panic!()
    };
    run(&mut db, 1000, "XACK s g 1-0");
    let before = snapshot(&db);
    let r = streams::apply(&mut db, &op);
    assert!(r.is_error(), "{r:?}");
    assert_eq!(snapshot(&db), before);

    // A group destroyed in between: the same NOGROUP as Redis would give.
    let cmd = match streams::parse(&args("XREADGROUP GROUP g carol STREAMS s >")) {
        Some(Ok(c)) => c,
        other => panic!("{other:?}"),
    };
    let Prepared::Write(op) = cmd.prepare(&db, &ctx(1000)) else {
        panic!()
    };
    run(&mut db, 1000, "XGROUP DESTROY s g");
    assert_eq!(
        wire(&streams::apply(&mut db, &op), Protocol::Resp2),
        err("NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option")
    );
}

// ------------------------------------------------------------------ robustness

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "XGROUP",
        "XREADGROUP",
        "XACK",
        "XPENDING",
        "XCLAIM",
        "XAUTOCLAIM",
        "XINFO",
        "CREATE",
        "SETID",
        "DESTROY",
        "CREATECONSUMER",
        "DELCONSUMER",
        "HELP",
        "STREAM",
        "GROUPS",
        "CONSUMERS",
        "FULL",
        "COUNT",
        "GROUP",
        "STREAMS",
        "BLOCK",
        "NOACK",
        "IDLE",
        "TIME",
        "RETRYCOUNT",
        "FORCE",
        "JUSTID",
        "LASTID",
        "MKSTREAM",
        "ENTRIESREAD",
        "s",
        "str",
        "g",
        "c",
        "d",
        ">",
        "$",
        "+",
        "-",
        "(",
        "(1",
        "0",
        "1",
        "2-0",
        "3",
        "-1",
        "-5",
        "0-0",
        "18446744073709551615-18446744073709551615",
        "9223372036854775807",
        "x",
        "",
    ];

    fn line() -> impl Strategy<Value = Vec<Bytes>> {
        (
            0usize..7,
            prop::collection::vec(prop::sample::select(WORDS), 0..12),
        )
            .prop_map(|(cmd, rest)| {
                let mut v = vec![Bytes::from_static(WORDS[cmd].as_bytes())];
                v.extend(rest.into_iter().map(|w| Bytes::from_static(w.as_bytes())));
                v
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        #[test]
        fn random_commands_never_panic(lines in prop::collection::vec(line(), 1..25)) {
            let mut db = pre_state();
            set_string(&mut db, "str");
            for (n, l) in lines.iter().enumerate() {
                run_args(&mut db, ctx(1000 + n as u64 * 7), l);
            }
        }
    }
}
