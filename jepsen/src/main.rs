//! `jepsen check <run-dir>`: re-checks `<run-dir>/history.jsonl` and prints the verdict line.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "jepsen", about = "xraft's fault harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
            let report = jepsen::log_checker::check_log(&history);
            let groups = jepsen::group_checker::check_groups(&history);
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
            println!(
                "groups: {} deliveries, {} claims, {} acks, {} anomalies",
                groups.deliveries,
                groups.claims,
                groups.acks,
                groups.anomalies.len()
            );
            let valid = report.valid() && groups.valid();
            let (passed, failed) = if valid { (1, 0) } else { (0, 1) };
            println!("{passed} passed, {failed} failed ({})", run.display());
            std::process::exit(if valid { 0 } else { 1 });
        }
    }
}
