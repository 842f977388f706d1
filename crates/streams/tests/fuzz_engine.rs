//! Grammar-driven fuzzing of the engine: long random command sequences (valid and invalid
//! tokens mixed) run through `parse` → `prepare` → `apply`, checking after every command that
//! nothing panicked and that the engine's promises hold:
//!
//! - every stream satisfies [`streams::Stream::check_invariants`];
//! - a prepared op applied to a copy of the pre-state gives the same reply, the same state,
//!   the same persisted items and the same ready keys (determinism);
//! - an error reply from `apply` changed nothing (an error means "not applied");
//! - every key whose value changed is reported by `take_changes` (or nothing would persist it);
//! - every changed value round-trips through the DUMP encoding;
//! - applying an op twice, or an op prepared against an older state, never panics and keeps
//!   the invariants;
//! - replies encode in RESP2 and RESP3 into exactly one well-formed frame each.
//!
//! ```text
//!  proptest: (case seed, [command seed; 50..200])
//!     │ each command seed drives a small PRNG through the grammar, which may look at the
//!     ▼ state (existing IDs, PEL IDs, earlier DUMP payloads)
//!  args ──parse──▶ Command ──prepare(db, ctx)──▶ Reply | Op ──apply(db) + apply(copy)──▶ checks
//!                                  │ blocked (null reply + block()): pinned, re-run on wake-up
//! ```
//!
//! A failure prints the whole command history (escaped args with `now_ms` and node size), so
//! a case can be replayed by hand.

use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use proptest::prelude::*;
use resp::{parse_frame, Frame, Protocol, Reply};
use streams::keyspace::{decode_value, encode_value, DUMP_VERSION};
use streams::{apply, parse, Block, Change, Command, Ctx, Db, Op, Prepared, Value};

/// Every command name the engine owns: `parse` must claim each of them.
const ENGINE_COMMANDS: &[&str] = &[
    "xadd",
    "xtrim",
    "xdel",
    "xlen",
    "xrange",
    "xrevrange",
    "xread",
    "xreadgroup",
    "xack",
    "xgroup",
    "xpending",
    "xclaim",
    "xautoclaim",
    "xinfo",
    "xsetid",
    "del",
    "unlink",
    "exists",
    "type",
    "rename",
    "renamenx",
    "scan",
    "keys",
    "dbsize",
    "flushall",
    "flushdb",
    "dump",
    "restore",
    "set",
    "get",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "lrange",
    "llen",
    "blpop",
    "brpop",
    "sadd",
    "srem",
    "smembers",
    "scard",
    "sismember",
];

/// Option keywords of the commands above (and a few of their neighbours).
const KEYWORDS: &[&str] = &[
    "MAXLEN",
    "MINID",
    "~",
    "=",
    "LIMIT",
    "NOMKSTREAM",
    "COUNT",
    "BLOCK",
    "STREAMS",
    "GROUP",
    "NOACK",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "JUSTID",
    "LASTID",
    "ENTRIESREAD",
    "MKSTREAM",
    "FULL",
    "ENTRIESADDED",
    "MAXDELETEDID",
    "MATCH",
    "TYPE",
    "REPLACE",
    "ABSTTL",
    "IDLETIME",
    "FREQ",
    "ASYNC",
    "SYNC",
    "NX",
    "XX",
    "GET",
    "EX",
    "PX",
    "KEEPTTL",
    "CREATE",
    "SETID",
    "DESTROY",
    "CREATECONSUMER",
    "DELCONSUMER",
    "HELP",
    "STREAM",
    "GROUPS",
    "CONSUMERS",
];

/// IDs that are special or at the edges of the ID space.
const SPECIAL_IDS: &[&str] = &[
    "*",
    "$",
    ">",
    "+",
    "-",
    "0",
    "0-0",
    "0-1",
    "1",
    "1-1",
    "(1-1",
    "(0-0",
    "(-",
    "(+",
    "((1-1",
    "(",
    "5-*",
    "0-*",
    "18446744073709551615-18446744073709551615",
    "(18446744073709551615-18446744073709551615",
    "18446744073709551615",
    "18446744073709551615-*",
    "18446744073709551614-18446744073709551615",
    "18446744073709551616-0",
    "1-18446744073709551616",
    "99999999999999999999999",
    "-1",
    "-1-1",
    "1--1",
    "1-",
    "-0",
    "1-1-1",
    "1.5-0",
    " 1-1",
    "+1-1",
    "01-01",
    "abc",
    "*-1",
    "$-1",
    "",
];

/// Integers (and non-integers) for counts, lengths, times and thresholds.
const SPECIAL_INTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "10",
    "100",
    "-1",
    "-2",
    "-100",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "abc",
    "",
    "1.5",
    "+1",
    " 1",
    "01",
    "0x10",
    "1e3",
    "inf",
    "-inf",
    "nan",
    "0.001",
];

const KEYS: &[&str] = &["s1", "s2", "{t}s3", "str", "lst", "set", "nokey", ""];
const GROUPS: &[&str] = &["g1", "g2", "g3", ""];
const CONSUMERS: &[&str] = &["c1", "c2", "c3", ""];
const PATTERNS: &[&str] = &[
    "*",
    "s*",
    "s?",
    "{t}*",
    "[a-z]*",
    "[^s]*",
    "[",
    "[a-",
    "\\",
    "\\*",
    "*[",
    "[]]",
    "?*?*?*",
    "*a*a*a*a*a*a*a*a*a*a*b",
    "",
];

/// SplitMix64: a tiny deterministic PRNG driven by one seed per command.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

fn b(s: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(s.as_ref())
}

/// Builds one command's arguments from the grammar. It may look at the state so that IDs hit
/// existing entries and PEL entries often enough to matter.
struct Gen<'a> {
    rng: Rng,
    db: &'a Db,
    now_ms: u64,
    dumps: &'a [Bytes],
    /// A clean command uses only well-formed tokens of the right kind (so that state builds
    /// up); the others mix in tokens of any kind and get mutated.
    clean: bool,
}

type Template = fn(&mut Gen) -> Vec<Bytes>;

impl<'a> Gen<'a> {
    // ------------------------------------------------------------ tokens

