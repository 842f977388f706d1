//! Shared by the live (`#[ignore]`d) workload tests: a local cluster under a workload, a
//! fault in the middle, heal, final reads, the log checker.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use jepsen::history::Record;
use jepsen::log_checker::{check_log, LogReport};
use jepsen::run::{final_reads, LocalCluster, Recorder};

/// The xraft binary: `XRAFT_BIN`, else `target/release/xraft` of the workspace.
pub fn bin() -> PathBuf {
    std::env::var_os("XRAFT_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/xraft"),
        PathBuf::from,
    )
}

fn say(start: Instant, what: &str) {
    println!("[{:7.3}s] {what}", start.elapsed().as_secs_f64());
}

/// Starts a 3-node, 3-shard cluster under `target/jepsen-live/<name>`, runs the workload that
/// `spawn` starts for about 15 s with a SIGSTOP of a shard's leader and a kill -9 of another
/// shard's leader in the middle, heals, reads every stream, stores `history.jsonl` and returns
/// the history with the log checker's report (printed).
pub fn run_live(
    name: &str,
    keys: usize,
    spawn: impl FnOnce(&LocalCluster, &Recorder, u64, Arc<AtomicBool>) -> Vec<JoinHandle<()>>,
) -> (Vec<Record>, LogReport) {
    let bin = bin();
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p xraft",
        bin.display()
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/jepsen-live/{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let seed = std::env::var("JEPSEN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_007)
        });
    let mut cluster = LocalCluster::start(&bin, &dir.join("cluster"), 3, 3, false).unwrap();
    let rec = Recorder::new();
    let start = rec.start;
    say(
        start,
        &format!("{name}: cluster up, proxy {}, seed {seed}", cluster.proxy),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let handles = spawn(&cluster, &rec, seed, Arc::clone(&stop));
    thread::sleep(Duration::from_secs(4));
    if let Some(l) = cluster.leader_of(0) {
        say(start, &format!("SIGSTOP node {l} (leader of shard 0)"));
        cluster.signal(l, "-STOP");
        thread::sleep(Duration::from_secs(3));
        cluster.signal(l, "-CONT");
        say(start, &format!("SIGCONT node {l}"));
    }
    thread::sleep(Duration::from_secs(2));
    if let Some(l) = cluster.leader_of(1) {
        say(start, &format!("kill -9 node {l} (leader of shard 1)"));
        cluster.kill(l);
        thread::sleep(Duration::from_secs(2));
        cluster.restart(l).unwrap();
        say(start, &format!("restarted node {l}"));
    }
    thread::sleep(Duration::from_secs(2));
    say(start, "heal: every node running and resumed");
    for n in 1..=cluster.node_count() {
        cluster.signal(n, "-CONT");
        cluster.restart(n).unwrap();
    }
    cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    thread::sleep(Duration::from_secs(2));
    say(start, "stopping the load");
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    final_reads(cluster.proxy, keys, &rec).unwrap();
    say(start, "final reads done");
    cluster.stop();
    let history = rec.take();
    let out = std::fs::File::create(dir.join("history.jsonl")).unwrap();
    jepsen::history::write_jsonl(&history, std::io::BufWriter::new(out)).unwrap();
    let report = check_log(&history);
    for a in report.anomalies.iter().take(40) {
        println!("{} {}: {}", a.kind, a.key, a.detail);
    }
    println!(
        "{name}: {} acknowledged, {} failed, {} unknown ({} present), {} reads, {} trims \
         ({} acknowledged entries trimmed), follower lag {:?}, anomalies {:?} (history in {})",
        report.acknowledged,
        report.failed,
        report.unknown,
        report.unknown_present,
        report.reads,
        report.trims,
        report.trimmed,
        report.follower_lag,
        report.counts(),
        dir.display()
    );
    (history, report)
}
