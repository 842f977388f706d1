//! Model-based property test: random command sequences run through `streams::execute` on a
//! keyspace that is committed to a [`Store`] after every command, with random reopens (sync,
//! drop the store, reopen, continue with the loaded keyspace). Every reply is compared with a
//! naive in-memory model written here from the documented semantics
//! (/work/shared/docs/streams-semantics.md and Redis 8.0 behaviour): a `Vec` of entries per
//! stream, groups with a plain PEL map, no node layout. After each command the engine's state
//! is compared with the model's, and after each reopen the loaded keyspace with the one before.
//!
//! Layout-dependent results are the only ones not predicted: for `~` trims the model checks
//! that the engine removed a prefix of at most what an exact trim (and LIMIT) would remove,
//! then re-syncs from the engine's count. Commands the engine does not implement yet
//! (`execute` returns `None`) are skipped, and the model skips them too.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};
use resp::{Protocol, Reply};
use storage::{Store, StoreOptions};
use streams::{Ctx, Db, Value};

// ====================================================================== model IDs

/// The model's own stream ID (not the engine's type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Mid(u64, u64);

impl Mid {
    const ZERO: Mid = Mid(0, 0);
    const MAX: Mid = Mid(u64::MAX, u64::MAX);

    fn next(self) -> Option<Mid> {
        if self.1 < u64::MAX {
            Some(Mid(self.0, self.1 + 1))
        } else if self.0 < u64::MAX {
            Some(Mid(self.0 + 1, 0))
        } else {
            None
        }
    }
    fn prev(self) -> Option<Mid> {
        if self.1 > 0 {
            Some(Mid(self.0, self.1 - 1))
        } else if self.0 > 0 {
            Some(Mid(self.0 - 1, u64::MAX))
        } else {
            None
        }
    }
    fn text(self) -> String {
        format!("{}-{}", self.0, self.1)
    }
}

// ====================================================================== model state

#[derive(Debug, Clone)]
struct MNack {
    consumer: Bytes,
    time: u64,
    count: u64,
}

#[derive(Debug, Clone)]
struct MConsumer {
    seen: u64,
    active: i64,
}

#[derive(Debug, Clone, Default)]
struct MGroup {
    last_id: Mid,
    entries_read: Option<u64>,
    pel: BTreeMap<Mid, MNack>,
    consumers: BTreeMap<Bytes, MConsumer>,
}

impl MGroup {
    fn consumer_pel(&self, c: &[u8]) -> Vec<Mid> {
        self.pel
            .iter()
            .filter(|(_, n)| n.consumer.as_ref() == c)
            .map(|(id, _)| *id)
            .collect()
    }
    /// Gets or creates a consumer (seen = now, never active) and marks it seen now.
    fn see_consumer(&mut self, c: &Bytes, now: u64) {
        self.consumers
            .entry(c.clone())
            .or_insert(MConsumer {
                seen: now,
                active: -1,
            })
            .seen = now;
    }
}

#[derive(Debug, Clone, Default)]
struct MStream {
    /// Live entries in ID order.
    entries: Vec<(Mid, Vec<Bytes>)>,
    last_id: Mid,
    entries_added: u64,
    max_deleted: Mid,
    groups: BTreeMap<Bytes, MGroup>,
}

impl MStream {
    fn len(&self) -> u64 {
        self.entries.len() as u64
    }
    fn first_id(&self) -> Mid {
        self.entries.first().map_or(Mid::ZERO, |e| e.0)
    }
    fn top_id(&self) -> Mid {
        self.entries.last().map_or(Mid::ZERO, |e| e.0)
    }
    fn find(&self, id: Mid) -> Option<&Vec<Bytes>> {
        self.entries.iter().find(|e| e.0 == id).map(|e| &e.1)
    }
    /// Tombstones in `[start, +inf)`.
    fn has_tombstones_from(&self, start: Mid) -> bool {
        if self.entries.is_empty() || self.max_deleted == Mid::ZERO {
            return false;
        }
        start <= self.max_deleted
    }
    /// The logical read counter of `id`, if it can be known (`None` = invalid).
    fn estimate(&self, id: Mid) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.entries.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id != Mid::ZERO && id < self.max_deleted {
            return None;
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id();
        if self.max_deleted == Mid::ZERO || self.max_deleted < first {
            if id < first {
                return Some(self.entries_added.wrapping_sub(self.len()));
            }
            if id == first {
                return Some(self.entries_added.wrapping_sub(self.len()).wrapping_add(1));
            }
        }
        None
    }
    fn lag(&self, g: &MGroup) -> Option<i64> {
        let ea = self.entries_added as i64;
        if self.entries_added == 0 || self.entries.is_empty() {
            return Some(0);
        }
        let first = self.first_id();
        if g.last_id < first && self.max_deleted < first {
            return Some(self.len() as i64);
        }
        if let Some(er) = g.entries_read {
            if !self.has_tombstones_from(g.last_id) {
                return Some(ea.wrapping_sub(er as i64));
            }
        }
        self.estimate(g.last_id).map(|e| ea.wrapping_sub(e as i64))
    }
    /// How many oldest entries an exact trim removes.
    fn exact_trim_count(&self, t: &TrimC) -> u64 {
        match (t.maxlen, t.minid) {
            (Some(n), _) => self.len().saturating_sub(n),
            (None, Some(m)) => self.entries.iter().take_while(|e| e.0 < m).count() as u64,
            (None, None) => 0,
        }
    }
    fn drop_oldest(&mut self, n: u64) {
        self.entries.drain(..n as usize);
    }
}

#[derive(Debug, Clone)]
enum MVal {
    Stream(MStream),
    Str(Bytes),
}

#[derive(Debug, Clone, Default)]
struct Model {
    keys: BTreeMap<Bytes, MVal>,
}

// ====================================================================== commands

#[derive(Debug, Clone, Copy)]
enum Bound {
    Min,
    Max,
    Incl(Mid),
    Excl(Mid),
}

#[derive(Debug, Clone, Copy)]
enum AddIdC {
    Auto,
    AutoSeq(u64),
    Explicit(Mid),
}

#[derive(Debug, Clone, Copy)]
struct TrimC {
    maxlen: Option<u64>,
    minid: Option<Mid>,
    approx: bool,
    eq_token: bool,
    limit: Option<u64>,
}

/// A concrete command (IDs resolved against the model state).
#[derive(Debug, Clone)]
enum Cmd {
    XAdd {
        key: Bytes,
        nomkstream: bool,
        trim: Option<TrimC>,
        id: AddIdC,
        fields: Vec<Bytes>,
    },
    XTrim {
        key: Bytes,
        trim: TrimC,
    },
    XDel {
        key: Bytes,
        ids: Vec<Mid>,
    },
    XSetId {
        key: Bytes,
        id: Mid,
        entries_added: Option<u64>,
        max_deleted: Option<Mid>,
    },
    GroupCreate {
        key: Bytes,
        group: Bytes,
        id: Option<Mid>,
        mkstream: bool,
        entries_read: Option<i64>,
    },
    GroupSetId {
        key: Bytes,
        group: Bytes,
        id: Option<Mid>,
        entries_read: Option<i64>,
    },
    GroupDestroy {
        key: Bytes,
        group: Bytes,
    },
    CreateConsumer {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
    },
    DelConsumer {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
    },
    ReadGroup {
        group: Bytes,
        consumer: Bytes,
        count: Option<i64>,
        noack: bool,
        /// `None` = `>`.
        streams: Vec<(Bytes, Option<Mid>)>,
    },
    Ack {
        key: Bytes,
        group: Bytes,
        ids: Vec<Mid>,
    },
    Claim {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
        min_idle: i64,
        ids: Vec<Mid>,
        idle: Option<i64>,
        time: Option<i64>,
        retrycount: Option<i64>,
        force: bool,
        justid: bool,
        lastid: Option<Mid>,
    },
    AutoClaim {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
        min_idle: i64,
        start: Bound,
        count: Option<u64>,
        justid: bool,
    },
    Del {
        keys: Vec<Bytes>,
    },
    Rename {
        from: Bytes,
        to: Bytes,
    },
    FlushAll,
    Set {
        key: Bytes,
        value: Bytes,
    },
    XRange {
        key: Bytes,
        start: Bound,
        end: Bound,
        count: Option<i64>,
    },
    XLen {
        key: Bytes,
    },
    PendingSummary {
        key: Bytes,
        group: Bytes,
    },
    PendingExt {
        key: Bytes,
        group: Bytes,
        idle: Option<i64>,
        start: Bound,
        end: Bound,
        count: i64,
        consumer: Option<Bytes>,
    },
    InfoGroups {
        key: Bytes,
    },
}

fn bound_arg(b: Bound) -> String {
    match b {
        Bound::Min => "-".into(),
        Bound::Max => "+".into(),
        Bound::Incl(m) => m.text(),
        Bound::Excl(m) => format!("({}", m.text()),
    }
}

