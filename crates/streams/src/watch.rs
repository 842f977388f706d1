//! WATCH over a cluster: optimistic-concurrency tokens kept by a shard's leader.
//!
//! A single-node server tracks WATCHed keys in its executor. Through the proxy the keys live
//! on a shard whose leader sees every write, so the leader keeps a version per key it has
//! seen modified ([`Versions`]). `WATCH k` asks the leader for a token ([`WATCH_TOKEN`]);
//! EXEC sends its commands behind a check ([`CHECK_WATCH`]) in the same job, so the check
//! and the transaction are one step on the leader: if any key's token no longer matches,
//! none of the transaction runs and EXEC answers a null array, as in Redis.
//!
//! A token names the leadership that issued it (the owner's `epoch`), so a token from an
//! earlier leader, term or working copy never matches: after a failover EXEC may abort
//! although nothing changed (Redis clients retry a nil EXEC), but it never runs on a key
//! that did change. The two internal command names are not in the command table: clients
//! cannot send them.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use resp::Reply;

use crate::db::Change;

/// `XRAFT.WATCHTOKEN key [key ...]` → one token (bulk string) per key.
pub const WATCH_TOKEN: &[u8] = b"xraft.watchtoken";
/// `XRAFT.CHECKWATCH key token [key token ...]` first in a job: the job's other commands
/// run only if every token still matches (reply `+OK`); otherwise the job's only reply is
/// a null array.
pub const CHECK_WATCH: &[u8] = b"xraft.checkwatch";

/// Keys tracked before the table is reset (every token then stops matching: EXECs abort).
pub const MAX_TRACKED_KEYS: usize = 1 << 20;

/// True when `args` is the internal command `name` (ASCII case-insensitive).
pub fn is_command(args: &[Bytes], name: &[u8]) -> bool {
    args.first().is_some_and(|a| a.eq_ignore_ascii_case(name))
}

/// The keys of an internal WATCH command, `None` for any other command.
pub fn internal_keys(args: &[Bytes]) -> Option<Vec<Bytes>> {
    if is_command(args, WATCH_TOKEN) {
        Some(args[1..].to_vec())
    } else if is_command(args, CHECK_WATCH) {
        Some(args[1..].iter().step_by(2).cloned().collect())
    } else {
        None
    }
}

/// Per-key modification versions seen by one leadership's working copy.
///
/// FLUSHALL touches, as in Redis, only the watched keys that exist when it runs: the
/// leader calls [`Versions::flushing`] just before it applies the flush (the keys still
/// exist then), which moves the version of every key a token was issued for and that
/// exists; the `FlushAll` change [`Versions::record`] sees next is then accounted for.
#[derive(Debug, Clone)]
pub struct Versions {
    epoch: Bytes,
    generation: u64,
    seq: u64,
    keys: HashMap<Bytes, u64>,
    /// Keys a token was issued for (only their versions matter at a FLUSHALL).
    watched: HashSet<Bytes>,
    /// FLUSHALLs announced by [`Versions::flushing`] and not yet recorded.
    flushes_announced: usize,
}

impl Versions {
    /// `epoch` must differ for every leadership (and every rebuilt working copy) of a shard.
    pub fn new(epoch: impl Into<Bytes>) -> Versions {
        Versions {
            epoch: epoch.into(),
            generation: 0,
            seq: 0,
            keys: HashMap::new(),
            watched: HashSet::new(),
            flushes_announced: 0,
        }
    }

    /// Called just before a FLUSHALL is applied, with the keyspace as it still is: every
    /// watched key that exists is modified by it. Without this call a recorded FLUSHALL
    /// invalidates every token (safe, but aborts EXECs whose keys did not exist).
    pub fn flushing(&mut self, exists: impl Fn(&[u8]) -> bool) {
        let touched: Vec<Bytes> = self.watched.iter().filter(|k| exists(k)).cloned().collect();
        for k in touched {
            self.bump(&k);
        }
        self.flushes_announced += 1;
    }

    /// Records what a command changed (the working copy's `take_changes`).
    pub fn record(&mut self, changes: &[Change]) {
        for c in changes {
            let key = match c {
                Change::FlushAll => {
                    if self.flushes_announced > 0 {
                        // `flushing` moved the keys it touched.
                        self.flushes_announced -= 1;
                    } else {
                        // Not announced: which keys existed is unknown, so none may match.
                        self.reset();
                    }
                    continue;
                }
                Change::Key(k) | Change::Stream(k, _) => k,
            };
            self.bump(key);
        }
    }

