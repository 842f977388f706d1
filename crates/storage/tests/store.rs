//! Store tests: reopen round trips, deletions by address and by prefix, large values (sled
//! blob files), corruption handling.

mod common;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use storage::{StorageError, Store, StoreOptions};
use streams::{Db, Nack, StreamId, Value};

fn commit_all(store: &mut Store, db: &mut Db, index: u64) {
    let changes = db.take_changes();
    db.take_ready();
    store.commit(db, &changes, index).expect("commit");
}

fn reopen(dir: &std::path::Path, store: Store) -> (Store, Db) {
    drop(store);
    Store::open(dir, test_opts()).expect("reopen")
}

fn s(x: &'static str) -> Bytes {
    Bytes::from_static(x.as_bytes())
}

fn nack(c: &'static str, t: u64) -> Nack {
    Nack {
        consumer: s(c),
        delivery_time: t,
        delivery_count: 1,
    }
}

#[test]
fn empty_store_opens_empty_and_keeps_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = Store::open(dir.path(), test_opts()).unwrap();
    assert!(db.is_empty());
    assert_eq!(store.applied_index(), 0);
    store.commit(&db, &[], 7).unwrap();
    store.sync().unwrap();
    let (store, db) = reopen(dir.path(), store);
    assert!(db.is_empty());
    assert_eq!(store.applied_index(), 7);
    assert_eq!(store.stats().applied_index, 7);
}

#[test]
fn every_kind_of_value_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    // a stream spanning several nodes, with a deletion, two groups, consumers and a PEL
    let st = db.stream_or_create(&s("st")).unwrap();
    for i in 1..=7 {
        st.append(
            StreamId::new(i, 0),
            vec![s("f"), Bytes::from(format!("v{i}"))],
            3,
        );
    }
    st.remove_entry(&StreamId::new(2, 0));
    st.set_max_deleted_id(StreamId::new(2, 0));
    st.create_group(s("g"), StreamId::new(5, 0), Some(4));
    st.create_group(s("empty"), StreamId::MIN, None);
    st.create_consumer(b"g", s("alice"), 10);
    st.create_consumer(b"g", s("bob"), 11);
    st.touch_consumer(b"g", b"bob", Some(12), Some(12));
    st.pel_put(b"g", StreamId::new(1, 0), nack("alice", 20));
    st.pel_put(b"g", StreamId::new(3, 0), nack("bob", 21));
    st.pel_put(b"g", StreamId::new(4, 0), nack("bob", 22));
    // binary key and empty stream
    db.stream_or_create(&Bytes::from_static(b"\x00bin\xff"))
        .unwrap();
    db.set(
        s("str"),
        Value::String(Bytes::from_static(b"\x00\x01hello")),
    );
    db.set(
        s("list"),
        Value::List([s("a"), s(""), s("c")].into_iter().collect()),
    );
    db.set(s("set"), Value::Set([s("x"), s("y")].into_iter().collect()));
    commit_all(&mut store, &mut db, 1);
    store.sync().unwrap();
    let stats = store.stats();
    assert_eq!(stats.commits_total, 1);
    assert_eq!(stats.syncs_total, 1);
    // Meta, stream, node, group, consumer, PEL and kv items; the entries share one chunk.
    assert!(stats.items_put_total >= 15, "{stats:?}");
    assert!(stats.disk_bytes > 0);

    let (store, loaded) = reopen(dir.path(), store);
    assert_eq!(store.applied_index(), 1);
    assert_db_eq(&db, &loaded, "after reopen");
    check_db(&loaded);
}