fn trim_args(out: &mut Vec<String>, t: &TrimC) {
    match (t.maxlen, t.minid) {
        (Some(n), _) => {
            out.push("MAXLEN".into());
            push_trim_op(out, t);
            out.push(n.to_string());
        }
        (None, Some(m)) => {
            out.push("MINID".into());
            push_trim_op(out, t);
            out.push(m.text());
        }
        (None, None) => {}
    }
    if t.approx {
        if let Some(l) = t.limit {
            out.push("LIMIT".into());
            out.push(l.to_string());
        }
    }
}

fn push_trim_op(out: &mut Vec<String>, t: &TrimC) {
    if t.approx {
        out.push("~".into());
    } else if t.eq_token {
        out.push("=".into());
    }
}

fn s(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Cmd {
    fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        match self {
            Cmd::XAdd {
                key,
                nomkstream,
                trim,
                id,
                fields,
            } => {
                a.extend(["XADD".into(), s(key)]);
                if *nomkstream {
                    a.push("NOMKSTREAM".into());
                }
                if let Some(t) = trim {
                    trim_args(&mut a, t);
                }
                a.push(match id {
                    AddIdC::Auto => "*".into(),
                    AddIdC::AutoSeq(ms) => format!("{ms}-*"),
                    AddIdC::Explicit(m) => m.text(),
                });
                a.extend(fields.iter().map(s));
            }
            Cmd::XTrim { key, trim } => {
                a.extend(["XTRIM".into(), s(key)]);
                trim_args(&mut a, trim);
            }
            Cmd::XDel { key, ids } => {
                a.extend(["XDEL".into(), s(key)]);
                a.extend(ids.iter().map(|m| m.text()));
            }
            Cmd::XSetId {
                key,
                id,
                entries_added,
                max_deleted,
            } => {
                a.extend(["XSETID".into(), s(key), id.text()]);
                if let Some(n) = entries_added {
                    a.extend(["ENTRIESADDED".into(), n.to_string()]);
                }
                if let Some(m) = max_deleted {
                    a.extend(["MAXDELETEDID".into(), m.text()]);
                }
            }
            Cmd::GroupCreate {
                key,
                group,
                id,
                mkstream,
                entries_read,
            } => {
                a.extend(["XGROUP".into(), "CREATE".into(), s(key), s(group)]);
                a.push(id.map_or("$".into(), |m| m.text()));
                if *mkstream {
                    a.push("MKSTREAM".into());
                }
                if let Some(n) = entries_read {
                    a.extend(["ENTRIESREAD".into(), n.to_string()]);
                }
            }
            Cmd::GroupSetId {
                key,
                group,
                id,
                entries_read,
            } => {
                a.extend(["XGROUP".into(), "SETID".into(), s(key), s(group)]);
                a.push(id.map_or("$".into(), |m| m.text()));
                if let Some(n) = entries_read {
                    a.extend(["ENTRIESREAD".into(), n.to_string()]);
                }
            }
            Cmd::GroupDestroy { key, group } => {
                a.extend(["XGROUP".into(), "DESTROY".into(), s(key), s(group)]);
            }
            Cmd::CreateConsumer {
                key,
                group,
                consumer,
            } => {
                a.extend([
                    "XGROUP".into(),
                    "CREATECONSUMER".into(),
                    s(key),
                    s(group),
                    s(consumer),
                ]);
            }
            Cmd::DelConsumer {
                key,
                group,
                consumer,
            } => {
                a.extend([
                    "XGROUP".into(),
                    "DELCONSUMER".into(),
                    s(key),
                    s(group),
                    s(consumer),
                ]);
            }
            Cmd::ReadGroup {
                group,
                consumer,
                count,
                noack,
                streams,
            } => {
                a.extend(["XREADGROUP".into(), "GROUP".into(), s(group), s(consumer)]);
                if let Some(n) = count {
                    a.extend(["COUNT".into(), n.to_string()]);
                }
                if *noack {
                    a.push("NOACK".into());
                }
                a.push("STREAMS".into());
                a.extend(streams.iter().map(|(k, _)| s(k)));
                a.extend(
                    streams
                        .iter()
                        .map(|(_, id)| id.map_or(">".into(), |m| m.text())),
                );
            }
            Cmd::Ack { key, group, ids } => {
                a.extend(["XACK".into(), s(key), s(group)]);
                a.extend(ids.iter().map(|m| m.text()));
            }
            Cmd::Claim {
                key,
                group,
                consumer,
                min_idle,
                ids,
                idle,
                time,
                retrycount,
                force,
                justid,
                lastid,
            } => {
                a.extend([
                    "XCLAIM".into(),
                    s(key),
                    s(group),
                    s(consumer),
                    min_idle.to_string(),
                ]);
                a.extend(ids.iter().map(|m| m.text()));
                if let Some(v) = idle {
                    a.extend(["IDLE".into(), v.to_string()]);
                }
                if let Some(v) = time {
                    a.extend(["TIME".into(), v.to_string()]);
                }
                if let Some(v) = retrycount {
                    a.extend(["RETRYCOUNT".into(), v.to_string()]);
                }
                if *force {
                    a.push("FORCE".into());
                }
                if *justid {
                    a.push("JUSTID".into());
                }
                if let Some(m) = lastid {
                    a.extend(["LASTID".into(), m.text()]);
                }
            }
            Cmd::AutoClaim {
                key,
                group,
                consumer,
                min_idle,
                start,
                count,
                justid,
            } => {
                a.extend([
                    "XAUTOCLAIM".into(),
                    s(key),
                    s(group),
                    s(consumer),
                    min_idle.to_string(),
                    bound_arg(*start),
                ]);
                if let Some(n) = count {
                    a.extend(["COUNT".into(), n.to_string()]);
                }
                if *justid {
                    a.push("JUSTID".into());
                }
            }
            Cmd::Del { keys } => {
                a.push("DEL".into());
                a.extend(keys.iter().map(s));
            }
            Cmd::Rename { from, to } => a.extend(["RENAME".into(), s(from), s(to)]),
            Cmd::FlushAll => a.push("FLUSHALL".into()),
            Cmd::Set { key, value } => a.extend(["SET".into(), s(key), s(value)]),
            Cmd::XRange {
                key,
                start,
                end,
                count,
            } => {
                a.extend(["XRANGE".into(), s(key), bound_arg(*start), bound_arg(*end)]);
                if let Some(n) = count {
                    a.extend(["COUNT".into(), n.to_string()]);
                }
            }
            Cmd::XLen { key } => a.extend(["XLEN".into(), s(key)]),
            Cmd::PendingSummary { key, group } => a.extend(["XPENDING".into(), s(key), s(group)]),
            Cmd::PendingExt {
                key,
                group,
                idle,
                start,
                end,
                count,
                consumer,
            } => {
                a.extend(["XPENDING".into(), s(key), s(group)]);
                if let Some(v) = idle {
                    a.extend(["IDLE".into(), v.to_string()]);
                }
                a.extend([bound_arg(*start), bound_arg(*end), count.to_string()]);
                if let Some(c) = consumer {
                    a.push(s(c));
                }
            }
            Cmd::InfoGroups { key } => a.extend(["XINFO".into(), "GROUPS".into(), s(key)]),
        }
        a
    }
}

// ====================================================================== expected replies

fn bulk(t: impl Into<String>) -> Reply {
    Reply::Bulk(Bytes::from(t.into()))
}
fn idr(m: Mid) -> Reply {
    bulk(m.text())
}
fn int(n: i64) -> Reply {
    Reply::Integer(n)
}
fn ok() -> Reply {
    Reply::Simple(Bytes::from_static(b"OK"))
}
fn err(t: &str) -> Reply {
    Reply::Error(Bytes::from(t.to_string()))
}
fn entry(id: Mid, fields: &[Bytes]) -> Reply {
    Reply::Array(vec![
        idr(id),
        Reply::Array(fields.iter().cloned().map(Reply::Bulk).collect()),
    ])
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const ERR_REQUIRES_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
const ERR_SMALLER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

fn nogroup_for_key(group: &Bytes, key: &Bytes) -> Reply {
    err(&format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        s(group),
        s(key)
    ))
}
fn nogroup_short(key: &Bytes, group: &Bytes) -> Reply {
    err(&format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        s(key),
        s(group)
    ))
}

/// The approximate trim outcome the engine chose: how many oldest entries it removed.
type EngineLen<'a> = &'a dyn Fn(&Bytes) -> Option<u64>;

// ====================================================================== model semantics

impl Model {
    fn stream_mut(&mut self, key: &Bytes) -> Result<Option<&mut MStream>, Reply> {
        match self.keys.get_mut(key) {
            None => Ok(None),
            Some(MVal::Stream(st)) => Ok(Some(st)),
            Some(MVal::Str(_)) => Err(err(WRONGTYPE)),
        }
    }

    fn stream(&self, key: &[u8]) -> Option<&MStream> {
        match self.keys.get(key) {
            Some(MVal::Stream(st)) => Some(st),
            _ => None,
        }
    }

