//! The `group` workload (FAULTS.md G1-G9): producers XADD unique payloads; consumers of the
//! one group `g` of each stream read new entries (`XREADGROUP ... >`), acknowledge them one
//! ID per XACK, and now and then claim entries (XCLAIM, XAUTOCLAIM), count the PEL (XPENDING
//! summary) and look at the group (XINFO GROUPS). Some consumers are abandoned mid-run: they
//! stop forever while holding entries they never acked, which the others must reclaim with
//! XAUTOCLAIM (G9). After the run, [`drain_groups`] consumes and acknowledges everything left
//! and records the final sweep of each group (`final-group`).
//!
//! Recording (what [`crate::group_checker`] reads), `f` and values:
//! - `xadd`: [`Value::Payload`] on invoke, [`Value::Added`] on ok (as the log workload).
//! - `xreadgroup` / `xclaim`: [`Value::Consumer`] on invoke, [`Value::Delivered`] on ok
//!   (`claim` false / true).
//! - `xautoclaim`: [`Value::Consumer`] on invoke, [`Value::AutoClaimed`] on ok.
//! - `xack`: [`Value::Ack`] with `count: None` on invoke and on fail / info, `Some(n)` on ok.
//! - `xpending`: [`Value::None`] on invoke, [`Value::PendingCount`] on ok.
//! - `xinfo-group`: [`Value::None`] on invoke, [`Value::LastDelivered`] on ok.
//! - `final-group`: [`Value::None`] on invoke, [`Value::FinalGroup`] on ok.
//!
//! Error contract (the proxy's): a reply is `ok`; `-TIMEOUT` is unknown (`info`); any other
//! error reply means "not applied" (`fail`); a connection that could not be made is `fail`; a
//! request sent without a reply is `info`. After an `info` the worker takes a new process id
//! and a new connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::client::{Client, Outcome, Resp};
use crate::history::{Entry, Type, Value};
use crate::run::{recorded_xadd, Recorder, Rng};

/// The one group of every stream.
pub const GROUP: &str = "g";
/// The consumer [`drain_groups`] uses.
pub const DRAINER: &str = "drainer";
/// Min-idle of the workers' XCLAIM / XAUTOCLAIM: entries idle for longer are reclaimed.
const MIN_IDLE_MS: &str = "1500";
/// BLOCK of the workers' XREADGROUP.
const BLOCK_MS: &str = "200";
/// How many delivered IDs per stream the consumers remember as XCLAIM candidates.
const CANDIDATES: usize = 256;

pub struct GroupWorkload {
    pub keys: usize,
    pub producers: usize,
    pub consumers: usize,
    /// Operations per second over all workers.
    pub rate: u64,
    pub timeout: Duration,
}

impl GroupWorkload {
    /// How many of the consumers are abandoned mid-run: a third, at least one, never all of
    /// them (the others must reclaim what they held).
    pub fn abandoned(&self) -> usize {
        (self.consumers / 3)
            .max(1)
            .min(self.consumers.saturating_sub(1))
    }
}

fn key(k: usize) -> String {
    format!("s{k}")
}