#[test]
fn destroying_and_recreating_within_one_commit_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    let st = db.stream_or_create(&s("st")).unwrap();
    for i in 1..=4 {
        st.append(StreamId::new(i, 0), vec![s("f"), s("v")], 100);
    }
    st.create_group(s("g"), StreamId::MIN, Some(0));
    st.create_consumer(b"g", s("a"), 1);
    st.pel_put(b"g", StreamId::new(1, 0), nack("a", 1));
    st.pel_put(b"g", StreamId::new(2, 0), nack("a", 1));
    commit_all(&mut store, &mut db, 1);

    // one commit: destroy and recreate the group; delete and recreate a consumer
    let st = db.stream_mut(b"st").unwrap().unwrap();
    st.destroy_group(b"g");
    st.create_group(s("g"), StreamId::new(4, 0), Some(4));
    st.create_consumer(b"g", s("a"), 2);
    st.create_consumer(b"g", s("b"), 2);
    st.pel_put(b"g", StreamId::new(3, 0), nack("b", 2));
    commit_all(&mut store, &mut db, 2);
    let st = db.stream_mut(b"st").unwrap().unwrap();
    st.delete_consumer(b"g", b"b");
    st.create_consumer(b"g", s("b"), 3);
    commit_all(&mut store, &mut db, 3);

    let (mut store, mut loaded) = reopen(dir.path(), store);
    assert_db_eq(&db, &loaded, "after recreate");
    let g = loaded.stream(b"st").unwrap().unwrap().group(b"g").unwrap();
    assert!(g.pel().is_empty());
    assert!(g.consumer(b"b").unwrap().pel().is_empty());

    // DEL then re-create the key as another type, then as a stream again, in one commit
    loaded.remove(b"st");
    loaded.set(s("st"), Value::String(s("now a string")));
    loaded.remove(b"st");
    let st = loaded.stream_or_create(&s("st")).unwrap();
    st.append(StreamId::new(9, 0), vec![s("f"), s("v")], 100);
    commit_all(&mut store, &mut loaded, 4);
    let (_store, again) = reopen(dir.path(), store);
    assert_db_eq(&loaded, &again, "after DEL + recreate");
    assert_eq!(again.stream(b"st").unwrap().unwrap().len(), 1);
}

#[test]
fn flushall_then_writes_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    let st = db.stream_or_create(&s("a")).unwrap();
    st.append(StreamId::new(1, 0), vec![s("f"), s("v")], 100);
    db.set(s("b"), Value::String(s("x")));
    commit_all(&mut store, &mut db, 1);
    let st = db.stream_mut(b"a").unwrap().unwrap();
    st.append(StreamId::new(2, 0), vec![s("f"), s("v")], 100);
    db.flush_all();
    let st = db.stream_or_create(&s("c")).unwrap();
    st.append(StreamId::new(3, 0), vec![s("f"), s("v")], 100);
    commit_all(&mut store, &mut db, 2);
    let (_store, loaded) = reopen(dir.path(), store);
    assert_db_eq(&db, &loaded, "after FLUSHALL");
    assert_eq!(loaded.len(), 1);
}

#[test]
fn large_values_go_to_blob_files_and_survive() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        fsync: true,
        ..test_opts()
    };
    let (mut store, mut db) = Store::open(dir.path(), opts).unwrap();
    let st = db.stream_or_create(&s("big")).unwrap();
    for i in 1..=3 {
        st.append(
            StreamId::new(i, 0),
            vec![s("f"), Bytes::from(vec![b'a' + i as u8; BIG_FIELD_BYTES])],
            100,
        );
    }
    commit_all(&mut store, &mut db, 1);
    store.sync().unwrap();
    let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert!(
        blobs > 0,
        "expected sled blob files for {BIG_FIELD_BYTES}-byte values"
    );
    assert!(
        store.stats().blob_files_synced_total > 0,
        "{:?}",
        store.stats()
    );
    drop(store);
    let (_store, loaded) = Store::open(dir.path(), opts).unwrap();
    assert_db_eq(&db, &loaded, "after reopen with blobs");
}

