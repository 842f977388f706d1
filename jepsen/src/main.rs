//! `jepsen run ...`: one run against a local cluster (see `jepsen::run`), stored under
//! `--store`; `jepsen check <run-dir>`: re-checks a stored `history.jsonl`. Both end with the
//! verdict line `N passed, M failed`.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use jepsen::run::{
    final_reads, run_log_workers, LocalCluster, LogWorkload, NemesisLog, Recorder, Rng,
};

#[derive(Parser)]
#[command(name = "jepsen", about = "xraft's fault harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Nemesis {
    None,
    /// kill -9 a shard's leader, a random node, or every node; restart after a while.
    Kill,
    /// SIGSTOP a shard's leader for a while, then SIGCONT.
    Pause,
    /// kill -9 every node at once, restart them all.
    KillAll,
}

#[derive(Subcommand)]
enum Command {
    /// One run of the `log` workload (XADD + XRANGE through the proxy) on a local cluster.
    Run {
        /// The xraft binary.
        #[arg(long, default_value = "target/release/xraft")]
        bin: PathBuf,
        #[arg(long, value_enum, default_value = "kill")]
        nemesis: Nemesis,
        /// Seconds of load (warm-up and faults); heal and recovery come after.
        #[arg(long, default_value_t = 20)]
        time: u64,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value = "jepsen/store")]
        store: PathBuf,
        #[arg(long, default_value_t = 4)]
        workers: usize,
        #[arg(long, default_value_t = 100)]
        rate: u64,
        #[arg(long, default_value_t = 4)]
        keys: usize,
        /// The positive control: nodes never flush (acknowledged writes die with kill -9);
        /// the checker must find lost writes.
        #[arg(long)]
        unsafe_never_flush: bool,
    },
    /// Re-check a stored run: reads RUN/history.jsonl, writes RUN/results.json.
    Check { run: PathBuf },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Check { run } => {
            let path = run.join("history.jsonl");
            let file = std::fs::File::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            let history = jepsen::history::read_jsonl(BufReader::new(file))?;
            let valid = check(&run, &history)?;
            println!(
                "{} passed, {} failed ({})",
                valid as u8,
                !valid as u8,
                run.display()
            );
            std::process::exit(if valid { 0 } else { 1 });
        }
        Command::Run {
            bin,
            nemesis,
            time,
            seed,
            store,
            workers,
            rate,
            keys,
            unsafe_never_flush,
        } => {
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_007)
            });
            let control = if unsafe_never_flush {
                "-never-flush"
            } else {
                ""
            };
            let run = store.join(format!("log-{nemesis:?}{control}-{seed}").to_lowercase());
            let _ = std::fs::remove_dir_all(&run);
            std::fs::create_dir_all(&run)?;
            let valid = run_once(
                &bin,
                &run,
                nemesis,
                time,
                seed,
                workers,
                rate,
                keys,
                unsafe_never_flush,
            )?;
            println!(
                "{} passed, {} failed (log/{nemesis:?}{control}, seed {seed}, {})",
                valid as u8,
                !valid as u8,
                run.display()
            );
            std::process::exit(if valid { 0 } else { 1 });
        }
    }
}

/// Runs both checkers, writes results.json, prints a summary; true when valid.
fn check(run: &Path, history: &[jepsen::history::Record]) -> anyhow::Result<bool> {
    let report = jepsen::log_checker::check_log(history);
    let groups = jepsen::group_checker::check_groups(history);
    for a in report.anomalies.iter().chain(&groups.anomalies).take(50) {
        println!("{} {}: {}", a.kind, a.key, a.detail);
    }
    let results = serde_json::json!({ "log": &report, "groups": &groups });
    std::fs::write(
        run.join("results.json"),
        serde_json::to_vec_pretty(&results)?,
    )?;
    println!(
        "log: {} acknowledged, {} failed, {} unknown ({} present), {} reads, anomalies {:?}",
        report.acknowledged,
        report.failed,
        report.unknown,
        report.unknown_present,
        report.reads,
        report.counts()
    );
    if groups.groups > 0 {
        println!(
            "groups: {} deliveries, {} claims, {} acks, {} anomalies",
            groups.deliveries,
            groups.claims,
            groups.acks,
            groups.anomalies.len()
        );
    }
    Ok(report.valid() && groups.valid())
}

