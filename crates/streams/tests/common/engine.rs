//! The engine side of the golden tests: run commands against a [`Db`] at a given time and
//! render replies as escaped RESP2/RESP3 text. Every command goes through [`run_args`], which
//! also hands it to the including crate's mirror (`super::mirror`): a no-op for the streams
//! crate, the cluster behind the proxy for `crates/proxy/tests/golden_mirror.rs`.
#![allow(dead_code)]

use bytes::Bytes;
use resp::{Protocol, Reply};
use streams::{execute, Ctx, Db};

/// Splits a command line on spaces (no quoting: use [`run_args`] for binary or spaced args).
pub fn args(line: &str) -> Vec<Bytes> {
    line.split_whitespace()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

/// Runs one command line at `now_ms` with default node size (100).
pub fn run(db: &mut Db, now_ms: u64, line: &str) -> Reply {
    run_ctx(
        db,
        Ctx {
            now_ms,
            ..Ctx::default()
        },
        line,
    )
}

pub fn run_ctx(db: &mut Db, ctx: Ctx, line: &str) -> Reply {
    run_args(db, ctx, &args(line))
}

pub fn run_args(db: &mut Db, ctx: Ctx, args: &[Bytes]) -> Reply {
    let before = super::mirror_before(db, &ctx, args);
    let reply = execute(db, args, &ctx).expect("an engine command");
    super::mirror(db, before, &ctx, args, &reply);
    db.take_changes();
    db.take_ready();
    for (_, v) in db.iter() {
        if let streams::Value::Stream(s) = v {
            s.check_invariants().expect("stream invariants");
        }
    }
    reply
}

/// Escaped wire text: `\r\n` shown literally, e.g. `$3\r\n1-1\r\n`.
pub fn wire(reply: &Reply, proto: Protocol) -> String {
    let bytes = reply.to_bytes(proto);
    String::from_utf8_lossy(&bytes).replace("\r\n", "\\r\\n")
}

/// Asserts the RESP2 and RESP3 renderings of `line`'s reply (pass the same text twice when
/// they do not differ).
#[track_caller]
pub fn golden(db: &mut Db, now_ms: u64, line: &str, resp2: &str, resp3: &str) {
    let r = run(db, now_ms, line);
    assert_eq!(wire(&r, Protocol::Resp2), resp2, "RESP2 of `{line}`");
    assert_eq!(wire(&r, Protocol::Resp3), resp3, "RESP3 of `{line}`");
}

/// Asserts a reply that is the same in both protocols.
#[track_caller]
pub fn golden2(db: &mut Db, now_ms: u64, line: &str, both: &str) {
    golden(db, now_ms, line, both, both);
}

// ------------------------------------------------------------------ escaped wire builders

/// A bulk string as escaped wire text.
pub fn b(s: &str) -> String {
    format!("${}\\r\\n{}\\r\\n", s.len(), s)
}
/// An array header.
pub fn a(n: usize) -> String {
    format!("*{n}\\r\\n")
}
/// An integer.
pub fn i(n: i64) -> String {
    format!(":{n}\\r\\n")
}
/// An error line (`s` includes its prefix).
pub fn err(s: &str) -> String {
    format!("-{s}\\r\\n")
}
/// A simple string.
pub fn st(s: &str) -> String {
    format!("+{s}\\r\\n")
}
