//! The blocked-client registry of the executor: which clients wait on which keys (FIFO per
//! key), their deadlines, and the counters INFO reports.
//!
//! A blocked client holds its parsed command. When one of its keys is signalled ready, the
//! executor re-runs the whole command; if it still cannot serve, the client keeps its place
//! and its ORIGINAL deadline.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

/// The type a blocked command waits for (Redis's `btype`): a re-run happens only when the key
/// holds a value of this type, or for `unblock_on_nokey` commands on any change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitType {
    Stream,
    List,
}

impl WaitType {
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            WaitType::Stream => "stream",
            WaitType::List => "list",
        }
    }
}

/// One blocked client; `C` is the command to re-run (`streams::Command` in the server).
#[derive(Debug)]
pub(crate) struct Blocked<C> {
    pub cmd: C,
    pub stat_name: &'static str,
    /// Distinct keys, in the order the command names them.
    pub keys: Vec<Bytes>,
    pub deadline: Option<Instant>,
    pub wait_type: WaitType,
    /// XREADGROUP: also released when the key is deleted or changes type.
    pub unblock_on_nokey: bool,
    /// When the command first ran (for commandstats usec).
    pub started: Instant,
}

/// Why a client could not be blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyBlocked;

#[derive(Debug)]
pub(crate) struct BlockRegistry<C> {
    by_client: HashMap<u64, Blocked<C>>,
    by_key: HashMap<Bytes, KeyWaiters>,
    deadlines: BTreeSet<(Instant, u64)>,
    /// Keys with at least one `unblock_on_nokey` waiter.
    keys_on_nokey: usize,
    max_blocked_per_key: usize,
}

#[derive(Debug, Default)]
struct KeyWaiters {
    clients: VecDeque<u64>,
    on_nokey: usize,
}

impl<C> BlockRegistry<C> {
    pub(crate) fn new(max_blocked_per_key: usize) -> BlockRegistry<C> {
        BlockRegistry {
            by_client: HashMap::new(),
            by_key: HashMap::new(),
            deadlines: BTreeSet::new(),
            keys_on_nokey: 0,
            max_blocked_per_key,
        }
    }

    /// Registers `client` on each of `blocked.keys` (at the tail: FIFO).
    pub(crate) fn block(
        &mut self,
        client: u64,
        mut blocked: Blocked<C>,
    ) -> Result<(), TooManyBlocked> {
        let mut distinct: Vec<Bytes> = Vec::with_capacity(blocked.keys.len());
        for k in blocked.keys.drain(..) {
            if !distinct.contains(&k) {
                distinct.push(k);
            }
        }
        blocked.keys = distinct;
        let full = blocked.keys.iter().any(|k| {
            self.by_key
                .get(k)
                .is_some_and(|w| w.clients.len() >= self.max_blocked_per_key)
        });
        if full || self.by_client.contains_key(&client) {
            return Err(TooManyBlocked);
        }
        for k in &blocked.keys {
            let w = self.by_key.entry(k.clone()).or_default();
            w.clients.push_back(client);
            if blocked.unblock_on_nokey {
                w.on_nokey += 1;
                if w.on_nokey == 1 {
                    self.keys_on_nokey += 1;
                }
            }
        }
        if let Some(d) = blocked.deadline {
            self.deadlines.insert((d, client));
        }
        self.by_client.insert(client, blocked);
        Ok(())
    }

    /// Removes `client` from every key; returns its state if it was blocked.
    pub(crate) fn unblock(&mut self, client: u64) -> Option<Blocked<C>> {
        let blocked = self.by_client.remove(&client)?;
        for k in &blocked.keys {
            let Some(w) = self.by_key.get_mut(k) else {
                continue;
            };
            if let Some(pos) = w.clients.iter().position(|c| *c == client) {
                w.clients.remove(pos);
            }
            if blocked.unblock_on_nokey {
                w.on_nokey = w.on_nokey.saturating_sub(1);
                if w.on_nokey == 0 {
                    self.keys_on_nokey = self.keys_on_nokey.saturating_sub(1);
                }
            }
            if w.clients.is_empty() {
                self.by_key.remove(k);
            }
        }
        if let Some(d) = blocked.deadline {
            self.deadlines.remove(&(d, client));
        }
        Some(blocked)
    }