#[test]
fn format_version_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), test_opts()).unwrap());
    {
        let raw = raw_open(dir.path());
        let meta = raw.open_tree("meta").unwrap();
        meta.insert("format_version", &99u32.to_be_bytes()).unwrap();
        raw.flush().unwrap();
    }
    match Store::open(dir.path(), test_opts()) {
        Err(StorageError::UnsupportedFormat {
            found: 99,
            expected: storage::FORMAT_VERSION,
        }) => {}
        other => panic!("expected UnsupportedFormat, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_version_1_database_opens_and_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
        db.stream_or_create(&s("st")).unwrap().append(
            StreamId::new(1, 0),
            vec![s("f"), s("v")],
            100,
        );
        commit_all(&mut store, &mut db, 1);
        store.sync().unwrap();
    }
    {
        // What a build without the journal wrote.
        let raw = raw_open(dir.path());
        raw.open_tree("meta")
            .unwrap()
            .insert("format_version", &1u32.to_be_bytes())
            .unwrap();
        raw.drop_tree("journal").unwrap();
        raw.flush().unwrap();
    }
    let (store, loaded) = Store::open(dir.path(), test_opts()).unwrap();
    assert_eq!(store.applied_index(), 1);
    assert_eq!(loaded.len(), 1);
    drop(store);
    let raw = raw_open(dir.path());
    let v = raw
        .open_tree("meta")
        .unwrap()
        .get("format_version")
        .unwrap();
    assert_eq!(
        v.as_deref(),
        Some(&storage::FORMAT_VERSION.to_be_bytes()[..])
    );
}

/// Opens the directory with plain sled, waiting for the file lock: the dropped `Store`'s
/// background threads release it a moment after the drop.
fn raw_open(path: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match storage::open_raw_sled(path) {
            Ok(db) => return db,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("sled::open: {e}"),
        }
    }
}

/// Writes a raw item next to a valid state and expects the open to fail with `want`.
fn corrupt_open(tree: &str, key: &[u8], value: &[u8]) -> StorageError {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
        let st = db.stream_or_create(&s("st")).unwrap();
        st.append(StreamId::new(1, 0), vec![s("f"), s("v")], 100);
        st.create_group(s("g"), StreamId::MIN, Some(0));
        st.create_consumer(b"g", s("a"), 1);
        commit_all(&mut store, &mut db, 1);
        store.sync().unwrap();
    }
    {
        let raw = raw_open(dir.path());
        raw.open_tree(tree).unwrap().insert(key, value).unwrap();
        raw.flush().unwrap();
    }
    match Store::open(dir.path(), test_opts()) {
        Ok(_) => panic!("open of a corrupt {tree} item succeeded"),
        Err(e) => e,
    }
}

