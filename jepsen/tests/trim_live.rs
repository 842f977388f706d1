//! The `trim` workload against a real local cluster (needs `target/release/xraft`):
//! `cargo test --release -p jepsen --test trim_live -- --ignored --nocapture`.

mod log_live;

use std::sync::Arc;
use std::time::Duration;

use jepsen::history::{Type, Value};
use jepsen::workload_trim::{run_trim_workers, TrimWorkload};

#[test]
#[ignore = "starts a cluster: needs target/release/xraft"]
fn exact_trims_under_a_pause_and_a_kill() {
    let w = TrimWorkload {
        keys: 3,
        workers: 4,
        rate: 80,
        timeout: Duration::from_secs(5),
    };
    let (history, report) = log_live::run_live("trim", w.keys, |c, rec, seed, stop| {
        run_trim_workers(&w, c.proxy, rec, seed, Arc::clone(&stop))
    });
    let removed: u64 = history
        .iter()
        .filter(|r| r.f == "xtrim" && r.kind == Type::Ok)
        .filter_map(|r| match r.value {
            Value::Trim { removed, .. } => removed,
            _ => None,
        })
        .sum();
    println!("entries removed by ok trims: {removed}");
    assert!(report.valid(), "{:?}", report.counts());
    assert!(report.trims > 5 && report.trimmed > 0);
}