    /// A name or keyword in upper, lower or mixed case.
    fn cased(&mut self, s: &str) -> Bytes {
        match self.rng.below(10) {
            0..=5 => b(s.to_ascii_uppercase()),
            6..=8 => b(s.to_ascii_lowercase()),
            _ => {
                let mixed: Vec<u8> = s
                    .bytes()
                    .map(|c| {
                        if self.rng.chance(50) {
                            c.to_ascii_uppercase()
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect();
                Bytes::from(mixed)
            }
        }
    }

    fn kw(&mut self, s: &str) -> Bytes {
        if !self.clean && self.rng.chance(5) {
            return self.any_token();
        }
        self.cased(s)
    }

    fn random_bytes(&mut self) -> Bytes {
        let len = match self.rng.below(10) {
            0..=2 => 0,
            3..=8 => self.rng.below(8),
            _ => self.rng.below(300),
        };
        let pool: &[u8] = if self.rng.chance(50) {
            b"\x00\r\n\t *$>+-()~=0123456789abc\xff\xfe"
        } else {
            b""
        };
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if pool.is_empty() {
                    self.rng.next() as u8
                } else {
                    *self.rng.pick(pool)
                }
            })
            .collect();
        Bytes::from(bytes)
    }

    fn key(&mut self) -> Bytes {
        if self.clean {
            return b(*self.rng.pick(&["s1", "s1", "s1", "s2", "s2", "{t}s3"]));
        }
        match self.rng.below(100) {
            0..=34 => b("s1"),
            35..=54 => b("s2"),
            55..=64 => b("{t}s3"),
            65..=95 => b(*self.rng.pick(KEYS)),
            _ => self.random_bytes(),
        }
    }

    /// A key and a group: in clean commands mostly a group that exists.
    fn key_group(&mut self) -> (Bytes, Bytes) {
        if self.clean && self.rng.chance(75) {
            let mut pairs: Vec<(&Bytes, &Bytes)> = Vec::new();
            for key in self.stream_keys() {
                if let Some(Value::Stream(s)) = self.db.get(key) {
                    pairs.extend(s.groups().keys().map(|g| (key, g)));
                }
            }
            if !pairs.is_empty() {
                let (k, g) = pairs[self.rng.index(pairs.len())];
                return (k.clone(), g.clone());
            }
        }
        (self.key(), self.group())
    }

    fn group(&mut self) -> Bytes {
        if self.clean {
            return b(*self.rng.pick(&["g1", "g1", "g2"]));
        }
        match self.rng.below(100) {
            0..=49 => b("g1"),
            50..=94 => b(*self.rng.pick(GROUPS)),
            _ => self.random_bytes(),
        }
    }

    fn consumer(&mut self) -> Bytes {
        if self.clean {
            return b(*self.rng.pick(&["c1", "c2", "c3"]));
        }
        match self.rng.below(100) {
            0..=89 => b(*self.rng.pick(CONSUMERS)),
            _ => self.random_bytes(),
        }
    }

    fn field(&mut self) -> Bytes {
        match self.rng.below(100) {
            0..=79 => b(*self.rng.pick(&["f", "v", "a", "b", "field", "1"])),
            80..=97 => self.random_bytes(),
            _ => Bytes::from(vec![b'x'; self.rng.index(5000)]),
        }
    }

    /// Stream keys of the state, in a stable order (the keyspace iterates in hash order).
    fn stream_keys(&self) -> Vec<&'a Bytes> {
        let mut keys: Vec<&Bytes> = self
            .db
            .iter()
            .filter(|(_, v)| matches!(v, Value::Stream(_)))
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys
    }

    fn existing_id(&mut self) -> Option<String> {
        let keys = self.stream_keys();
        if keys.is_empty() {
            return None;
        }
        let key = keys[self.rng.index(keys.len())].clone();
        let Some(Value::Stream(s)) = self.db.get(&key) else {
            return None;
        };
        let n = s.len() as usize;
        if n == 0 {
            return Some(s.last_id().to_string());
        }
        let i = if self.rng.chance(30) {
            n - 1
        } else {
            self.rng.index(n)
        };
        s.entries().keys().nth(i).map(|id| id.to_string())
    }

    fn pending_id(&mut self) -> Option<String> {
        let keys = self.stream_keys();
        if keys.is_empty() {
            return None;
        }
        let key = keys[self.rng.index(keys.len())].clone();
        let Some(Value::Stream(s)) = self.db.get(&key) else {
            return None;
        };
        let groups: Vec<_> = s.groups().values().collect();
        if groups.is_empty() {
            return None;
        }
        let g = groups[self.rng.index(groups.len())];
        let n = g.pel().len();
        if n == 0 {
            return Some(g.last_id.to_string());
        }
        g.pel()
            .keys()
            .nth(self.rng.index(n))
            .map(|id| id.to_string())
    }

    fn id(&mut self) -> Bytes {
        let near = self.now_ms.saturating_sub(50);
        let roll = if self.clean {
            self.rng.below(65)
        } else {
            self.rng.below(100)
        };
        match roll {
            0..=24 => match self.existing_id() {
                Some(id) => b(id),
                None => b("0-1"),
            },
            25..=34 => match self.pending_id() {
                Some(id) => b(id),
                None => b("1-0"),
            },
            35..=49 => b(format!(
                "{}-{}",
                near.saturating_add(self.rng.below(100)),
                self.rng.below(4)
            )),
            50..=59 => b(format!("{}-{}", self.rng.below(6), self.rng.below(4))),
            60..=64 => b(format!("{}", near.saturating_add(self.rng.below(100)))),
            65..=67 => b(format!("{}-*", near.saturating_add(self.rng.below(100)))),
            68..=71 => match self.existing_id() {
                Some(id) => b(format!("({id}")),
                None => b("(0-0"),
            },
            72..=96 => b(*self.rng.pick(SPECIAL_IDS)),
            _ => self.random_bytes(),
        }
    }

    fn int(&mut self) -> Bytes {
        let roll = if self.clean {
            self.rng.below(55)
        } else {
            self.rng.below(100)
        };
        match roll {
            0..=39 => b(self.rng.below(12).to_string()),
            40..=54 => b(self.rng.below(300).to_string()),
            55..=94 => b(*self.rng.pick(SPECIAL_INTS)),
            _ => self.random_bytes(),
        }
    }

