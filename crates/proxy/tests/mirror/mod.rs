//! The golden tests' helpers with a mirror: every command a golden test runs on the engine
//! (through [`run_args`]) is also sent through the proxy of a 3-node, 3-shard cluster, with
//! the cluster's clock pinned to the command's `now_ms` and its `stream-node-max-entries` set
//! to the command's, and the proxy's reply must be byte for byte the engine's: reads in
//! RESP2 and RESP3 (on two connections), writes in one of them, alternately.
//!
//! A test's `Db` is followed by a digest of its state: an empty `Db` starts a session (the
//! cluster is flushed); each mirrored command records the digest after it, and the next
//! command is mirrored only if its `Db` still has that digest. When a test changes its `Db`
//! without a command (the model API, or `execute` called directly) or turns to another
//! `Db`, the digests no longer agree and the session stops mirroring until an empty `Db`
//! comes: what the cluster holds is no longer what the test has. Commands that cannot be
//! compared are sent nowhere: a blocking read that the engine answers empty (it would block),
//! SCAN and RANDOMKEY (cursors and picks are per shard). KEYS is compared as a set. A write
//! whose keys live in different shards gets `-CROSSSLOT` from the proxy (as from Redis
//! Cluster): the session stops there too.
//!
//! One cluster serves the whole test process (tests in one process are serialized: the
//! clock is process-wide); its directory is removed when the process exits.
#![allow(dead_code)]

#[path = "../../../streams/tests/common/engine.rs"]
mod engine;

pub use engine::*;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use node::LocalCluster;
use resp::{Protocol, Reply};
use streams::{Ctx, Db, Prepared};

use crate::wire::Raw;

/// What the mirror learns about a command before the engine runs it.
pub struct Before {
    digest: u64,
    write: bool,
    /// The command may block (BLOCK, BLPOP, ...).
    blocking: bool,
}

struct Session {
    digest: u64,
    /// Why mirroring stopped, if it did.
    stopped: Option<String>,
    compared: u64,
    writes: u64,
}

struct Mirror {
    rt: tokio::runtime::Runtime,
    _cluster: LocalCluster,
    _proxy: server::ServerHandle,
    resp2: Raw,
    resp3: Raw,
    node_max_entries: u64,
    session: Option<Session>,
    writes: u64,
    /// The cluster holds data from an earlier session.
    dirty: bool,
    /// An exchange did not complete (a test failed in it): reconnect before the next.
    broken: bool,
}

static MIRROR: OnceLock<Mutex<Mirror>> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());
static DIR: OnceLock<PathBuf> = OnceLock::new();

thread_local! {
    /// Held by the test thread that uses the mirror, until it ends.
    static TURN: std::cell::RefCell<Option<MutexGuard<'static, ()>>> =
        const { std::cell::RefCell::new(None) };
}

fn digest(db: &Db) -> u64 {
    let mut buf = Vec::new();
    streams::codec::encode_db(db, &mut buf);
    crc64::crc64(0, &buf)
}

extern "C" fn remove_dir_at_exit() {
    if let Some(d) = DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn start() -> Mutex<Mirror> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::Builder::new()
        .prefix("xraft-golden-mirror")
        .tempdir()
        .expect("tempdir")
        .keep();
    DIR.set(dir.clone()).expect("one mirror");
    // SAFETY: registers a plain function with no captured state.
    unsafe { libc::atexit(remove_dir_at_exit) };
    let (cluster, proxy, resp2, resp3) = rt.block_on(async {
        let config = server::Config {
            bind: "127.0.0.1".into(),
            port: 0,
            dir: dir.join("proxy"),
            ..server::Config::default()
        };
        // fsync off: the mirror checks replies, not durability (the crash tests do).
        let (cluster, proxy) =
            crate::shared::start_cluster_and_proxy(&dir.join("cluster"), 3, false, config).await;
        let resp2 = Raw::connect(proxy.local_addr()).await;
        let mut resp3 = Raw::connect(proxy.local_addr()).await;
        let hello = resp3.cmd("HELLO 3").await;
        assert!(hello.starts_with(b"%"), "HELLO 3 answers a map");
        (cluster, proxy, resp2, resp3)
    });
    Mutex::new(Mirror {
        rt,
        _cluster: cluster,
        _proxy: proxy,
        resp2,
        resp3,
        node_max_entries: 100,
        session: None,
        writes: 0,
        dirty: false,
        broken: false,
    })
}