fn lp(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

#[test]
fn corrupt_items_fail_the_open_with_a_clear_error() {
    let id = |ms: u64| StreamId::new(ms, 0).to_be_bytes().to_vec();
    // undecodable key
    let e = corrupt_open("entries", b"\xff\xff", b"");
    assert!(
        matches!(
            e,
            StorageError::Corrupt {
                tree: "entries",
                ..
            }
        ),
        "{e}"
    );
    // undecodable value
    let e = corrupt_open("streams", &lp(b"x"), b"\x01\x01short");
    assert!(
        matches!(
            e,
            StorageError::Corrupt {
                tree: "streams",
                ..
            }
        ),
        "{e}"
    );
    // an entry of a stream that does not exist
    let e = corrupt_open("entries", &[lp(b"nope"), id(1)].concat(), &[1, 0, 0, 0, 0]);
    assert!(e.to_string().contains("no such stream"), "{e}");
    // a PEL entry whose owner is not a consumer
    let e = corrupt_open(
        "pel",
        &[lp(b"st"), lp(b"g"), id(1)].concat(),
        &[&[1u8][..], &[0; 16], b"ghost"].concat(),
    );
    assert!(e.to_string().contains("not a consumer"), "{e}");
    // a consumer-index item without a PEL entry
    let e = corrupt_open(
        "cpel",
        &[lp(b"st"), lp(b"g"), lp(b"a"), id(1)].concat(),
        b"",
    );
    assert!(e.to_string().contains("no PEL entry"), "{e}");
    // an entry outside every node: fails the stream invariants
    let e = corrupt_open("entries", &[lp(b"st"), id(0)].concat(), &[1, 0, 0, 0, 0]);
    assert!(matches!(e, StorageError::Inconsistent { .. }), "{e}");
    // a key that is both a stream and a string
    let e = corrupt_open("kv", &lp(b"st"), b"\x01\x02str");
    assert!(e.to_string().contains("non-stream"), "{e}");
    // a bad applied index
    let e = corrupt_open("meta", b"applied_index", b"\x01");
    assert!(
        matches!(e, StorageError::Corrupt { tree: "meta", .. }),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, .. ProptestConfig::default() })]

    /// Random mutations through the model's API, committed in random groups, with random
    /// reopens: what is loaded always equals what was in memory.
    #[test]
    fn random_mutations_survive_reopen(seed in any::<u64>(), steps in 20u64..160) {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
        let mut rng = Xorshift::new(seed);
        let mut index = 0;
        for step in 0..steps {
            mutate(&mut db, &mut rng, 1_000 + step, 0);
            if rng.chance(60) {
                index += 1;
                commit_all(&mut store, &mut db, index);
            }
            if rng.chance(8) {
                index += 1;
                commit_all(&mut store, &mut db, index);
                store.sync().unwrap();
                let (s2, loaded) = reopen(dir.path(), store);
                store = s2;
                prop_assert_eq!(store.applied_index(), index);
                assert_db_eq(&db, &loaded, "reopen");
                check_db(&loaded);
                db = loaded;
            }
        }
        index += 1;
        commit_all(&mut store, &mut db, index);
        store.sync().unwrap();
        let (_store, loaded) = reopen(dir.path(), store);
        assert_db_eq(&db, &loaded, "final reopen");
    }
}

/// Appends `n` entries to `key`, the `big`-th ones (if any) with a field larger than a chunk.
fn append_entries(db: &mut Db, key: &Bytes, from_ms: u64, n: u64, big_every: u64) {
    let st = db.stream_or_create(key).unwrap();
    for i in 0..n {
        let ms = from_ms + i;
        let value = if big_every > 0 && i % big_every == 0 {
            Bytes::from(vec![b'x'; 3000])
        } else {
            Bytes::from(format!("v{ms}"))
        };
        st.append(StreamId::new(ms, 0), vec![s("f"), value], 100);
    }
}

#[test]
fn entries_are_stored_in_chunks_and_survive_deletes_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    let key = s("chunky");
    append_entries(&mut db, &key, 1, 1000, 0);
    let before = store.stats().items_put_total;
    commit_all(&mut store, &mut db, 1);
    let puts = store.stats().items_put_total - before;
    // 1000 small entries: dozens of chunks (meta, nodes and the index are a few more items),
    // not one item per entry.
    assert!(puts < 100, "{puts} items put for 1000 entries");
    let (mut store, mut loaded) = reopen(dir.path(), store);
    assert_db_eq(&db, &loaded, "after the first commit");

    // Deletes scattered over many chunks, a whole range (emptying chunks), trims from the
    // front, and appends with big entries, in several commits with reopens between.
    let mut rng = Xorshift::new(7);
    for round in 0..6u64 {
        let st = loaded.stream_or_create(&key).unwrap();
        for _ in 0..60 {
            st.remove_entry(&StreamId::new(1 + rng.below(1000 + round * 50), 0));
        }
        for ms in (200 + round * 40)..(240 + round * 40) {
            st.remove_entry(&StreamId::new(ms, 0));
        }
        for ms in 1..(round * 30) {
            st.remove_entry(&StreamId::new(ms, 0));
        }
        append_entries(&mut loaded, &key, 1001 + round * 50, 50, 7);
        commit_all(&mut store, &mut loaded, 2 + round);
        let expected = loaded;
        let (s2, l2) = reopen(dir.path(), store);
        assert_db_eq(&expected, &l2, &format!("round {round}"));
        check_db(&l2);
        store = s2;
        loaded = l2;
    }
}