    /// A millisecond duration or timestamp (IDLE, TIME, min-idle-time, BLOCK).
    fn ms(&mut self) -> Bytes {
        match self.rng.below(100) {
            0..=29 => b(self.rng.below(5).to_string()),
            30..=49 => b(self.rng.below(200).to_string()),
            50..=59 => b(self.now_ms.saturating_sub(self.rng.below(300)).to_string()),
            60..=64 => b(self.now_ms.saturating_add(self.rng.below(300)).to_string()),
            _ => self.int(),
        }
    }

    /// Any token of any kind: what a confused client might put anywhere.
    fn any_token(&mut self) -> Bytes {
        match self.rng.below(9) {
            0 => {
                let k = *self.rng.pick(KEYWORDS);
                self.cased(k)
            }
            1 => {
                let c = *self.rng.pick(ENGINE_COMMANDS);
                self.cased(c)
            }
            2 => self.id(),
            3 => self.int(),
            4 => self.key(),
            5 => self.group(),
            6 => self.consumer(),
            7 => self.field(),
            _ => self.random_bytes(),
        }
    }

    // ------------------------------------------------------------ command pieces

    /// `MAXLEN|MINID [=|~] threshold [LIMIT n]`.
    fn trim(&mut self, out: &mut Vec<Bytes>) {
        let minid = self.rng.chance(40);
        out.push(self.kw(if minid { "MINID" } else { "MAXLEN" }));
        match self.rng.below(3) {
            0 => out.push(self.kw("~")),
            1 => out.push(self.kw("=")),
            _ => {}
        }
        out.push(if minid { self.id() } else { self.int() });
        if self.rng.chance(25) {
            out.push(self.kw("LIMIT"));
            out.push(self.int());
        }
    }

    fn fields(&mut self, out: &mut Vec<Bytes>) {
        let pairs = match self.rng.below(10) {
            0 if !self.clean => 0,
            1..=6 => 1,
            _ => 1 + self.rng.below(4),
        };
        for _ in 0..pairs {
            out.push(self.field());
            out.push(self.field());
        }
        if !self.clean && self.rng.chance(5) {
            out.push(self.field());
        }
    }

    fn ids(&mut self, out: &mut Vec<Bytes>, most: u64) {
        for _ in 0..1 + self.rng.below(most) {
            out.push(self.id());
        }
    }

    /// Shuffles the options after `from` now and then (most options are order-free).
    fn maybe_shuffle(&mut self, out: &mut [Bytes], from: usize) {
        if out.len() > from + 1 && self.rng.chance(15) {
            let tail = &mut out[from..];
            for i in (1..tail.len()).rev() {
                let j = self.rng.index(i + 1);
                tail.swap(i, j);
            }
        }
    }

    /// Occasionally breaks a well-formed command: replace, drop, duplicate or insert a token.
    fn mutate(&mut self, args: &mut Vec<Bytes>) {
        if self.clean || !self.rng.chance(30) {
            return;
        }
        for _ in 0..1 + self.rng.below(2) {
            let at = self.rng.index(args.len() + 1);
            match self.rng.below(4) {
                0 if at < args.len() && at > 0 => args[at] = self.any_token(),
                1 if at < args.len() && at > 0 => {
                    args.remove(at);
                }
                2 if at < args.len() => {
                    let dup = args[at].clone();
                    args.insert(at, dup);
                }
                _ => {
                    let t = self.any_token();
                    args.insert(at.max(1).min(args.len()), t);
                }
            }
        }
    }

    fn command(&mut self) -> Vec<Bytes> {
        let total: u64 = TEMPLATES.iter().map(|(w, _)| *w).sum();
        let mut roll = self.rng.below(total);
        let mut args = Vec::new();
        for (w, template) in TEMPLATES {
            if roll < *w {
                args = template(self);
                break;
            }
            roll -= w;
        }
        self.mutate(&mut args);
        args
    }

    // ------------------------------------------------------------ templates

    fn xadd(&mut self) -> Vec<Bytes> {
        let mut a = vec![self.cased("XADD"), self.key()];
        if self.rng.chance(10) {
            a.push(self.kw("NOMKSTREAM"));
        }
        if self.rng.chance(25) {
            self.trim(&mut a);
        }
        a.push(match self.rng.below(10) {
            0..=5 => b("*"),
            _ => self.id(),
        });
        self.fields(&mut a);
        a
    }

    fn xtrim(&mut self) -> Vec<Bytes> {
        let mut a = vec![self.cased("XTRIM"), self.key()];
        self.trim(&mut a);
        a
    }

    fn xdel(&mut self) -> Vec<Bytes> {
        let mut a = vec![self.cased("XDEL"), self.key()];
        self.ids(&mut a, 4);
        a
    }

    fn xlen(&mut self) -> Vec<Bytes> {
        vec![self.cased("XLEN"), self.key()]
    }

    fn xrange(&mut self) -> Vec<Bytes> {
        let name = if self.rng.chance(50) {
            "XRANGE"
        } else {
            "XREVRANGE"
        };
        let mut a = vec![self.cased(name), self.key(), self.id(), self.id()];
        if self.rng.chance(40) {
            a.push(self.kw("COUNT"));
            a.push(self.int());
        }
        a
    }

    /// `... STREAMS k1 k2 id1 id2` with `latest` as one of the ID choices.
    fn streams_tail(&mut self, a: &mut Vec<Bytes>, first: Option<Bytes>, latest: &str) {
        a.push(self.kw("STREAMS"));
        let n = if self.clean && self.rng.chance(80) {
            1
        } else {
            1 + self.rng.below(3)
        };
        for i in 0..n {
            match &first {
                Some(key) if i == 0 => a.push(key.clone()),
                _ => a.push(self.key()),
            }
        }
        let ids = if self.rng.chance(5) { n + 1 } else { n };
        for _ in 0..ids {
            a.push(if self.rng.chance(50) {
                b(latest)
            } else {
                self.id()
            });
        }
    }

    fn xread(&mut self) -> Vec<Bytes> {
        let mut a = vec![self.cased("XREAD")];
        if self.rng.chance(40) {
            a.push(self.kw("COUNT"));
            a.push(self.int());
        }
        if self.rng.chance(50) {
            a.push(self.kw("BLOCK"));
            a.push(self.ms());
        }
        self.maybe_shuffle(&mut a, 1);
        let latest = if self.rng.chance(50) { "$" } else { "+" };
        self.streams_tail(&mut a, None, latest);
        a
    }

