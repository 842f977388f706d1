//! Fuzzing the wire: hostile byte streams against an in-process server, while a well-behaved
//! client keeps writing and reading its own stream.
//!
//! Each proptest case is one connection that sends a random mix of valid RESP commands,
//! inline commands, truncated frames, huge declared lengths, bad prefixes, NUL bytes and
//! random bytes, split into random chunks. The oracle is `resp::RequestParser` fed the same
//! bytes: the server must answer exactly one well-formed reply per command it finds, and on
//! a protocol error answer the commands before it, then the exact `-ERR Protocol error: ...`
//! line, then close that connection only. After every case a fresh connection must get PONG,
//! and at the end the well-behaved client's stream must hold exactly what it was
//! acknowledged.
//!
//! ```text
//!  proptest case ──bytes──▶ fuzz connection ──▶ server ◀── well-behaved client (XADD/XLEN/XRANGE)
//!       │                        │ replies                      │ acknowledged IDs
//!       └─ RequestParser ─▶ expected: n replies (+ error, close) ▼
//!                                                    final XLEN / XRANGE == acknowledged
//! ```
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use bytes::BytesMut;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use resp::{parse_frame, Frame, Limits, Protocol, ProtocolError, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The well-behaved client's key: nothing the fuzzer sends can name it.
const WELL_KEY: &str = "wellbehaved:7d1f0c9e";
/// How long a connection with no protocol error must stay silent and open after its last
/// expected reply.
const QUIET: Duration = Duration::from_millis(30);
/// How long a fuzz connection waits for the replies it expects (short, so that shrinking a
/// failure does not take forever).
const FUZZ_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Commands the fuzzer may send whole. None touches [`WELL_KEY`], the configuration, other
/// clients or the server's life (no FLUSHALL, CONFIG SET, CLIENT KILL, SHUTDOWN, QUIT, ...),
/// and each is answered with exactly one reply.
const VOCABULARY: &[&str] = &[
    "PING",
    "PING hello",
    "ECHO x",
    "XADD fz:a * f v",
    "XADD fz:a MAXLEN ~ 5 * f v",
    "XADD fz:b 1-1 f v",
    "XADD {fz}c NOMKSTREAM * a b",
    "XLEN fz:a",
    "XRANGE fz:a - + COUNT 3",
    "XREVRANGE fz:a + - COUNT 2",
    "XREAD COUNT 2 STREAMS fz:a fz:b 0 0",
    "XREAD BLOCK 5 STREAMS fz:b $",
    "XGROUP CREATE fz:a g $ MKSTREAM",
    "XREADGROUP GROUP g c COUNT 1 STREAMS fz:a >",
    "XREADGROUP GROUP g c BLOCK 5 STREAMS fz:a >",
    "XACK fz:a g 0-1",
    "XPENDING fz:a g",
    "XPENDING fz:a g - + 5",
    "XCLAIM fz:a g c2 0 0-1",
    "XAUTOCLAIM fz:a g c2 0 0",
    "XINFO STREAM fz:a",
    "XINFO GROUPS fz:a",
    "XDEL fz:a 1-1",
    "XTRIM fz:a MAXLEN 10",
    "XSETID fz:b 5-5",
    "SET fz:s v",
    "GET fz:s",
    "DEL fz:s",
    "EXISTS fz:a fz:s",
    "TYPE fz:a",
    "LPUSH fz:l a",
    "HELLO 3",
    "HELLO 2",
    "HELLO 4",
    "SELECT 0",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH fz:a",
    "UNWATCH",
    "CLIENT SETNAME fuzzer",
    "CLIENT GETNAME",
    "CLIENT ID",
    "DBSIZE",
    "NOSUCH a b",
    "XADD",
    "XADD fz:a",
    "XADD fz:a * f",
    "GET",
    "XREADGROUP GROUP",
    "XGROUP",
    "XINFO",
];

/// Extra arguments appended to a vocabulary command now and then.
const EXTRA_ARGS: &[&str] = &["fz:a", "*", "$", ">", "0", "-1", "COUNT", "BLOCK", "x", ""];

/// The server's request limits, as the reference parser must see them.
fn server_limits() -> Limits {
    let c = server::Config::default();
    Limits {
        max_bulk_len: c.proto_max_bulk_len,
        max_args: c.max_args,
        unauthenticated_max_args: c.unauthenticated_max_args,
        unauthenticated_max_bulk_len: c.unauthenticated_max_bulk_len,
        ..Limits::default()
    }
}

// ---------------------------------------------------------------- generating byte streams

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let extra = prop_oneof![
        3 => prop::sample::select(EXTRA_ARGS).prop_map(|a| a.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ];
    (
        prop::sample::select(VOCABULARY),
        prop::collection::vec(extra, 0..3),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(line, extra, with_extra)| {
            let mut args: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
            if with_extra {
                args.extend(extra);
            }
            args
        })
}

fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    encode(&refs)
}

