//! The `netns` environment: every node and the proxy run in a network namespace of their own,
//! each attached by a veth pair to one bridge in the root namespace, where the harness runs
//! (it reaches the proxy and the nodes' admin interface over the bridge). Network faults are
//! iptables rules inside the namespaces, in two chains of their own:
//! - `xj-part`: partitions, as DROP rules for the source addresses a host must not hear
//!   (installed on both ends, so a cut is symmetric);
//! - `xj-loss`: packet loss, `-m statistic --mode random --probability p -j DROP`.
//!
//! Everything is created by [`Netns::create`] and removed by `Drop` (namespaces, the bridge,
//! the root namespace's FORWARD rule that lets bridged traffic through Docker's DROP policy).
//! A harness killed before it could clean up leaves names carrying its pid:
//! [`sweep_stale`] removes those of processes that are gone, and runs before each creation.
//!
//! Names: namespaces `xj<pid>-n<k>` and `xj<pid>-px`; bridge `xjb<pid>`; root-side veths
//! `xjv<pid>n<k>` / `xjv<pid>p` (interface names stay within 15 bytes).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// One end of a link the nemesis can cut: a node (1-based) or the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    Node(usize),
    Proxy,
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Node(n) => write!(f, "n{n}"),
            Host::Proxy => write!(f, "proxy"),
        }
    }
}

/// Network faults as iptables rules, the same in every environment that has them: a host
/// provides its address and a way to run iptables in its network namespace (with the chains
/// `xj-part` and `xj-loss` hooked into INPUT); cutting, healing and loss come from that.
pub trait Network {
    fn hosts(&self) -> Vec<Host>;
    fn addr(&self, h: Host) -> String;
    /// `iptables -w ARGS` in `h`'s network namespace.
    fn iptables(&self, h: Host, args: &[&str]) -> anyhow::Result<()>;
    /// The pairs cut so far (each once, smaller host first).
    fn cut_pairs(&mut self) -> &mut BTreeSet<(Host, Host)>;

    /// Cuts every link in `pairs` (both directions).
    fn cut(&mut self, pairs: &[(Host, Host)]) -> anyhow::Result<()> {
        for &(x, y) in pairs {
            let key = if x < y { (x, y) } else { (y, x) };
            if x == y || !self.cut_pairs().insert(key) {
                continue;
            }
            let (ix, iy) = (self.addr(x), self.addr(y));
            self.iptables(x, &["-A", "xj-part", "-s", &iy, "-j", "DROP"])?;
            self.iptables(y, &["-A", "xj-part", "-s", &ix, "-j", "DROP"])?;
        }
        Ok(())
    }

    /// Removes every partition.
    fn heal(&mut self) -> anyhow::Result<()> {
        for h in self.hosts() {
            self.iptables(h, &["-F", "xj-part"])?;
        }
        self.cut_pairs().clear();
        Ok(())
    }

    /// Drops incoming packets at `h` with probability `p` (0 turns it off).
    fn loss(&self, h: Host, p: f64) -> anyhow::Result<()> {
        self.iptables(h, &["-F", "xj-loss"])?;
        if p > 0.0 {
            let p = format!("{p:.3}");
            let rule = [
                "-A",
                "xj-loss",
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &p,
                "-j",
                "DROP",
            ];
            self.iptables(h, &rule)?;
        }
        Ok(())
    }
}

