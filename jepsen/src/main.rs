//! `jepsen run ...`: one run of a workload against a fresh cluster (on loopback or in network
//! namespaces) under a nemesis, stored under `--store` (history, nemesis log, node logs,
//! results.json, plots); `jepsen check <run-dir>`: re-checks a stored `history.jsonl`. Both end with the
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
    final_reads, run_log_workers, ClusterOpts, EnvKind, LocalCluster, LogWorkload, NemesisLog,
    Recorder, Rng,
};
use jepsen::{workload_follower, workload_group, workload_trim};

#[derive(Parser)]
#[command(name = "jepsen", about = "xraft's fault harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Workload {
    /// XADD with unique payloads and leader reads (XRANGE).
    Log,
    /// XADD and a consumer group: XREADGROUP, XACK, XCLAIM, XAUTOCLAIM, XPENDING, with
    /// consumers abandoned mid-run; the group is drained at the end.
    Group,
    /// XADD and sessions following streams with XREAD BLOCK (the follower path).
    Follower,
    /// XADD, leader reads and exact XTRIM MINID.
    Trim,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Env {
    /// Processes on 127.0.0.1 (no network faults).
    Local,
    /// Each node and the proxy in a network namespace on a bridge (needs root).
    Netns,
    /// The docker-compose cluster of deploy/ (3 or 5 nodes; needs root for network faults).
    Docker,
}

#[derive(Subcommand)]
enum Command {
    /// One run: a workload through the proxy of a fresh cluster while a nemesis injects
    /// faults; then heal, final reads, check, plots.
    Run {
        /// The xraft binary (built with the `fault-injection` feature for `clock`).
        #[arg(long, default_value = "target/release/xraft")]
        bin: PathBuf,
        #[arg(long, value_enum, default_value = "log")]
        workload: Workload,
        /// none, kill, kill-all, pause, partition, loss, clock, kill-partition,
        /// partition-pause, all (partitions and loss need --env netns).
        #[arg(long, default_value = "kill", value_parser = clap::builder::PossibleValuesParser::new(jepsen::nemesis::NAMES))]
        nemesis: String,
        #[arg(long, value_enum, default_value = "local")]
        env: Env,
        /// The image of the docker environment (pack the fault-injection binary for clock
        /// jumps: XRAFT_IMAGE=xraft:jepsen XRAFT_IMAGE_BIN=target/release/xraft-fault
        /// deploy/build-image.sh).
        #[arg(long, default_value = "xraft:jepsen")]
        image: String,
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Shards (Raft groups).
        #[arg(long, default_value_t = 3)]
        groups: u32,
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
        /// Client timeout of one operation (after it, the outcome is unknown).
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
        /// The positive control: nodes never flush (acknowledged writes die with kill -9);
        /// the checker must find lost writes.
        #[arg(long)]
        unsafe_never_flush: bool,
    },
    /// Re-check a stored run: reads RUN/history.jsonl, writes RUN/results.json and the plots.
    Check { run: PathBuf },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Check { run } => {
            let path = run.join("history.jsonl");
            let file = std::fs::File::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            let history = jepsen::history::read_jsonl(BufReader::new(file))?;
            let v = check(&run, &history)?;
            plot(&run, &history);
            println!(
                "{} passed, {} failed ({})",
                v.passed,
                v.failed,
                run.display()
            );
            std::process::exit(if v.failed == 0 { 0 } else { 1 });
        }
        Command::Run {
            bin,
            workload,
            nemesis,
            env,
            image,
            nodes,
            groups,
            time,
            seed,
            store,
            workers,
            rate,
            keys,
            timeout_ms,
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
            let wname = workload
                .to_possible_value()
                .map(|v| v.get_name().to_string());
            let wname = wname.unwrap_or_default();
            let run = store.join(format!("{wname}-{nemesis}{control}-{seed}"));
            let _ = std::fs::remove_dir_all(&run);
            std::fs::create_dir_all(&run)?;
            let faults = jepsen::nemesis::faults(&nemesis, nodes)
                .with_context(|| format!("unknown nemesis {nemesis}"))?;
            if env == Env::Local && faults.iter().any(|f| f.needs_netns()) {
                anyhow::bail!("nemesis {nemesis} needs --env netns");
            }
            let env = match env {
                Env::Local => EnvKind::Local,
                Env::Netns => EnvKind::Netns,
                Env::Docker => EnvKind::Docker {
                    image,
                    repo: std::env::current_dir()?,
                },
            };
            let spec = RunSpec {
                bin,
                workload,
                faults,
                env,
                nodes,
                groups,
                time,
                seed,
                workers,
                rate,
                keys,
                timeout: Duration::from_millis(timeout_ms),
                never_flush: unsafe_never_flush,
            };
            let v = run_once(&spec, &run)?;
            println!(
                "{} passed, {} failed ({wname}/{nemesis}{control}, seed {seed}, {})",
                v.passed,
                v.failed,
                run.display()
            );
            std::process::exit(if v.failed == 0 { 0 } else { 1 });
        }
    }
}