/// The mirror, once this test thread holds its turn.
fn the_mirror() -> MutexGuard<'static, Mirror> {
    TURN.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_none() {
            *t = Some(SERIAL.lock().unwrap_or_else(|p| p.into_inner()));
        }
    });
    MIRROR
        .get_or_init(start)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

pub fn mirror_before(db: &Db, ctx: &Ctx, args: &[Bytes]) -> Before {
    let (write, blocking) = match streams::parse(args) {
        Some(Ok(cmd)) => (
            matches!(cmd.prepare(db, ctx), Prepared::Write(_)),
            cmd.block().is_some(),
        ),
        _ => (false, false),
    };
    Before {
        digest: digest(db),
        write,
        blocking,
    }
}

fn name_of(args: &[Bytes]) -> String {
    args.first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
        .unwrap_or_default()
}

/// `KEYS`'s reply with its elements sorted (the proxy merges shards in its own order).
fn sorted_keys(wire: &[u8], proto: Protocol) -> Vec<u8> {
    let Some((Reply::Array(mut items), _)) = resp_reply(wire) else {
        return wire.to_vec();
    };
    items.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    Reply::Array(items).to_bytes(proto)
}

/// Parses a flat array of bulk strings (all `KEYS` replies are).
fn resp_reply(wire: &[u8]) -> Option<(Reply, usize)> {
    let text = wire;
    let end = text.windows(2).position(|w| w == b"\r\n")?;
    if text.first() != Some(&b'*') {
        return None;
    }
    let n: usize = std::str::from_utf8(&text[1..end]).ok()?.parse().ok()?;
    let mut pos = end + 2;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let rest = &text[pos..];
        let e = rest.windows(2).position(|w| w == b"\r\n")?;
        if rest.first() != Some(&b'$') {
            return None;
        }
        let len: usize = std::str::from_utf8(&rest[1..e]).ok()?.parse().ok()?;
        let start = pos + e + 2;
        items.push(Reply::Bulk(Bytes::copy_from_slice(
            text.get(start..start + len)?,
        )));
        pos = start + len + 2;
    }
    Some((Reply::Array(items), pos))
}

impl Mirror {
    fn send(&mut self, proto: Protocol, args: &[Bytes]) -> Vec<u8> {
        if self.broken {
            self.reconnect();
        }
        self.broken = true;
        let got = self.exchange(proto, args);
        self.broken = false;
        got
    }

    /// New connections after a failed exchange, and an empty cluster.
    fn reconnect(&mut self) {
        let addr = self._proxy.local_addr();
        self.resp2 = self.rt.block_on(Raw::connect(addr));
        self.resp3 = self.rt.block_on(Raw::connect(addr));
        self.broken = false;
        let hello = self.exchange(
            Protocol::Resp3,
            &[Bytes::from_static(b"HELLO"), Bytes::from_static(b"3")],
        );
        assert!(hello.starts_with(b"%"), "HELLO 3 answers a map");
        self.session = None;
        self.dirty = true;
    }

    fn exchange(&mut self, proto: Protocol, args: &[Bytes]) -> Vec<u8> {
        let parts: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
        let conn = match proto {
            Protocol::Resp2 => &mut self.resp2,
            Protocol::Resp3 => &mut self.resp3,
        };
        self.rt.block_on(conn.cmd_args(&parts))
    }

