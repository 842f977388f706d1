//! The `docker` environment: the compose cluster of `deploy/` (3 or 5 node containers and the
//! proxy container, image FROM scratch), one compose project per run (`xj<pid>`) on a subnet
//! of its own. The harness runs on the host and reaches the proxy and the nodes' admin
//! interface by their container addresses.
//!
//! Faults: kill -9 is `docker kill`, restart `docker start`, pause `docker pause`; network faults
//! are iptables rules inside a container's network namespace, entered with `nsenter` (the
//! image has no iptables; the host's binary runs in the container's namespace), in the same
//! chains as the `netns` environment; clock jumps copy the offset file into the container's
//! data directory (`docker cp`: the image has no shell), which needs an image built from the
//! `fault-injection` binary. Everything is removed at the end (`docker-compose down -v`), and
//! projects left by harness processes that are gone are removed before a new one starts.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::netns::{Host, Network};

pub struct Docker {
    project: String,
    files: Vec<PathBuf>,
    /// The /24 the containers live in: `<prefix>.0/24`.
    prefix: String,
    pub nodes: usize,
    ids: Vec<String>,
    proxy_id: String,
    cut: BTreeSet<(Host, Host)>,
    up: bool,
}

fn run(c: &mut Command) -> anyhow::Result<String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {c:?}"))?;
    if !out.status.success() {
        bail!(
            "{c:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn docker(args: &[&str]) -> anyhow::Result<String> {
    run(Command::new("docker").args(args))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes compose projects (containers, networks, volumes) of harness processes that are gone.
pub fn sweep_stale() {
    let Ok(list) = docker(&[
        "ps",
        "-a",
        "--filter",
        "label=com.docker.compose.project",
        "--format",
        "{{.Label \"com.docker.compose.project\"}}",
    ]) else {
        return;
    };
    let projects: BTreeSet<&str> = list.lines().collect();
    for p in projects {
        let Some(pid) = p.strip_prefix("xj").and_then(|r| r.parse::<u32>().ok()) else {
            continue;
        };
        if !alive(pid) {
            remove_project(p);
        }
    }
}

fn remove_project(project: &str) {
    let label = format!("label=com.docker.compose.project={project}");
    for (kind, rm) in [
        ("ps", ["rm", "-fv"]),
        ("network", ["network", "rm"]),
        ("volume", ["volume", "rm"]),
    ] {
        let ids = match kind {
            "ps" => docker(&["ps", "-aq", "--filter", &label]),
            k => docker(&[k, "ls", "-q", "--filter", &label]),
        };
        for id in ids.unwrap_or_default().lines() {
            let _ = docker(&[rm[0], rm[1], id]);
        }
    }
}

impl Docker {
    /// `docker-compose up` of the deploy/ cluster (`nodes` 3 or 5) from image `image`, the
    /// proxy published on 127.0.0.1:`proxy_port`; waits for the compose health checks.
    pub fn up(repo: &Path, image: &str, nodes: usize, proxy_port: u16) -> anyhow::Result<Docker> {
        let mut files = vec![repo.join("deploy/docker-compose.yml")];
        match nodes {
            3 => {}
            5 => files.push(repo.join("deploy/docker-compose.5nodes.yml")),
            n => bail!("the docker environment has 3 or 5 nodes, not {n}"),
        }
        sweep_stale();
        let pid = std::process::id();
        // A /24 no docker network uses yet.
        let subnets = |n: &str| {
            docker(&[
                "network",
                "inspect",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
                n,
            ])
            .unwrap_or_default()
        };
        let taken: String = docker(&["network", "ls", "-q"])
            .unwrap_or_default()
            .lines()
            .map(subnets)
            .collect::<Vec<_>>()
            .join(" ");
        let mut b = pid % 200 + 20;
        while taken.contains(&format!("172.30.{b}.")) {
            b = b % 230 + 20;
        }
        let mut d = Docker {
            project: format!("xj{pid}"),
            files,
            prefix: format!("172.30.{b}"),
            nodes,
            ids: Vec::new(),
            proxy_id: String::new(),
            cut: BTreeSet::new(),
            up: true,
        };
        let port = proxy_port.to_string();
        run(d
            .compose(&["up", "-d"])
            .env("XRAFT_IMAGE", image)
            .env("XRAFT_PROXY_PORT", &port)
            .env("RUST_LOG", "info"))
        .context("docker-compose up")?;
        for n in 1..=nodes {
            let id = run(&mut d.compose(&["ps", "-q", &format!("n{n}")]))?;
            d.ids.push(id);
        }
        d.proxy_id = run(&mut d.compose(&["ps", "-q", "proxy"]))?;
        Ok(d)
    }

    fn compose(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker-compose");
        c.args(["-p", &self.project]);
        for f in &self.files {
            c.arg("-f").arg(f);
        }
        c.args(args)
            .env("XRAFT_SUBNET_PREFIX", &self.prefix)
            .env("XRAFT_PROXY_PORT", "0");
        c
    }

    /// The nodes' gRPC addresses, as `--peers` takes them.
    pub fn peers(&self) -> String {
        (1..=self.nodes)
            .map(|n| format!("{n}={}.{}:7100", self.prefix, 10 + n))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn proxy(&self) -> SocketAddr {
        format!("{}.2:6379", self.prefix)
            .parse()
            .expect("a valid address")
    }

    fn id(&self, h: Host) -> &str {
        match h {
            Host::Node(n) => &self.ids[n - 1],
            Host::Proxy => &self.proxy_id,
        }
    }

    /// kill -9 of node `n`'s container; returns when it has stopped.
    pub fn kill(&self, n: usize) {
        let id = self.id(Host::Node(n));
        let _ = docker(&["kill", "-s", "KILL", id]);
        let _ = docker(&["wait", id]);
    }

    pub fn start(&self, n: usize) -> anyhow::Result<()> {
        docker(&["start", self.id(Host::Node(n))]).map(drop)
    }

    pub fn pause(&self, n: usize, pause: bool) {
        let id = self.id(Host::Node(n));
        // Unpausing a container that is not paused fails harmlessly.
        let _ = docker(&[if pause { "pause" } else { "unpause" }, id]);
    }

    /// Writes node `n`'s clock offset file into its data directory (0: true time).
    pub fn set_clock_offset(&self, n: usize, offset_ms: i64) -> anyhow::Result<()> {
        let dir = tempdir()?;
        let file = dir.join("fault-clock-offset-ms");
        std::fs::write(&file, format!("{offset_ms}\n"))?;
        let dest = format!("{}:/data/fault-clock-offset-ms", self.id(Host::Node(n)));
        let r = docker(&["cp", &file.to_string_lossy(), &dest]);
        let _ = std::fs::remove_dir_all(&dir);
        r.map(drop)
    }

    /// The container's main process, to enter its network namespace (None when not running).
    fn pid(&self, h: Host) -> Option<u32> {
        docker(&["inspect", "--format", "{{.State.Pid}}", self.id(h)])
            .ok()?
            .parse()
            .ok()
            .filter(|p| *p > 0)
    }

    /// Saves every container's log into `dir` (`node<N>.log`, `proxy.log`).
    pub fn save_logs(&self, dir: &Path) {
        let _ = std::fs::create_dir_all(dir);
        for h in self.hosts() {
            let name = match h {
                Host::Node(n) => format!("node{n}.log"),
                Host::Proxy => "proxy.log".to_string(),
            };
            if let Ok(f) = std::fs::File::create(dir.join(name)) {
                let f2 = f.try_clone();
                let mut c = Command::new("docker");
                c.args(["logs", "--timestamps", self.id(h)]).stdout(f);
                if let Ok(f2) = f2 {
                    c.stderr(f2);
                }
                let _ = c.status();
            }
        }
    }

    /// `docker-compose down -v`: containers, network and volumes.
    pub fn down(&mut self) {
        if !self.up {
            return;
        }
        self.up = false;
        for n in 1..=self.nodes {
            self.pause(n, false);
        }
        let _ = self
            .compose(&["down", "-v", "--timeout", "5"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        remove_project(&self.project);
    }
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "xj-clock-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&base)?;
    Ok(base)
}

impl Network for Docker {
    fn hosts(&self) -> Vec<Host> {
        (1..=self.nodes)
            .map(Host::Node)
            .chain([Host::Proxy])
            .collect()
    }

    fn addr(&self, h: Host) -> String {
        match h {
            Host::Node(n) => format!("{}.{}", self.prefix, 10 + n),
            Host::Proxy => format!("{}.2", self.prefix),
        }
    }

    fn iptables(&self, h: Host, args: &[&str]) -> anyhow::Result<()> {
        let Some(pid) = self.pid(h) else {
            // A stopped container has no network namespace (and loses its rules anyway).
            return Ok(());
        };
        let pid = pid.to_string();
        let ns = |a: &[&str]| {
            Command::new("nsenter")
                .args(["-t", &pid, "-n", "iptables", "-w"])
                .args(a)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        // The chains exist from the first fault on (a restarted container starts without).
        for chain in ["xj-part", "xj-loss"] {
            if !ns(&["-L", chain, "-n"]) {
                ns(&["-N", chain]);
            }
            if !ns(&["-C", "INPUT", "-j", chain]) {
                ns(&["-A", "INPUT", "-j", chain]);
            }
        }
        if !ns(args) {
            bail!("nsenter -t {pid} -n iptables {} failed", args.join(" "));
        }
        Ok(())
    }

    fn cut_pairs(&mut self) -> &mut BTreeSet<(Host, Host)> {
        &mut self.cut
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        self.down();
    }
}
