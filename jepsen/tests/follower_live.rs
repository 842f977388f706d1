//! The `follower` workload against a real local cluster (needs `target/release/xraft`):
//! `cargo test --release -p jepsen --test follower_live -- --ignored --nocapture`.

mod log_live;

use std::sync::Arc;
use std::time::Duration;

use jepsen::history::Type;
use jepsen::workload_follower::{run_follower_workers, FollowerWorkload};

#[test]
#[ignore = "starts a cluster: needs target/release/xraft"]
fn follower_sessions_under_a_pause_and_a_kill() {
    let w = FollowerWorkload {
        keys: 3,
        writers: 2,
        readers: 3,
        rate: 80,
        timeout: Duration::from_secs(5),
    };
    let (history, report) = log_live::run_live("follower", w.keys, |c, rec, seed, stop| {
        run_follower_workers(&w, c.proxy, rec, seed, Arc::clone(&stop))
    });
    let reads_ok = history
        .iter()
        .filter(|r| r.f == "xread" && r.kind == Type::Ok)
        .count();
    println!("ok follower reads: {reads_ok}");
    assert!(report.valid(), "{:?}", report.counts());
    assert!(report.acknowledged > 100 && report.follower_lag.samples > 100);
}