    fn xreadgroup(&mut self) -> Vec<Bytes> {
        let (key, group) = self.key_group();
        let mut a = vec![
            self.cased("XREADGROUP"),
            self.kw("GROUP"),
            group,
            self.consumer(),
        ];
        if self.rng.chance(40) {
            a.push(self.kw("COUNT"));
            a.push(self.int());
        }
        if self.rng.chance(40) {
            a.push(self.kw("BLOCK"));
            a.push(self.ms());
        }
        if self.rng.chance(20) {
            a.push(self.kw("NOACK"));
        }
        self.maybe_shuffle(&mut a, 4);
        self.streams_tail(&mut a, Some(key), ">");
        a
    }

    fn xack(&mut self) -> Vec<Bytes> {
        let (key, group) = self.key_group();
        let mut a = vec![self.cased("XACK"), key, group];
        self.ids(&mut a, 4);
        a
    }

    fn xgroup(&mut self) -> Vec<Bytes> {
        let mut a = vec![self.cased("XGROUP")];
        match self.rng.below(12) {
            0..=3 => {
                a.extend([self.kw("CREATE"), self.key(), self.group()]);
                a.push(if self.rng.chance(30) {
                    b("$")
                } else {
                    self.id()
                });
                if self.rng.chance(if self.clean { 70 } else { 40 }) {
                    a.push(self.kw("MKSTREAM"));
                }
                if self.rng.chance(25) {
                    a.push(self.kw("ENTRIESREAD"));
                    a.push(self.int());
                }
                self.maybe_shuffle(&mut a, 5);
            }
            4..=5 => {
                let (key, group) = self.key_group();
                a.extend([self.kw("SETID"), key, group, self.id()]);
                if self.rng.chance(30) {
                    a.push(self.kw("ENTRIESREAD"));
                    a.push(self.int());
                }
            }
            6 => {
                let (key, group) = self.key_group();
                a.extend([self.kw("DESTROY"), key, group]);
            }
            7..=8 => {
                let (key, group) = self.key_group();
                a.extend([self.kw("CREATECONSUMER"), key, group, self.consumer()]);
            }
            9 => {
                let (key, group) = self.key_group();
                a.extend([self.kw("DELCONSUMER"), key, group, self.consumer()]);
            }
            10 => a.push(self.kw("HELP")),
            _ => {
                for _ in 0..self.rng.below(5) {
                    a.push(self.any_token());
                }
            }
        }
        a
    }

    fn xpending(&mut self) -> Vec<Bytes> {
        let (key, group) = self.key_group();
        let mut a = vec![self.cased("XPENDING"), key, group];
        if self.rng.chance(60) {
            if self.rng.chance(30) {
                a.push(self.kw("IDLE"));
                a.push(self.ms());
            }
            a.extend([self.id(), self.id(), self.int()]);
            if self.rng.chance(40) {
                a.push(self.consumer());
            }
        }
        a
    }

    fn xclaim(&mut self) -> Vec<Bytes> {
        let (key, group) = self.key_group();
        let mut a = vec![self.cased("XCLAIM"), key, group, self.consumer(), self.ms()];
        self.ids(&mut a, 4);
        let opts = a.len();
        if self.rng.chance(20) {
            a.push(self.kw("IDLE"));
            a.push(self.ms());
        }
        if self.rng.chance(20) {
            a.push(self.kw("TIME"));
            a.push(self.ms());
        }
        if self.rng.chance(20) {
            a.push(self.kw("RETRYCOUNT"));
            a.push(self.int());
        }
        if self.rng.chance(25) {
            a.push(self.kw("FORCE"));
        }
        if self.rng.chance(25) {
            a.push(self.kw("JUSTID"));
        }
        if self.rng.chance(15) {
            a.push(self.kw("LASTID"));
            a.push(self.id());
        }
        self.maybe_shuffle(&mut a, opts);
        a
    }

    fn xautoclaim(&mut self) -> Vec<Bytes> {
        let (key, group) = self.key_group();
        let mut a = vec![
            self.cased("XAUTOCLAIM"),
            key,
            group,
            self.consumer(),
            self.ms(),
            self.id(),
        ];
        if self.rng.chance(40) {
            a.push(self.kw("COUNT"));
            a.push(self.int());
        }
        if self.rng.chance(30) {
            a.push(self.kw("JUSTID"));
        }
        self.maybe_shuffle(&mut a, 6);
        a
    }

    fn xinfo(&mut self) -> Vec<Bytes> {
        let mut a = vec![self.cased("XINFO")];
        match self.rng.below(8) {
            0..=2 => {
                a.extend([self.kw("STREAM"), self.key()]);
                if self.rng.chance(50) {
                    a.push(self.kw("FULL"));
                    if self.rng.chance(50) {
                        a.push(self.kw("COUNT"));
                        a.push(self.int());
                    }
                }
            }
            3..=4 => a.extend([self.kw("GROUPS"), self.key()]),
            5..=6 => {
                let (key, group) = self.key_group();
                a.extend([self.kw("CONSUMERS"), key, group]);
            }
            _ => a.push(self.kw("HELP")),
        }
        a
    }

    fn xsetid(&mut self) -> Vec<Bytes> {
        let mut a = vec![self.cased("XSETID"), self.key(), self.id()];
        if self.rng.chance(30) {
            a.push(self.kw("ENTRIESADDED"));
            a.push(self.int());
        }
        if self.rng.chance(30) {
            a.push(self.kw("MAXDELETEDID"));
            a.push(self.id());
        }
        self.maybe_shuffle(&mut a, 3);
        a
    }