#[allow(clippy::too_many_arguments)]
fn run_once(
    bin: &Path,
    run: &Path,
    nemesis: Nemesis,
    time: u64,
    seed: u64,
    workers: usize,
    rate: u64,
    keys: usize,
    never_flush: bool,
) -> anyhow::Result<bool> {
    let mut cluster = LocalCluster::start(bin, &run.join("cluster"), 3, 3, never_flush)?;
    let rec = Recorder::new();
    let mut log = NemesisLog::new(&run.join("nemesis.log"), rec.start)?;
    log.say(&format!(
        "cluster up: proxy {}, peers {}",
        cluster.proxy, cluster.peers
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let w = LogWorkload {
        keys,
        workers,
        rate,
        timeout: Duration::from_secs(5),
    };
    let handles = run_log_workers(&w, cluster.proxy, &rec, seed, Arc::clone(&stop));
    let mut rng = Rng::new(seed);
    let end = Instant::now() + Duration::from_secs(time);
    thread::sleep(Duration::from_secs(3.min(time)));
    while Instant::now() + Duration::from_secs(5) < end {
        match nemesis {
            Nemesis::None => thread::sleep(Duration::from_secs(1)),
            Nemesis::Kill => {
                let n = cluster.node_count() as u64;
                let victims: Vec<usize> = match rng.below(4) {
                    0 => (1..=n as usize).collect(),
                    1 => vec![rng.below(n) as usize + 1],
                    _ => {
                        let g = rng.below(cluster.groups as u64) as u32;
                        cluster.leader_of(g).into_iter().collect()
                    }
                };
                log.say(&format!("kill -9 nodes {victims:?}"));
                for v in &victims {
                    cluster.kill(*v);
                }
                thread::sleep(Duration::from_secs(2));
                for v in &victims {
                    cluster.restart(*v)?;
                }
                log.say(&format!("restarted {victims:?}"));
                thread::sleep(Duration::from_secs(2));
            }
            Nemesis::KillAll => {
                let all: Vec<usize> = (1..=cluster.node_count()).collect();
                log.say("kill -9 every node");
                for v in &all {
                    cluster.kill(*v);
                }
                thread::sleep(Duration::from_secs(1));
                for v in &all {
                    cluster.restart(*v)?;
                }
                log.say("restarted every node");
                thread::sleep(Duration::from_secs(3));
            }
            Nemesis::Pause => {
                let g = rng.below(cluster.groups as u64) as u32;
                if let Some(l) = cluster.leader_of(g) {
                    log.say(&format!("SIGSTOP node {l} (leader of shard {g})"));
                    cluster.signal(l, "-STOP");
                    thread::sleep(Duration::from_secs(3));
                    cluster.signal(l, "-CONT");
                    log.say(&format!("SIGCONT node {l}"));
                }
                thread::sleep(Duration::from_secs(2));
            }
        }
    }
    log.say("heal: every node running and resumed");
    for n in 1..=cluster.node_count() {
        cluster.signal(n, "-CONT");
        if !cluster.is_up(n) {
            cluster.restart(n)?;
        }
    }
    cluster.wait_healthy(Duration::from_secs(60))?;
    thread::sleep(Duration::from_secs(3));
    log.say("recovery done: stopping the load");
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    final_reads(cluster.proxy, keys, &rec)?;
    log.say("final reads done");
    cluster.stop();
    let history = rec.take();
    let mut out = std::io::BufWriter::new(std::fs::File::create(run.join("history.jsonl"))?);
    jepsen::history::write_jsonl(&history, &mut out)?;
    drop(out);
    check(run, &history)
}