/// The availability report counts operations invoked this long after a fault began.
const AVAILABILITY_SETTLE_S: f64 = 2.0;

/// The bound of L10: every shard accepts writes this soon after the heal.
const LIVENESS_BOUND_MS: f64 = 15_000.0;

/// What the checks concluded: how many passed and failed (safety: the log and group
/// checkers; liveness: L10, when the run had a liveness phase).
struct Verdict {
    passed: u32,
    failed: u32,
}

/// Runs the checkers, writes results.json, prints a summary.
fn check(run: &Path, history: &[jepsen::history::Record]) -> anyhow::Result<Verdict> {
    let report = jepsen::log_checker::check_log(history);
    let groups = jepsen::group_checker::check_groups(history);
    let liveness = jepsen::liveness::check_liveness(history, LIVENESS_BOUND_MS);
    let nemesis = std::fs::read_to_string(run.join("nemesis.log")).unwrap_or_default();
    let windows = jepsen::plot::parse_fault_windows(&nemesis);
    let available = jepsen::availability::availability(history, &windows, AVAILABILITY_SETTLE_S);
    for a in report.anomalies.iter().chain(&groups.anomalies).take(50) {
        println!("{} {}: {}", a.kind, a.key, a.detail);
    }
    let results = serde_json::json!({
        "log": &report,
        "groups": &groups,
        "liveness": &liveness,
        "availability": { "settle_s": AVAILABILITY_SETTLE_S, "windows": &available },
    });
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
    if report.trims > 0 {
        println!(
            "trim: {} trims, {} acknowledged entries trimmed away",
            report.trims, report.trimmed
        );
    }
    let lag = &report.follower_lag;
    if lag.samples > 0 {
        println!(
            "follower reads: lag after acknowledgement p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} entries)",
            lag.p50_ms, lag.p99_ms, lag.max_ms, lag.samples
        );
    }
    if groups.groups > 0 {
        println!(
            "groups: {} deliveries, {} claims, {} acks, {} anomalies",
            groups.deliveries,
            groups.claims,
            groups.acks,
            groups.anomalies.len()
        );
    }
    if !available.is_empty() {
        let (ok, fail, unknown) = available.iter().fold((0, 0, 0), |(o, f, u), w| {
            (o + w.ok, f + w.fail, u + w.unknown)
        });
        println!(
            "availability (report): {} fault windows; operations invoked {AVAILABILITY_SETTLE_S} s or more into one: {ok} ok, {fail} failed, {unknown} unknown",
            available.len()
        );
    }
    let safe = report.valid() && groups.valid();
    let mut v = Verdict {
        passed: safe as u32,
        failed: !safe as u32,
    };
    if let Some(l) = &liveness {
        let worst = l
            .worst_ms()
            .map_or("-".to_string(), |w| format!("{w:.0} ms"));
        println!(
            "liveness (L10): {} shards, slowest first write after the heal {worst} (bound {:.0} ms){}",
            l.shards.len(),
            l.bound_ms,
            if l.valid() { "" } else { ": FAILED" }
        );
        for f in &l.failures {
            println!("liveness: {f}");
        }
        if l.valid() {
            v.passed += 1;
        } else {
            v.failed += 1;
        }
    }
    Ok(v)
}