pub struct Netns {
    tag: String,
    nodes: usize,
    /// The /24 the hosts live in: 10.<a>.<b>.0.
    net: (u8, u8),
    /// Pairs currently cut (each pair once, smaller host first).
    cut: BTreeSet<(Host, Host)>,
    created: bool,
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn output(args: &[&str]) -> String {
    Command::new(args[0])
        .args(&args[1..])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes what harness processes that no longer exist left behind.
pub fn sweep_stale() {
    let mut dead = BTreeSet::new();
    for line in output(&["ip", "netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if let Some(pid) = name
            .strip_prefix("xj")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        {
            if !alive(pid) {
                quiet(&["ip", "netns", "del", name]);
                dead.insert(pid);
            }
        }
    }
    for line in output(&["ip", "-o", "link", "show", "type", "bridge"]).lines() {
        if let Some(name) = line.split(": ").nth(1) {
            if let Some(pid) = name.strip_prefix("xjb").and_then(|p| p.parse::<u32>().ok()) {
                if !alive(pid) {
                    dead.insert(pid);
                }
            }
        }
    }
    for pid in dead {
        let bridge = format!("xjb{pid}");
        quiet(&["ip", "link", "del", &bridge]);
        forward_rule("-D", &bridge);
    }
}

/// The root namespace's FORWARD chain may drop bridged traffic (Docker sets its policy to
/// DROP and br_netfilter sends bridged frames through it): let the bridge's own traffic pass.
fn forward_rule(op: &str, bridge: &str) {
    if op == "-D" {
        // Delete every copy.
        for _ in 0..8 {
            let ok = Command::new("iptables")
                .args(["-D", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"])
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                break;
            }
        }
    } else {
        quiet(&[
            "iptables", "-I", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT",
        ]);
    }
}

impl Netns {
    /// Creates the bridge and one namespace per node plus the proxy's.
    pub fn create(nodes: usize) -> anyhow::Result<Netns> {
        if nodes == 0 || nodes > 50 {
            bail!("netns: {nodes} nodes is out of range");
        }
        sweep_stale();
        let pid = std::process::id();
        let used = output(&["ip", "-4", "-o", "addr", "show"]);
        let mut b = (pid % 250) as u8 + 1;
        while used.contains(&format!("10.79.{b}.")) {
            b = b % 250 + 1;
        }
        let mut ns = Netns {
            tag: format!("xj{pid}"),
            nodes,
            net: (79, b),
            cut: BTreeSet::new(),
            created: true,
        };
        ns.build().context("creating the netns environment")?;
        Ok(ns)
    }

    fn bridge(&self) -> String {
        format!("xjb{}", &self.tag[2..])
    }

    /// The namespace a host runs in.
    pub fn ns(&self, h: Host) -> String {
        match h {
            Host::Node(n) => format!("{}-n{n}", self.tag),
            Host::Proxy => format!("{}-px", self.tag),
        }
    }

    fn veth(&self, h: Host) -> String {
        match h {
            Host::Node(n) => format!("xjv{}n{n}", &self.tag[2..]),
            Host::Proxy => format!("xjv{}p", &self.tag[2..]),
        }
    }

    pub fn ip(&self, h: Host) -> Ipv4Addr {
        let last = match h {
            Host::Node(n) => 10 + n as u8,
            Host::Proxy => 200,
        };
        Ipv4Addr::new(10, self.net.0, self.net.1, last)
    }

    fn build(&mut self) -> anyhow::Result<()> {
        let bridge = self.bridge();
        let gw = format!("10.{}.{}.1/24", self.net.0, self.net.1);
        run(&["ip", "link", "add", &bridge, "type", "bridge"])?;
        run(&["ip", "addr", "add", &gw, "dev", &bridge])?;
        run(&["ip", "link", "set", &bridge, "up"])?;
        forward_rule("-I", &bridge);
        for h in self.hosts() {
            let (ns, veth) = (self.ns(h), self.veth(h));
            let addr = format!("{}/24", self.ip(h));
            run(&["ip", "netns", "add", &ns])?;
            run(&[
                "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            run(&["ip", "link", "set", &veth, "master", &bridge, "up"])?;
            let inside = |args: &[&str]| {
                let mut v = vec!["ip", "netns", "exec", ns.as_str()];
                v.extend_from_slice(args);
                run(&v)
            };
            inside(&["ip", "addr", "add", &addr, "dev", "eth0"])?;
            inside(&["ip", "link", "set", "eth0", "up"])?;
            inside(&["ip", "link", "set", "lo", "up"])?;
            for chain in ["xj-part", "xj-loss"] {
                inside(&["iptables", "-w", "-N", chain])?;
                inside(&["iptables", "-w", "-A", "INPUT", "-j", chain])?;
            }
        }
        Ok(())
    }

    /// A command that runs `program` inside `h`'s namespace.
    pub fn command(&self, h: Host, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(h)]).arg(program);
        c
    }

    pub fn node_count(&self) -> usize {
        self.nodes
    }

    fn destroy(&mut self) {
        if !self.created {
            return;
        }
        self.created = false;
        for h in self.hosts() {
            quiet(&["ip", "netns", "del", &self.ns(h)]);
            quiet(&["ip", "link", "del", &self.veth(h)]);
        }
        let bridge = self.bridge();
        quiet(&["ip", "link", "del", &bridge]);
        forward_rule("-D", &bridge);
    }
}

impl Network for Netns {
    fn hosts(&self) -> Vec<Host> {
        (1..=self.nodes)
            .map(Host::Node)
            .chain([Host::Proxy])
            .collect()
    }

    fn addr(&self, h: Host) -> String {
        self.ip(h).to_string()
    }

    fn iptables(&self, h: Host, args: &[&str]) -> anyhow::Result<()> {
        let ns = self.ns(h);
        let mut v = vec!["ip", "netns", "exec", ns.as_str(), "iptables", "-w"];
        v.extend_from_slice(args);
        run(&v)
    }

    fn cut_pairs(&mut self) -> &mut BTreeSet<(Host, Host)> {
        &mut self.cut
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// Partitions a nemesis can ask for, as the pairs of hosts to cut. `nodes` lists the node
/// numbers; the proxy is cut only by the `proxy-*` kinds.
pub fn grudge_pairs(sides: &[Vec<Host>]) -> Vec<(Host, Host)> {
    let mut out = Vec::new();
    for (i, a) in sides.iter().enumerate() {
        for b in &sides[i + 1..] {
            for &x in a {
                for &y in b {
                    out.push((x, y));
                }
            }
        }
    }
    out
}

/// A ring of majorities (Jepsen's "majorities ring"): each node hears itself and its
/// neighbours up to distance `n/2` around a ring; every node sees a majority, but no two
/// nodes see the same one. Meaningful with 5 nodes.
pub fn ring_pairs(order: &[usize]) -> Vec<(Host, Host)> {
    let n = order.len();
    // Hearing 2r+1 nodes is a majority when r >= ceil(floor(n/2) / 2).
    let reach = (n / 2).div_ceil(2);
    let mut out = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let d = (j - i).min(n - (j - i));
            if d > reach {
                out.push((Host::Node(order[i]), Host::Node(order[j])));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_of_five_leaves_each_node_a_majority_of_its_own() {
        let pairs = ring_pairs(&[1, 2, 3, 4, 5]);
        for n in 1..=5 {
            let cut = pairs
                .iter()
                .filter(|(a, b)| *a == Host::Node(n) || *b == Host::Node(n))
                .count();
            // Hears itself and two neighbours: 3 of 5.
            assert_eq!(cut, 2, "node {n}: {pairs:?}");
        }
    }

    #[test]
    fn grudge_cuts_across_sides_only() {
        let p = grudge_pairs(&[vec![Host::Node(1)], vec![Host::Node(2), Host::Node(3)]]);
        assert_eq!(
            p,
            vec![
                (Host::Node(1), Host::Node(2)),
                (Host::Node(1), Host::Node(3))
            ]
        );
    }
}