    fn generic(&mut self) -> Vec<Bytes> {
        match self.rng.below(9) {
            0..=2 => {
                let name = *self.rng.pick(&["DEL", "UNLINK", "EXISTS"]);
                let mut a = vec![self.cased(name)];
                for _ in 0..1 + self.rng.below(3) {
                    a.push(self.key());
                }
                a
            }
            3 => vec![self.cased("TYPE"), self.key()],
            4..=5 => {
                let name = if self.rng.chance(50) {
                    "RENAME"
                } else {
                    "RENAMENX"
                };
                vec![self.cased(name), self.key(), self.key()]
            }
            6 => {
                let mut a = vec![self.cased("SCAN"), self.int()];
                if self.rng.chance(40) {
                    a.push(self.kw("MATCH"));
                    a.push(b(*self.rng.pick(PATTERNS)));
                }
                if self.rng.chance(40) {
                    a.push(self.kw("COUNT"));
                    a.push(self.int());
                }
                if self.rng.chance(40) {
                    a.push(self.kw("TYPE"));
                    let t = *self
                        .rng
                        .pick(&["stream", "string", "list", "set", "zset", "x"]);
                    a.push(self.cased(t));
                }
                self.maybe_shuffle(&mut a, 2);
                a
            }
            7 => vec![self.cased("KEYS"), b(*self.rng.pick(PATTERNS))],
            _ => vec![self.cased("DBSIZE")],
        }
    }

    fn flush(&mut self) -> Vec<Bytes> {
        if self.rng.chance(70) {
            return vec![self.cased("DBSIZE")];
        }
        let name = if self.rng.chance(50) {
            "FLUSHALL"
        } else {
            "FLUSHDB"
        };
        let mut a = vec![self.cased(name)];
        if self.rng.chance(30) {
            let opt = *self.rng.pick(&["ASYNC", "SYNC", "x"]);
            a.push(self.kw(opt));
        }
        a
    }

    fn dump(&mut self) -> Vec<Bytes> {
        vec![self.cased("DUMP"), self.key()]
    }

    /// A payload for RESTORE: an earlier DUMP as is, truncated, with flipped bits (with the
    /// checksum fixed up most of the time, so the body decoder is exercised), or junk.
    fn payload(&mut self) -> Bytes {
        let Some(base) =
            (!self.dumps.is_empty()).then(|| self.dumps[self.rng.index(self.dumps.len())].clone())
        else {
            return self.random_bytes();
        };
        match self.rng.below(10) {
            0..=2 => base,
            3 => base.slice(..self.rng.index(base.len())),
            4..=8 if base.len() > 11 => {
                let mut body = base[..base.len() - 10].to_vec();
                for _ in 0..1 + self.rng.below(3) {
                    if body.is_empty() {
                        break;
                    }
                    match self.rng.below(3) {
                        0 => {
                            let i = self.rng.index(body.len());
                            body[i] ^= 1 << self.rng.below(8);
                        }
                        1 => {
                            let i = self.rng.index(body.len());
                            body[i] = self.rng.next() as u8;
                        }
                        _ => body.truncate(self.rng.index(body.len() + 1)),
                    }
                }
                if self.rng.chance(85) {
                    seal(body)
                } else {
                    let mut p = body;
                    p.extend_from_slice(&base[base.len() - 10..]);
                    Bytes::from(p)
                }
            }
            _ => {
                let mut body = vec![b'X', self.rng.below(6) as u8];
                body.extend_from_slice(&self.random_bytes());
                seal(body)
            }
        }
    }

    fn restore(&mut self) -> Vec<Bytes> {
        let ttl = match self.rng.below(10) {
            0..=7 => b("0"),
            _ => self.int(),
        };
        let mut a = vec![self.cased("RESTORE"), self.key(), ttl, self.payload()];
        if self.rng.chance(50) {
            a.push(self.kw("REPLACE"));
        }
        if self.rng.chance(10) {
            a.push(self.kw("ABSTTL"));
        }
        if self.rng.chance(10) {
            let opt = if self.rng.chance(50) {
                "IDLETIME"
            } else {
                "FREQ"
            };
            a.push(self.kw(opt));
            a.push(self.int());
        }
        a
    }

    fn other_types(&mut self) -> Vec<Bytes> {
        let name = *self.rng.pick(&[
            "SET",
            "GET",
            "LPUSH",
            "RPUSH",
            "LPOP",
            "RPOP",
            "LRANGE",
            "LLEN",
            "BLPOP",
            "BRPOP",
            "SADD",
            "SREM",
            "SMEMBERS",
            "SCARD",
            "SISMEMBER",
        ]);
        // Clean commands keep to the keys of their own type, so streams survive.
        let key = if self.clean {
            b(*self.rng.pick(&["str", "lst", "set", "nokey"]))
        } else {
            self.key()
        };
        let mut a = vec![self.cased(name), key];
        match name {
            "SET" => {
                a.push(self.field());
                if self.rng.chance(20) {
                    let opt = *self.rng.pick(&["NX", "XX", "GET", "KEEPTTL", "EX", "PX"]);
                    a.push(self.kw(opt));
                    if opt == "EX" || opt == "PX" {
                        a.push(self.int());
                    }
                }
            }
            "LPUSH" | "RPUSH" | "SADD" | "SREM" => {
                for _ in 0..1 + self.rng.below(3) {
                    a.push(self.field());
                }
            }
            "LPOP" | "RPOP" if self.rng.chance(30) => a.push(self.int()),
            "LRANGE" => a.extend([self.int(), self.int()]),
            "BLPOP" | "BRPOP" => {
                if self.rng.chance(30) {
                    a.push(self.key());
                }
                let t = *self
                    .rng
                    .pick(&["0", "0.01", "1", "-1", "inf", "nan", "1e400", "x"]);
                a.push(b(t));
            }
            "SISMEMBER" => a.push(self.field()),
            _ => {}
        }
        a
    }

    fn random_command(&mut self) -> Vec<Bytes> {
        let name = if self.rng.chance(85) {
            let c = *self.rng.pick(ENGINE_COMMANDS);
            self.cased(c)
        } else {
            self.random_bytes()
        };
        let mut a = vec![name];
        for _ in 0..self.rng.below(12) {
            a.push(self.any_token());
        }
        a
    }
}

/// Weighted templates (FLUSH is rare so that state builds up).
const TEMPLATES: &[(u64, Template)] = &[
    (20, |g| g.xadd()),
    (4, |g| g.xtrim()),
    (4, |g| g.xdel()),
    (1, |g| g.xlen()),
    (4, |g| g.xrange()),
    (5, |g| g.xread()),
    (12, |g| g.xreadgroup()),
    (5, |g| g.xack()),
    (11, |g| g.xgroup()),
    (4, |g| g.xpending()),
    (6, |g| g.xclaim()),
    (5, |g| g.xautoclaim()),
    (4, |g| g.xinfo()),
    (3, |g| g.xsetid()),
    (5, |g| g.generic()),
    (1, |g| g.flush()),
    (3, |g| g.dump()),
    (4, |g| g.restore()),
    (5, |g| g.other_types()),
    (6, |g| g.random_command()),
];