struct RunSpec {
    bin: PathBuf,
    workload: Workload,
    faults: Vec<jepsen::nemesis::Fault>,
    env: EnvKind,
    nodes: usize,
    groups: u32,
    time: u64,
    seed: u64,
    workers: usize,
    rate: u64,
    keys: usize,
    timeout: Duration,
    never_flush: bool,
}

fn run_once(s: &RunSpec, run: &Path) -> anyhow::Result<Verdict> {
    let opts = ClusterOpts {
        nodes: s.nodes,
        groups: s.groups,
        never_flush: s.never_flush,
        env: s.env.clone(),
    };
    let mut cluster = LocalCluster::start_with(&s.bin, &run.join("cluster"), &opts)?;
    let rec = Recorder::new();
    let mut log = NemesisLog::new(&run.join("nemesis.log"), rec.start)?;
    log.say(&format!(
        "cluster up: proxy {}, peers {}",
        cluster.proxy, cluster.peers
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let timeout = s.timeout;
    let (keys, proxy) = (s.keys, cluster.proxy);
    let stop2 = Arc::clone(&stop);
    let handles = match s.workload {
        Workload::Log => {
            let w = LogWorkload {
                keys,
                workers: s.workers,
                rate: s.rate,
                timeout,
            };
            run_log_workers(&w, proxy, &rec, s.seed, stop2)
        }
        Workload::Group => {
            workload_group::setup_groups(proxy, keys)?;
            let w = workload_group::GroupWorkload {
                keys,
                producers: s.workers.div_ceil(2),
                consumers: s.workers.max(2),
                rate: s.rate,
                timeout,
            };
            workload_group::run_group_workers(&w, proxy, &rec, s.seed, stop2)
        }
        Workload::Follower => {
            let w = workload_follower::FollowerWorkload {
                keys,
                writers: s.workers.div_ceil(2),
                readers: s.workers.max(2),
                rate: s.rate,
                timeout,
            };
            workload_follower::run_follower_workers(&w, proxy, &rec, s.seed, stop2)
        }
        Workload::Trim => {
            let w = workload_trim::TrimWorkload {
                keys,
                workers: s.workers,
                rate: s.rate,
                timeout,
            };
            workload_trim::run_trim_workers(&w, proxy, &rec, s.seed, stop2)
        }
    };
    let mut rng = Rng::new(s.seed);
    let end = Instant::now() + Duration::from_secs(s.time);
    thread::sleep(Duration::from_secs(3.min(s.time)));
    let faults = jepsen::nemesis::run(&s.faults, &mut cluster, &mut rng, &mut log, end);
    // Heal whatever happened, even when the nemesis failed.
    jepsen::nemesis::heal_all(&mut cluster, &mut log)?;
    faults?;
    // L10: every shard accepts writes within the bound after the heal.
    let shard_keys = cluster.keys_per_group()?;
    jepsen::liveness::probe(proxy, &shard_keys, &rec, Duration::from_secs(60));
    cluster.wait_healthy(Duration::from_secs(60))?;
    thread::sleep(Duration::from_secs(3));
    log.say("recovery done: stopping the load");
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    final_reads(proxy, keys, &rec)?;
    if s.workload == Workload::Group {
        workload_group::drain_groups(proxy, keys, &rec)?;
    }
    log.say("final reads done");
    cluster.stop();
    drop(cluster);
    let history = rec.take();
    let mut out = std::io::BufWriter::new(std::fs::File::create(run.join("history.jsonl"))?);
    jepsen::history::write_jsonl(&history, &mut out)?;
    drop(out);
    let v = check(run, &history)?;
    plot(run, &history);
    Ok(v)
}

/// Pictures of the run (a failure to draw does not change the verdict).
fn plot(run: &Path, history: &[jepsen::history::Record]) {
    let nemesis = std::fs::read_to_string(run.join("nemesis.log")).unwrap_or_default();
    match jepsen::plot::plot_run(run, history, &nemesis) {
        Ok(files) => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            println!("plots: {}", names.join(" "));
        }
        Err(e) => println!("plots: not drawn: {e:#}"),
    }
}