#[test]
fn a_database_with_one_item_per_entry_is_upgraded_to_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    append_entries(&mut db, &s("a"), 1, 300, 10);
    append_entries(&mut db, &s("b"), 5, 3, 0);
    db.stream_or_create(&s("empty")).unwrap();
    commit_all(&mut store, &mut db, 9);
    store.sync().unwrap();
    drop(store);

    // Rewrite the database in the format 2 layout: one `entries` item per entry.
    {
        let sled_db = storage::open_raw_sled(dir.path()).unwrap();
        let chunks = sled_db.open_tree("chunks").unwrap();
        let entries = sled_db.open_tree("entries").unwrap();
        for item in chunks.iter() {
            let (k, v) = item.unwrap();
            let (key, _) = storage::codec::decode_id_key(&k).unwrap();
            for (id, fields) in storage::codec::decode_chunk(&v).unwrap() {
                let fields = storage::codec::encode_fields(&fields);
                entries
                    .insert(storage::codec::id_key(&key, &id), fields)
                    .unwrap();
            }
            chunks.remove(k).unwrap();
        }
        let meta = sled_db.open_tree("meta").unwrap();
        meta.insert("format_version", &2u32.to_be_bytes()).unwrap();
        sled_db.flush().unwrap();
        assert!(chunks.is_empty());
        assert_eq!(entries.len(), 303);
    }

    let (store, loaded) = Store::open(dir.path(), test_opts()).unwrap();
    assert_eq!(store.applied_index(), 9);
    assert_db_eq(&db, &loaded, "after the upgrade");
    drop(store);
    {
        let sled_db = storage::open_raw_sled(dir.path()).unwrap();
        assert!(sled_db.open_tree("entries").unwrap().is_empty());
        assert!(!sled_db.open_tree("chunks").unwrap().is_empty());
        let version = sled_db
            .open_tree("meta")
            .unwrap()
            .get("format_version")
            .unwrap();
        assert_eq!(
            version.as_deref(),
            Some(&storage::FORMAT_VERSION.to_be_bytes()[..])
        );
        assert_eq!(storage::FORMAT_VERSION, 4);
    }
    let (_store, again) = Store::open(dir.path(), test_opts()).unwrap();
    assert_db_eq(&db, &again, "after reopening the upgraded database");
}

type RawNodes = Vec<(StreamId, streams::Node)>;
/// A stream's raw layout: key, the last node in its `streams` item, its `nodes` items.
type RawLayout = (Bytes, Option<(StreamId, streams::Node)>, RawNodes);

/// Reads the raw layout of every stream.
fn raw_nodes(dir: &std::path::Path) -> Vec<RawLayout> {
    let sled_db = storage::open_raw_sled(dir).unwrap();
    let streams_tree = sled_db.open_tree("streams").unwrap();
    let nodes_tree = sled_db.open_tree("nodes").unwrap();
    let mut out = Vec::new();
    for item in streams_tree.iter() {
        let (k, v) = item.unwrap();
        let key = storage::codec::decode_key_prefix(&k).unwrap();
        let (_, tail) = storage::codec::decode_stream_meta(&v).unwrap();
        let nodes = nodes_tree
            .scan_prefix(&k)
            .map(|item| {
                let (nk, nv) = item.unwrap();
                let (_, master) = storage::codec::decode_id_key(&nk).unwrap();
                (master, storage::codec::decode_node(&nv).unwrap())
            })
            .collect();
        out.push((key, tail, nodes));
    }
    out
}

/// Every stream of `db` is laid out as format 4 says: its last node in its `streams` item,
/// every other node in the `nodes` tree.
#[track_caller]
fn assert_last_nodes_with_streams(dir: &std::path::Path, db: &Db) {
    for (key, tail, nodes) in raw_nodes(dir) {
        let Some(Value::Stream(st)) = db.get(&key) else {
            panic!("{key:?} is not a stream");
        };
        let mut expected: RawNodes = st.nodes().iter().map(|(m, n)| (*m, *n)).collect();
        let last = expected.pop();
        assert_eq!(tail, last, "{key:?}: last node");
        assert_eq!(nodes, expected, "{key:?}: nodes tree");
    }
}