/// One piece of a hostile byte stream.
fn segment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A valid multibulk command.
        5 => command().prop_map(|a| multibulk(&a)),
        // An inline command, CRLF or bare LF, sometimes with quotes.
        2 => (command(), any::<bool>(), any::<bool>()).prop_map(|(a, lf, quote)| {
            let mut line = Vec::new();
            for (i, arg) in a.iter().enumerate() {
                if i > 0 {
                    line.push(b' ');
                }
                if quote && i == a.len() - 1 {
                    line.push(b'"');
                    line.extend_from_slice(arg);
                    line.push(b'"');
                } else {
                    line.extend_from_slice(arg);
                }
            }
            line.extend_from_slice(if lf { b"\n" } else { b"\r\n" });
            line
        }),
        // A truncated frame.
        1 => (command(), any::<prop::sample::Index>()).prop_map(|(a, cut)| {
            let bytes = multibulk(&a);
            bytes[..cut.index(bytes.len())].to_vec()
        }),
        // Huge or odd declared lengths.
        1 => prop::sample::select(vec![
            "*100000000000\r\n",
            "*99999999999999999999999\r\n",
            "*1048577\r\n",
            "*5000\r\n",
            "*-5\r\n",
            "*0\r\n",
            "*2\r\n$4\r\nECHO\r\n$600000000\r\n",
            "*2\r\n$4\r\nECHO\r\n$536870913\r\n",
            "*2\r\n$4\r\nECHO\r\n$99999999999999999999\r\n",
            "*2\r\n$4\r\nECHO\r\n$-5\r\n",
            "*2\r\n$4\r\nECHO\r\n$1000\r\n",
            "*2\r\n$4\r\nECHO\r\n$3\r\nabcdef\r\n",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        // Bad prefixes and malformed headers.
        1 => prop::sample::select(vec![
            "*abc\r\n",
            "*\r\n",
            "*1\r\n+PING\r\n",
            "*1\r\n:1\r\n",
            "*1\r\n$abc\r\n",
            "*1\r\n$-1\r\n",
            "*1\r\n$0\r\n\r\n",
            "$4\r\nPING\r\n",
            "+PING\r\n",
            ":1\r\n",
            "-ERR x\r\n",
            "%1\r\n",
            "ECHO \"unbalanced\r\n",
            "ECHO 'x'y\r\n",
            "\r\n",
            "\n",
            "   \r\n",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        // NUL bytes.
        1 => (1usize..16, any::<bool>()).prop_map(|(n, end)| {
            let mut v = vec![0u8; n];
            if end {
                v.extend_from_slice(b"\r\n");
            }
            v
        }),
        // Random bytes.
        2 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Bytes that print escaped in failure reports.
#[derive(Clone)]
struct Seg(Vec<u8>);

impl std::fmt::Debug for Seg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// A fuzz case: the segments, and a seed for how they are split into writes.
fn case() -> impl Strategy<Value = (Vec<Seg>, u64)> {
    (
        prop::collection::vec(segment().prop_map(Seg), 1..30),
        any::<u64>(),
    )
}

// ---------------------------------------------------------------- the reference

/// What the server must do with a byte stream.
struct Expected {
    /// Bytes the server reads (everything up to and including the byte that makes the
    /// protocol error, if any): the fuzzer sends only these, so that closing leaves nothing
    /// unread on the server (which would reset the connection and could lose the reply).
    send_len: usize,
    /// Commands found before the end or the error: one reply each.
    commands: usize,
    /// The protocol error that ends the connection.
    error: Option<ProtocolError>,
}

/// Feeds the bytes one at a time to the reference parser, as a slow client would.
fn expect(bytes: &[u8]) -> Expected {
    let mut parser = RequestParser::new(server_limits());
    let mut buf = BytesMut::new();
    let mut commands = 0;
    for (i, byte) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        loop {
            match parser.parse(&mut buf, true) {
                Ok(Some(_)) => commands += 1,
                Ok(None) => break,
                Err(e) => {
                    return Expected {
                        send_len: i + 1,
                        commands,
                        error: Some(e),
                    }
                }
            }
        }
    }
    Expected {
        send_len: bytes.len(),
        commands,
        error: None,
    }
}

// ---------------------------------------------------------------- one fuzz connection

/// A small deterministic PRNG for chunking (SplitMix64).
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the cases covered (to see that the generator reaches both outcomes).
#[derive(Debug, Default)]
struct Coverage {
    cases: u64,
    protocol_errors: u64,
    commands: u64,
}

/// Runs one case; `Err` describes how the server misbehaved.
async fn fuzz_connection(
    addr: std::net::SocketAddr,
    segments: &[Seg],
    mut seed: u64,
    coverage: &std::sync::Mutex<Coverage>,
) -> Result<(), String> {
    let bytes: Vec<u8> = segments.iter().flat_map(|s| s.0.iter().copied()).collect();
    let want = expect(&bytes);
    let to_send = bytes[..want.send_len].to_vec();
    if let Ok(mut c) = coverage.lock() {
        c.cases += 1;
        c.protocol_errors += u64::from(want.error.is_some());
        c.commands += want.commands as u64;
    }
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    let (mut rd, mut wr) = stream.into_split();

    // Write in random chunks while reading, so that neither side can stall the other.
    let writer = tokio::spawn(async move {
        let mut at = 0;
        while at < to_send.len() {
            let left = (to_send.len() - at) as u64;
            let n = 1 + (next(&mut seed) % left.min(4096)) as usize;
            if wr.write_all(&to_send[at..at + n]).await.is_err() {
                break;
            }
            at += n;
            if next(&mut seed) & 3 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        wr
    });

    let mut buf: Vec<u8> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    let wanted_frames = want.commands + usize::from(want.error.is_some());
    let deadline = Instant::now() + FUZZ_REPLY_TIMEOUT;
    let mut eof = false;
    while frames.len() < wanted_frames {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return Err(format!(
                "only {} of {wanted_frames} replies in time; got {:?}",
                frames.len(),
                show(&buf)
            ));
        };
        let mut chunk = [0u8; 16384];
        match tokio::time::timeout(left, rd.read(&mut chunk)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => {
                eof = true;
                break;
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
        take_frames(&mut buf, &mut frames)?;
    }
    if frames.len() < wanted_frames {
        return Err(format!(
            "connection closed after {} of {wanted_frames} replies: {frames:?}",
            frames.len()
        ));
    }

    // Protocol errors: only the expected one, last, exact.
    let is_protocol_error =
        |f: &Frame| matches!(f, Frame::Error(e) if e.starts_with(b"ERR Protocol error"));
    let (last, earlier) = match frames.split_last() {
        Some((last, earlier)) => (Some(last), earlier),
        None => (None, &frames[..]),
    };
    if let Some(bad) = earlier.iter().find(|f| is_protocol_error(f)) {
        return Err(format!("a protocol error before the last reply: {bad:?}"));
    }
    match (&want.error, last) {
        (Some(e), Some(Frame::Error(text))) => {
            let wanted = e.to_reply().to_bytes(Protocol::Resp2);
            if wanted[1..wanted.len() - 2] != text[..] {
                return Err(format!(
                    "protocol error reply {:?}, expected {:?}",
                    show(text),
                    show(&wanted)
                ));
            }
        }
        (Some(e), other) => {
            return Err(format!("expected the protocol error {e}, got {other:?}"));
        }
        (None, Some(f)) if is_protocol_error(f) => {
            return Err(format!("unexpected protocol error {f:?}"));
        }
        (None, _) => {}
    }

    // After the last reply: a protocol error closes; otherwise the connection stays open and
    // says nothing more.
    if want.error.is_some() {
        let closed = eof || wait_for_eof(&mut rd, &mut buf, FUZZ_REPLY_TIMEOUT).await;
        if !closed {
            return Err("the connection stayed open after a protocol error".into());
        }
        if !buf.is_empty() {
            return Err(format!("bytes after the protocol error: {:?}", show(&buf)));
        }
    } else {
        if eof {
            return Err("the server closed a connection without a protocol error".into());
        }
        let closed = wait_for_eof(&mut rd, &mut buf, QUIET).await;
        if closed {
            return Err("the server closed a connection without a protocol error".into());
        }
        if !buf.is_empty() {
            return Err(format!("unexpected extra reply bytes: {:?}", show(&buf)));
        }
    }
    let _ = writer.await;
    Ok(())
}

/// Moves every complete frame from `buf` into `frames`; an undecodable reply is an error.
fn take_frames(buf: &mut Vec<u8>, frames: &mut Vec<Frame>) -> Result<(), String> {
    loop {
        match parse_frame(buf) {
            Ok(Some((frame, used))) => {
                buf.drain(..used);
                frames.push(frame);
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(format!("malformed reply ({e}): {:?}", show(buf))),
        }
    }
}

/// True if EOF comes within `wait`; bytes read meanwhile go to `buf`.
async fn wait_for_eof(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut Vec<u8>,
    wait: Duration,
) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(left, rd.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

// ---------------------------------------------------------------- the well-behaved client

/// Appends to its own stream until told to stop, checking XLEN and the newest entries as it
/// goes; returns every ID the server acknowledged.
async fn well_behaved(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
) -> Result<Vec<String>, String> {
    let mut c = Raw::connect(addr).await;
    let mut acked: Vec<String> = Vec::new();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let value = format!("v{i}");
        let r = c
            .cmd_args(&[
                b"XADD".as_slice(),
                WELL_KEY.as_bytes(),
                b"*",
                b"n",
                value.as_bytes(),
            ])
            .await;
        match parse_frame(&r) {
            Ok(Some((Frame::Bulk(id), _))) => acked.push(String::from_utf8_lossy(&id).into()),
            other => return Err(format!("XADD #{i} answered {other:?}")),
        }
        if i & 7 == 0 {
            let r = c.cmd(&format!("XLEN {WELL_KEY}")).await;
            let want = format!(":{}\r\n", acked.len());
            if r != want.as_bytes() {
                return Err(format!("XLEN {} after {} XADDs", show(&r), acked.len()));
            }
            let r = c.cmd(&format!("XREVRANGE {WELL_KEY} + - COUNT 1")).await;
            let last = acked.last().map(String::as_str).unwrap_or_default();
            let want = format!("*1\r\n*2\r\n${}\r\n{last}\r\n", last.len());
            if !r.starts_with(want.as_bytes()) {
                return Err(format!("newest entry {}, expected {last}", show(&r)));
            }
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(acked)
}

/// The stream holds exactly the acknowledged entries, in order, with their values.
async fn check_well_behaved_stream(addr: std::net::SocketAddr, acked: &[String]) {
    let mut c = Raw::connect(addr).await;
    let r = c.cmd(&format!("XLEN {WELL_KEY}")).await;
    assert_eq!(show(&r), show(format!(":{}\r\n", acked.len()).as_bytes()));
    let r = c.cmd(&format!("XRANGE {WELL_KEY} - +")).await;
    let Ok(Some((Frame::Array(Some(entries)), _))) = parse_frame(&r) else {
        panic!("XRANGE answered {}", show(&r));
    };
    assert_eq!(entries.len(), acked.len());
    for (i, (entry, id)) in entries.iter().zip(acked).enumerate() {
        let want = Frame::Array(Some(vec![
            Frame::Bulk(id.clone().into()),
            Frame::Array(Some(vec![
                Frame::Bulk("n".into()),
                Frame::Bulk(format!("v{i}").into()),
            ])),
        ]));
        assert_eq!(entry, &want, "entry #{i}");
    }
}

/// A fresh connection is accepted and answers PING (after AUTH with `password`).
async fn ping_fresh(addr: std::net::SocketAddr, password: Option<&str>) -> Result<(), String> {
    let mut c = Raw::connect(addr).await;
    if let Some(pw) = password {
        c.expect(&format!("AUTH {pw}"), "+OK\r\n").await;
    }
    c.send(b"*1\r\n$4\r\nPING\r\n").await;
    match c.try_read_frame(REPLY_TIMEOUT).await {
        Some(r) if r == b"+PONG\r\n" => Ok(()),
        other => Err(format!("PING on a fresh connection: {other:?}")),
    }
}

#[test]
fn hostile_byte_streams_hurt_only_their_own_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    log_phase("start a server and a well-behaved client");
    let srv = rt.block_on(start());
    let addr = srv.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let good = rt.spawn(well_behaved(addr, stop.clone()));

    log_phase("hostile connections, one per case, each followed by a PING on a fresh one");
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        max_shrink_time: 60_000,
        ..RunnerConfig::default()
    });
    let coverage = std::sync::Mutex::new(Coverage::default());
    let result = runner.run(&case(), |(segments, seed)| {
        rt.block_on(async {
            fuzz_connection(addr, &segments, seed, &coverage).await?;
            ping_fresh(addr, None).await
        })
        .map_err(TestCaseError::fail)
    });

    let coverage = coverage.into_inner().unwrap_or_default();
    eprintln!("{coverage:?}");
    log_phase("the well-behaved client's stream is intact");
    stop.store(true, Ordering::Relaxed);
    let acked = rt
        .block_on(good)
        .expect("well-behaved client task")
        .unwrap_or_else(|e| panic!("well-behaved client: {e}"));
    eprintln!("well-behaved client: {} entries acknowledged", acked.len());
    assert!(!acked.is_empty());
    rt.block_on(check_well_behaved_stream(addr, &acked));
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(srv.shutdown());
}

// ---------------------------------------------------------------- targeted cases

/// Sends `bytes` and expects exactly `reply` and then the close, while a sibling
/// connection opened before (and authenticated with `password`) stays usable.
async fn expect_protocol_error(
    srv: &TestServer,
    bytes: &[u8],
    reply: &str,
    password: Option<&str>,
) {
    let mut sibling = srv.raw().await;
    if let Some(pw) = password {
        sibling.expect(&format!("AUTH {pw}"), "+OK\r\n").await;
    }
    sibling.expect("PING", "+PONG\r\n").await;
    let mut c = srv.raw().await;
    c.send(bytes).await;
    assert_eq!(show(&c.read_frame().await), show(reply.as_bytes()));
    assert!(c.closed_within(REPLY_TIMEOUT).await, "still open");
    assert!(c.leftover().is_empty(), "{}", show(c.leftover()));
    sibling.expect("PING", "+PONG\r\n").await;
    ping_fresh(srv.addr(), password)
        .await
        .expect("fresh connection");
}

#[tokio::test]
async fn negative_bulk_length_is_a_protocol_error() {
    let srv = start().await;
    expect_protocol_error(
        &srv,
        b"*2\r\n$4\r\nPING\r\n$-5\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
        None,
    )
    .await;
    srv.shutdown().await;
}

#[tokio::test]
async fn huge_multibulk_length_is_a_protocol_error() {
    let srv = start().await;
    expect_protocol_error(
        &srv,
        b"*100000000000\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
        None,
    )
    .await;
    srv.shutdown().await;
}

#[tokio::test]
async fn a_600_mb_bulk_is_a_protocol_error() {
    let srv = start().await;
    expect_protocol_error(
        &srv,
        b"*2\r\n$4\r\nECHO\r\n$600000000\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
        None,
    )
    .await;
    srv.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_clients_have_tighter_limits() {
    let srv = start_with(|c| c.requirepass = Some("pw".into())).await;
    log_phase("ten arguments before AUTH: a command error, the connection stays");
    let mut c = srv.raw().await;
    c.expect(
        "XADD s * a b c d e f g",
        "-NOAUTH Authentication required.\r\n",
    )
    .await;
    log_phase("eleven arguments before AUTH: a protocol error that closes");
    let mut sibling = srv.raw().await;
    sibling.expect("AUTH pw", "+OK\r\n").await;
    expect_protocol_error(
        &srv,
        b"*11\r\n",
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
        Some("pw"),
    )
    .await;
    log_phase("after AUTH the same command is fine");
    sibling
        .expect("XADD s 1-1 a b c d e f g h", "$3\r\n1-1\r\n")
        .await;
    c.expect("PING", "-NOAUTH Authentication required.\r\n")
        .await;
    srv.shutdown().await;
}

#[tokio::test]
async fn command_errors_keep_the_connection_open() {
    let srv = start().await;
    let mut c = srv.raw().await;
    log_phase("an unknown command");
    c.expect(
        "NOSUCH x",
        "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n",
    )
    .await;
    c.expect("PING", "+PONG\r\n").await;
    log_phase("wrong arity");
    c.expect(
        "XADD s",
        "-ERR wrong number of arguments for 'xadd' command\r\n",
    )
    .await;
    c.expect(
        "GET",
        "-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    c.expect("PING", "+PONG\r\n").await;
    log_phase("an engine syntax error");
    c.expect(
        "XADD s MAXLEN x * f v",
        "-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.expect("XADD s 1-1 f v", "$3\r\n1-1\r\n").await;
    assert!(!c.closed_within(QUIET).await);
    srv.shutdown().await;
}
