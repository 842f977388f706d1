//! The keyspace: every key and its value, plus what the current command changed (for
//! storage), which keys became "ready" (for blocked clients) and the dirty counter.

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::Bytes;

use crate::stream::{Stream, StreamChange};

/// A value in the keyspace. Strings, lists and sets are minimal: they exist so that WRONGTYPE
/// and wake-up rules behave as in Redis.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Stream(Box<Stream>),
    String(Bytes),
    List(VecDeque<Bytes>),
    Set(BTreeSet<Bytes>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Stream(_) => "stream",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
        }
    }
}

/// A persisted item that the last command(s) touched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// Every key was removed.
    FlushAll,
    /// The whole key must be rewritten from its current value (or deleted if absent).
    Key(Bytes),
    /// One item of a stream.
    Stream(Bytes, StreamChange),
}

/// WRONGTYPE marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

pub const ERR_WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[derive(Debug, Default)]
pub struct Db {
    keys: HashMap<Bytes, Value>,
    /// Keys whose stream may hold pending [`StreamChange`]s.
    touched: Vec<Bytes>,
    changes: Vec<Change>,
    ready: Vec<Bytes>,
    /// Every key ordered by its [`crate::keyspace::scan_hash`]: the stable SCAN/KEYS order.
    scan_index: BTreeSet<(u64, Bytes)>,
    /// Redis's dirty counter (`rdb_changes_since_last_save`).
    pub dirty: u64,
}

impl Db {
    pub fn new() -> Db {
        Db::default()
    }

    // ---------------------------------------------------------------- reads

    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.keys.get(key)
    }
    pub fn contains(&self, key: &[u8]) -> bool {
        self.keys.contains_key(key)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Value)> {
        self.keys.iter()
    }
    /// Keys in SCAN order (by [`crate::keyspace::scan_hash`], then bytes) from hash `from` on.
    pub fn keys_from_hash(&self, from: u64) -> impl Iterator<Item = (u64, &Bytes)> {
        self.scan_index
            .range((from, Bytes::new())..)
            .map(|(h, k)| (*h, k))
    }
    /// The stream at `key`: `Ok(None)` if missing, `Err(WrongType)` if another type.
    pub fn stream(&self, key: &[u8]) -> Result<Option<&Stream>, WrongType> {
        match self.keys.get(key) {
            None => Ok(None),
            Some(Value::Stream(s)) => Ok(Some(s)),
            Some(_) => Err(WrongType),
        }
    }

    // ---------------------------------------------------------------- writes

    /// The stream at `key` for mutation; changes made through it are collected by
    /// [`Db::take_changes`].
    pub fn stream_mut(&mut self, key: &[u8]) -> Result<Option<&mut Stream>, WrongType> {
        match self.keys.get_mut(key) {
            None => Ok(None),
            Some(Value::Stream(s)) => {
                if !self.touched.iter().any(|k| k.as_ref() == key) {
                    self.touched.push(Bytes::copy_from_slice(key));
                }
                Ok(Some(s))
            }
            Some(_) => Err(WrongType),
        }
    }

    /// The stream at `key`, created empty if missing.
    pub fn stream_or_create(&mut self, key: &Bytes) -> Result<&mut Stream, WrongType> {
        if !self.keys.contains_key(key) {
            let mut s = Stream::new();
            s.set_last_id(crate::StreamId::MIN); // records Meta so the new key is persisted
            self.keys.insert(key.clone(), Value::Stream(Box::new(s)));
            self.index_key(key);
        }
        Ok(self.stream_mut(key)?.expect("present"))
    }

    /// Non-stream values for mutation; the whole key is rewritten on commit.
    pub fn value_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if self.keys.contains_key(key) {
            self.changes.push(Change::Key(Bytes::copy_from_slice(key)));
        }
        self.keys.get_mut(key)
    }

    /// Sets a key (overwriting any value). Signals the key as ready (a type change releases
    /// blocked readers).
    pub fn set(&mut self, key: Bytes, value: Value) {
        self.flush_stream_changes(&key);
        self.index_key(&key);
        self.keys.insert(key.clone(), value);
        self.changes.push(Change::Key(key.clone()));
        self.ready.push(key);
    }

    /// Removes a key. Signals it as ready (blocked XREADGROUP clients get NOGROUP).
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let (k, v) = self.keys.remove_entry(key)?;
        self.scan_index
            .remove(&(crate::keyspace::scan_hash(key), k.clone()));
        self.touched.retain(|t| t.as_ref() != key);
        self.changes.push(Change::Key(k.clone()));
        self.ready.push(k);
        Some(v)
    }

    /// Removes every key, signalling each.
    pub fn flush_all(&mut self) {
        self.touched.clear();
        self.scan_index.clear();
        self.ready.extend(self.keys.drain().map(|(k, _)| k));
        self.changes.push(Change::FlushAll);
    }

    fn index_key(&mut self, key: &Bytes) {
        self.scan_index
            .insert((crate::keyspace::scan_hash(key), key.clone()));
    }

    /// Marks a key as ready for blocked clients (e.g. after XADD or XGROUP DESTROY).
    pub fn signal_ready(&mut self, key: &[u8]) {
        self.ready.push(Bytes::copy_from_slice(key));
    }

    // ---------------------------------------------------------------- draining

    fn flush_stream_changes(&mut self, key: &[u8]) {
        if let Some(pos) = self.touched.iter().position(|k| k.as_ref() == key) {
            let k = self.touched.swap_remove(pos);
            if let Some(Value::Stream(s)) = self.keys.get_mut(key) {
                for c in s.take_changes() {
                    self.changes.push(Change::Stream(k.clone(), c));
                }
            }
        }
    }

    /// Everything touched since the last call, in order, for the storage layer. Duplicates
    /// are possible; writing an item twice is harmless because each write takes its current
    /// value.
    pub fn take_changes(&mut self) -> Vec<Change> {
        for k in std::mem::take(&mut self.touched) {
            if let Some(Value::Stream(s)) = self.keys.get_mut(&k) {
                for c in s.take_changes() {
                    self.changes.push(Change::Stream(k.clone(), c));
                }
            }
        }
        std::mem::take(&mut self.changes)
    }

    /// Keys signalled as ready since the last call (possibly repeated).
    pub fn take_ready(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.ready)
    }

    // ---------------------------------------------------------------- loading (storage)

    /// Inserts a value loaded from storage (records nothing).
    pub fn load(&mut self, key: Bytes, value: Value) {
        self.index_key(&key);
        self.keys.insert(key, value);
    }

    /// A loaded stream for filling in (records nothing).
    pub fn load_stream(&mut self, key: &Bytes) -> &mut Stream {
        self.index_key(key);
        let v = self
            .keys
            .entry(key.clone())
            .or_insert_with(|| Value::Stream(Box::new(Stream::new())));
        match v {
            Value::Stream(s) => s,
            _ => panic!("load_stream over a non-stream key"),
        }
    }

    /// Drops change records accumulated while loading.
    pub fn clear_tracking(&mut self) {
        for v in self.keys.values_mut() {
            if let Value::Stream(s) = v {
                s.take_changes();
            }
        }
        self.touched.clear();
        self.changes.clear();
        self.ready.clear();
    }
}

impl Db {
    /// A copy of the keyspace with empty change tracking (the Raft leader's working copy).
    /// Field values are `Bytes`, so the copy shares their payloads.
    pub fn clone_state(&self) -> Db {
        Db {
            keys: self.keys.clone(),
            touched: Vec::new(),
            changes: Vec::new(),
            ready: Vec::new(),
            scan_index: self.scan_index.clone(),
            dirty: self.dirty,
        }
    }
}