#[test]
fn a_streams_last_node_is_stored_with_it_and_moves_as_nodes_open_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    let key = s("n");
    let node_max = 4;
    let mut index = 0;
    let mut step = |store: Store, db: &mut Db, what: &str| -> Store {
        index += 1;
        let mut store = store;
        commit_all(&mut store, db, index);
        store.sync().unwrap();
        drop(store);
        assert_last_nodes_with_streams(dir.path(), db);
        let (store, loaded) = Store::open(dir.path(), test_opts()).unwrap();
        assert_db_eq(db, &loaded, what);
        check_db(&loaded);
        store
    };
    // One entry: one node, only in the `streams` item.
    db.stream_or_create(&key)
        .unwrap()
        .append(StreamId::new(1, 0), vec![s("f"), s("v")], node_max);
    store = step(store, &mut db, "one node");
    // Ten more in one commit: three nodes opened, the first two end up in `nodes`.
    for ms in 2..=11 {
        db.stream_or_create(&key).unwrap().append(
            StreamId::new(ms, 0),
            vec![s("f"), s("v")],
            node_max,
        );
    }
    store = step(store, &mut db, "three nodes");
    assert_eq!(db.stream_or_create(&key).unwrap().nodes().len(), 3);
    // Emptying the last node closes it: the one before becomes the last again.
    for ms in 9..=11 {
        db.stream_or_create(&key)
            .unwrap()
            .remove_entry(&StreamId::new(ms, 0));
    }
    store = step(store, &mut db, "last node closed");
    assert_eq!(db.stream_or_create(&key).unwrap().nodes().len(), 2);
    // A deletion inside a node that is not the last, and a new node, in one commit.
    let st = db.stream_or_create(&key).unwrap();
    st.remove_entry(&StreamId::new(2, 0));
    for ms in 20..=25 {
        st.append(StreamId::new(ms, 0), vec![s("f"), s("v")], node_max);
    }
    store = step(store, &mut db, "delete and open");
    // Trimming whole nodes from the front, then everything.
    let first = *db
        .stream_or_create(&key)
        .unwrap()
        .nodes()
        .keys()
        .next()
        .unwrap();
    db.stream_or_create(&key).unwrap().remove_node(&first);
    store = step(store, &mut db, "front node trimmed");
    let masters: Vec<StreamId> = db
        .stream_or_create(&key)
        .unwrap()
        .nodes()
        .keys()
        .copied()
        .collect();
    for m in &masters {
        db.stream_or_create(&key).unwrap().remove_node(m);
    }
    store = step(store, &mut db, "every node trimmed");
    assert!(db.stream_or_create(&key).unwrap().nodes().is_empty());
    db.stream_or_create(&key)
        .unwrap()
        .append(StreamId::new(30, 0), vec![s("f"), s("v")], node_max);
    let _ = step(store, &mut db, "a node again");
}

