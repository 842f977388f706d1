//! The `xraft` binary. Today: `xraft server`, the single-node broker.
//!
//! Configuration precedence (lowest first): built-in defaults, `--config FILE` (redis.conf
//! style), `XRAFT_<NAME>` environment variables, then command-line flags.

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
    }
}

fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => server::Config::from_file(path)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading {}", path.display()))?,
        None => server::Config::default(),
    };
    config
        .apply_env()
        .map_err(anyhow::Error::msg)
        .context("reading XRAFT_* environment variables")?;
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
