//! Helpers shared by the storage tests: a tiny deterministic RNG, a random mutator of a
//! [`Db`] that goes through the model's own mutation API (so it exercises every kind of
//! change address without depending on the command layer), and a Db comparison.
#![allow(dead_code)]

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use storage::{Store, StoreOptions};
use streams::{Db, Nack, StreamId, Value};

/// xorshift64*: deterministic, seedable, good enough for choosing test operations.
#[derive(Debug, Clone)]
pub struct Xorshift(u64);

impl Xorshift {
    pub fn new(seed: u64) -> Xorshift {
        Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub const KEYS: [&str; 4] = ["s0", "s1", "s2", "k0"];
pub const GROUPS: [&str; 2] = ["g0", "g1"];
pub const CONSUMERS: [&str; 3] = ["c0", "c1", "c2"];

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Options for tests: no fsync (the tests check logic, not the disk cache).
pub fn test_opts() -> StoreOptions {
    StoreOptions {
        cache_capacity_bytes: 8 * 1024 * 1024,
        fsync: false,
    }
}

/// A field big enough that sled writes its item to a blob file (past a quarter segment).
pub const BIG_FIELD_BYTES: usize = storage::SEGMENT_SIZE / 4 + 64 * 1024;

/// Applies one random mutation. `big_field_percent` is the chance that an appended entry
/// carries a [`BIG_FIELD_BYTES`] value (sled blob files).
pub fn mutate(db: &mut Db, rng: &mut Xorshift, now_ms: u64, big_field_percent: u64) {
    let key = b(rng.pick(&KEYS));
    let g = b(rng.pick(&GROUPS));
    let c = b(rng.pick(&CONSUMERS));
    let op = rng.below(100);
    match op {
        // whole-key operations
        0..=2 => {
            db.remove(&key);
        }
        3 => {
            let v = match rng.below(3) {
                0 => Value::String(Bytes::from(format!("v{}", rng.next()))),
                1 => Value::List(
                    (0..rng.below(4))
                        .map(|i| Bytes::from(format!("l{i}")))
                        .collect::<VecDeque<_>>(),
                ),
                _ => Value::Set(
                    (0..rng.below(4))
                        .map(|i| Bytes::from(format!("m{i}")))
                        .collect::<BTreeSet<_>>(),
                ),
            };
            db.set(key, v);
        }
        4 => {
            // RENAME key -> other
            let to = b(rng.pick(&KEYS));
            if let Some(v) = db.remove(&key) {
                db.remove(&to);
                db.set(to, v);
            }
        }
        5 if rng.chance(30) => db.flush_all(),
        6 => {
            if let Some(Value::List(_)) = db.get(&key) {
                if let Some(Value::List(l)) = db.value_mut(&key) {
                    l.push_back(Bytes::from_static(b"pushed"));
                }
            }
        }
        // stream operations
        _ => {
            let Ok(s) = db.stream_or_create(&key) else {
                return;
            };
            match op {
                7..=39 => {
                    let last = s.last_id();
                    let id = if rng.chance(50) {
                        StreamId::new(last.ms.max(now_ms), 0).max(last.next().unwrap_or(last))
                    } else {
                        match last.next() {
                            Some(id) => id,
                            None => return,
                        }
                    };
                    if id <= last {
                        return;
                    }
                    let mut fields = vec![b("f"), Bytes::from(format!("{}", rng.next()))];
                    if rng.chance(big_field_percent) {
                        fields.push(b("big"));
                        fields.push(Bytes::from(vec![b'x'; BIG_FIELD_BYTES]));
                    }
                    s.append(id, fields, 1 + rng.below(4));
                }
                40..=47 => {
                    let ids: Vec<StreamId> = s.entries().keys().copied().collect();
                    if !ids.is_empty() {
                        let id = rng.pick(&ids);
                        s.remove_entry(&id);
                        if id > s.max_deleted_id() {
                            s.set_max_deleted_id(id);
                        }
                    }
                }
                48..=50 => {
                    if let Some(m) = s.nodes().keys().next().copied() {
                        s.remove_node(&m);
                    }
                }
                51..=55 => {
                    let last = s.last_id();
                    s.create_group(g, last, Some(s.entries_added()));
                }
                56..=57 => {
                    s.destroy_group(&g);
                }
                58..=61 => {
                    let ids: Vec<StreamId> = s.entries().keys().copied().collect();
                    if !ids.is_empty() {
                        let id = rng.pick(&ids);
                        s.set_group_position(
                            &g,
                            id,
                            if rng.chance(50) {
                                None
                            } else {
                                Some(rng.below(10))
                            },
                        );
                    }
                }
                62..=66 => {
                    s.create_consumer(&g, c, now_ms);
                }
                67..=68 => {
                    s.delete_consumer(&g, &c);
                }
                69..=71 => {
                    s.touch_consumer(&g, &c, Some(now_ms), Some(now_ms as i64));
                }
                72..=89 => {
                    let ids: Vec<StreamId> = s.entries().keys().copied().collect();
                    if !ids.is_empty() {
                        let id = rng.pick(&ids);
                        let count = s
                            .group(&g)
                            .and_then(|gr| gr.pel().get(&id))
                            .map_or(1, |n| n.delivery_count + 1);
                        s.pel_put(
                            &g,
                            id,
                            Nack {
                                consumer: c,
                                delivery_time: now_ms,
                                delivery_count: count,
                            },
                        );
                    }
                }
                90..=95 => {
                    let ids: Vec<StreamId> = s
                        .group(&g)
                        .map(|gr| gr.pel().keys().copied().collect())
                        .unwrap_or_default();
                    if !ids.is_empty() {
                        let id = rng.pick(&ids);
                        s.pel_remove(&g, &id);
                    }
                }
                _ => {
                    let last = s.last_id();
                    if let Some(next) = last.next() {
                        s.set_last_id(next);
                        s.set_entries_added(s.entries_added() + 1);
                    }
                }
            }
        }
    }
}

/// Asserts two keyspaces hold the same keys and values.
#[track_caller]
pub fn assert_db_eq(a: &Db, b: &Db, what: &str) {
    let ka: BTreeSet<&Bytes> = a.iter().map(|(k, _)| k).collect();
    let kb: BTreeSet<&Bytes> = b.iter().map(|(k, _)| k).collect();
    assert_eq!(ka, kb, "{what}: key sets differ");
    for (k, v) in a.iter() {
        assert_eq!(Some(v), b.get(k), "{what}: value of {k:?} differs");
    }
}

/// Runs `n` random mutations from `seed`, committing after every `commit_every`, with an
/// index that counts commits from `first_index`. Returns the last index committed.
pub fn run_batches(
    store: &mut Store,
    db: &mut Db,
    rng: &mut Xorshift,
    batches: u64,
    first_index: u64,
    big_field_percent: u64,
) -> u64 {
    let mut index = first_index;
    for _ in 0..batches {
        index += 1;
        apply_batch(db, index, big_field_percent);
        let changes = db.take_changes();
        db.take_ready();
        store.commit(db, &changes, index).expect("commit");
        let _ = rng.next();
    }
    index
}

/// The mutations of batch `index`: deterministic in (state, index), so replaying batches
/// 1..=n from an empty Db rebuilds exactly the state after batch n.
pub fn apply_batch(db: &mut Db, index: u64, big_field_percent: u64) {
    let mut rng = Xorshift::new(index);
    let ops = 1 + rng.below(6);
    for _ in 0..ops {
        mutate(db, &mut rng, 1_000 + index, big_field_percent);
    }
}

/// The state after batches `1..=n`.
pub fn replay(n: u64, big_field_percent: u64) -> Db {
    let mut db = Db::new();
    for i in 1..=n {
        apply_batch(&mut db, i, big_field_percent);
        db.take_changes();
        db.take_ready();
    }
    db
}

/// Checks every stream's invariants.
#[track_caller]
pub fn check_db(db: &Db) {
    for (k, v) in db.iter() {
        if let Value::Stream(s) = v {
            if let Err(e) = s.check_invariants() {
                panic!("stream {k:?}: {e}");
            }
        }
    }
}