    /// Trims `st` after an XADD or for XTRIM; returns the number removed, or an error text
    /// when the engine's approximate trim is not a plausible one.
    fn trim(
        st: &mut MStream,
        key: &Bytes,
        t: &TrimC,
        node_max: u64,
        engine_len: EngineLen,
    ) -> Result<u64, String> {
        let exact = st.exact_trim_count(t);
        if !t.approx {
            st.drop_oldest(exact);
            return Ok(exact);
        }
        let after = engine_len(key).ok_or("engine lost the stream in a ~ trim")?;
        let removed = st
            .len()
            .checked_sub(after)
            .ok_or_else(|| format!("~ trim grew the stream: {} -> {after}", st.len()))?;
        let limit = match t.limit {
            Some(l) => l,
            None => 100 * node_max,
        };
        if removed > exact || (limit > 0 && removed > limit) {
            return Err(format!(
                "~ trim removed {removed}, exact would remove {exact}, limit {limit}"
            ));
        }
        st.drop_oldest(removed);
        Ok(removed)
    }

    /// Executes `cmd` at `now`; `engine_len` gives the engine's stream length after the
    /// command (only consulted for `~` trims).
    fn exec(
        &mut self,
        cmd: &Cmd,
        now: u64,
        node_max: u64,
        engine_len: EngineLen,
    ) -> Result<Reply, String> {
        Ok(match cmd {
            Cmd::XAdd {
                key,
                nomkstream,
                trim,
                id,
                fields,
            } => {
                if let AddIdC::Explicit(Mid::ZERO) = id {
                    return Ok(err("ERR The ID specified in XADD must be greater than 0-0"));
                }
                match self.keys.get(key) {
                    Some(MVal::Str(_)) => return Ok(err(WRONGTYPE)),
                    None if *nomkstream => return Ok(Reply::Null),
                    None => {
                        self.keys
                            .insert(key.clone(), MVal::Stream(MStream::default()));
                    }
                    Some(MVal::Stream(_)) => {}
                }
                let Some(MVal::Stream(st)) = self.keys.get_mut(key) else {
                    unreachable!()
                };
                let last = st.last_id;
                if last == Mid::MAX {
                    return Ok(err(
                        "ERR The stream has exhausted the last possible ID, unable to add more items",
                    ));
                }
                let new_id = match id {
                    AddIdC::Auto => {
                        if now > last.0 {
                            Mid(now, 0)
                        } else {
                            last.next().expect("last is not MAX")
                        }
                    }
                    AddIdC::AutoSeq(ms) => {
                        if *ms == last.0 {
                            if last.1 == u64::MAX {
                                return Ok(err(ERR_SMALLER));
                            }
                            Mid(*ms, last.1 + 1)
                        } else {
                            Mid(*ms, 0)
                        }
                    }
                    AddIdC::Explicit(m) => *m,
                };
                if new_id <= last {
                    return Ok(err(ERR_SMALLER));
                }
                st.entries.push((new_id, fields.clone()));
                st.entries_added += 1;
                st.last_id = new_id;
                if let Some(t) = trim {
                    Self::trim(st, key, t, node_max, engine_len)?;
                }
                idr(new_id)
            }
            Cmd::XTrim { key, trim } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => int(0),
                Ok(Some(st)) => int(Self::trim(st, key, trim, node_max, engine_len)? as i64),
            },
            Cmd::XDel { key, ids } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => int(0),
                Ok(Some(st)) => {
                    let mut n = 0;
                    for id in ids {
                        if let Some(pos) = st.entries.iter().position(|e| e.0 == *id) {
                            st.entries.remove(pos);
                            n += 1;
                            if *id > st.max_deleted {
                                st.max_deleted = *id;
                            }
                        }
                    }
                    int(n)
                }
            },
            Cmd::XSetId {
                key,
                id,
                entries_added,
                max_deleted,
            } => {
                if let Some(m) = max_deleted {
                    if id < m {
                        return Ok(err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"));
                    }
                }
                match self.stream_mut(key) {
                    Err(e) => e,
                    Ok(None) => err("ERR no such key"),
                    Ok(Some(st)) => {
                        if *id < st.max_deleted {
                            return Ok(err("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"));
                        }
                        if !st.entries.is_empty() {
                            if *id < st.top_id() {
                                return Ok(err("ERR The ID specified in XSETID is smaller than the target stream top item"));
                            }
                            if let Some(n) = entries_added {
                                if st.len() > *n {
                                    return Ok(err("ERR The entries_added specified in XSETID is smaller than the target stream length"));
                                }
                            }
                        }
                        st.last_id = *id;
                        if let Some(n) = entries_added {
                            st.entries_added = *n;
                        }
                        if let Some(m) = max_deleted {
                            if *m != Mid::ZERO {
                                st.max_deleted = *m;
                            }
                        }
                        ok()
                    }
                }
            }
            Cmd::GroupCreate {
                key,
                group,
                id,
                mkstream,
                entries_read,
            } => {
                match self.keys.get(key) {
                    Some(MVal::Str(_)) => return Ok(err(WRONGTYPE)),
                    None if !*mkstream => return Ok(err(ERR_REQUIRES_KEY)),
                    None => {
                        self.keys
                            .insert(key.clone(), MVal::Stream(MStream::default()));
                    }
                    Some(MVal::Stream(_)) => {}
                }
                let Some(MVal::Stream(st)) = self.keys.get_mut(key) else {
                    unreachable!()
                };
                if st.groups.contains_key(group) {
                    return Ok(err("BUSYGROUP Consumer Group name already exists"));
                }
                let last_id = id.unwrap_or(st.last_id);
                let er = entries_read.and_then(|n| (n >= 0).then_some(n as u64));
                st.groups.insert(
                    group.clone(),
                    MGroup {
                        last_id,
                        entries_read: er,
                        ..MGroup::default()
                    },
                );
                ok()
            }
            Cmd::GroupSetId {
                key,
                group,
                id,
                entries_read,
            } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => err(ERR_REQUIRES_KEY),
                Ok(Some(st)) => {
                    let last = st.last_id;
                    match st.groups.get_mut(group) {
                        None => nogroup_for_key(group, key),
                        Some(g) => {
                            g.last_id = id.unwrap_or(last);
                            g.entries_read =
                                entries_read.and_then(|n| (n >= 0).then_some(n as u64));
                            ok()
                        }
                    }
                }
            },
            Cmd::GroupDestroy { key, group } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => err(ERR_REQUIRES_KEY),
                Ok(Some(st)) => int(st.groups.remove(group).is_some() as i64),
            },
            Cmd::CreateConsumer {
                key,
                group,
                consumer,
            } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => err(ERR_REQUIRES_KEY),
                Ok(Some(st)) => match st.groups.get_mut(group) {
                    None => nogroup_for_key(group, key),
                    Some(g) => {
                        if g.consumers.contains_key(consumer) {
                            int(0)
                        } else {
                            g.consumers.insert(
                                consumer.clone(),
                                MConsumer {
                                    seen: now,
                                    active: -1,
                                },
                            );
                            int(1)
                        }
                    }
                },
            },
            Cmd::DelConsumer {
                key,
                group,
                consumer,
            } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => err(ERR_REQUIRES_KEY),
                Ok(Some(st)) => match st.groups.get_mut(group) {
                    None => nogroup_for_key(group, key),
                    Some(g) => {
                        if g.consumers.remove(consumer).is_some() {
                            let before = g.pel.len();
                            g.pel.retain(|_, n| n.consumer != *consumer);
                            int((before - g.pel.len()) as i64)
                        } else {
                            int(0)
                        }
                    }
                },
            },
            Cmd::ReadGroup {
                group,
                consumer,
                count,
                noack,
                streams,
            } => self.read_group(group, consumer, *count, *noack, streams, now),
            Cmd::Ack { key, group, ids } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => int(0),
                Ok(Some(st)) => match st.groups.get_mut(group) {
                    None => int(0),
                    Some(g) => {
                        int(ids.iter().filter(|id| g.pel.remove(id).is_some()).count() as i64)
                    }
                },
            },
            Cmd::Claim {
                key,
                group,
                consumer,
                min_idle,
                ids,
                idle,
                time,
                retrycount,
                force,
                justid,
                lastid,
            } => {
                let st = match self.stream_mut(key) {
                    Err(e) => return Ok(e),
                    Ok(None) => return Ok(nogroup_short(key, group)),
                    Ok(Some(st)) => st,
                };
                let entries: BTreeMap<Mid, Vec<Bytes>> = st.entries.iter().cloned().collect();
                let Some(g) = st.groups.get_mut(group) else {
                    return Ok(nogroup_short(key, group));
                };
                let min_idle = (*min_idle).max(0);
                if let Some(l) = lastid {
                    if *l > g.last_id {
                        g.last_id = *l;
                    }
                }
                let now_i = now as i64;
                // TIME is rendered after IDLE, so it wins when both are given.
                let mut dt = match (idle, time) {
                    (_, Some(t)) => *t,
                    (Some(i), None) => now_i - *i,
                    (None, None) => now_i,
                };
                if dt < 0 || dt > now_i {
                    dt = now_i;
                }
                g.see_consumer(consumer, now);
                let mut out = Vec::new();
                for id in ids {
                    let Some(fields) = entries.get(id) else {
                        g.pel.remove(id);
                        continue;
                    };
                    let mut created = false;
                    if *force && !g.pel.contains_key(id) {
                        g.pel.insert(
                            *id,
                            MNack {
                                consumer: consumer.clone(),
                                time: now,
                                count: 1,
                            },
                        );
                        created = true;
                    }
                    let Some(n) = g.pel.get_mut(id) else { continue };
                    if !created && min_idle > 0 && (now_i - n.time as i64) < min_idle {
                        continue;
                    }
                    n.time = dt as u64;
                    match retrycount {
                        Some(r) if *r >= 0 => n.count = *r as u64,
                        _ if !*justid => n.count += 1,
                        _ => {}
                    }
                    n.consumer = consumer.clone();
                    out.push(if *justid {
                        idr(*id)
                    } else {
                        entry(*id, fields)
                    });
                    if let Some(c) = g.consumers.get_mut(consumer) {
                        c.active = now_i;
                    }
                }
                Reply::Array(out)
            }
            Cmd::AutoClaim {
                key,
                group,
                consumer,
                min_idle,
                start,
                count,
                justid,
            } => {
                let start = match start {
                    Bound::Min => Mid::ZERO,
                    Bound::Max => Mid::MAX,
                    Bound::Incl(m) => *m,
                    Bound::Excl(m) => match m.next() {
                        Some(n) => n,
                        None => return Ok(err("ERR invalid start ID for the interval")),
                    },
                };
                let st = match self.stream_mut(key) {
                    Err(e) => return Ok(e),
                    Ok(None) => return Ok(nogroup_short(key, group)),
                    Ok(Some(st)) => st,
                };
                let entries: BTreeMap<Mid, Vec<Bytes>> = st.entries.iter().cloned().collect();
                let Some(g) = st.groups.get_mut(group) else {
                    return Ok(nogroup_short(key, group));
                };
                let min_idle = (*min_idle).max(0);
                let mut budget = count.unwrap_or(100);
                let mut attempts = budget * 10;
                g.see_consumer(consumer, now);
                let now_i = now as i64;
                let mut claimed = Vec::new();
                let mut deleted = Vec::new();
                let mut cursor_from = start;
                let mut eof = false;
                loop {
                    if attempts == 0 {
                        break;
                    }
                    attempts -= 1;
                    if budget == 0 {
                        break;
                    }
                    let Some(id) = g.pel.range(cursor_from..).next().map(|(id, _)| *id) else {
                        eof = true;
                        break;
                    };
                    cursor_from = match id.next() {
                        Some(n) => n,
                        None => {
                            // examined the last possible ID: nothing can follow
                            eof = true;
                            Mid::MAX
                        }
                    };
                    match entries.get(&id) {
                        None => {
                            g.pel.remove(&id);
                            deleted.push(idr(id));
                            budget -= 1;
                        }
                        Some(fields) => {
                            let n = g.pel.get_mut(&id).expect("in the PEL");
                            if min_idle > 0 && (now_i - n.time as i64) < min_idle {
                                if eof {
                                    break;
                                }
                                continue;
                            }
                            n.time = now;
                            if !*justid {
                                n.count += 1;
                            }
                            n.consumer = consumer.clone();
                            claimed.push(if *justid { idr(id) } else { entry(id, fields) });
                            budget -= 1;
                            if let Some(c) = g.consumers.get_mut(consumer) {
                                c.active = now_i;
                            }
                        }
                    }
                    if eof {
                        break;
                    }
                }
                let cursor = if eof {
                    Mid::ZERO
                } else {
                    g.pel
                        .range(cursor_from..)
                        .next()
                        .map_or(Mid::ZERO, |(id, _)| *id)
                };
                Reply::Array(vec![
                    idr(cursor),
                    Reply::Array(claimed),
                    Reply::Array(deleted),
                ])
            }
            Cmd::Del { keys } => int(keys
                .iter()
                .filter(|k| self.keys.remove(*k).is_some())
                .count() as i64),
            Cmd::Rename { from, to } => match self.keys.remove(from) {
                None => err("ERR no such key"),
                Some(v) => {
                    self.keys.insert(to.clone(), v);
                    ok()
                }
            },
            Cmd::FlushAll => {
                self.keys.clear();
                ok()
            }
            Cmd::Set { key, value } => {
                self.keys.insert(key.clone(), MVal::Str(value.clone()));
                ok()
            }
            Cmd::XRange {
                key,
                start,
                end,
                count,
            } => {
                let lo = match start {
                    Bound::Min => Mid::ZERO,
                    Bound::Max => Mid::MAX,
                    Bound::Incl(m) => *m,
                    Bound::Excl(m) => match m.next() {
                        Some(n) => n,
                        None => return Ok(err("ERR invalid start ID for the interval")),
                    },
                };
                let hi = match end {
                    Bound::Min => Mid::ZERO,
                    Bound::Max => Mid::MAX,
                    Bound::Incl(m) => *m,
                    Bound::Excl(m) => match m.prev() {
                        Some(p) => p,
                        None => return Ok(err("ERR invalid end ID for the interval")),
                    },
                };
                match self.stream_mut(key) {
                    Err(e) => e,
                    Ok(None) => Reply::Array(vec![]),
                    Ok(Some(st)) => {
                        let limit = match count {
                            None => usize::MAX,
                            Some(n) if *n <= 0 => return Ok(Reply::NullArray),
                            Some(n) => *n as usize,
                        };
                        Reply::Array(
                            st.entries
                                .iter()
                                .filter(|e| e.0 >= lo && e.0 <= hi)
                                .take(limit)
                                .map(|e| entry(e.0, &e.1))
                                .collect(),
                        )
                    }
                }
            }
            Cmd::XLen { key } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => int(0),
                Ok(Some(st)) => int(st.len() as i64),
            },
            Cmd::PendingSummary { key, group } => {
                let st = match self.stream_mut(key) {
                    Err(e) => return Ok(e),
                    Ok(None) => return Ok(nogroup_short(key, group)),
                    Ok(Some(st)) => st,
                };
                let Some(g) = st.groups.get(group) else {
                    return Ok(nogroup_short(key, group));
                };
                if g.pel.is_empty() {
                    Reply::Array(vec![int(0), Reply::Null, Reply::Null, Reply::NullArray])
                } else {
                    let mut per: BTreeMap<Bytes, u64> = BTreeMap::new();
                    for n in g.pel.values() {
                        *per.entry(n.consumer.clone()).or_default() += 1;
                    }
                    Reply::Array(vec![
                        int(g.pel.len() as i64),
                        idr(*g.pel.keys().next().expect("non-empty")),
                        idr(*g.pel.keys().next_back().expect("non-empty")),
                        Reply::Array(
                            per.into_iter()
                                .map(|(c, n)| {
                                    Reply::Array(vec![Reply::Bulk(c), bulk(n.to_string())])
                                })
                                .collect(),
                        ),
                    ])
                }
            }
            Cmd::PendingExt {
                key,
                group,
                idle,
                start,
                end,
                count,
                consumer,
            } => {
                let lo = match start {
                    Bound::Min => Mid::ZERO,
                    Bound::Max => Mid::MAX,
                    Bound::Incl(m) => *m,
                    Bound::Excl(m) => match m.next() {
                        Some(n) => n,
                        None => return Ok(err("ERR invalid start ID for the interval")),
                    },
                };
                let hi = match end {
                    Bound::Min => Mid::ZERO,
                    Bound::Max => Mid::MAX,
                    Bound::Incl(m) => *m,
                    Bound::Excl(m) => match m.prev() {
                        Some(p) => p,
                        None => return Ok(err("ERR invalid end ID for the interval")),
                    },
                };
                let st = match self.stream_mut(key) {
                    Err(e) => return Ok(e),
                    Ok(None) => return Ok(nogroup_short(key, group)),
                    Ok(Some(st)) => st,
                };
                let Some(g) = st.groups.get(group) else {
                    return Ok(nogroup_short(key, group));
                };
                if let Some(c) = consumer {
                    if !g.consumers.contains_key(c) {
                        return Ok(Reply::Array(vec![]));
                    }
                }
                let now_i = now as i64;
                let min_idle = idle.unwrap_or(0);
                let mut left = (*count).max(0);
                let mut out = Vec::new();
                for (id, n) in g.pel.range(lo..) {
                    if left == 0 || *id > hi {
                        break;
                    }
                    if let Some(c) = consumer {
                        if n.consumer != *c {
                            continue;
                        }
                    }
                    let elapsed = now_i - n.time as i64;
                    if min_idle != 0 && elapsed < min_idle {
                        continue;
                    }
                    left -= 1;
                    out.push(Reply::Array(vec![
                        idr(*id),
                        Reply::Bulk(n.consumer.clone()),
                        int(elapsed.max(0)),
                        int(n.count as i64),
                    ]));
                }
                Reply::Array(out)
            }
            Cmd::InfoGroups { key } => match self.stream_mut(key) {
                Err(e) => e,
                Ok(None) => err("ERR no such key"),
                Ok(Some(st)) => Reply::Array(
                    st.groups
                        .iter()
                        .map(|(name, g)| {
                            Reply::Map(vec![
                                (bulk("name"), Reply::Bulk(name.clone())),
                                (bulk("consumers"), int(g.consumers.len() as i64)),
                                (bulk("pending"), int(g.pel.len() as i64)),
                                (bulk("last-delivered-id"), idr(g.last_id)),
                                (
                                    bulk("entries-read"),
                                    g.entries_read.map_or(Reply::Null, |n| int(n as i64)),
                                ),
                                (bulk("lag"), st.lag(g).map_or(Reply::Null, int)),
                            ])
                        })
                        .collect(),
                ),
            },
        })
    }

    fn read_group(
        &mut self,
        group: &Bytes,
        consumer: &Bytes,
        count: Option<i64>,
        noack: bool,
        streams: &[(Bytes, Option<Mid>)],
        now: u64,
    ) -> Reply {
        // ID pass: types and groups, in order.
        for (key, _) in streams {
            match self.keys.get(key) {
                Some(MVal::Str(_)) => return err(WRONGTYPE),
                Some(MVal::Stream(st)) if st.groups.contains_key(group) => {}
                _ => {
                    return err(&format!(
                        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                        s(key),
                        s(group)
                    ))
                }
            }
        }
        let limit = match count {
            Some(n) if n > 0 => n as usize,
            _ => usize::MAX,
        };
        let mut pairs = Vec::new();
        for (key, id) in streams {
            let Some(MVal::Stream(st)) = self.keys.get_mut(key) else {
                unreachable!("checked above")
            };
            let entries: Vec<(Mid, Vec<Bytes>)> = st.entries.clone();
            let probe = st.clone();
            let g = st.groups.get_mut(group).expect("checked above");
            g.see_consumer(consumer, now);
            match id {
                Some(after) => {
                    let from = after.next().unwrap_or(Mid::ZERO);
                    let mine: Vec<Mid> = g
                        .consumer_pel(consumer)
                        .into_iter()
                        .filter(|i| *i >= from)
                        .take(limit)
                        .collect();
                    let mut out = Vec::new();
                    for pid in mine {
                        match probe.find(pid) {
                            Some(f) => {
                                let n = g.pel.get_mut(&pid).expect("own PEL entry");
                                n.time = now;
                                n.count += 1;
                                out.push(entry(pid, f));
                            }
                            None => out.push(Reply::Array(vec![idr(pid), Reply::NullArray])),
                        }
                    }
                    pairs.push((Reply::Bulk(key.clone()), Reply::Array(out)));
                }
                None => {
                    if entries.is_empty() || probe.top_id() <= g.last_id {
                        continue;
                    }
                    let new: Vec<(Mid, Vec<Bytes>)> = entries
                        .iter()
                        .filter(|e| e.0 > g.last_id)
                        .take(limit)
                        .cloned()
                        .collect();
                    let mut out = Vec::new();
                    for (eid, f) in new {
                        // The counter just counts on while it is valid, the group has not
                        // fallen behind the first entry (trimmed past it: redis#13958, 8.0)
                        // and no tombstone lies at or after its position.
                        let counting =
                            g.last_id >= probe.first_id() && !probe.has_tombstones_from(g.last_id);
                        if let (Some(er), true) = (g.entries_read, counting) {
                            g.entries_read = Some(er + 1);
                        } else if probe.entries_added != 0 {
                            g.entries_read = probe.estimate(eid);
                        }
                        g.last_id = eid;
                        if !noack {
                            g.pel.insert(
                                eid,
                                MNack {
                                    consumer: consumer.clone(),
                                    time: now,
                                    count: 1,
                                },
                            );
                            if let Some(c) = g.consumers.get_mut(consumer) {
                                c.active = now as i64;
                            }
                        }
                        out.push(entry(eid, &f));
                    }
                    pairs.push((Reply::Bulk(key.clone()), Reply::Array(out)));
                }
            }
        }
        if pairs.is_empty() {
            Reply::NullArray
        } else {
            Reply::PairMap(pairs)
        }
    }
}

