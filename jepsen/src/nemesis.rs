//! Nemeses: the faults a run injects, each one a fault window (inject, hold, heal) logged in
//! the nemesis log with the history's clock. A nemesis is a set of fault kinds; each window
//! picks one of them with the run's seeded generator.
//!
//! Process faults work in both environments; network faults (partitions, packet loss) need
//! the `netns` environment; clock jumps need a broker built with the `fault-injection` feature.

use std::thread;
use std::time::{Duration, Instant};

use crate::netns::{grudge_pairs, ring_pairs, Host};
use crate::run::{LocalCluster, NemesisLog, Rng};

/// One kind of fault window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// kill -9 of a shard's leader (found through `xraft ctl`).
    KillLeader,
    KillOne,
    /// kill -9 of a minority (with 3 nodes: one), or a majority.
    KillMinority,
    KillMajority,
    KillAll,
    /// SIGSTOP of a shard's leader, or of a random node.
    PauseLeader,
    PauseOne,
    /// One node cut from the other nodes (the proxy still reaches it).
    PartitionOne,
    /// A shard's leader cut from the other nodes.
    PartitionLeader,
    /// Random halves: a minority side and a majority side.
    PartitionHalves,
    /// Two sides that cannot hear each other, both hearing one node in the middle.
    PartitionBridge,
    /// Majorities ring (every node hears a different majority); 5 nodes or more.
    PartitionRing,
    /// The proxy cut from a shard's leader, or from a majority of the nodes.
    PartitionProxy,
    /// 10-30 % of incoming packets dropped on every host.
    Loss,
    /// A shard leader's wall clock jumps forward or backward by up to an hour.
    ClockJump,
}

impl Fault {
    pub fn needs_netns(self) -> bool {
        matches!(
            self,
            Fault::PartitionOne
                | Fault::PartitionLeader
                | Fault::PartitionHalves
                | Fault::PartitionBridge
                | Fault::PartitionRing
                | Fault::PartitionProxy
                | Fault::Loss
        )
    }
}

/// The faults of a nemesis named on the command line.
pub fn faults(name: &str, nodes: usize) -> Option<Vec<Fault>> {
    use Fault::*;
    let mut partitions = vec![
        PartitionOne,
        PartitionLeader,
        PartitionHalves,
        PartitionBridge,
        PartitionProxy,
    ];
    if nodes >= 5 {
        partitions.push(PartitionRing);
    }
    let kills = vec![KillLeader, KillOne, KillMinority, KillMajority, KillAll];
    let pauses = vec![PauseLeader, PauseOne];
    Some(match name {
        "none" => vec![],
        "kill" => kills,
        "kill-all" => vec![KillAll],
        "pause" => pauses,
        "partition" => partitions,
        "partition-leader" => vec![PartitionLeader],
        "loss" => vec![Loss],
        "clock" => vec![ClockJump],
        "kill-partition" => [kills, partitions].concat(),
        "partition-pause" => [partitions, pauses].concat(),
        "all" => [kills, pauses, partitions, vec![Loss, ClockJump]].concat(),
        _ => return None,
    })
}

pub const NAMES: &[&str] = &[
    "none",
    "kill",
    "kill-all",
    "pause",
    "partition",
    "partition-leader",
    "loss",
    "clock",
    "kill-partition",
    "partition-pause",
    "all",
];

/// What a window did, so that it can be healed.
enum Injected {
    Nothing,
    Killed(Vec<usize>),
    Paused(usize),
    Cut,
    Loss,
    Clock(usize),
}

