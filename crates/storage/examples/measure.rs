//! Prints storage figures on this machine's disk (not a test):
//! `cargo run --release -p storage --example measure [dir]`.
//!
//! - commits/s of 1-entry XADD change sets (Node + Entry + Meta + applied index), no sync;
//! - sync latency (p50/p99/max) with fsync, each sync after one such commit;
//! - the same with `fsync: false` (sled flush only) as the reference.

use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use storage::{Store, StoreOptions};
use streams::{Db, StreamId};

fn xadd(db: &mut Db, key: &Bytes, ms: u64) -> Vec<streams::Change> {
    let s = db.stream_or_create(key).expect("stream key");
    let fields = vec![
        Bytes::from_static(b"field"),
        Bytes::from(format!("value-{ms:020}")),
    ];
    s.append(StreamId::new(ms, 0), fields, 100);
    db.take_changes()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sync_latencies(dir: &std::path::Path, fsync: bool, n: usize) -> Vec<f64> {
    let opts = StoreOptions {
        fsync,
        ..StoreOptions::default()
    };
    let (mut store, mut db) = Store::open(dir, opts).expect("open");
    let key = Bytes::from_static(b"sync-stream");
    let base = store.applied_index();
    let mut out = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let changes = xadd(&mut db, &key, 1_000_000 + base + i);
        store.commit(&db, &changes, base + i + 1).expect("commit");
        let t = Instant::now();
        store.sync().expect("sync");
        out.push(t.elapsed().as_secs_f64() * 1e3);
    }
    out.sort_by(|a, b| a.total_cmp(b));
    out
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("xraft-storage-measure"));
    let _ = std::fs::remove_dir_all(&root);

    // commits/s without sync
    let n = 50_000u64;
    let (mut store, mut db) =
        Store::open(&root.join("commits"), StoreOptions::default()).expect("open");
    let key = Bytes::from_static(b"bench-stream");
    let t = Instant::now();
    for i in 1..=n {
        let changes = xadd(&mut db, &key, i);
        store.commit(&db, &changes, i).expect("commit");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "commit (1-entry XADD, no sync): {n} in {secs:.2} s = {:.0} commits/s, {:.1} us each",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
    store.sync().expect("sync");
    println!("  disk after: {} bytes", store.stats().disk_bytes);
    drop(store);

    for (name, fsync) in [("fsync on", true), ("fsync off (flush only)", false)] {
        let l = sync_latencies(&root.join(name.replace(' ', "_")), fsync, 300);
        println!(
            "sync {name}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} syncs",
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            l[l.len() - 1],
            l.len()
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