// ====================================================================== state comparison

fn mid(id: streams::StreamId) -> Mid {
    Mid(id.ms, id.seq)
}

/// Compares the engine's keyspace with the model (everything but the node layout).
fn compare_state(model: &Model, db: &Db) -> Result<(), String> {
    let engine_keys: Vec<&Bytes> = {
        let mut v: Vec<&Bytes> = db.iter().map(|(k, _)| k).collect();
        v.sort();
        v
    };
    let model_keys: Vec<&Bytes> = model.keys.keys().collect();
    if engine_keys != model_keys {
        return Err(format!(
            "keys differ: engine {engine_keys:?}, model {model_keys:?}"
        ));
    }
    for (k, mv) in &model.keys {
        match (mv, db.get(k)) {
            (MVal::Str(a), Some(Value::String(b))) if a == b => {}
            (MVal::Stream(m), Some(Value::Stream(e))) => {
                let ee: Vec<(Mid, Vec<Bytes>)> = e
                    .entries()
                    .iter()
                    .map(|(id, f)| (mid(*id), f.clone()))
                    .collect();
                if ee != m.entries {
                    return Err(format!(
                        "{k:?}: entries differ: engine {ee:?}, model {:?}",
                        m.entries
                    ));
                }
                let meta = (mid(e.last_id()), e.entries_added(), mid(e.max_deleted_id()));
                if meta != (m.last_id, m.entries_added, m.max_deleted) {
                    return Err(format!(
                        "{k:?}: (last_id, entries_added, max_deleted) engine {meta:?}, model {:?}",
                        (m.last_id, m.entries_added, m.max_deleted)
                    ));
                }
                let eg: Vec<&Bytes> = e.groups().keys().collect();
                let mg: Vec<&Bytes> = m.groups.keys().collect();
                if eg != mg {
                    return Err(format!("{k:?}: groups engine {eg:?}, model {mg:?}"));
                }
                for (gname, mgr) in &m.groups {
                    let egr = e.group(gname).expect("same names");
                    let pos = (mid(egr.last_id), egr.entries_read);
                    if pos != (mgr.last_id, mgr.entries_read) {
                        return Err(format!(
                            "{k:?}/{gname:?}: (last_id, entries_read) engine {pos:?}, model {:?}",
                            (mgr.last_id, mgr.entries_read)
                        ));
                    }
                    let ep: Vec<(Mid, Bytes, u64, u64)> = egr
                        .pel()
                        .iter()
                        .map(|(id, n)| {
                            (
                                mid(*id),
                                n.consumer.clone(),
                                n.delivery_time,
                                n.delivery_count,
                            )
                        })
                        .collect();
                    let mp: Vec<(Mid, Bytes, u64, u64)> = mgr
                        .pel
                        .iter()
                        .map(|(id, n)| (*id, n.consumer.clone(), n.time, n.count))
                        .collect();
                    if ep != mp {
                        return Err(format!("{k:?}/{gname:?}: PEL engine {ep:?}, model {mp:?}"));
                    }
                    let ec: Vec<(Bytes, u64, i64, usize)> = egr
                        .consumers()
                        .iter()
                        .map(|(c, v)| (c.clone(), v.seen_time, v.active_time, v.pel().len()))
                        .collect();
                    let mc: Vec<(Bytes, u64, i64, usize)> = mgr
                        .consumers
                        .iter()
                        .map(|(c, v)| (c.clone(), v.seen, v.active, mgr.consumer_pel(c).len()))
                        .collect();
                    if ec != mc {
                        return Err(format!(
                            "{k:?}/{gname:?}: consumers (name, seen, active, pending) engine {ec:?}, model {mc:?}"
                        ));
                    }
                }
            }
            (mv, ev) => return Err(format!("{k:?}: engine {ev:?}, model {mv:?}")),
        }
    }
    Ok(())
}

