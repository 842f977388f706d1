//! The `trim` workload: writers append unique payloads (XADD), readers read streams from the
//! leader (`XRANGE s<k> - +`), and one trimmer cuts streams with exact `XTRIM s<k> MINID <id>`,
//! choosing the ID from its own latest leader read: the entry [`KEEP`] places from its end, so
//! the MINID is always an ID that was observed.
//!
//! History: `f = "xtrim"`, invocation `Trim { minid, removed: None }`, ok completion
//! `Trim { minid, removed: Some(n) }` (the reply, entries removed). Errors as for XADD:
//! `-TIMEOUT` or a lost connection after sending = `info` (new process id), another error
//! reply or no connection = `fail`. The trimmer's reads are recorded as ordinary `xrange`
//! reads. The log checker's L9 judges trims; L4, L5, L7 leave legitimately trimmed entries out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::client::{Client, Outcome, Resp};
use crate::history::{Entry, Type, Value};
use crate::run::{Recorder, Rng};
use crate::workload_follower::spawn_writers;

pub struct TrimWorkload {
    pub keys: usize,
    /// Writers and readers: a quarter of them (rounded down) read, the rest write; the
    /// trimmer comes on top.
    pub workers: usize,
    /// XADDs per second over all writers; readers together read a quarter as often.
    pub rate: u64,
    pub timeout: Duration,
}

/// The trimmer trims one stream (round robin) this often.
pub const TRIM_EVERY: Duration = Duration::from_millis(700);
/// Entries a trim keeps: the MINID is the ID `KEEP` entries from the end of the last read.
pub const KEEP: usize = 20;

/// Runs the workload until `stop`: writers, leader readers and one trimmer.
pub fn run_trim_workers(
    w: &TrimWorkload,
    proxy: SocketAddr,
    rec: &Recorder,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<()>> {
    let readers = w.workers / 4;
    let writers = w.workers.saturating_sub(readers).max(1);
    let mut handles = spawn_writers(writers, w.keys, w.rate, w.timeout, proxy, rec, seed, &stop);
    let read_pause = Duration::from_micros(4_000_000 * readers.max(1) as u64 / w.rate.max(1));
    for r in 0..readers {
        let rec = rec.clone();
        let stop = Arc::clone(&stop);
        let (keys, timeout) = (w.keys as u64, w.timeout);
        handles.push(thread::spawn(move || {
            let mut rng = Rng::new(seed ^ ((r as u64 + 1) * 104_729));
            let mut client = Client::new(proxy, timeout);
            let mut process = rec.process();
            while !stop.load(Ordering::Relaxed) {
                let key = format!("s{}", rng.below(keys));
                leader_read(&mut client, &rec, &mut process, &key);
                thread::sleep(read_pause);
            }
        }));
    }
    let rec = rec.clone();
    let (keys, timeout) = (w.keys.max(1), w.timeout);
    handles.push(thread::spawn(move || {
        let mut client = Client::new(proxy, timeout);
        let mut process = rec.process();
        let mut k = 0;
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(TRIM_EVERY);
            let key = format!("s{k}");
            k = (k + 1) % keys;
            let Some(entries) = leader_read(&mut client, &rec, &mut process, &key) else {
                continue;
            };
            if entries.len() <= KEEP {
                continue;
            }
            let minid = entries[entries.len() - KEEP].0.clone();
            trim(&mut client, &rec, &mut process, &key, &minid);
        }
    }));
    handles
}

/// `XRANGE key - +` on the leader, recorded as `xrange`; the entries when it was ok.
pub(crate) fn leader_read(
    client: &mut Client,
    rec: &Recorder,
    process: &mut u64,
    key: &str,
) -> Option<Vec<Entry>> {
    rec.push(*process, Type::Invoke, "xrange", key, Value::None, None);
    let (kind, value, error, out) = match client.call(&[b"XRANGE", key.as_bytes(), b"-", b"+"]) {
        Outcome::Reply(Resp::Error(e)) if e.starts_with("TIMEOUT") => {
            (Type::Info, Value::None, Some(e), None)
        }
        Outcome::Reply(Resp::Error(e)) => (Type::Fail, Value::None, Some(e), None),
        Outcome::Reply(r) => match r.entries() {
            Some(entries) => (
                Type::Ok,
                Value::Read {
                    after: None,
                    entries: entries.clone(),
                },
                None,
                Some(entries),
            ),
            None => (
                Type::Info,
                Value::None,
                Some(format!("unexpected reply {r:?}")),
                None,
            ),
        },
        Outcome::NotSent(e) => (Type::Fail, Value::None, Some(e), None),
        Outcome::Unknown(e) => (Type::Info, Value::None, Some(e), None),
    };
    rec.push(*process, kind, "xrange", key, value, error);
    if kind == Type::Info {
        client.reset();
        *process = rec.process();
    }
    out
}

/// Exact `XTRIM key MINID minid`, recorded as `xtrim`.
fn trim(client: &mut Client, rec: &Recorder, process: &mut u64, key: &str, minid: &str) {
    let invoked = Value::Trim {
        minid: minid.into(),
        removed: None,
    };
    rec.push(*process, Type::Invoke, "xtrim", key, invoked, None);
    let (kind, value, error) =
        match client.call(&[b"XTRIM", key.as_bytes(), b"MINID", minid.as_bytes()]) {
            Outcome::Reply(Resp::Int(n)) if n >= 0 => (
                Type::Ok,
                Value::Trim {
                    minid: minid.into(),
                    removed: Some(n as u64),
                },
                None,
            ),
            Outcome::Reply(Resp::Error(e)) if e.starts_with("TIMEOUT") => {
                (Type::Info, Value::None, Some(e))
            }
            Outcome::Reply(Resp::Error(e)) => (Type::Fail, Value::None, Some(e)),
            Outcome::Reply(r) => (
                Type::Info,
                Value::None,
                Some(format!("unexpected reply {r:?}")),
            ),
            Outcome::NotSent(e) => (Type::Fail, Value::None, Some(e)),
            Outcome::Unknown(e) => (Type::Info, Value::None, Some(e)),
        };
    rec.push(*process, kind, "xtrim", key, value, error);
    if kind == Type::Info {
        client.reset();
        *process = rec.process();
    }
}