    fn end_session(&mut self) {
        if let Some(s) = self.session.take() {
            eprintln!(
                "golden mirror: {} commands compared through the proxy ({} writes){}",
                s.compared,
                s.writes,
                s.stopped
                    .map(|why| format!(", then stopped: {why}"))
                    .unwrap_or_default()
            );
        }
    }

    /// Makes `b`'s `Db` the session's; false when its commands cannot be mirrored now.
    fn follow(&mut self, b: &Before) -> bool {
        if let Some(s) = &mut self.session {
            if s.digest == b.digest && s.stopped.is_none() {
                return true;
            }
            if b.digest != *FRESH {
                if s.stopped.is_none() {
                    s.stopped = Some("the Db changed without a command".into());
                }
                return false;
            }
        } else if b.digest != *FRESH {
            self.session = Some(Session {
                digest: b.digest,
                stopped: Some("the Db was filled without commands".into()),
                compared: 0,
                writes: 0,
            });
            return false;
        }
        // An empty Db: a new session on an empty cluster.
        self.end_session();
        if self.dirty {
            let r = self.send(Protocol::Resp3, &[Bytes::from_static(b"FLUSHALL")]);
            assert_eq!(r, b"+OK\r\n", "FLUSHALL between sessions");
            self.dirty = false;
        }
        self.session = Some(Session {
            digest: b.digest,
            stopped: None,
            compared: 0,
            writes: 0,
        });
        true
    }

    fn set_node_max_entries(&mut self, n: u64) {
        if n == self.node_max_entries || n == 0 {
            return;
        }
        let args = [
            Bytes::from_static(b"CONFIG"),
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"stream-node-max-entries"),
            Bytes::from(n.to_string()),
        ];
        let r = self.send(Protocol::Resp3, &args);
        assert_eq!(r, b"+OK\r\n", "CONFIG SET stream-node-max-entries {n}");
        self.node_max_entries = n;
    }
}

static FRESH: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| digest(&Db::new()));

pub fn mirror(db: &Db, before: Before, ctx: &Ctx, args: &[Bytes], reply: &Reply) {
    let name = name_of(args);
    // The engine answers a blocking command that finds nothing with a null; the proxy
    // would block on it.
    let would_block = before.blocking && matches!(reply, Reply::NullArray | Reply::Null);
    if matches!(name.as_str(), "SCAN" | "RANDOMKEY") || would_block {
        // Not comparable; the session goes on if the engine's state did not change.
        return;
    }
    let mut m = the_mirror();
    if !m.follow(&before) {
        return;
    }
    storage::clock::pin_ms(Some(ctx.now_ms));
    m.set_node_max_entries(ctx.node_max_entries);
    let line = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let protos: &[Protocol] = if !before.write {
        &[Protocol::Resp2, Protocol::Resp3]
    } else if m.writes.is_multiple_of(2) {
        &[Protocol::Resp3]
    } else {
        &[Protocol::Resp2]
    };
    if before.write {
        m.writes += 1;
        m.dirty = true;
    }
    for &proto in protos {
        let got = m.send(proto, args);
        let mut want = reply.to_bytes(proto);
        if got.starts_with(b"-CROSSSLOT") && !want.starts_with(b"-CROSSSLOT") {
            let s = m.session.as_mut().expect("a session");
            if before.write {
                s.stopped = Some(format!("`{line}` spans shards (-CROSSSLOT)"));
            }
            return;
        }
        let got = if name == "KEYS" {
            want = sorted_keys(&want, proto);
            sorted_keys(&got, proto)
        } else {
            got
        };
        assert_eq!(
            show(&got),
            show(&want),
            "`{line}` at now_ms {} through the proxy ({proto:?}): the cluster's reply (left) \
             differs from the engine's (right)",
            ctx.now_ms
        );
    }
    let s = m.session.as_mut().expect("a session");
    s.compared += 1;
    s.writes += u64::from(before.write);
    s.digest = digest(db);
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}