fn assert_db_eq(a: &Db, b: &Db) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} keys before reopen, {} after", a.len(), b.len()));
    }
    for (k, v) in a.iter() {
        if b.get(k) != Some(v) {
            return Err(format!("key {k:?} differs after reopen"));
        }
    }
    Ok(())
}

// ====================================================================== generation

const KEYS: [&str; 3] = ["s0", "s1", "s2"];
const GROUPS: [&str; 2] = ["g0", "g1"];
const CONSUMERS: [&str; 3] = ["c0", "c1", "c2"];

fn key_of(i: u8) -> Bytes {
    Bytes::from_static(KEYS[i as usize % KEYS.len()].as_bytes())
}
fn group_of(i: u8) -> Bytes {
    Bytes::from_static(GROUPS[i as usize % GROUPS.len()].as_bytes())
}
fn consumer_of(i: u8) -> Bytes {
    Bytes::from_static(CONSUMERS[i as usize % CONSUMERS.len()].as_bytes())
}

/// An ID chosen relative to the state when the command runs.
#[derive(Debug, Clone, Copy)]
enum IdPick {
    /// The n-th live entry (mod length).
    Entry(u8),
    /// The n-th pending ID of any group (mod count).
    Pending(u8),
    /// last_id + n.
    Last(u8),
    /// A small literal ID.
    Small(u8, u8),
    Max,
}

