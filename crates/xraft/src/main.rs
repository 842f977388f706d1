//! The `xraft` binary: `xraft server` (the single-node broker), `xraft dev` (a local cluster
//! of nodes plus the proxy in one process), `xraft node` and `xraft proxy` (one cluster node,
//! one proxy, as separate processes), `xraft ctl` (status, health, leaders).
//!
//! A cluster is described by the same three settings on every node and proxy: `--peers`
//! (`id=host:port` of every node's gRPC address), `--groups` and `--replication`. The cluster
//! map is computed from them (deterministically) and each node stores it on its first start,
//! refusing later to start with a different one.
//!
//! Configuration precedence (lowest first): built-in defaults, `--config FILE` (redis.conf
//! style), `XRAFT_<NAME>` environment variables, then command-line flags.
//!
//! Built with the cargo feature `fault-injection` (the fault harness's `xraft-fault`, never a
//! release), `server`, `dev` and `node` take their wall clock from the system clock plus the
//! signed milliseconds in `<data dir>/fault-clock-offset-ms`, re-read every 100 ms (absent or
//! unparsable: 0); see `storage::clock`.

mod ctl;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "xraft",
    version,
    about = "A durable, Redis-Streams-compatible broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the single-node broker.
    Server(ServerArgs),
    /// Run a local cluster (nodes and the proxy) in one process.
    Dev(DevArgs),
    /// Run one cluster node.
    Node(NodeArgs),
    /// Run a RESP proxy in front of a cluster.
    Proxy(ProxyArgs),
    /// Inspect a cluster: status, health, leaders.
    Ctl(ctl::CtlArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct ClusterArgs {
    /// Every node as `id=host:port` (its gRPC address), comma separated.
    #[arg(long, value_delimiter = ',', env = "XRAFT_PEERS")]
    peers: Vec<String>,
    /// Number of Raft groups (shards). The default, one per node of a 3-node cluster, gives
    /// each group's leader the most work per batch on a small machine.
    #[arg(long, default_value_t = 3, env = "XRAFT_GROUPS")]
    groups: u32,
    /// Replicas per group.
    #[arg(long, default_value_t = 3, env = "XRAFT_REPLICATION")]
    replication: usize,
}

impl ClusterArgs {
    fn map(&self) -> anyhow::Result<placement::ClusterMap> {
        let mut nodes = std::collections::BTreeMap::new();
        for p in &self.peers {
            let (id, addr) = p
                .split_once('=')
                .with_context(|| format!("peer {p:?} is not id=host:port"))?;
            let id: u64 = id.parse().with_context(|| format!("peer id {id:?}"))?;
            nodes.insert(
                placement::NodeId(id),
                placement::NodeInfo {
                    addr: addr.to_string(),
                },
            );
        }
        anyhow::ensure!(!nodes.is_empty(), "--peers is required");
        placement::ClusterMap::plan(nodes, self.groups, self.replication)
            .context("planning the cluster")
    }
}

#[derive(clap::Args, Debug)]
struct DevArgs {
    /// Proxy port (default 6379; 0 picks a free port).
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Address the proxy listens on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Data directory of the whole cluster.
    #[arg(long, default_value = "xraft-dev-data")]
    dir: PathBuf,
    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Number of Raft groups (shards). The default, one per node of a 3-node cluster, gives
    /// each group's leader the most work per batch on a small machine.
    #[arg(long, default_value_t = 3)]
    groups: u32,
    /// gRPC port of node 1 (node i uses this + i - 1; 0 picks free ports).
    #[arg(long, default_value_t = 7101)]
    first_node_port: u16,
    /// Password of the `default` user (clients must AUTH).
    #[arg(long)]
    requirepass: Option<String>,
}

#[derive(clap::Args, Debug)]
struct NodeArgs {
    /// This node's id (one of --peers).
    #[arg(long, env = "XRAFT_NODE_ID")]
    id: u64,
    /// Data directory.
    #[arg(long, default_value = "xraft-node-data", env = "XRAFT_DIR")]
    dir: PathBuf,
    /// TEST ONLY: never flush anything (acknowledged writes are lost on kill -9). The fault
    /// harness's positive control, which its checker must catch.
    #[arg(long, hide = true)]
    unsafe_never_flush: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(clap::Args, Debug)]
struct ProxyArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "XRAFT_BIND")]
    bind: String,
    /// RESP port.
    #[arg(long, default_value_t = 6379, env = "XRAFT_PORT")]
    port: u16,
    /// redis.conf-style configuration file for the front end.
    #[arg(long = "config")]
    config: Option<PathBuf>,
    /// Password of the `default` user (clients must AUTH).
    #[arg(long)]
    requirepass: Option<String>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(clap::Args, Debug)]