/// Appends the DUMP trailer (version and CRC64) to a body.
fn seal(mut body: Vec<u8>) -> Bytes {
    body.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    Bytes::from(body)
}

/// Escaped rendering of a command for failure reports.
fn render(args: &[Bytes], ctx: &Ctx) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| format!("\"{}\"", a.escape_ascii()))
        .collect();
    format!(
        "[now_ms={} node={}] {}",
        ctx.now_ms,
        ctx.node_max_entries,
        parts.join(" ")
    )
}

// ---------------------------------------------------------------- checks

/// A copy of the state built through the loading API (the `Db` is not `Clone`).
fn copy_db(db: &Db) -> Db {
    let mut copy = Db::new();
    for (k, v) in db.iter() {
        copy.load(k.clone(), v.clone());
    }
    copy.dirty = db.dirty;
    copy.clear_tracking();
    copy
}

fn contents(db: &Db) -> BTreeMap<&Bytes, &Value> {
    db.iter().collect()
}

fn check_same_state(a: &Db, b: &Db, what: &str) -> Result<(), String> {
    if a.dirty != b.dirty {
        return Err(format!("{what}: dirty {} != {}", a.dirty, b.dirty));
    }
    let (ca, cb) = (contents(a), contents(b));
    if ca != cb {
        let keys: HashSet<&Bytes> = ca.keys().chain(cb.keys()).copied().collect();
        let differ: Vec<String> = keys
            .into_iter()
            .filter(|k| ca.get(k) != cb.get(k))
            .map(|k| format!("{}", k.escape_ascii()))
            .collect();
        return Err(format!("{what}: states differ at keys {differ:?}"));
    }
    Ok(())
}

fn check_invariants(db: &Db, what: &str) -> Result<(), String> {
    for (k, v) in db.iter() {
        if let Value::Stream(s) = v {
            s.check_invariants()
                .map_err(|e| format!("{what}: stream {}: {e}", k.escape_ascii()))?;
        }
    }
    Ok(())
}

/// Both encodings decode back into exactly one frame equal to what a client should see.
fn check_encoding(reply: &Reply) -> Result<(), String> {
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let bytes = reply.to_bytes(proto);
        let mut again = Vec::new();
        reply.encode(proto, &mut again);
        if again != bytes {
            return Err(format!("{proto:?}: encode and to_bytes differ"));
        }
        match parse_frame(&bytes) {
            Ok(Some((frame, used))) if used == bytes.len() => {
                let want = Frame::from_reply(reply, proto);
                if frame != want {
                    return Err(format!(
                        "{proto:?}: {} decodes to {frame:?}, expected {want:?}",
                        bytes.escape_ascii()
                    ));
                }
            }
            other => {
                return Err(format!(
                    "{proto:?}: {} is not one frame: {other:?}",
                    bytes.escape_ascii()
                ))
            }
        }
    }
    Ok(())
}

fn changed_keys(changes: &[Change]) -> (bool, HashSet<Bytes>) {
    let mut flush = false;
    let mut keys = HashSet::new();
    for c in changes {
        match c {
            Change::FlushAll => flush = true,
            Change::Key(k) | Change::Stream(k, _) => {
                keys.insert(k.clone());
            }
        }
    }
    (flush, keys)
}

/// What applying an op did, as checked.
struct Applied {
    reply: Reply,
    ready: Vec<Bytes>,
}

/// Applies `op` to `db` and to a copy of the pre-state, checking determinism, change
/// tracking, DUMP round trips and the invariants; then applies it to the copy once more.
fn apply_checked(db: &mut Db, op: &Op) -> Result<Applied, String> {
    let mut twin = copy_db(db);
    let reply = apply(db, op);
    let changes = db.take_changes();
    let ready = db.take_ready();
    check_invariants(db, "after apply")?;
    check_encoding(&reply)?;
    if reply.is_error() {
        check_same_state(db, &twin, "an error reply changed the state")?;
    }

    // Change tracking: every key whose value changed is reported.
    let (flushed, keys) = changed_keys(&changes);
    if !flushed {
        let after = contents(db);
        let before = contents(&twin);
        for k in after.keys().chain(before.keys()) {
            if after.get(k) != before.get(k) && !keys.contains(*k) {
                return Err(format!(
                    "key {} changed but take_changes did not report it (changes: {changes:?})",
                    k.escape_ascii()
                ));
            }
        }
    }
    // What storage would persist round-trips through the DUMP encoding.
    for k in &keys {
        if let Some(v) = db.get(k) {
            match decode_value(&encode_value(v)) {
                Ok(back) if back == *v => {}
                other => {
                    return Err(format!(
                        "key {}: DUMP round trip gives {other:?}",
                        k.escape_ascii()
                    ))
                }
            }
        }
    }

    // Determinism: the same op on a copy of the pre-state.
    let twin_reply = apply(&mut twin, op);
    let twin_changes = twin.take_changes();
    let twin_ready = twin.take_ready();
    if twin_reply != reply {
        return Err(format!(
            "replies differ on a copy: {reply:?} vs {twin_reply:?}"
        ));
    }
    check_same_state(db, &twin, "the copy diverged")?;
    let set = |c: &[Change]| c.iter().cloned().collect::<HashSet<_>>();
    if set(&changes) != set(&twin_changes) {
        return Err(format!(
            "changes differ on a copy: {changes:?} vs {twin_changes:?}"
        ));
    }
    let set = |r: &[Bytes]| r.iter().cloned().collect::<HashSet<_>>();
    if set(&ready) != set(&twin_ready) {
        return Err(format!(
            "ready keys differ on a copy: {ready:?} vs {twin_ready:?}"
        ));
    }

    // The same op once more (a duplicated log entry): no panic, invariants hold.
    let before_again = copy_db(&twin);
    let again = apply(&mut twin, op);
    twin.take_changes();
    twin.take_ready();
    check_encoding(&again)?;
    check_invariants(&twin, "after applying the op twice")?;
    if again.is_error() {
        check_same_state(
            &twin,
            &before_again,
            "an error on the second apply changed the state",
        )?;
    }
    Ok(Applied { reply, ready })
}