fn resolve_id(p: IdPick, st: Option<&MStream>) -> Mid {
    let small = |a: u8, b: u8| Mid(a as u64 % 20, b as u64 % 3);
    match p {
        IdPick::Entry(i) => match st {
            Some(st) if !st.entries.is_empty() => st.entries[i as usize % st.entries.len()].0,
            _ => small(i, 0),
        },
        IdPick::Pending(i) => {
            let mut ids: Vec<Mid> = st
                .map(|st| {
                    st.groups
                        .values()
                        .flat_map(|g| g.pel.keys().copied())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                resolve_id(IdPick::Entry(i), st)
            } else {
                ids[i as usize % ids.len()]
            }
        }
        IdPick::Last(n) => {
            let mut id = st.map_or(Mid::ZERO, |st| st.last_id);
            for _ in 0..n {
                id = id.next().unwrap_or(Mid::MAX);
            }
            id
        }
        IdPick::Small(a, b) => small(a, b),
        IdPick::Max => Mid::MAX,
    }
}

#[derive(Debug, Clone, Copy)]
enum BoundPick {
    Min,
    Max,
    Incl(IdPick),
    Excl(IdPick),
}

fn resolve_bound(b: BoundPick, st: Option<&MStream>) -> Bound {
    match b {
        BoundPick::Min => Bound::Min,
        BoundPick::Max => Bound::Max,
        BoundPick::Incl(p) => Bound::Incl(resolve_id(p, st)),
        BoundPick::Excl(p) => Bound::Excl(resolve_id(p, st)),
    }
}

#[derive(Debug, Clone, Copy)]
enum AddIdPick {
    Auto,
    /// `ms-*` with ms = last.ms + n (n = 0 hits the same-ms rule).
    AutoSeqLast(u8),
    AutoSeqSmall(u8),
    Explicit(IdPick),
}

#[derive(Debug, Clone, Copy)]
struct TrimPick {
    maxlen: Option<u8>,
    minid: IdPick,
    approx: bool,
    eq_token: bool,
    limit: Option<u8>,
}

fn resolve_trim(t: TrimPick, st: Option<&MStream>) -> TrimC {
    TrimC {
        maxlen: t.maxlen.map(u64::from),
        minid: if t.maxlen.is_none() {
            Some(resolve_id(t.minid, st))
        } else {
            None
        },
        approx: t.approx,
        eq_token: t.eq_token,
        limit: t.limit.map(u64::from),
    }
}

/// A command with state-relative choices.
#[derive(Debug, Clone)]
enum Op {
    XAdd {
        key: u8,
        nomkstream: bool,
        trim: Option<TrimPick>,
        id: AddIdPick,
        nfields: u8,
    },
    XTrim {
        key: u8,
        trim: TrimPick,
    },
    XDel {
        key: u8,
        ids: Vec<IdPick>,
    },
    XSetId {
        key: u8,
        id: IdPick,
        entries_added: Option<u8>,
        max_deleted: Option<IdPick>,
    },
    GroupCreate {
        key: u8,
        group: u8,
        id: Option<IdPick>,
        mkstream: bool,
        entries_read: Option<u8>,
    },
    GroupSetId {
        key: u8,
        group: u8,
        id: Option<IdPick>,
        entries_read: Option<u8>,
    },
    GroupDestroy {
        key: u8,
        group: u8,
    },
    CreateConsumer {
        key: u8,
        group: u8,
        consumer: u8,
    },
    DelConsumer {
        key: u8,
        group: u8,
        consumer: u8,
    },
    ReadGroup {
        group: u8,
        consumer: u8,
        count: Option<i8>,
        noack: bool,
        streams: Vec<(u8, Option<IdPick>)>,
    },
    Ack {
        key: u8,
        group: u8,
        ids: Vec<IdPick>,
    },
    Claim {
        key: u8,
        group: u8,
        consumer: u8,
        min_idle: u16,
        ids: Vec<IdPick>,
        idle: Option<u16>,
        time_back: Option<i16>,
        retrycount: Option<u8>,
        force: bool,
        justid: bool,
        lastid: Option<IdPick>,
    },
    AutoClaim {
        key: u8,
        group: u8,
        consumer: u8,
        min_idle: u16,
        start: BoundPick,
        count: Option<u8>,
        justid: bool,
    },
    Del {
        keys: Vec<u8>,
    },
    Rename {
        from: u8,
        to: u8,
    },
    FlushAll,
    Set {
        key: u8,
    },
    XRange {
        key: u8,
        start: BoundPick,
        end: BoundPick,
        count: Option<i8>,
    },
    XLen {
        key: u8,
    },
    PendingSummary {
        key: u8,
        group: u8,
    },
    PendingExt {
        key: u8,
        group: u8,
        idle: Option<u16>,
        start: BoundPick,
        end: BoundPick,
        count: i8,
        consumer: Option<u8>,
    },
    InfoGroups {
        key: u8,
    },
}

fn resolve(op: &Op, model: &Model, step: usize, now: u64) -> Cmd {
    let st = |k: u8| model.stream(&key_of(k));
    match op {
        Op::XAdd {
            key,
            nomkstream,
            trim,
            id,
            nfields,
        } => {
            let sref = st(*key);
            let last = sref.map_or(Mid::ZERO, |x| x.last_id);
            let mut fields = Vec::new();
            for i in 0..(1 + nfields % 3) {
                // duplicate field names are allowed and kept
                fields.push(Bytes::from(format!("f{}", i % 2)));
                fields.push(Bytes::from(format!("v{step}-{i}")));
            }
            Cmd::XAdd {
                key: key_of(*key),
                nomkstream: *nomkstream,
                trim: trim.map(|t| resolve_trim(t, sref)),
                id: match id {
                    AddIdPick::Auto => AddIdC::Auto,
                    AddIdPick::AutoSeqLast(n) => {
                        AddIdC::AutoSeq(last.0.saturating_add(*n as u64 % 2))
                    }
                    AddIdPick::AutoSeqSmall(n) => AddIdC::AutoSeq(*n as u64 % 20),
                    AddIdPick::Explicit(p) => AddIdC::Explicit(resolve_id(*p, sref)),
                },
                fields,
            }
        }
        Op::XTrim { key, trim } => Cmd::XTrim {
            key: key_of(*key),
            trim: resolve_trim(*trim, st(*key)),
        },
        Op::XDel { key, ids } => Cmd::XDel {
            key: key_of(*key),
            ids: ids.iter().map(|p| resolve_id(*p, st(*key))).collect(),
        },
        Op::XSetId {
            key,
            id,
            entries_added,
            max_deleted,
        } => {
            let sref = st(*key);
            let ea = sref.map_or(0, |x| x.entries_added);
            Cmd::XSetId {
                key: key_of(*key),
                id: resolve_id(*id, sref),
                entries_added: entries_added.map(|n| (ea + 2).saturating_sub(n as u64 % 5)),
                max_deleted: max_deleted.map(|p| resolve_id(p, sref)),
            }
        }
        Op::GroupCreate {
            key,
            group,
            id,
            mkstream,
            entries_read,
        } => {
            let sref = st(*key);
            Cmd::GroupCreate {
                key: key_of(*key),
                group: group_of(*group),
                id: id.map(|p| resolve_id(p, sref)),
                mkstream: *mkstream,
                entries_read: entries_read.map(|n| entries_read_value(n, sref)),
            }
        }
        Op::GroupSetId {
            key,
            group,
            id,
            entries_read,
        } => {
            let sref = st(*key);
            Cmd::GroupSetId {
                key: key_of(*key),
                group: group_of(*group),
                id: id.map(|p| resolve_id(p, sref)),
                entries_read: entries_read.map(|n| entries_read_value(n, sref)),
            }
        }
        Op::GroupDestroy { key, group } => Cmd::GroupDestroy {
            key: key_of(*key),
            group: group_of(*group),
        },
        Op::CreateConsumer {
            key,
            group,
            consumer,
        } => Cmd::CreateConsumer {
            key: key_of(*key),
            group: group_of(*group),
            consumer: consumer_of(*consumer),
        },
        Op::DelConsumer {
            key,
            group,
            consumer,
        } => Cmd::DelConsumer {
            key: key_of(*key),
            group: group_of(*group),
            consumer: consumer_of(*consumer),
        },
        Op::ReadGroup {
            group,
            consumer,
            count,
            noack,
            streams,
        } => Cmd::ReadGroup {
            group: group_of(*group),
            consumer: consumer_of(*consumer),
            count: count.map(i64::from),
            noack: *noack,
            streams: streams
                .iter()
                .map(|(k, id)| {
                    // history IDs below MAX (Redis wraps `MAX + 1` to 0-0: not worth a case)
                    let id = id.map(|p| match resolve_id(p, st(*k)) {
                        Mid::MAX => Mid::ZERO,
                        m => m,
                    });
                    (key_of(*k), id)
                })
                .collect(),
        },
        Op::Ack { key, group, ids } => Cmd::Ack {
            key: key_of(*key),
            group: group_of(*group),
            ids: ids.iter().map(|p| resolve_id(*p, st(*key))).collect(),
        },
        Op::Claim {
            key,
            group,
            consumer,
            min_idle,
            ids,
            idle,
            time_back,
            retrycount,
            force,
            justid,
            lastid,
        } => Cmd::Claim {
            key: key_of(*key),
            group: group_of(*group),
            consumer: consumer_of(*consumer),
            min_idle: *min_idle as i64,
            ids: ids.iter().map(|p| resolve_id(*p, st(*key))).collect(),
            idle: idle.map(i64::from),
            // TIME around now: in the past, or (negative offsets) in the future
            time: time_back.map(|b| now as i64 - b as i64),
            retrycount: retrycount.map(i64::from),
            force: *force,
            justid: *justid,
            lastid: lastid.map(|p| resolve_id(p, st(*key))),
        },
        Op::AutoClaim {
            key,
            group,
            consumer,
            min_idle,
            start,
            count,
            justid,
        } => Cmd::AutoClaim {
            key: key_of(*key),
            group: group_of(*group),
            consumer: consumer_of(*consumer),
            min_idle: *min_idle as i64,
            start: match resolve_bound(*start, st(*key)) {
                // `+` is not a valid XAUTOCLAIM start in every version: use an ID
                Bound::Max => Bound::Incl(Mid::MAX),
                b => b,
            },
            count: count.map(|c| 1 + c as u64 % 8),
            justid: *justid,
        },
        Op::Del { keys } => Cmd::Del {
            keys: keys.iter().map(|k| key_of(*k)).collect(),
        },
        Op::Rename { from, to } => Cmd::Rename {
            from: key_of(*from),
            to: key_of(*to),
        },
        Op::FlushAll => Cmd::FlushAll,
        Op::Set { key } => Cmd::Set {
            key: key_of(*key),
            value: Bytes::from(format!("str{step}")),
        },
        Op::XRange {
            key,
            start,
            end,
            count,
        } => Cmd::XRange {
            key: key_of(*key),
            start: resolve_bound(*start, st(*key)),
            end: resolve_bound(*end, st(*key)),
            count: count.map(i64::from),
        },
        Op::XLen { key } => Cmd::XLen { key: key_of(*key) },
        Op::PendingSummary { key, group } => Cmd::PendingSummary {
            key: key_of(*key),
            group: group_of(*group),
        },
        Op::PendingExt {
            key,
            group,
            idle,
            start,
            end,
            count,
            consumer,
        } => Cmd::PendingExt {
            key: key_of(*key),
            group: group_of(*group),
            idle: idle.map(i64::from),
            start: resolve_bound(*start, st(*key)),
            end: resolve_bound(*end, st(*key)),
            count: *count as i64,
            consumer: consumer.map(consumer_of),
        },
        Op::InfoGroups { key } => Cmd::InfoGroups { key: key_of(*key) },
    }
}

/// ENTRIESREAD: -1 (invalid) or a value within `0..=entries_added` (8.2 caps larger values,
/// 8.0 does not: not worth a version-dependent case).
fn entries_read_value(n: u8, st: Option<&MStream>) -> i64 {
    let ea = st.map_or(0, |x| x.entries_added);
    if n.is_multiple_of(4) {
        -1
    } else {
        (n as u64 % (ea + 1)) as i64
    }
}

fn id_pick() -> BoxedStrategy<IdPick> {
    prop_oneof![
        24 => any::<u8>().prop_map(IdPick::Entry),
        12 => any::<u8>().prop_map(IdPick::Pending),
        9 => (0u8..3).prop_map(IdPick::Last),
        12 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| IdPick::Small(a, b)),
        1 => Just(IdPick::Max),
    ]
    .boxed()
}

