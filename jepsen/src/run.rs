//! A run: start a local cluster (node processes and a proxy on 127.0.0.1), drive a workload
//! through the proxy while a nemesis injects faults, heal, read the final state, store the
//! history and check it.
//!
//! Environments: `local`, processes on loopback; `netns`, each node and the proxy in a
//! network namespace of its own on a bridge (see [`crate::netns`]), where partitions and
//! packet loss can be injected; `docker`, the compose cluster of `deploy/` (see
//! [`crate::docker`]). Process faults are signals (kill -9, SIGSTOP/SIGCONT) or their docker
//! equivalents, clock jumps are the broker's fault-injection clock offset file, and shards'
//! leaders are found through `xraft ctl`.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::client::{Client, Outcome, Resp};
use crate::docker::Docker;
use crate::history::{Record, Type, Value};
use crate::netns::{Host, Netns, Network};

/// A tiny deterministic generator (xorshift64*), seeded per run and per worker.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Node processes and a proxy.
pub struct LocalCluster {
    bin: PathBuf,
    dir: PathBuf,
    pub peers: String,
    pub groups: u32,
    pub proxy: SocketAddr,
    nodes: Vec<Option<Child>>,
    proxy_child: Option<Child>,
    /// Nodes run with `--unsafe-never-flush` (the positive control).
    never_flush: bool,
    /// The `netns` environment, when the cluster runs in one.
    net: Option<Netns>,
    /// The `docker` environment, when the cluster runs in one (then `nodes` holds no
    /// processes: `docker_up` says which containers run).
    docker: Option<Docker>,
    docker_up: Vec<bool>,
}

/// Where a cluster runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvKind {
    Local,
    Netns,
    /// The compose cluster of `repo`/deploy/ from `image`.
    Docker {
        image: String,
        repo: PathBuf,
    },
}

/// How to start a cluster.
pub struct ClusterOpts {
    pub nodes: usize,
    pub groups: u32,
    pub never_flush: bool,
    pub env: EnvKind,
}

impl LocalCluster {
    /// A cluster on loopback.
    pub fn start(
        bin: &Path,
        dir: &Path,
        nodes: usize,
        groups: u32,
        never_flush: bool,
    ) -> anyhow::Result<LocalCluster> {
        let opts = ClusterOpts {
            nodes,
            groups,
            never_flush,
            env: EnvKind::Local,
        };
        LocalCluster::start_with(bin, dir, &opts)
    }

    pub fn start_with(bin: &Path, dir: &Path, o: &ClusterOpts) -> anyhow::Result<LocalCluster> {
        let (nodes, groups) = (o.nodes, o.groups);
        fs::create_dir_all(dir)?;
        if let EnvKind::Docker { image, repo } = &o.env {
            if o.never_flush {
                bail!("the docker environment has no never-flush image");
            }
            let d = Docker::up(repo, image, nodes, free_port()?)?;
            let c = LocalCluster {
                bin: bin.to_path_buf(),
                dir: dir.to_path_buf(),
                peers: d.peers(),
                groups,
                proxy: d.proxy(),
                nodes: (0..nodes).map(|_| None).collect(),
                proxy_child: None,
                never_flush: false,
                net: None,
                docker: Some(d),
                docker_up: vec![true; nodes],
            };
            c.wait_healthy(Duration::from_secs(120))?;
            return Ok(c);
        }
        let net = if o.env == EnvKind::Netns {
            Some(Netns::create(nodes)?)
        } else {
            None
        };
        let mut peers = Vec::new();
        for n in 1..=nodes {
            match &net {
                Some(net) => peers.push(format!("{n}={}:7000", net.ip(Host::Node(n)))),
                None => peers.push(format!("{n}=127.0.0.1:{}", free_port()?)),
            }
        }
        let proxy: SocketAddr = match &net {
            Some(net) => SocketAddr::new(net.ip(Host::Proxy).into(), 6379),
            None => format!("127.0.0.1:{}", free_port()?).parse()?,
        };
        let mut c = LocalCluster {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            peers: peers.join(","),
            groups,
            proxy,
            nodes: (0..nodes).map(|_| None).collect(),
            proxy_child: None,
            never_flush: o.never_flush,
            net,
            docker: None,
            docker_up: Vec::new(),
        };
        for n in 1..=nodes {
            c.start_node(n)?;
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("proxy.log"))?;
        c.proxy_child = Some(
            c.command(Host::Proxy)
                .args([
                    "proxy",
                    "--bind",
                    &proxy.ip().to_string(),
                    "--port",
                    &proxy.port().to_string(),
                ])
                .args(["--peers", &c.peers, "--groups", &groups.to_string()])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting the proxy")?,
        );
        c.wait_healthy(Duration::from_secs(60))?;
        Ok(c)
    }