/// An op applied to a state it was not prepared against (a stale prepare): no panic,
/// invariants hold, an error changes nothing.
fn apply_stale(db: &Db, op: &Op) -> Result<(), String> {
    let mut twin = copy_db(db);
    let before = copy_db(db);
    let reply = apply(&mut twin, op);
    twin.take_changes();
    twin.take_ready();
    check_encoding(&reply)?;
    check_invariants(&twin, "after a stale op")?;
    if reply.is_error() {
        check_same_state(&twin, &before, "an error from a stale op changed the state")?;
    }
    Ok(())
}

/// One fuzz case's running state.
struct Case {
    db: Db,
    now_ms: u64,
    node_max_entries: u64,
    history: Vec<String>,
    /// Recent DUMP payloads (RESTORE material).
    dumps: Vec<Bytes>,
    /// Blocked commands, pinned, with what they wait on.
    blocked: Vec<(Command, Block)>,
    /// Recent ops, re-applied later as stale ops.
    old_ops: Vec<Op>,
    /// How often each command ended how (for checking the grammar's reach).
    outcomes: BTreeMap<String, u64>,
}

const MAX_BLOCKED: usize = 4;
const MAX_DUMPS: usize = 8;
const MAX_OLD_OPS: usize = 8;

impl Case {
    fn new(seed: u64) -> Case {
        let mut rng = Rng(seed);
        let now_ms = match rng.below(10) {
            0 => 0,
            1 => u64::MAX - rng.below(3),
            2 => 1_700_000_000_000,
            _ => 1_000 + rng.below(1_000),
        };
        Case {
            db: Db::new(),
            now_ms,
            node_max_entries: *rng.pick(&[0, 1, 2, 10, 100]),
            history: Vec::new(),
            dumps: Vec::new(),
            blocked: Vec::new(),
            old_ops: Vec::new(),
            outcomes: BTreeMap::new(),
        }
    }

    /// The clock for the next command: mostly forward, sometimes backwards or jumping.
    fn tick(&mut self, rng: &mut Rng) -> Ctx {
        self.now_ms = match rng.below(100) {
            0..=69 => self.now_ms.saturating_add(rng.below(5)),
            70..=84 => self.now_ms.saturating_add(rng.below(1_000)),
            85..=96 => self.now_ms.saturating_sub(rng.below(2_000)),
            97 => u64::MAX - rng.below(2),
            98 => rng.below(100),
            _ => 1_000 + rng.below(1_000),
        };
        let node_max_entries = if rng.chance(10) {
            *rng.pick(&[0, 1, 2, 10, 100])
        } else {
            self.node_max_entries
        };
        Ctx {
            now_ms: self.now_ms,
            node_max_entries,
        }
    }

    fn step(&mut self, seed: u64) -> Result<(), String> {
        let mut rng = Rng(seed);
        let ctx = self.tick(&mut rng);
        let args = Gen {
            rng: Rng(rng.next()),
            db: &self.db,
            now_ms: ctx.now_ms,
            dumps: &self.dumps,
            clean: rng.chance(70),
        }
        .command();
        self.history.push(render(&args, &ctx));
        self.run(&args, &ctx, &mut rng)
    }

    fn run(&mut self, args: &[Bytes], ctx: &Ctx, rng: &mut Rng) -> Result<(), String> {
        let parsed = parse(args);
        let name = args
            .first()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        let owned = ENGINE_COMMANDS.iter().any(|c| c.as_bytes() == name);
        let cmd = match parsed {
            None if owned => return Err("an engine command was not parsed".into()),
            None => return Ok(()),
            Some(_) if !owned => return Err("parse claimed a command it does not own".into()),
            Some(Err(reply)) => {
                *self
                    .outcomes
                    .entry(format!("{} (parse error)", String::from_utf8_lossy(&name)))
                    .or_default() += 1;
                if !reply.is_error() {
                    return Err(format!("parse failed with a non-error {reply:?}"));
                }
                return check_encoding(&reply);
            }
            Some(Ok(cmd)) => cmd,
        };

        let (reply, ready) = self.prepare_and_apply(&cmd, ctx)?;
        let outcome = match &reply {
            Reply::Error(e) => {
                let text = String::from_utf8_lossy(e);
                text.split('\'').next().unwrap_or_default().to_string()
            }
            _ => "ok".to_string(),
        };
        *self
            .outcomes
            .entry(format!("{} {outcome}", String::from_utf8_lossy(&name)))
            .or_default() += 1;
        if let Reply::Bulk(payload) = &reply {
            if name == b"dump" {
                if self.dumps.len() == MAX_DUMPS {
                    self.dumps.remove(0);
                }
                self.dumps.push(payload.clone());
            }
        }
        if let Some(block) = cmd.block() {
            if matches!(reply, Reply::NullArray | Reply::Null) {
                let mut pinned = cmd.clone();
                pinned.pin_for_block(&self.db);
                if self.blocked.len() == MAX_BLOCKED {
                    self.blocked.remove(0);
                }
                self.blocked.push((pinned, block));
            }
        }
        if !ready.is_empty() {
            self.wake(&ready, ctx)?;
        }
        // Timeouts of blocked clients.
        if !self.blocked.is_empty() && rng.chance(5) {
            let i = rng.index(self.blocked.len());
            self.blocked.remove(i);
        }
        // A stale op now and then.
        if !self.old_ops.is_empty() && rng.chance(8) {
            let op = &self.old_ops[rng.index(self.old_ops.len())];
            apply_stale(&self.db, op)?;
            *self.outcomes.entry("(stale op)".into()).or_default() += 1;
        }
        check_invariants(&self.db, "after the command")
    }

    fn prepare_and_apply(
        &mut self,
        cmd: &Command,
        ctx: &Ctx,
    ) -> Result<(Reply, Vec<Bytes>), String> {
        match cmd.prepare(&self.db, ctx) {
            Prepared::Reply(reply) => {
                check_encoding(&reply)?;
                Ok((reply, Vec::new()))
            }
            Prepared::Write(op) => {
                let applied = apply_checked(&mut self.db, &op)?;
                if self.old_ops.len() == MAX_OLD_OPS {
                    self.old_ops.remove(0);
                }
                self.old_ops.push(op);
                Ok((applied.reply, applied.ready))
            }
        }
    }