/// IDs for XADD: `MAX` very rarely (it exhausts the stream until it is deleted).
fn add_id_pick() -> BoxedStrategy<AddIdPick> {
    prop_oneof![
        100 => Just(AddIdPick::Auto),
        20 => any::<u8>().prop_map(AddIdPick::AutoSeqLast),
        10 => any::<u8>().prop_map(AddIdPick::AutoSeqSmall),
        40 => id_pick_below_max().prop_map(AddIdPick::Explicit),
        1 => Just(AddIdPick::Explicit(IdPick::Max)),
    ]
    .boxed()
}

/// Like [`id_pick`] without `MAX`.
fn id_pick_below_max() -> BoxedStrategy<IdPick> {
    prop_oneof![
        10 => (0u8..3).prop_map(IdPick::Last),
        4 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| IdPick::Small(a, b)),
        2 => any::<u8>().prop_map(IdPick::Entry),
    ]
    .boxed()
}

fn bound_pick() -> BoxedStrategy<BoundPick> {
    prop_oneof![
        2 => Just(BoundPick::Min),
        2 => Just(BoundPick::Max),
        3 => id_pick().prop_map(BoundPick::Incl),
        2 => id_pick().prop_map(BoundPick::Excl),
    ]
    .boxed()
}

fn trim_pick() -> BoxedStrategy<TrimPick> {
    (
        proptest::option::weighted(0.6, 0u8..12),
        id_pick(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.3, 0u8..10),
    )
        .prop_map(|(maxlen, minid, approx, eq_token, limit)| TrimPick {
            maxlen,
            minid,
            approx,
            eq_token,
            limit,
        })
        .boxed()
}

fn ids(n: usize) -> BoxedStrategy<Vec<IdPick>> {
    proptest::collection::vec(id_pick(), 1..=n).boxed()
}