struct ServerArgs {
    /// Address to listen on (default 127.0.0.1).
    #[arg(long)]
    bind: Option<String>,
    /// TCP port (default 6379; 0 picks a free port).
    #[arg(long)]
    port: Option<u16>,
    /// Data directory (default ./xraft-data).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// redis.conf-style configuration file (`name value` lines).
    #[arg(long = "config")]
    config: Option<PathBuf>,
    /// Password of the `default` user (clients must AUTH).
    #[arg(long)]
    requirepass: Option<String>,
}

/// jemalloc instead of glibc's malloc: under an XADD load on `xraft dev`, glibc's arena locks
/// were a third of the futex calls on the tokio threads (buffers are freed on other threads
/// than the ones that allocated them). Measured on 2 cores, 50 clients: about +7% req/s and
/// 252 against 233 MB resident after 100k XADDs (mimalloc: about +13%, but 344 MB).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => run_server(args),
        Command::Dev(args) => run_dev(args),
        Command::Node(args) => run_node(args),
        Command::Proxy(args) => run_proxy(args),
        Command::Ctl(args) => {
            let code = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?
                .block_on(ctl::run(args))?;
            std::process::exit(code)
        }
    }
}

/// Built-in defaults, then the `--config` file if any, then `XRAFT_*` variables.
fn load_config(file: Option<&std::path::Path>) -> anyhow::Result<server::Config> {
    let mut config = match file {
        Some(path) => server::Config::from_file(path)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading {}", path.display()))?,
        None => server::Config::default(),
    };
    config
        .apply_env()
        .map_err(anyhow::Error::msg)
        .context("reading XRAFT_* environment variables")?;
    Ok(config)
}

fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(b) = args.bind {
        config.bind = b;
    }
    if let Some(p) = args.port {
        config.port = p;
    }
    if let Some(d) = args.dir {
        config.dir = d;
    }
    if let Some(pw) = args.requirepass {
        config.requirepass = Some(pw);
    }
    watch_clock_offset(&config.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("xraft-io")
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let handle = server::serve(config).await.context("starting the server")?;
        tracing::info!(addr = %handle.local_addr(), "ready to accept connections");
        wait_for_signal().await?;
        tracing::info!("shutdown requested: finishing in-flight work");
        handle.shutdown().await.context("shutting down")?;
        tracing::info!("bye");
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

/// Fault builds only: from now on the wall clock follows `<dir>/fault-clock-offset-ms`.
#[cfg(feature = "fault-injection")]
fn watch_clock_offset(dir: &std::path::Path) -> anyhow::Result<()> {
    storage::clock::watch_offset_file(dir).context("starting the clock offset watcher")
}

/// Without the `fault-injection` feature the wall clock is the system clock: nothing to watch.
#[cfg(not(feature = "fault-injection"))]
fn watch_clock_offset(_dir: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("xraft-io")
        .build()
        .context("starting the tokio runtime")
}

fn store_options() -> storage::StoreOptions {
    storage::StoreOptions {
        cache_capacity_bytes: storage::DEFAULT_CACHE_CAPACITY_BYTES,
        fsync: true,
    }
}

fn run_dev(args: DevArgs) -> anyhow::Result<()> {
    let mut config = load_config(None)?;
    config.bind = args.bind.clone();
    config.port = args.port;
    config.requirepass = args.requirepass.clone();
    let node_max_entries = config.stream_node_max_entries;
    // One process: the offset applies to every node of the dev cluster at once.
    watch_clock_offset(&args.dir)?;
    runtime()?.block_on(async move {
        let cluster = node::LocalCluster::start(node::LocalClusterConfig {
            base_dir: args.dir.clone(),
            nodes: args.nodes,
            groups: args.groups,
            replication: args.nodes.min(3) as usize,
            first_port: args.first_node_port,
            raft: raft::RaftSettings::default(),
            store: store_options(),
            node_max_entries,
        })
        .await
        .context("starting the local cluster")?;
        if !cluster
            .wait_for_leaders(std::time::Duration::from_secs(30))
            .await
        {
            tracing::warn!("not every group has a leader yet; the proxy retries");
        }
        let handle = proxy::serve_proxy(config, cluster.map.clone())
            .await
            .context("starting the proxy")?;
        tracing::info!(
            addr = %handle.local_addr(),
            nodes = args.nodes,
            groups = args.groups,
            dir = %args.dir.display(),
            "xraft dev cluster ready"
        );
        wait_for_signal().await?;
        tracing::info!("shutdown requested");
        handle.shutdown().await.context("stopping the proxy")?;
        cluster.shutdown().await;
        tracing::info!("bye");
        Ok::<(), anyhow::Error>(())
    })
}

/// How long `xraft node` spends handing off leadership, then stopping, after SIGTERM.
const HAND_OFF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
const NODE_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let map = args.cluster.map()?;
    if args.unsafe_never_flush {
        tracing::warn!("--unsafe-never-flush: NOTHING IS DURABLE (fault-harness positive control)");
        storage::set_unsafe_never_flush(true);
    }
    watch_clock_offset(&args.dir)?;
    let config = server::Config::default();
    runtime()?.block_on(async move {
        let node = node::Node::start(node::NodeConfig {
            node_id: args.id,
            data_dir: args.dir.clone(),
            cluster: map,
            raft: raft::RaftSettings::default(),
            store: store_options(),
            node_max_entries: config.stream_node_max_entries,
            listener: None,
        })
        .await
        .context("starting the node")?;
        tracing::info!(node = args.id, addr = %node.addr, "node ready");
        wait_for_signal().await?;
        tracing::info!("shutdown requested: handing off leadership");
        // Leadership first (a follower takes over ~1 s later instead of after an election
        // timeout), then Raft stops (its log is flushed on every append) and the state
        // machine's sled database is flushed as it closes; bounded so that a stuck peer
        // cannot hold us.
        let moved = node.hand_off_leadership(HAND_OFF_TIMEOUT).await;
        tracing::info!(groups = moved, "leadership handed off; stopping");
        if tokio::time::timeout(NODE_SHUTDOWN_TIMEOUT, node.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown took longer than {NODE_SHUTDOWN_TIMEOUT:?}: exiting");
        } else {
            tracing::info!("node stopped cleanly");
        }
        Ok::<(), anyhow::Error>(())
    })
}

fn run_proxy(args: ProxyArgs) -> anyhow::Result<()> {
    let map = args.cluster.map()?;
    let mut config = load_config(args.config.as_deref())?;
    config.bind = args.bind;
    config.port = args.port;
    if let Some(pw) = args.requirepass {
        config.requirepass = Some(pw);
    }
    runtime()?.block_on(async move {
        let handle = proxy::serve_proxy(config, map)
            .await
            .context("starting the proxy")?;
        tracing::info!(addr = %handle.local_addr(), "proxy ready");
        wait_for_signal().await?;
        handle.shutdown().await.context("stopping the proxy")?;
        Ok::<(), anyhow::Error>(())
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