    fn start_node(&mut self, n: usize) -> anyhow::Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node{n}.log")))?;
        let child = self
            .command(Host::Node(n))
            .args(["node", "--id", &n.to_string()])
            .arg("--dir")
            .arg(self.dir.join(format!("node{n}")))
            .args(["--peers", &self.peers, "--groups", &self.groups.to_string()])
            .args(self.never_flush.then_some("--unsafe-never-flush"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting node {n}"))?;
        self.nodes[n - 1] = Some(child);
        Ok(())
    }

    /// The broker binary, run in `h`'s namespace when there is one.
    fn command(&self, h: Host) -> Command {
        match &self.net {
            Some(net) => net.command(h, &self.bin),
            None => Command::new(&self.bin),
        }
    }

    /// Jumps node `n`'s wall clock by `offset_ms` from true time (0 resets it), through the
    /// file a broker built with the `fault-injection` feature watches.
    pub fn set_clock_offset(&self, n: usize, offset_ms: i64) -> anyhow::Result<()> {
        if let Some(d) = &self.docker {
            return d.set_clock_offset(n, offset_ms);
        }
        let dir = self.dir.join(format!("node{n}"));
        let path = dir.join("fault-clock-offset-ms");
        if offset_ms == 0 {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => return Ok(()),
            }
        }
        let tmp = dir.join("fault-clock-offset-ms.tmp");
        fs::write(&tmp, format!("{offset_ms}\n"))?;
        fs::rename(&tmp, &path)?;
        Ok(())
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Where network faults go (the `netns` and `docker` environments).
    pub fn network(&mut self) -> Option<&mut dyn Network> {
        match (&mut self.net, &mut self.docker) {
            (Some(n), _) => Some(n),
            (_, Some(d)) => Some(d),
            _ => None,
        }
    }

    pub fn is_up(&self, n: usize) -> bool {
        if self.docker.is_some() {
            return self.docker_up[n - 1];
        }
        self.nodes[n - 1].is_some()
    }

    /// kill -9 (waits until it is gone).
    pub fn kill(&mut self, n: usize) {
        if let Some(d) = &self.docker {
            d.kill(n);
            self.docker_up[n - 1] = false;
            return;
        }
        if let Some(mut c) = self.nodes[n - 1].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `-STOP` / `-CONT` (docker pause / unpause in the docker environment).
    pub fn signal(&self, n: usize, sig: &str) {
        if let Some(d) = &self.docker {
            if self.docker_up[n - 1] {
                d.pause(n, sig == "-STOP");
            }
            return;
        }
        if let Some(c) = &self.nodes[n - 1] {
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
    }

    pub fn restart(&mut self, n: usize) -> anyhow::Result<()> {
        if let Some(d) = &self.docker {
            if !self.docker_up[n - 1] {
                d.start(n)?;
                self.docker_up[n - 1] = true;
            }
            return Ok(());
        }
        if self.nodes[n - 1].is_none() {
            self.start_node(n)?;
        }
        Ok(())
    }

    fn ctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new(&self.bin)
            .args(["ctl", "--peers", &self.peers, "--timeout-ms", "500"])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// One key per shard (`probe:<n>`, the first n that lands in each), as the broker maps
    /// keys to shards.
    pub fn keys_per_group(&self) -> anyhow::Result<Vec<(u32, String)>> {
        let mut out: Vec<(u32, String)> = Vec::new();
        let groups = self.groups.to_string();
        for i in 0..(self.groups * 64) {
            if out.len() == self.groups as usize {
                break;
            }
            let key = format!("probe:{i}");
            let g = self
                .ctl(&["group-of", &key, "--groups", &groups])
                .and_then(|g| g.split_whitespace().next()?.parse::<u32>().ok())
                .with_context(|| format!("xraft ctl group-of {key}"))?;
            if !out.iter().any(|(x, _)| *x == g) {
                out.push((g, key));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The node leading `group`, as the nodes report it.
    pub fn leader_of(&self, group: u32) -> Option<usize> {
        self.ctl(&["leader", "--group", &group.to_string()])?
            .split(' ')
            .next()?
            .parse()
            .ok()
    }

    pub fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.ctl(&["health"]).is_some() {
                let mut c = Client::new(self.proxy, Duration::from_secs(2));
                if let Outcome::Reply(Resp::Simple(s)) = c.call(&[b"PING"]) {
                    if s == "PONG" {
                        return Ok(());
                    }
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
        bail!("the cluster is not healthy after {timeout:?}")
    }

    pub fn stop(&mut self) {
        if let Some(mut d) = self.docker.take() {
            d.save_logs(&self.dir);
            d.down();
            return;
        }
        for n in 1..=self.nodes.len() {
            self.signal(n, "-CONT");
            if let Some(mut c) = self.nodes[n - 1].take() {
                let _ = Command::new("kill")
                    .args(["-TERM", &c.id().to_string()])
                    .status();
                let deadline = Instant::now() + Duration::from_secs(15);
                while Instant::now() < deadline && c.try_wait().ok().flatten().is_none() {
                    thread::sleep(Duration::from_millis(50));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(mut p) = self.proxy_child.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The history being recorded: one clock, indexes in order.
#[derive(Clone)]
pub struct Recorder {
    pub start: Instant,
    records: Arc<Mutex<Vec<Record>>>,
    next_process: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            records: Arc::default(),
            next_process: Arc::new(AtomicU64::new(1)),
        }
    }
    pub fn process(&self) -> u64 {
        self.next_process.fetch_add(1, Ordering::Relaxed)
    }
    pub fn push(
        &self,
        process: u64,
        kind: Type,
        f: &str,
        key: &str,
        value: Value,
        error: Option<String>,
    ) {
        let mut r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let index = r.len() as u64;
        r.push(Record {
            index,
            time_ns: self.start.elapsed().as_nanos() as u64,
            process,
            kind,
            f: f.into(),
            key: key.into(),
            value,
            node: None,
            error,
        });
    }
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// How an XADD's reply maps to the history.
pub fn add_outcome(o: Outcome, payload: &str) -> (Type, Value, Option<String>) {
    match o {
        Outcome::Reply(r) => match r {
            Resp::Bulk(Some(id)) => (
                Type::Ok,
                Value::Added {
                    id: String::from_utf8_lossy(&id).into_owned(),
                    payload: payload.into(),
                },
                None,
            ),
            // The proxy's contract: -TIMEOUT = unknown; any other error = not applied.
            Resp::Error(e) if e.starts_with("TIMEOUT") => (Type::Info, Value::None, Some(e)),
            Resp::Error(e) => (Type::Fail, Value::None, Some(e)),
            other => (
                Type::Info,
                Value::None,
                Some(format!("unexpected reply {other:?}")),
            ),
        },
        Outcome::NotSent(e) => (Type::Fail, Value::None, Some(e)),
        Outcome::Unknown(e) => (Type::Info, Value::None, Some(e)),
    }
}

/// One XADD of the unique payload `"<process>-<counter>"` to `key`, recorded (invoke and
/// completion) and never retried. After an unknown outcome the connection is reset and
/// `process` becomes a new process id (FAULTS.md). Returns the outcome.
pub fn recorded_xadd(
    rec: &Recorder,
    client: &mut Client,
    process: &mut u64,
    counter: &mut u64,
    key: &str,
) -> Type {
    let payload = format!("{process}-{counter}");
    *counter += 1;
    rec.push(
        *process,
        Type::Invoke,
        "xadd",
        key,
        Value::Payload(payload.clone()),
        None,
    );
    let o = client.call(&[b"XADD", key.as_bytes(), b"*", b"p", payload.as_bytes()]);
    let (kind, value, error) = add_outcome(o, &payload);
    rec.push(*process, kind, "xadd", key, value, error);
    if kind == Type::Info {
        client.reset();
        *process = rec.process();
    }
    kind
}

pub struct LogWorkload {
    pub keys: usize,
    pub workers: usize,
    /// Operations per second over all workers.
    pub rate: u64,
    pub timeout: Duration,
}

/// Runs the `log` workload until `stop`: XADD (unique payloads) and leader reads (XRANGE).
pub fn run_log_workers(
    w: &LogWorkload,
    proxy: SocketAddr,
    rec: &Recorder,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<()>> {
    let pause = Duration::from_micros(1_000_000 * w.workers as u64 / w.rate.max(1));
    (0..w.workers)
        .map(|wid| {
            let rec = rec.clone();
            let stop = Arc::clone(&stop);
            let (keys, timeout) = (w.keys as u64, w.timeout);
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ ((wid as u64 + 1) * 7919));
                let mut client = Client::new(proxy, timeout);
                let mut process = rec.process();
                let mut counter = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("s{}", rng.below(keys));
                    if rng.below(5) < 4 {
                        recorded_xadd(&rec, &mut client, &mut process, &mut counter, &key);
                    } else {
                        rec.push(process, Type::Invoke, "xrange", &key, Value::None, None);
                        match client.call(&[b"XRANGE", key.as_bytes(), b"-", b"+"]) {
                            Outcome::Reply(r) => match r.entries() {
                                Some(entries) => rec.push(
                                    process,
                                    Type::Ok,
                                    "xrange",
                                    &key,
                                    Value::Read {
                                        after: None,
                                        entries,
                                    },
                                    None,
                                ),
                                None => rec.push(
                                    process,
                                    Type::Fail,
                                    "xrange",
                                    &key,
                                    Value::None,
                                    Some(format!("{r:?}")),
                                ),
                            },
                            Outcome::NotSent(e) => {
                                rec.push(process, Type::Fail, "xrange", &key, Value::None, Some(e))
                            }
                            Outcome::Unknown(e) => {
                                rec.push(process, Type::Info, "xrange", &key, Value::None, Some(e));
                                client.reset();
                                process = rec.process();
                            }
                        }
                    }
                    thread::sleep(pause);
                }
            })
        })
        .collect()
}

/// Reads every key until two consecutive reads agree, recording the result as `final`.
pub fn final_reads(proxy: SocketAddr, keys: usize, rec: &Recorder) -> anyhow::Result<()> {
    let mut client = Client::new(proxy, Duration::from_secs(15));
    let process = rec.process();
    for k in 0..keys {
        let key = format!("s{k}");
        let mut last: Option<Vec<(String, String)>> = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if Instant::now() > deadline {
                bail!("{key}: the final read never became stable");
            }
            if let Outcome::Reply(r) = client.call(&[b"XRANGE", key.as_bytes(), b"-", b"+"]) {
                if let Some(e) = r.entries() {
                    if last.as_ref() == Some(&e) {
                        rec.push(process, Type::Invoke, "final", &key, Value::None, None);
                        rec.push(
                            process,
                            Type::Ok,
                            "final",
                            &key,
                            Value::Read {
                                after: None,
                                entries: e,
                            },
                            None,
                        );
                        break;
                    }
                    last = Some(e);
                    continue;
                }
            }
            client.reset();
            thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}

/// One line of the nemesis log, with the history clock.
pub struct NemesisLog {
    file: fs::File,
    start: Instant,
}

impl NemesisLog {
    pub fn new(path: &Path, start: Instant) -> anyhow::Result<NemesisLog> {
        Ok(NemesisLog {
            file: fs::File::create(path)?,
            start,
        })
    }
    pub fn say(&mut self, what: &str) {
        let t = self.start.elapsed().as_secs_f64();
        let _ = writeln!(self.file, "{t:.3} {what}");
        println!("[{t:7.3}s] nemesis: {what}");
    }
}