    fn bump(&mut self, key: &Bytes) {
        self.seq += 1;
        if let Some(v) = self.keys.get_mut(key) {
            *v = self.seq;
        } else {
            if self.keys.len() >= MAX_TRACKED_KEYS {
                self.reset();
            }
            self.keys.insert(key.clone(), self.seq);
        }
    }

    fn reset(&mut self) {
        self.keys.clear();
        self.watched.clear();
        self.generation += 1;
    }

    /// The token of `key` now.
    pub fn token(&self, key: &[u8]) -> Bytes {
        let v = self.keys.get(key).copied().unwrap_or(0);
        let mut t = self.epoch.to_vec();
        t.extend_from_slice(format!(":{}:{v}", self.generation).as_bytes());
        Bytes::from(t)
    }

    /// `XRAFT.WATCHTOKEN`'s reply (the keys are watched from now on).
    pub fn tokens_reply(&mut self, args: &[Bytes]) -> Reply {
        if self.watched.len() + args.len() > MAX_TRACKED_KEYS {
            self.reset();
        }
        self.watched.extend(args[1..].iter().cloned());
        Reply::Array(
            args[1..]
                .iter()
                .map(|k| Reply::Bulk(self.token(k)))
                .collect(),
        )
    }

    /// `XRAFT.CHECKWATCH`: true when every token still matches.
    pub fn check(&self, args: &[Bytes]) -> bool {
        let pairs = &args[1..];
        pairs.len().is_multiple_of(2) && pairs.chunks(2).all(|p| self.token(&p[0]) == p[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamChange;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_string())
    }

    fn check(v: &Versions, key: &str, token: Bytes) -> bool {
        v.check(&[b("XRAFT.CHECKWATCH"), b(key), token])
    }

    #[test]
    fn a_change_to_the_key_invalidates_its_token_only() {
        let mut v = Versions::new("1-5-0");
        let ta = v.token(b"a");
        let tb = v.token(b"b");
        assert!(check(&v, "a", ta.clone()));
        v.record(&[Change::Stream(b("a"), StreamChange::Meta)]);
        assert!(!check(&v, "a", ta));
        assert!(check(&v, "b", tb));
        let ta = v.token(b"a");
        v.record(&[Change::Key(b("b"))]);
        assert!(check(&v, "a", ta));
    }

    #[test]
    fn created_then_deleted_still_counts_as_modified() {
        let mut v = Versions::new("e");
        let t = v.token(b"k");
        v.record(&[Change::Key(b("k"))]);
        v.record(&[Change::Key(b("k"))]);
        assert!(!check(&v, "k", t));
    }

    #[test]
    fn flushall_and_other_epochs_never_match() {
        let mut v = Versions::new("e1");
        let t = v.token(b"k");
        v.record(&[Change::FlushAll]);
        assert!(!check(&v, "k", t));
        let other = Versions::new("e2");
        assert!(!check(&other, "k", Versions::new("e1").token(b"k")));
    }

    #[test]
    fn an_announced_flushall_touches_only_watched_keys_that_exist() {
        let mut v = Versions::new("e");
        let tokens = v.tokens_reply(&[b("XRAFT.WATCHTOKEN"), b("present"), b("missing")]);
        let Reply::Array(t) = tokens else {
            panic!("an array")
        };
        let [Reply::Bulk(t_present), Reply::Bulk(t_missing)] = &t[..] else {
            panic!("two tokens")
        };
        v.flushing(|k| k == b"present");
        v.record(&[Change::FlushAll]);
        assert!(!check(&v, "present", t_present.clone()));
        assert!(check(&v, "missing", t_missing.clone()));
        unannounced_flush_resets(&mut v, t_missing.clone());
    }

    /// A FLUSHALL nobody announced (the default for a caller that cannot tell which keys
    /// existed) invalidates every token.
    fn unannounced_flush_resets(v: &mut Versions, token: Bytes) {
        v.record(&[Change::FlushAll]);
        assert!(!check(v, "missing", token));
    }

    #[test]
    fn malformed_checks_fail_and_internal_keys_are_found() {
        let v = Versions::new("e");
        assert!(!v.check(&[b("XRAFT.CHECKWATCH"), b("k")]));
        assert!(v.check(&[b("XRAFT.CHECKWATCH")]));
        assert_eq!(
            internal_keys(&[b("XRAFT.CHECKWATCH"), b("a"), b("t"), b("c"), b("u")]),
            Some(vec![b("a"), b("c")])
        );
        assert_eq!(
            internal_keys(&[b("xraft.watchtoken"), b("a"), b("b")]),
            Some(vec![b("a"), b("b")])
        );
        assert_eq!(internal_keys(&[b("XADD"), b("a")]), None);
    }
}
