//! The `follower` workload: writers append unique payloads (XADD, as the `log` workload does)
//! while reader sessions follow one stream each with blocking
//! `XREAD COUNT n BLOCK ms STREAMS s<k> <cursor>`, which the proxy serves from a follower
//! replica once entries are committed.
//!
//! A session starts at cursor `0-0` and moves it to the last ID each read returned. History:
//! `f = "xread"`, the invocation's value is `Read { after: Some(cursor), entries: [] }`, an ok
//! completion `Read { after: Some(cursor), entries }`; a nil reply (the BLOCK timed out) is an
//! ok read with no entries. `-TIMEOUT` or a connection lost after sending is `info` (the
//! session continues from the same cursor under a new process id); any other error reply, or
//! no connection, is `fail`. The log checker's L4 (follower reads continue F), L8 (cursors
//! never go backwards; lag) judge it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::client::{Client, Outcome, Resp};
use crate::history::{Entry, Type, Value};
use crate::run::{recorded_xadd, Recorder, Rng};

pub struct FollowerWorkload {
    pub keys: usize,
    pub writers: usize,
    pub readers: usize,
    /// XADDs per second over all writers (readers follow as fast as entries come).
    pub rate: u64,
    /// Per-operation deadline of the client; the readers' BLOCK is shorter.
    pub timeout: Duration,
}

/// Entries per XREAD.
const COUNT: usize = 50;

/// Runs the workload until `stop`: `w.writers` XADD workers and `w.readers` follower sessions
/// (session `i` follows stream `s<i mod keys>`).
pub fn run_follower_workers(
    w: &FollowerWorkload,
    proxy: SocketAddr,
    rec: &Recorder,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<()>> {
    let mut handles = spawn_writers(
        w.writers, w.keys, w.rate, w.timeout, proxy, rec, seed, &stop,
    );
    let block_ms = (w.timeout.as_millis() as u64 / 2).clamp(1, 1000);
    for r in 0..w.readers {
        let rec = rec.clone();
        let stop = Arc::clone(&stop);
        let key = format!("s{}", r % w.keys.max(1));
        let timeout = w.timeout;
        handles.push(thread::spawn(move || {
            follow(proxy, &rec, &key, timeout, block_ms, &stop)
        }));
    }
    handles
}

/// XADD writers shared by the workloads of this crate: each appends `"<process>-<counter>"`
/// to a random stream `s<k>`, never retries, and takes a new process id after an `info`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_writers(
    writers: usize,
    keys: usize,
    rate: u64,
    timeout: Duration,
    proxy: SocketAddr,
    rec: &Recorder,
    seed: u64,
    stop: &Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<()>> {
    let pause = Duration::from_micros(1_000_000 * writers as u64 / rate.max(1));
    (0..writers)
        .map(|wid| {
            let rec = rec.clone();
            let stop = Arc::clone(stop);
            let keys = keys as u64;
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ ((wid as u64 + 1) * 7919));
                let mut client = Client::new(proxy, timeout);
                let mut process = rec.process();
                let mut counter = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("s{}", rng.below(keys));
                    recorded_xadd(&rec, &mut client, &mut process, &mut counter, &key);
                    thread::sleep(pause);
                }
            })
        })
        .collect()
}

/// The entries of `key` in an XREAD reply; a nil reply (BLOCK timed out) is no entries.
/// `None`: a reply of another shape.
pub fn xread_entries(reply: &Resp, key: &str) -> Option<Vec<Entry>> {
    let Resp::Array(Some(streams)) = reply else {
        return matches!(reply, Resp::Array(None)).then(Vec::new);
    };
    if streams.is_empty() {
        return Some(Vec::new());
    }
    streams.iter().find_map(|s| {
        let Resp::Array(Some(pair)) = s else {
            return None;
        };
        (pair.first()?.text()?.as_str() == key)
            .then(|| pair.get(1)?.entries())
            .flatten()
    })
}

/// One follower session on `key` until `stop`.
fn follow(
    proxy: SocketAddr,
    rec: &Recorder,
    key: &str,
    timeout: Duration,
    block_ms: u64,
    stop: &AtomicBool,
) {
    let mut client = Client::new(proxy, timeout);
    let mut process = rec.process();
    let mut cursor = "0-0".to_string();
    let (count, block) = (COUNT.to_string(), block_ms.to_string());
    while !stop.load(Ordering::Relaxed) {
        rec.push(
            process,
            Type::Invoke,
            "xread",
            key,
            Value::Read {
                after: Some(cursor.clone()),
                entries: Vec::new(),
            },
            None,
        );
        let o = client.call(&[
            b"XREAD",
            b"COUNT",
            count.as_bytes(),
            b"BLOCK",
            block.as_bytes(),
            b"STREAMS",
            key.as_bytes(),
            cursor.as_bytes(),
        ]);
        let (kind, value, error) = match o {
            Outcome::Reply(Resp::Error(e)) if e.starts_with("TIMEOUT") => {
                (Type::Info, Value::None, Some(e))
            }
            Outcome::Reply(Resp::Error(e)) => (Type::Fail, Value::None, Some(e)),
            Outcome::Reply(r) => match xread_entries(&r, key) {
                Some(entries) => {
                    let after = Some(cursor.clone());
                    if let Some((last, _)) = entries.last() {
                        cursor = last.clone();
                    }
                    (Type::Ok, Value::Read { after, entries }, None)
                }
                None => (
                    Type::Info,
                    Value::None,
                    Some(format!("unexpected reply {r:?}")),
                ),
            },
            Outcome::NotSent(e) => (Type::Fail, Value::None, Some(e)),
            Outcome::Unknown(e) => (Type::Info, Value::None, Some(e)),
        };
        rec.push(process, kind, "xread", key, value, error);
        match kind {
            Type::Info => {
                client.reset();
                process = rec.process();
                thread::sleep(Duration::from_millis(50));
            }
            Type::Fail => thread::sleep(Duration::from_millis(50)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xread_replies_map_to_entries() {
        let wire =
            b"*1\r\n*2\r\n$2\r\ns0\r\n*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\np\r\n$3\r\n1-0\r\n";
        let r = crate::client::parse(&mut &wire[..]).unwrap();
        assert_eq!(
            xread_entries(&r, "s0"),
            Some(vec![("5-0".into(), "1-0".into())])
        );
        assert_eq!(xread_entries(&r, "s1"), None);
        assert_eq!(xread_entries(&Resp::Array(None), "s0"), Some(vec![]));
        assert_eq!(xread_entries(&Resp::Int(3), "s0"), None);
    }
}