#[test]
fn a_format_3_database_loads_and_its_last_nodes_move_on_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    for (k, n) in [("a", 9u64), ("b", 2), ("c", 0)] {
        let st = db.stream_or_create(&s(k)).unwrap();
        for ms in 1..=n {
            st.append(StreamId::new(ms, 0), vec![s("f"), s("v")], 4);
        }
    }
    commit_all(&mut store, &mut db, 1);
    store.sync().unwrap();
    drop(store);

    // Rewrite it in the format 3 layout: every node in `nodes`, no node in `streams` items.
    {
        let sled_db = storage::open_raw_sled(dir.path()).unwrap();
        let streams_tree = sled_db.open_tree("streams").unwrap();
        let nodes_tree = sled_db.open_tree("nodes").unwrap();
        for item in streams_tree.iter() {
            let (k, v) = item.unwrap();
            let key = storage::codec::decode_key_prefix(&k).unwrap();
            let (meta, tail) = storage::codec::decode_stream_meta(&v).unwrap();
            if let Some((master, node)) = tail {
                nodes_tree
                    .insert(
                        storage::codec::id_key(&key, &master),
                        storage::codec::encode_node(&node),
                    )
                    .unwrap();
            }
            streams_tree
                .insert(&k, storage::codec::encode_stream_meta(&meta, None))
                .unwrap();
        }
        let meta = sled_db.open_tree("meta").unwrap();
        meta.insert("format_version", &3u32.to_be_bytes()).unwrap();
        sled_db.flush().unwrap();
        assert_eq!(nodes_tree.len(), 4, "a: 3 nodes, b: 1");
    }

    let (mut store, mut loaded) = Store::open(dir.path(), test_opts()).unwrap();
    assert_db_eq(&db, &loaded, "format 3 loaded");
    // Touch `a` only (a new node): its last node moves, `b` stays in the format 3 layout.
    for ms in 100..=104 {
        loaded.stream_or_create(&s("a")).unwrap().append(
            StreamId::new(ms, 0),
            vec![s("f"), s("v")],
            4,
        );
    }
    commit_all(&mut store, &mut loaded, 2);
    store.sync().unwrap();
    drop(store);
    let raw = raw_nodes(dir.path());
    let a = raw.iter().find(|(k, _, _)| k == &s("a")).unwrap();
    assert_eq!(a.1.map(|(m, _)| m), Some(StreamId::new(103, 0)));
    // a: nodes 1, 5, 9 (filled up by 100-102) and 103: all but 103 in `nodes`.
    let masters: Vec<StreamId> = a.2.iter().map(|(m, _)| *m).collect();
    assert_eq!(masters, [1, 5, 9].map(|ms| StreamId::new(ms, 0)));
    let b = raw.iter().find(|(k, _, _)| k == &s("b")).unwrap();
    assert_eq!((b.1, b.2.len()), (None, 1), "b untouched: format 3 layout");
    let (store, again) = Store::open(dir.path(), test_opts()).unwrap();
    assert_db_eq(&loaded, &again, "after the first format 4 commit");
    drop(store);
    {
        let sled_db = storage::open_raw_sled(dir.path()).unwrap();
        let version = sled_db
            .open_tree("meta")
            .unwrap()
            .get("format_version")
            .unwrap();
        assert_eq!(version.as_deref(), Some(&4u32.to_be_bytes()[..]));
    }
}

/// The segment size sled recorded in a store's `conf` file.
fn conf_segment_size(dir: &std::path::Path) -> String {
    let conf = std::fs::read(dir.join("conf")).unwrap();
    let text = String::from_utf8_lossy(&conf[..conf.len() - 4]).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("segment_size: ").map(str::to_owned))
        .unwrap()
}

#[test]
fn new_stores_get_big_segments_and_old_ones_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut db) = Store::open(dir.path(), test_opts()).unwrap();
    append_entries(&mut db, &s("a"), 1, 10, 0);
    commit_all(&mut store, &mut db, 1);
    drop(store);
    assert_eq!(
        conf_segment_size(dir.path()),
        storage::SEGMENT_SIZE.to_string()
    );
    let (_store, loaded) = Store::open(dir.path(), test_opts()).unwrap();
    assert_db_eq(&db, &loaded, "reopened");

    // A database created with sled's default segment size (512 KiB) before it was raised.
    let old = tempfile::tempdir().unwrap();
    drop(
        sled::Config::new()
            .path(old.path())
            .segment_size(512 * 1024)
            .open()
            .unwrap(),
    );
    let (mut store, mut db) = Store::open(old.path(), test_opts()).unwrap();
    append_entries(&mut db, &s("b"), 1, 10, 0);
    commit_all(&mut store, &mut db, 1);
    store.sync().unwrap();
    drop(store);
    assert_eq!(conf_segment_size(old.path()), (512 * 1024).to_string());
    let (_store, loaded) = Store::open(old.path(), test_opts()).unwrap();
    assert_db_eq(&db, &loaded, "an old database reopened");
}