/// XGROUP CREATE s{k} g 0 MKSTREAM for every stream (an existing group is fine). Retries
/// for a while: the cluster may still be electing leaders.
pub fn setup_groups(proxy: SocketAddr, keys: usize) -> anyhow::Result<()> {
    let mut client = Client::new(proxy, Duration::from_secs(5));
    for k in 0..keys {
        let key = key(k);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let o = client.call(&[
                b"XGROUP",
                b"CREATE",
                key.as_bytes(),
                GROUP.as_bytes(),
                b"0",
                b"MKSTREAM",
            ]);
            let last = match o {
                Outcome::Reply(Resp::Simple(s)) if s == "OK" => break,
                Outcome::Reply(Resp::Error(e)) if e.starts_with("BUSYGROUP") => break,
                other => format!("{other:?}"),
            };
            if Instant::now() > deadline {
                bail!("{key}: XGROUP CREATE failed: {last}");
            }
            client.reset();
            thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}

/// How a reply maps to the history: `Ok(reply)`, or the outcome type and error of a call that
/// did not succeed.
fn classify(o: Outcome) -> Result<Resp, (Type, String)> {
    match o {
        Outcome::Reply(Resp::Error(e)) if e.starts_with("TIMEOUT") => Err((Type::Info, e)),
        Outcome::Reply(Resp::Error(e)) => Err((Type::Fail, e)),
        Outcome::Reply(r) => Ok(r),
        Outcome::NotSent(e) => Err((Type::Fail, e)),
        Outcome::Unknown(e) => Err((Type::Info, e)),
    }
}

/// An XREADGROUP reply (`[[key, entries]]`, nil when nothing came) as entries.
fn group_read_entries(r: &Resp) -> Option<Vec<Entry>> {
    match r {
        Resp::Array(None) | Resp::Bulk(None) => Some(Vec::new()),
        Resp::Array(Some(streams)) => {
            let mut out = Vec::new();
            for s in streams {
                let Resp::Array(Some(pair)) = s else {
                    return None;
                };
                out.extend(pair.get(1)?.entries()?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// An XAUTOCLAIM reply: `[next, entries, deleted]` (Redis 6.2 has no `deleted`).
fn autoclaim_reply(r: &Resp) -> Option<(String, Vec<Entry>, Vec<String>)> {
    let Resp::Array(Some(items)) = r else {
        return None;
    };
    let next = items.first()?.text()?;
    let entries = items.get(1)?.entries()?;
    let deleted = match items.get(2) {
        None => Vec::new(),
        Some(Resp::Array(Some(d))) => d.iter().map(|x| x.text()).collect::<Option<_>>()?,
        Some(_) => return None,
    };
    Some((next, entries, deleted))
}

/// The count of an XPENDING summary (`[count, min, max, consumers]`).
fn pending_count(r: &Resp) -> Option<u64> {
    match r {
        Resp::Array(Some(items)) => match items.first()? {
            Resp::Int(n) if *n >= 0 => Some(*n as u64),
            _ => None,
        },
        _ => None,
    }
}

/// The last-delivered-id of group `g` in an XINFO GROUPS reply.
fn last_delivered(r: &Resp) -> Option<String> {
    let Resp::Array(Some(groups)) = r else {
        return None;
    };
    for g in groups {
        let Resp::Array(Some(kv)) = g else {
            return None;
        };
        let field = |name: &str| {
            kv.chunks(2)
                .find(|p| p[0].text().as_deref() == Some(name))
                .and_then(|p| p.get(1)?.text())
        };
        if field("name").as_deref() == Some(GROUP) {
            return field("last-delivered-id");
        }
    }
    None
}

/// An extended XPENDING reply as `(id, consumer)`.
fn pending_entries(r: &Resp) -> Option<Vec<(String, String)>> {
    let Resp::Array(items) = r else {
        return None;
    };
    items
        .iter()
        .flatten()
        .map(|e| match e {
            Resp::Array(Some(f)) => Some((f.first()?.text()?, f.get(1)?.text()?)),
            _ => None,
        })
        .collect()
}

/// One worker's connection and process id, recording every call.
struct Worker {
    rec: Recorder,
    client: Client,
    process: u64,
}

impl Worker {
    fn new(rec: &Recorder, proxy: SocketAddr, timeout: Duration) -> Worker {
        Worker {
            rec: rec.clone(),
            client: Client::new(proxy, timeout),
            process: rec.process(),
        }
    }

    /// Records the invocation, sends `args`, and records the completion: `parse` turns the
    /// reply into the `ok` value (`None`: an unexpected reply, recorded as `info`). Returns
    /// the parsed reply of an `ok`, or the outcome type of anything else.
    fn op<T>(
        &mut self,
        f: &str,
        key: &str,
        invoke: Value,
        args: &[&[u8]],
        parse: impl FnOnce(&Resp) -> Option<(T, Value)>,
    ) -> Result<T, Type> {
        let not_ok = match &invoke {
            Value::Ack { .. } => invoke.clone(),
            _ => Value::None,
        };
        self.rec
            .push(self.process, Type::Invoke, f, key, invoke, None);
        let (kind, value, error, out) = match classify(self.client.call(args)) {
            Ok(r) => match parse(&r) {
                Some((t, v)) => (Type::Ok, v, None, Ok(t)),
                None => (
                    Type::Info,
                    not_ok,
                    Some(format!("unexpected reply {r:?}")),
                    Err(Type::Info),
                ),
            },
            Err((kind, e)) => (kind, not_ok, Some(e), Err(kind)),
        };
        self.rec.push(self.process, kind, f, key, value, error);
        if kind == Type::Info {
            self.client.reset();
            self.process = self.rec.process();
        }
        out
    }

    fn xreadgroup(
        &mut self,
        key: &str,
        consumer: &str,
        count: u64,
        block: Option<&str>,
    ) -> Result<Vec<Entry>, Type> {
        let count = count.to_string();
        let mut args: Vec<&[u8]> = vec![
            b"XREADGROUP",
            b"GROUP",
            GROUP.as_bytes(),
            consumer.as_bytes(),
            b"COUNT",
            count.as_bytes(),
        ];
        if let Some(b) = block {
            args.extend([b"BLOCK".as_slice(), b.as_bytes()]);
        }
        args.extend([b"STREAMS".as_slice(), key.as_bytes(), b">"]);
        let inv = Value::Consumer {
            consumer: consumer.into(),
        };
        self.op("xreadgroup", key, inv, &args, |r| {
            let entries = group_read_entries(r)?;
            let v = Value::Delivered {
                consumer: consumer.into(),
                claim: false,
                entries: entries.clone(),
            };
            Some((entries, v))
        })
    }

    fn xack(&mut self, key: &str, id: &str) -> Result<u64, Type> {
        let inv = Value::Ack {
            id: id.into(),
            count: None,
        };
        let args: [&[u8]; 4] = [b"XACK", key.as_bytes(), GROUP.as_bytes(), id.as_bytes()];
        self.op("xack", key, inv, &args, |r| match r {
            Resp::Int(n) if *n >= 0 => Some((
                *n as u64,
                Value::Ack {
                    id: id.into(),
                    count: Some(*n as u64),
                },
            )),
            _ => None,
        })
    }

    fn xautoclaim(
        &mut self,
        key: &str,
        consumer: &str,
        min_idle: &str,
        start: &str,
        count: u64,
    ) -> Result<(String, Vec<Entry>), Type> {
        let count = count.to_string();
        let args: [&[u8]; 8] = [
            b"XAUTOCLAIM",
            key.as_bytes(),
            GROUP.as_bytes(),
            consumer.as_bytes(),
            min_idle.as_bytes(),
            start.as_bytes(),
            b"COUNT",
            count.as_bytes(),
        ];
        let inv = Value::Consumer {
            consumer: consumer.into(),
        };
        self.op("xautoclaim", key, inv, &args, |r| {
            let (next, entries, deleted) = autoclaim_reply(r)?;
            let v = Value::AutoClaimed {
                consumer: consumer.into(),
                next: next.clone(),
                entries: entries.clone(),
                deleted,
            };
            Some(((next, entries), v))
        })
    }

    fn xclaim(&mut self, key: &str, consumer: &str, ids: &[String]) -> Result<Vec<Entry>, Type> {
        let mut args: Vec<&[u8]> = vec![
            b"XCLAIM",
            key.as_bytes(),
            GROUP.as_bytes(),
            consumer.as_bytes(),
            MIN_IDLE_MS.as_bytes(),
        ];
        args.extend(ids.iter().map(|i| i.as_bytes()));
        let inv = Value::Consumer {
            consumer: consumer.into(),
        };
        self.op("xclaim", key, inv, &args, |r| {
            let entries = r.entries()?;
            let v = Value::Delivered {
                consumer: consumer.into(),
                claim: true,
                entries: entries.clone(),
            };
            Some((entries, v))
        })
    }

    fn xpending(&mut self, key: &str) -> Result<u64, Type> {
        let args: [&[u8]; 3] = [b"XPENDING", key.as_bytes(), GROUP.as_bytes()];
        self.op("xpending", key, Value::None, &args, |r| {
            let n = pending_count(r)?;
            Some((n, Value::PendingCount { pending: n }))
        })
    }

    fn xinfo_group(&mut self, key: &str) -> Result<String, Type> {
        let args: [&[u8]; 3] = [b"XINFO", b"GROUPS", key.as_bytes()];
        self.op("xinfo-group", key, Value::None, &args, |r| {
            let l = last_delivered(r)?;
            Some((
                l.clone(),
                Value::LastDelivered {
                    last_delivered: l.clone(),
                },
            ))
        })
    }
}

/// Delivered IDs per stream, the candidates of XCLAIM (shared by the consumers).
type Candidates = Arc<Mutex<Vec<VecDeque<String>>>>;

fn remember(c: &Candidates, k: usize, entries: &[Entry]) {
    let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
    for (i, _) in entries {
        c[k].push_back(i.clone());
        if c[k].len() > CANDIDATES {
            c[k].pop_front();
        }
    }
}

fn producer(w: &mut Worker, keys: usize, rng: &mut Rng, pause: Duration, stop: &AtomicBool) {
    let mut counter = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = key(rng.below(keys as u64) as usize);
        recorded_xadd(&w.rec, &mut w.client, &mut w.process, &mut counter, &key);
        thread::sleep(pause);
    }
}

/// A consumer's loop. `abandon_at`: the number of operations after which it stops acking,
/// reads until it holds something, and then stops forever (never acking what it holds).
#[allow(clippy::too_many_arguments)]
fn consumer(
    w: &mut Worker,
    name: &str,
    keys: usize,
    rng: &mut Rng,
    pause: Duration,
    stop: &AtomicBool,
    candidates: &Candidates,
    abandon_at: Option<u64>,
) {
    // What this consumer holds (stream, ID), to acknowledge one per call.
    let mut held: Vec<(usize, String)> = Vec::new();
    let mut cursors = vec!["0-0".to_string(); keys];
    let mut ops = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // The same draws every iteration, whatever happens: a seed gives one sequence.
        let (r_ack, r_op) = (rng.below(100), rng.below(100));
        let k = rng.below(keys as u64) as usize;
        let count = 1 + rng.below(5);
        let pick = rng.next_u64();
        let key = key(k);
        ops += 1;
        let abandoning = abandon_at.is_some_and(|a| ops > a);
        if abandoning {
            if let Ok(e) = w.xreadgroup(&key, name, count, Some(BLOCK_MS)) {
                if !e.is_empty() {
                    remember(candidates, k, &e);
                    held.extend(e.into_iter().map(|(i, _)| (k, i)));
                }
            }
            if !held.is_empty() {
                let ids: Vec<&str> = held.iter().map(|(_, i)| i.as_str()).collect();
                println!(
                    "group: consumer {name} abandoned, holding {} unacked: {}",
                    held.len(),
                    ids.join(" ")
                );
                return;
            }
        } else if !held.is_empty() && (r_ack < 70 || held.len() > 20) {
            let (hk, id) = held.swap_remove(pick as usize % held.len());
            if w.xack(&self::key(hk), &id) == Err(Type::Fail) {
                held.push((hk, id)); // certainly not applied: XACK is idempotent, try again later
            }
        } else if r_op < 60 {
            if let Ok(e) = w.xreadgroup(&key, name, count, Some(BLOCK_MS)) {
                remember(candidates, k, &e);
                held.extend(e.into_iter().map(|(i, _)| (k, i)));
            }
        } else if r_op < 72 {
            let start = cursors[k].clone();
            if let Ok((next, e)) = w.xautoclaim(&key, name, MIN_IDLE_MS, &start, count) {
                cursors[k] = next;
                held.extend(e.into_iter().map(|(i, _)| (k, i)));
            }
        } else if r_op < 82 {
            let ids: Vec<String> = {
                let c = candidates.lock().unwrap_or_else(|p| p.into_inner());
                let pool = &c[k];
                (0..count.min(3))
                    .filter(|_| !pool.is_empty())
                    .map(|j| pool[(pick.rotate_left(j as u32 * 16) as usize) % pool.len()].clone())
                    .collect()
            };
            if !ids.is_empty() {
                if let Ok(e) = w.xclaim(&key, name, &ids) {
                    for (i, _) in e {
                        if !held.iter().any(|(hk, h)| *hk == k && *h == i) {
                            held.push((k, i));
                        }
                    }
                }
            }
        } else if r_op < 91 {
            let _ = w.xpending(&key);
        } else {
            let _ = w.xinfo_group(&key);
        }
        thread::sleep(pause);
    }
}

/// Runs the `group` workload until `stop`: producers, consumers, and the abandoned
/// consumers (the first [`GroupWorkload::abandoned`] ones).
pub fn run_group_workers(
    w: &GroupWorkload,
    proxy: SocketAddr,
    rec: &Recorder,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<()>> {
    let workers = (w.producers + w.consumers) as u64;
    let pause = Duration::from_micros(1_000_000 * workers / w.rate.max(1));
    let keys = w.keys.max(1);
    let candidates: Candidates = Arc::new(Mutex::new(vec![VecDeque::new(); keys]));
    let abandoned = w.abandoned();
    let mut handles = Vec::new();
    for p in 0..w.producers {
        let (rec, stop, timeout) = (rec.clone(), Arc::clone(&stop), w.timeout);
        handles.push(thread::spawn(move || {
            let mut rng = Rng::new(seed ^ ((p as u64 + 1) * 104_729));
            let mut wk = Worker::new(&rec, proxy, timeout);
            producer(&mut wk, keys, &mut rng, pause, &stop);
        }));
    }
    for c in 0..w.consumers {
        let (rec, stop, timeout) = (rec.clone(), Arc::clone(&stop), w.timeout);
        let candidates = Arc::clone(&candidates);
        handles.push(thread::spawn(move || {
            let mut rng = Rng::new(seed ^ ((c as u64 + 1) * 1_299_709));
            let abandon_at = (c < abandoned).then(|| 20 + rng.below(40));
            let mut wk = Worker::new(&rec, proxy, timeout);
            let name = format!("c{c}");
            consumer(
                &mut wk,
                &name,
                keys,
                &mut rng,
                pause,
                &stop,
                &candidates,
                abandon_at,
            );
        }));
    }
    handles
}

/// Drains one stream's group: XAUTOCLAIM (min-idle 0) of everything pending and `>` reads
/// until nothing is left, acking each ID. True when a full round found nothing to do.
fn drain_round(w: &mut Worker, key: &str) -> bool {
    let mut quiet = true;
    let mut cursor = "0-0".to_string();
    loop {
        let Ok((next, e)) = w.xautoclaim(key, DRAINER, "0", &cursor, 100) else {
            return false;
        };
        for (i, _) in &e {
            quiet = false;
            if w.xack(key, i) != Ok(1) {
                return false;
            }
        }
        if next == "0-0" {
            break;
        }
        cursor = next;
    }
    loop {
        let Ok(e) = w.xreadgroup(key, DRAINER, 100, None) else {
            return false;
        };
        if e.is_empty() {
            break;
        }
        quiet = false;
        for (i, _) in &e {
            if w.xack(key, i) != Ok(1) {
                return false;
            }
        }
    }
    quiet && w.xpending(key) == Ok(0)
}

/// The final sweep of one group: its PEL (extended XPENDING) and its last-delivered-id.
fn sweep(w: &mut Worker, key: &str, drained: bool) -> Result<(), Type> {
    w.rec.push(
        w.process,
        Type::Invoke,
        "final-group",
        key,
        Value::None,
        None,
    );
    let mut pel: Vec<(String, String)> = Vec::new();
    let mut start = "-".to_string();
    let result = loop {
        let o = w.client.call(&[
            b"XPENDING",
            key.as_bytes(),
            GROUP.as_bytes(),
            start.as_bytes(),
            b"+",
            b"1000",
        ]);
        match classify(o).map(|r| (pending_entries(&r), r)) {
            Ok((Some(page), _)) => {
                let full = page.len() == 1000;
                let last = page.last().map(|(i, _)| i.clone());
                pel.extend(page);
                match last.as_deref().and_then(crate::history::Id::parse) {
                    Some(l) if full => start = format!("{}-{}", l.0, l.1 + 1),
                    _ => break Ok(()),
                }
            }
            Ok((None, r)) => break Err((Type::Info, format!("unexpected reply {r:?}"))),
            Err(e) => break Err(e),
        }
    };
    let result = result.and_then(|()| {
        match classify(w.client.call(&[b"XINFO", b"GROUPS", key.as_bytes()])) {
            Ok(r) => last_delivered(&r).ok_or((Type::Info, format!("unexpected reply {r:?}"))),
            Err(e) => Err(e),
        }
    });
    match result {
        Ok(last_delivered) => {
            let v = Value::FinalGroup {
                pel,
                last_delivered,
                drained,
            };
            w.rec.push(w.process, Type::Ok, "final-group", key, v, None);
            Ok(())
        }
        Err((kind, e)) => {
            // A sweep changes nothing: an unknown one is as good as a failed one, but the
            // history says what happened.
            w.rec
                .push(w.process, kind, "final-group", key, Value::None, Some(e));
            w.client.reset();
            w.process = w.rec.process();
            Err(kind)
        }
    }
}

/// After the load has stopped and the cluster healed: drains every stream's group (the
/// consumer [`DRAINER`] XAUTOCLAIMs everything pending and reads `>` until nothing is left,
/// acking each ID) and records its final sweep (`final-group`). Every call is recorded,
/// errors too; errors are retried until a deadline. A group the drainer could not empty is
/// still swept with `drained: true`, so that the checker reports what is left (G4): after
/// healing, failing to drain is an anomaly, not an excuse. Fails only when a sweep could
/// not be taken at all.
pub fn drain_groups(proxy: SocketAddr, keys: usize, rec: &Recorder) -> anyhow::Result<()> {
    let mut w = Worker::new(rec, proxy, Duration::from_secs(10));
    let mut unswept = Vec::new();
    for k in 0..keys {
        let key = key(k);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut done = false;
        while Instant::now() < deadline {
            if drain_round(&mut w, &key) {
                done = true;
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        if !done {
            println!("group: {key}: the drain did not finish within its deadline");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if sweep(&mut w, &key, true).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                unswept.push(key);
                break;
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
    if !unswept.is_empty() {
        bail!("no final sweep of {}", unswept.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Resp {
        Resp::Bulk(Some(s.as_bytes().to_vec()))
    }
    fn arr(v: Vec<Resp>) -> Resp {
        Resp::Array(Some(v))
    }
    fn entry(id: &str, p: &str) -> Resp {
        arr(vec![bulk(id), arr(vec![bulk("p"), bulk(p)])])
    }

    #[test]
    fn replies_parse() {
        let r = arr(vec![arr(vec![
            bulk("s0"),
            arr(vec![entry("1-0", "a"), entry("2-0", "b")]),
        ])]);
        assert_eq!(
            group_read_entries(&r).unwrap(),
            vec![("1-0".into(), "a".into()), ("2-0".into(), "b".into())]
        );
        assert_eq!(group_read_entries(&Resp::Array(None)), Some(vec![]));
        let r = arr(vec![
            bulk("0-0"),
            arr(vec![entry("1-0", "a")]),
            arr(vec![bulk("3-0")]),
        ]);
        assert_eq!(
            autoclaim_reply(&r).unwrap(),
            (
                "0-0".into(),
                vec![("1-0".into(), "a".into())],
                vec!["3-0".into()]
            )
        );
        let r = arr(vec![Resp::Int(2), bulk("1-0"), bulk("2-0"), arr(vec![])]);
        assert_eq!(pending_count(&r), Some(2));
        let r = arr(vec![arr(vec![
            bulk("name"),
            bulk("g"),
            bulk("consumers"),
            Resp::Int(1),
            bulk("last-delivered-id"),
            bulk("7-1"),
        ])]);
        assert_eq!(last_delivered(&r).as_deref(), Some("7-1"));
        let r = arr(vec![arr(vec![
            bulk("1-0"),
            bulk("c1"),
            Resp::Int(5),
            Resp::Int(1),
        ])]);
        assert_eq!(
            pending_entries(&r).unwrap(),
            vec![("1-0".into(), "c1".into())]
        );
    }

    #[test]
    fn some_consumers_are_abandoned_never_all() {
        let w = |consumers| GroupWorkload {
            keys: 1,
            producers: 1,
            consumers,
            rate: 1,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(w(1).abandoned(), 0);
        assert_eq!(w(2).abandoned(), 1);
        assert_eq!(w(4).abandoned(), 1);
        assert_eq!(w(6).abandoned(), 2);
    }
}