fn op() -> BoxedStrategy<Op> {
    // skewed towards one key and one group, so that groups and PELs live long enough
    let k = || prop_oneof![6 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8)];
    let g = || prop_oneof![4 => Just(0u8), 1 => Just(1u8)];
    let c = || 0u8..3;
    prop_oneof![
        90 => (k(), proptest::bool::weighted(0.1), proptest::option::weighted(0.25, trim_pick()), add_id_pick(), any::<u8>())
            .prop_map(|(key, nomkstream, trim, id, nfields)| Op::XAdd { key, nomkstream, trim, id, nfields }).boxed(),
        6 => (k(), trim_pick()).prop_map(|(key, trim)| Op::XTrim { key, trim }).boxed(),
        10 => (k(), ids(3)).prop_map(|(key, ids)| Op::XDel { key, ids }).boxed(),
        4 => (k(), id_pick_below_max(), proptest::option::weighted(0.3, any::<u8>()), proptest::option::weighted(0.3, id_pick()))
            .prop_map(|(key, id, entries_added, max_deleted)| Op::XSetId { key, id, entries_added, max_deleted }).boxed(),
        20 => (k(), g(), proptest::option::weighted(0.6, id_pick()), proptest::bool::weighted(0.3), proptest::option::weighted(0.3, any::<u8>()))
            .prop_map(|(key, group, id, mkstream, entries_read)| Op::GroupCreate { key, group, id, mkstream, entries_read }).boxed(),
        5 => (k(), g(), proptest::option::weighted(0.7, id_pick()), proptest::option::weighted(0.3, any::<u8>()))
            .prop_map(|(key, group, id, entries_read)| Op::GroupSetId { key, group, id, entries_read }).boxed(),
        2 => (k(), g()).prop_map(|(key, group)| Op::GroupDestroy { key, group }).boxed(),
        6 => (k(), g(), c()).prop_map(|(key, group, consumer)| Op::CreateConsumer { key, group, consumer }).boxed(),
        2 => (k(), g(), c()).prop_map(|(key, group, consumer)| Op::DelConsumer { key, group, consumer }).boxed(),
        45 => (g(), c(), proptest::option::weighted(0.5, -1i8..5), proptest::bool::weighted(0.15),
               prop_oneof![4 => Just(1usize), 1 => Just(2usize)].prop_flat_map(move |n| proptest::collection::vec((k(), proptest::option::weighted(0.3, id_pick())), n)))
            .prop_map(|(group, consumer, count, noack, streams)| Op::ReadGroup { group, consumer, count, noack, streams }).boxed(),
        15 => (k(), g(), ids(3)).prop_map(|(key, group, ids)| Op::Ack { key, group, ids }).boxed(),
        18 => (
                (k(), g(), c(), prop_oneof![Just(0u16), 1u16..3000], ids(3)),
                (proptest::option::weighted(0.2, 0u16..3000), proptest::option::weighted(0.15, -50i16..3000),
                 proptest::option::weighted(0.2, 0u8..5), proptest::bool::weighted(0.2), proptest::bool::weighted(0.3),
                 proptest::option::weighted(0.15, id_pick())),
            )
            .prop_map(|((key, group, consumer, min_idle, ids), (idle, time_back, retrycount, force, justid, lastid))| Op::Claim {
                key, group, consumer, min_idle, ids, idle, time_back, retrycount, force, justid, lastid,
            }).boxed(),
        15 => (k(), g(), c(), prop_oneof![Just(0u16), 1u16..3000], bound_pick(), proptest::option::weighted(0.6, any::<u8>()), proptest::bool::weighted(0.3))
            .prop_map(|(key, group, consumer, min_idle, start, count, justid)| Op::AutoClaim { key, group, consumer, min_idle, start, count, justid }).boxed(),
        2 => proptest::collection::vec(k(), 1..=2).prop_map(|keys| Op::Del { keys }).boxed(),
        1 => (k(), k()).prop_map(|(from, to)| Op::Rename { from, to }).boxed(),
        1 => Just(Op::FlushAll).boxed(),
        1 => prop_oneof![1 => Just(0u8), 1 => Just(1u8), 4 => Just(2u8)].prop_map(|key| Op::Set { key }).boxed(),
        10 => (k(), bound_pick(), bound_pick(), proptest::option::weighted(0.3, -1i8..6))
            .prop_map(|(key, start, end, count)| Op::XRange { key, start, end, count }).boxed(),
        4 => k().prop_map(|key| Op::XLen { key }).boxed(),
        8 => (k(), g()).prop_map(|(key, group)| Op::PendingSummary { key, group }).boxed(),
        12 => (k(), g(), proptest::option::weighted(0.3, 0u16..3000), bound_pick(), bound_pick(), -1i8..6, proptest::option::weighted(0.3, c()))
            .prop_map(|(key, group, idle, start, end, count, consumer)| Op::PendingExt { key, group, idle, start, end, count, consumer }).boxed(),
        10 => k().prop_map(|key| Op::InfoGroups { key }).boxed(),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum Step {
    Cmd(Op),
    /// Moves the clock (backwards too: the engine must keep IDs increasing).
    Tick(i32),
    /// Sync, drop the store, reopen and continue with the loaded keyspace.
    Reopen,
}

fn step() -> BoxedStrategy<Step> {
    prop_oneof![
        40 => op().prop_map(Step::Cmd),
        6 => prop_oneof![
            3 => 1i32..10,
            3 => 100i32..3000,
            1 => -40i32..0,
        ]
        .prop_map(Step::Tick),
        1 => Just(Step::Reopen),
    ]
    .boxed()
}

// ====================================================================== the run

#[derive(Debug, Default)]
struct Coverage {
    executed: BTreeMap<String, u64>,
    /// Distinct reply outcomes per command: error texts, and the shape of other replies.
    outcomes: BTreeMap<String, BTreeMap<String, u64>>,
    skipped: BTreeMap<String, u64>,
    reopens: u64,
}

fn cmd_name(args: &[String]) -> String {
    match args[0].as_str() {
        "XGROUP" | "XINFO" => format!("{} {}", args[0], args[1]),
        "XPENDING" if args.len() > 3 => "XPENDING (extended)".into(),
        other => other.into(),
    }
}

/// A short description of a reply for coverage: the error text, or the kind and size.
fn outcome(r: &Reply) -> String {
    match r {
        Reply::Error(e) => String::from_utf8_lossy(e).chars().take(60).collect(),
        Reply::Array(v) if v.is_empty() => "empty array".into(),
        Reply::Array(_) => "array".into(),
        Reply::PairMap(_) => "streams".into(),
        Reply::Integer(0) => "0".into(),
        Reply::Integer(_) => "integer".into(),
        Reply::Null | Reply::NullArray => "null".into(),
        other => format!("{:?}", std::mem::discriminant(other)),
    }
}

fn opts() -> StoreOptions {
    StoreOptions {
        cache_capacity_bytes: 8 * 1024 * 1024,
        fsync: false,
    }
}

/// Runs `steps`, checking every reply, the state after every command and every reopen.
fn run(steps: &[Step], node_max: u64, cov: &mut Coverage) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (mut store, mut db) = Store::open(dir.path(), opts()).map_err(|e| e.to_string())?;
    let mut model = Model::default();
    let mut now: u64 = 1_000;
    let mut index = 0u64;
    for (i, st) in steps.iter().enumerate() {
        match st {
            Step::Tick(d) => now = now.saturating_add_signed(*d as i64),
            Step::Reopen => {
                store.sync().map_err(|e| e.to_string())?;
                drop(store);
                let (s2, loaded) = Store::open(dir.path(), opts())
                    .map_err(|e| format!("step {i}: reopen failed: {e}"))?;
                if s2.applied_index() != index {
                    return Err(format!(
                        "step {i}: applied index {} after reopen, expected {index}",
                        s2.applied_index()
                    ));
                }
                assert_db_eq(&db, &loaded).map_err(|e| format!("step {i}: {e}"))?;
                store = s2;
                db = loaded;
                cov.reopens += 1;
            }
            Step::Cmd(op) => {
                let cmd = resolve(op, &model, i, now);
                let args = cmd.args();
                let name = cmd_name(&args);
                let argv: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.clone())).collect();
                let ctx = Ctx {
                    now_ms: now,
                    node_max_entries: node_max,
                };
                let Some(actual) = streams::execute(&mut db, &argv, &ctx) else {
                    *cov.skipped.entry(name).or_default() += 1;
                    continue;
                };
                *cov.executed.entry(name.clone()).or_default() += 1;
                *cov.outcomes
                    .entry(name)
                    .or_default()
                    .entry(outcome(&actual))
                    .or_default() += 1;
                let changes = db.take_changes();
                db.take_ready();
                let engine_len = |k: &Bytes| -> Option<u64> {
                    match db.get(k) {
                        Some(Value::Stream(s)) => Some(s.len()),
                        _ => None,
                    }
                };
                let expected = model
                    .exec(&cmd, now, node_max, &engine_len)
                    .map_err(|e| format!("step {i} `{}`: {e}", args.join(" ")))?;
                // Byte-exact in both protocols (what clients see).
                for proto in [Protocol::Resp2, Protocol::Resp3] {
                    let (a, e) = (actual.to_bytes(proto), expected.to_bytes(proto));
                    if a != e {
                        return Err(format!(
                            "step {i} at now={now} `{}` ({proto:?}):\n  engine: {}\n  model:  {}",
                            args.join(" "),
                            String::from_utf8_lossy(&a).replace("\r\n", "\\r\\n"),
                            String::from_utf8_lossy(&e).replace("\r\n", "\\r\\n"),
                        ));
                    }
                }
                for (k, v) in db.iter() {
                    if let Value::Stream(s) = v {
                        s.check_invariants()
                            .map_err(|e| format!("step {i} `{}`: {k:?}: {e}", args.join(" ")))?;
                    }
                }
                compare_state(&model, &db)
                    .map_err(|e| format!("step {i} `{}`: state: {e}", args.join(" ")))?;
                index += 1;
                store
                    .commit(&db, &changes, index)
                    .map_err(|e| format!("step {i}: commit: {e}"))?;
            }
        }
    }
    // a final reopen: everything committed is loaded back
    store.sync().map_err(|e| e.to_string())?;
    drop(store);
    let (_s, loaded) = Store::open(dir.path(), opts()).map_err(|e| e.to_string())?;
    assert_db_eq(&db, &loaded).map_err(|e| format!("final reopen: {e}"))?;
    Ok(())
}

fn cases() -> u32 {
    std::env::var("MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn engine_and_storage_follow_the_model(
        steps in proptest::collection::vec(step(), 1..160),
        node_max in 1u64..6,
    ) {
        let mut cov = Coverage::default();
        if let Err(e) = run(&steps, node_max, &mut cov) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// One long deterministic run (fixed seed), printing which commands the engine executed and
/// which it does not implement yet.
#[test]
fn long_fixed_seed_run() {
    let mut runner = TestRunner::new_with_rng(
        RunnerConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = proptest::collection::vec(step(), 3000);
    let steps = strategy
        .new_tree(&mut runner)
        .expect("generate steps")
        .current();
    let mut cov = Coverage::default();
    if let Err(e) = run(&steps, 3, &mut cov) {
        panic!("{e}");
    }
    eprintln!("reopens: {}", cov.reopens);
    eprintln!("executed: {:?}", cov.executed);
    for (name, o) in &cov.outcomes {
        eprintln!("  {name}: {o:?}");
    }
    eprintln!(
        "not implemented by the engine yet (skipped): {:?}",
        cov.skipped
    );
}

/// Shrunk cases found by the property test, kept as regressions.
#[test]
fn regression_entries_read_after_trim() {
    let steps = vec![
        Step::Cmd(Op::GroupCreate {
            key: 2,
            group: 0,
            id: None,
            mkstream: true,
            entries_read: Some(5),
        }),
        Step::Cmd(Op::XAdd {
            key: 2,
            nomkstream: false,
            trim: None,
            id: AddIdPick::Auto,
            nfields: 0,
        }),
        Step::Cmd(Op::XAdd {
            key: 2,
            nomkstream: false,
            trim: None,
            id: AddIdPick::Auto,
            nfields: 0,
        }),
        Step::Cmd(Op::XTrim {
            key: 2,
            trim: TrimPick {
                maxlen: None,
                minid: IdPick::Last(0),
                approx: false,
                eq_token: false,
                limit: None,
            },
        }),
        Step::Cmd(Op::ReadGroup {
            group: 0,
            consumer: 0,
            count: None,
            noack: false,
            streams: vec![(2, None)],
        }),
    ];
    let mut cov = Coverage::default();
    if let Err(e) = run(&steps, 1, &mut cov) {
        panic!("{e}");
    }
}