    pub(crate) fn get(&self, client: u64) -> Option<&Blocked<C>> {
        self.by_client.get(&client)
    }

    pub(crate) fn is_blocked(&self, client: u64) -> bool {
        self.by_client.contains_key(&client)
    }

    /// The clients waiting on `key`, in blocking order (a snapshot).
    pub(crate) fn waiters(&self, key: &[u8]) -> Vec<u64> {
        self.by_key
            .get(key)
            .map(|w| w.clients.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn has_waiters(&self) -> bool {
        !self.by_key.is_empty()
    }

    /// The earliest deadline of any blocked client.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Clients whose deadline is `<= now`, earliest first (they stay registered).
    pub(crate) fn expired(&self, now: Instant) -> Vec<u64> {
        self.deadlines
            .iter()
            .take_while(|(d, _)| *d <= now)
            .map(|(_, c)| *c)
            .collect()
    }

    pub(crate) fn blocked_clients(&self) -> usize {
        self.by_client.len()
    }

    pub(crate) fn total_blocking_keys(&self) -> usize {
        self.by_key.len()
    }

    pub(crate) fn total_blocking_keys_on_nokey(&self) -> usize {
        self.keys_on_nokey
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn blocked(keys: &[&str], deadline: Option<Instant>, nokey: bool) -> Blocked<()> {
        Blocked {
            cmd: (),
            stat_name: "xread",
            keys: keys
                .iter()
                .map(|k| Bytes::copy_from_slice(k.as_bytes()))
                .collect(),
            deadline,
            wait_type: WaitType::Stream,
            unblock_on_nokey: nokey,
            started: Instant::now(),
        }
    }

    #[test]
    fn fifo_per_key_and_counters() {
        let mut r: BlockRegistry<()> = BlockRegistry::new(10);
        r.block(1, blocked(&["a", "b"], None, false)).unwrap();
        r.block(2, blocked(&["a"], None, true)).unwrap();
        r.block(3, blocked(&["b", "b"], None, true)).unwrap();
        assert_eq!(r.waiters(b"a"), vec![1, 2]);
        assert_eq!(r.waiters(b"b"), vec![1, 3]);
        assert_eq!(r.blocked_clients(), 3);
        assert_eq!(r.total_blocking_keys(), 2);
        assert_eq!(r.total_blocking_keys_on_nokey(), 2);
        assert!(r.unblock(2).is_some());
        assert_eq!(r.total_blocking_keys_on_nokey(), 1);
        assert!(r.unblock(1).is_some());
        assert_eq!(r.waiters(b"a"), Vec::<u64>::new());
        assert_eq!(r.total_blocking_keys(), 1);
        assert!(r.unblock(1).is_none());
        assert!(r.unblock(3).is_some());
        assert_eq!(r.total_blocking_keys(), 0);
        assert_eq!(r.total_blocking_keys_on_nokey(), 0);
        assert!(!r.has_waiters());
    }

    #[test]
    fn deadlines_in_order_and_limit_per_key() {
        let now = Instant::now();
        let mut r: BlockRegistry<()> = BlockRegistry::new(2);
        r.block(
            7,
            blocked(&["k"], Some(now + Duration::from_millis(50)), false),
        )
        .unwrap();
        r.block(
            8,
            blocked(&["k"], Some(now + Duration::from_millis(10)), false),
        )
        .unwrap();
        assert_eq!(
            r.block(9, blocked(&["k"], None, false)),
            Err(TooManyBlocked)
        );
        assert_eq!(r.next_deadline(), Some(now + Duration::from_millis(10)));
        assert_eq!(r.expired(now + Duration::from_millis(20)), vec![8]);
        assert_eq!(r.expired(now + Duration::from_millis(60)), vec![8, 7]);
        r.unblock(8);
        assert_eq!(r.next_deadline(), Some(now + Duration::from_millis(50)));
    }
}