    /// Re-runs blocked commands whose keys became ready, as the server does; those served
    /// (a non-null reply) are unblocked. Rounds are bounded (a wake-up can signal more keys).
    fn wake(&mut self, ready: &[Bytes], ctx: &Ctx) -> Result<(), String> {
        let mut ready: Vec<Bytes> = ready.to_vec();
        for _round in 0..4 {
            let mut next = Vec::new();
            let mut i = 0;
            while i < self.blocked.len() {
                let hit = self.blocked[i].1.keys.iter().any(|k| ready.contains(k));
                if !hit {
                    i += 1;
                    continue;
                }
                let cmd = self.blocked[i].0.clone();
                *self.outcomes.entry("(wake-up re-run)".into()).or_default() += 1;
                self.history.push(format!("  (wake-up re-run of {cmd:?})"));
                let (reply, more) = self.prepare_and_apply(&cmd, ctx)?;
                next.extend(more);
                if matches!(reply, Reply::NullArray | Reply::Null) {
                    i += 1;
                } else {
                    self.blocked.remove(i);
                }
            }
            if next.is_empty() {
                break;
            }
            ready = next;
        }
        Ok(())
    }

    fn report(&self, what: &str) -> String {
        let shown = self.history.len().saturating_sub(400);
        format!(
            "{what}\nafter these commands ({} earlier ones not shown):\n{}",
            shown,
            self.history[shown..].join("\n")
        )
    }
}

/// Creates keys of the other types so that WRONGTYPE paths are exercised from the start.
fn preamble(case: &mut Case) -> Result<(), String> {
    let ctx = Ctx {
        now_ms: case.now_ms,
        node_max_entries: case.node_max_entries,
    };
    let mut rng = Rng(0);
    for line in ["SET str v", "RPUSH lst a b", "SADD set m n"] {
        let args: Vec<Bytes> = line.split(' ').map(b).collect();
        case.history.push(render(&args, &ctx));
        case.run(&args, &ctx, &mut rng)?;
    }
    Ok(())
}

fn run_case(case_seed: u64, seeds: &[u64]) -> Result<(), String> {
    let mut case = Case::new(case_seed);
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        preamble(&mut case)?;
        for seed in seeds {
            case.step(*seed)?;
        }
        Ok(())
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(case.report(&e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(case.report(&format!("PANIC: {msg}")))
        }
    }
}

fn cases() -> u32 {
    if let Some(n) = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if cfg!(debug_assertions) {
        200
    } else {
        2000
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_command_sequences_keep_the_engine_sound(
        case_seed in any::<u64>(),
        seeds in proptest::collection::vec(any::<u64>(), 50..200),
    ) {
        if let Err(e) = run_case(case_seed, &seeds) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Every owned command name is claimed by `parse`, bare (arity errors) and with junk.
#[test]
fn every_engine_command_parses_without_panicking() {
    let mut db = Db::new();
    let junk: Vec<Bytes> = ["", "\0", "-", "*", "$", ">", "1-1", "COUNT", "-1", "x"]
        .into_iter()
        .map(b)
        .collect();
    for name in ENGINE_COMMANDS {
        for n in 0..=junk.len() {
            let mut args = vec![b(name.to_ascii_uppercase())];
            args.extend(junk.iter().take(n).cloned());
            let parsed = parse(&args);
            let Some(parsed) = parsed else {
                panic!("{name} is not parsed by the engine");
            };
            match parsed {
                Err(reply) => {
                    assert!(reply.is_error(), "{name}: {reply:?}");
                    check_encoding(&reply).expect("encodes");
                }
                Ok(cmd) => {
                    let ctx = Ctx::default();
                    match cmd.prepare(&db, &ctx) {
                        Prepared::Reply(r) => check_encoding(&r).expect("encodes"),
                        Prepared::Write(op) => {
                            apply_checked(&mut db, &op).expect("sound apply");
                        }
                    }
                }
            }
        }
    }
    assert!(parse(&[b("NOSUCHCOMMAND")]).is_none());
    assert!(parse(&[]).is_none());
}

/// The grammar reaches deep states: groups with PELs, deleted entries, several nodes.
/// (Guards against a generator that silently stops producing meaningful commands.)
#[test]
fn the_grammar_builds_up_state() {
    let mut pel_seen = 0;
    let mut multi_node_seen = 0;
    let mut deleted_seen = 0;
    let mut ok_writes = 0usize;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for case_seed in 0..20u64 {
        let mut case = Case::new(case_seed);
        preamble(&mut case).expect("preamble");
        for i in 0..200u64 {
            let before = case.db.dirty;
            case.step(case_seed * 1_000 + i)
                .unwrap_or_else(|e| panic!("{}", case.report(&e)));
            if case.db.dirty > before {
                ok_writes += 1;
            }
        }
        for (k, n) in &case.outcomes {
            *outcomes.entry(k.clone()).or_default() += n;
        }
        for (_, v) in case.db.iter() {
            if let Value::Stream(s) = v {
                if s.groups().values().any(|g| !g.pel().is_empty()) {
                    pel_seen += 1;
                }
                if s.nodes().len() > 1 {
                    multi_node_seen += 1;
                }
                if s.entries_added() > s.len() {
                    deleted_seen += 1;
                }
            }
        }
    }
    for (k, n) in &outcomes {
        eprintln!("{n:6} {k}");
    }
    eprintln!(
        "writes that changed something: {ok_writes}; streams with a PEL: {pel_seen}, \
         several nodes: {multi_node_seen}, deleted entries: {deleted_seen}"
    );
    assert!(ok_writes > 20 * 20, "only {ok_writes} successful writes");
    for what in [
        "(wake-up re-run)",
        "(stale op)",
        "xreadgroup ok",
        "xclaim ok",
        "restore ok",
    ] {
        assert!(
            outcomes.get(what).copied().unwrap_or(0) >= 5,
            "too few {what}"
        );
    }
    assert!(pel_seen >= 5, "streams with a PEL: {pel_seen}");
    assert!(
        multi_node_seen >= 5,
        "streams with several nodes: {multi_node_seen}"
    );
    assert!(
        deleted_seen >= 5,
        "streams with deleted entries: {deleted_seen}"
    );
}