fn shuffled(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (1..=n).collect();
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

fn leader(c: &LocalCluster, rng: &mut Rng) -> Option<(u32, usize)> {
    let g = rng.below(c.groups as u64) as u32;
    c.leader_of(g).map(|l| (g, l))
}

fn inject(
    f: Fault,
    c: &mut LocalCluster,
    rng: &mut Rng,
    log: &mut NemesisLog,
) -> anyhow::Result<Injected> {
    let n = c.node_count();
    let kill = |c: &mut LocalCluster, log: &mut NemesisLog, v: Vec<usize>, why: &str| {
        log.say(&format!("kill -9 nodes {v:?}{why}"));
        for &x in &v {
            c.kill(x);
        }
        Injected::Killed(v)
    };
    Ok(match f {
        Fault::KillLeader => match leader(c, rng) {
            Some((g, l)) => kill(c, log, vec![l], &format!(" (leader of shard {g})")),
            None => Injected::Nothing,
        },
        Fault::KillOne => {
            let v = vec![rng.below(n as u64) as usize + 1];
            kill(c, log, v, "")
        }
        Fault::KillMinority => {
            let v = shuffled(rng, n)[..n.div_ceil(2) - 1].to_vec();
            kill(c, log, v, " (a minority)")
        }
        Fault::KillMajority => {
            let v = shuffled(rng, n)[..n / 2 + 1].to_vec();
            kill(c, log, v, " (a majority)")
        }
        Fault::KillAll => kill(c, log, (1..=n).collect(), " (all)"),
        Fault::PauseLeader | Fault::PauseOne => {
            let target = match f {
                Fault::PauseLeader => leader(c, rng),
                _ => Some((u32::MAX, rng.below(n as u64) as usize + 1)),
            };
            match target {
                Some((g, l)) => {
                    let why = if g == u32::MAX {
                        String::new()
                    } else {
                        format!(" (leader of shard {g})")
                    };
                    log.say(&format!("SIGSTOP node {l}{why}"));
                    c.signal(l, "-STOP");
                    Injected::Paused(l)
                }
                None => Injected::Nothing,
            }
        }
        Fault::PartitionOne
        | Fault::PartitionLeader
        | Fault::PartitionHalves
        | Fault::PartitionBridge
        | Fault::PartitionRing
        | Fault::PartitionProxy => {
            let order = shuffled(rng, n);
            let node = |v: &[usize]| v.iter().map(|&x| Host::Node(x)).collect::<Vec<_>>();
            let (pairs, what) = match f {
                Fault::PartitionOne => (
                    grudge_pairs(&[node(&order[..1]), node(&order[1..])]),
                    format!("node {} isolated from the other nodes", order[0]),
                ),
                Fault::PartitionLeader => {
                    let Some((g, l)) = leader(c, rng) else {
                        return Ok(Injected::Nothing);
                    };
                    let rest: Vec<usize> = (1..=n).filter(|&x| x != l).collect();
                    (
                        grudge_pairs(&[node(&[l]), node(&rest)]),
                        format!("node {l} (leader of shard {g}) isolated from the other nodes"),
                    )
                }
                Fault::PartitionHalves => {
                    let k = n.div_ceil(2) - 1;
                    (
                        grudge_pairs(&[node(&order[..k]), node(&order[k..])]),
                        format!("halves {:?} | {:?}", &order[..k], &order[k..]),
                    )
                }
                Fault::PartitionBridge => {
                    let k = (n - 1) / 2;
                    let (a, mid, b) = (&order[..k], order[k], &order[k + 1..]);
                    (
                        grudge_pairs(&[node(a), node(b)]),
                        format!("bridge {a:?} | {mid} | {b:?}"),
                    )
                }
                Fault::PartitionRing => (ring_pairs(&order), format!("majorities ring {order:?}")),
                _ => {
                    // The proxy loses a shard's leader, or a majority of the nodes.
                    let cut: Vec<usize> = match (rng.below(2), leader(c, rng)) {
                        (0, Some((_, l))) => vec![l],
                        _ => order[..n / 2 + 1].to_vec(),
                    };
                    (
                        grudge_pairs(&[vec![Host::Proxy], node(&cut)]),
                        format!("proxy cut from nodes {cut:?}"),
                    )
                }
            };
            let Some(net) = c.network() else {
                anyhow::bail!("partitions need the netns or docker environment");
            };
            log.say(&format!("partition: {what}"));
            net.cut(&pairs)?;
            Injected::Cut
        }
        Fault::Loss => {
            let p = 0.1 + rng.below(21) as f64 / 100.0;
            let Some(net) = c.network() else {
                anyhow::bail!("packet loss needs the netns or docker environment");
            };
            log.say(&format!("packet loss {:.0}% on every host", p * 100.0));
            for h in (1..=n).map(Host::Node).chain([Host::Proxy]) {
                net.loss(h, p)?;
            }
            Injected::Loss
        }
        Fault::ClockJump => {
            let target = leader(c, rng)
                .map(|(_, l)| l)
                .unwrap_or_else(|| rng.below(n as u64) as usize + 1);
            let magnitude = [2_000i64, 30_000, 3_600_000][rng.below(3) as usize];
            let offset = if rng.below(2) == 0 {
                magnitude
            } else {
                -magnitude
            };
            log.say(&format!("clock jump: node {target} by {offset} ms"));
            c.set_clock_offset(target, offset)?;
            Injected::Clock(target)
        }
    })
}

fn heal_one(
    what: Injected,
    c: &mut LocalCluster,
    log: &mut NemesisLog,
    rng: &mut Rng,
) -> anyhow::Result<()> {
    match what {
        Injected::Nothing => {}
        Injected::Killed(v) => {
            for &x in &v {
                c.restart(x)?;
            }
            log.say(&format!("restarted {v:?}"));
        }
        Injected::Paused(l) => {
            c.signal(l, "-CONT");
            log.say(&format!("SIGCONT node {l}"));
        }
        Injected::Cut => {
            if let Some(net) = c.network() {
                net.heal()?;
            }
            log.say("heal partition");
        }
        Injected::Loss => {
            let hosts: Vec<Host> = (1..=c.node_count()).map(Host::Node).collect();
            if let Some(net) = c.network() {
                for h in hosts.into_iter().chain([Host::Proxy]) {
                    net.loss(h, 0.0)?;
                }
            }
            log.say("packet loss off");
        }
        Injected::Clock(n) => {
            // Sometimes leave the clock wrong for a while longer (a second jump back to true
            // time comes at the end of the run in any case).
            if rng.below(3) != 0 {
                c.set_clock_offset(n, 0)?;
                log.say(&format!("clock reset: node {n}"));
            } else {
                log.say(&format!("clock left skewed: node {n}"));
            }
        }
    }
    Ok(())
}

/// Runs fault windows until `end` minus a margin: each window injects one of `faults`, holds
/// it for 2-5 s, heals it, and lets the cluster work for 2-3 s. With no faults, just waits.
pub fn run(
    faults: &[Fault],
    c: &mut LocalCluster,
    rng: &mut Rng,
    log: &mut NemesisLog,
    end: Instant,
) -> anyhow::Result<()> {
    while Instant::now() + Duration::from_secs(5) < end {
        if faults.is_empty() {
            thread::sleep(Duration::from_secs(1));
            continue;
        }
        let f = faults[rng.below(faults.len() as u64) as usize];
        let what = inject(f, c, rng, log)?;
        thread::sleep(Duration::from_millis(2_000 + rng.below(3_000)));
        heal_one(what, c, log, rng)?;
        thread::sleep(Duration::from_millis(2_000 + rng.below(1_000)));
    }
    Ok(())
}

/// The heal phase: every node running and resumed, no partition, no loss, true clocks.
pub fn heal_all(c: &mut LocalCluster, log: &mut NemesisLog) -> anyhow::Result<()> {
    log.say("heal: every node running and resumed, network whole, clocks true");
    let hosts: Vec<Host> = (1..=c.node_count())
        .map(Host::Node)
        .chain([Host::Proxy])
        .collect();
    for n in 1..=c.node_count() {
        c.signal(n, "-CONT");
        if !c.is_up(n) {
            c.restart(n)?;
        }
        c.set_clock_offset(n, 0)?;
    }
    if let Some(net) = c.network() {
        net.heal()?;
        for h in hosts {
            net.loss(h, 0.0)?;
        }
    }
    Ok(())
}
