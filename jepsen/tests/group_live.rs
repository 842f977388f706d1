//! The `group` workload against a real local cluster (3 nodes, 3 shards) with a kill -9 of a
//! shard's leader in the middle; then heal, final reads, drain, and both checkers. Ignored by default
//! (it needs `cargo build --release -p xraft` and takes about half a minute):
//!
//! `cargo test --release -p jepsen --test group_live -- --ignored --nocapture`
//!
//! Environment: `GROUP_LIVE_SEED` (default 1), `GROUP_LIVE_SECS` (load time, default 15),
//! `GROUP_LIVE_DIR` (where the cluster and `history.jsonl` go; default a fresh directory
//! under the system temp dir).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use jepsen::group_checker::check_groups;
use jepsen::history::{write_jsonl, Type};
use jepsen::log_checker::check_log;
use jepsen::run::{final_reads, LocalCluster, Recorder};
use jepsen::workload_group::{drain_groups, run_group_workers, setup_groups, GroupWorkload};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore]
fn group_workload_under_a_kill_is_valid() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/xraft");
    assert!(
        bin.exists(),
        "{} missing: cargo build --release -p xraft",
        bin.display()
    );
    let seed: u64 = env_or("GROUP_LIVE_SEED", 1);
    let secs: u64 = env_or("GROUP_LIVE_SECS", 15);
    let dir = std::env::var("GROUP_LIVE_DIR").map_or_else(
        |_| std::env::temp_dir().join(format!("xraft-group-live-{}-{seed}", std::process::id())),
        PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&dir);
    let mut cluster = LocalCluster::start(&bin, &dir.join("cluster"), 3, 3, false).unwrap();
    let proxy = cluster.proxy;
    let keys = 3;
    setup_groups(proxy, keys).unwrap();
    let rec = Recorder::new();
    let stop = Arc::new(AtomicBool::new(false));
    let w = GroupWorkload {
        keys,
        producers: 2,
        consumers: 4,
        rate: 150,
        timeout: Duration::from_secs(5),
    };
    let handles = run_group_workers(&w, proxy, &rec, seed, Arc::clone(&stop));
    let start = Instant::now();
    thread::sleep(Duration::from_secs(secs / 3));
    // The leader of a shard, so that operations in flight get unknown outcomes.
    let shard = (seed % 3) as u32;
    let victim = cluster.leader_of(shard).unwrap_or(1 + (seed as usize % 3));
    println!(
        "[{:6.2}s] kill -9 node {victim} (leader of shard {shard})",
        start.elapsed().as_secs_f64()
    );
    cluster.kill(victim);
    thread::sleep(Duration::from_secs(secs / 3));
    println!(
        "[{:6.2}s] restart node {victim}",
        start.elapsed().as_secs_f64()
    );
    cluster.restart(victim).unwrap();
    thread::sleep(Duration::from_secs(secs - 2 * (secs / 3)));
    cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    // Give the healed cluster time to serve the load (and to reclaim what was abandoned).
    thread::sleep(Duration::from_secs(3));
    println!("[{:6.2}s] stopping the load", start.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    final_reads(proxy, keys, &rec).unwrap();
    drain_groups(proxy, keys, &rec).unwrap();
    println!("[{:6.2}s] drained", start.elapsed().as_secs_f64());
    cluster.stop();
    let history = rec.take();
    let out = std::fs::File::create(dir.join("history.jsonl")).unwrap();
    write_jsonl(&history, std::io::BufWriter::new(out)).unwrap();

    let count = |f: &str, t: Type| history.iter().filter(|r| r.f == f && r.kind == t).count();
    for f in [
        "xadd",
        "xreadgroup",
        "xack",
        "xclaim",
        "xautoclaim",
        "xpending",
        "xinfo-group",
        "final-group",
    ] {
        println!(
            "{f:12} ok {:5} fail {:4} info {:4}",
            count(f, Type::Ok),
            count(f, Type::Fail),
            count(f, Type::Info)
        );
    }
    let log = check_log(&history);
    let groups = check_groups(&history);
    for a in log.anomalies.iter().chain(&groups.anomalies).take(50) {
        println!("{} {}: {}", a.kind, a.key, a.detail);
    }
    println!(
        "log: {} acknowledged, {} failed, {} unknown ({} present), {} reads, anomalies {:?}",
        log.acknowledged,
        log.failed,
        log.unknown,
        log.unknown_present,
        log.reads,
        log.counts()
    );
    println!(
        "groups: {} groups, {} deliveries, {} claims, {} acks, {} anomalies",
        groups.groups,
        groups.deliveries,
        groups.claims,
        groups.acks,
        groups.anomalies.len()
    );
    println!("history: {}", dir.join("history.jsonl").display());
    assert!(groups.groups == keys, "{} groups checked", groups.groups);
    assert!(
        groups.claims > 0,
        "nothing was ever claimed (the abandoned consumers' entries must be)"
    );
    assert!(log.valid() && groups.valid(), "anomalies (see above)");
}
