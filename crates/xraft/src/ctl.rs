//! `xraft ctl`: the operator's and the fault harness's view of a cluster, through the nodes'
//! own Broker.Status RPC (never guessed from logs).
//!
//! - `status [--digest] [--json]`: one line (or JSON object) per node and hosted group: role,
//!   leader, term, last log and applied index, voters, and with `--digest` a CRC64 of the
//!   replica's state (replicas at the same applied index must agree).
//! - `health`: exit 0 when every node of `--peers` answers and each of its groups knows a
//!   leader; exit 1 with the reason otherwise (the container health check).
//! - `leader --group G`: the id and address of the group's leader as the nodes report it.
//! - `group-of KEY`: the group a key belongs to.
//! - `ping --addr HOST:PORT`: exit 0 when a proxy answers PING (its container health check).
//!
//! `--peers` may come from `XRAFT_PEERS`, `health --node` from `XRAFT_NODE_ID` (as in the
//! node containers' environment).

use std::time::Duration;

use anyhow::{bail, Context};
use rpc::pb::broker_client::BrokerClient;
use rpc::pb::{StatusReply, StatusRequest};

#[derive(clap::Args, Debug)]
pub struct CtlArgs {
    /// Nodes to ask, as `id=host:port` (the nodes' gRPC addresses), comma separated.
    #[arg(long, value_delimiter = ',', env = "XRAFT_PEERS")]
    pub peers: Vec<String>,
    /// Per-node deadline in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    #[command(subcommand)]
    pub action: CtlAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum CtlAction {
    /// Every node's groups: role, leader, term, indexes.
    Status {
        /// Also a digest of each replica's state.
        #[arg(long)]
        digest: bool,
        /// One JSON document instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 when every node answers and each of its groups has a leader.
    Health {
        /// Only this node of --peers (a container's own health check).
        #[arg(long, env = "XRAFT_NODE_ID")]
        node: Option<u64>,
    },
    /// Exit 0 when the RESP server at ADDR (a proxy) answers PING with PONG.
    Ping {
        #[arg(long, default_value = "127.0.0.1:6379")]
        addr: String,
    },
    /// The leader of a group.
    Leader {
        #[arg(long)]
        group: u32,
    },
    /// The group (shard) a key belongs to, from the cluster map `--peers`, `--groups` and
    /// `--replication` describe (computed locally, as every node and proxy computes it).
    GroupOf {
        key: String,
        #[arg(long, default_value_t = 3)]
        groups: u32,
        #[arg(long, default_value_t = 3)]
        replication: usize,
    },
}

struct Peer {
    id: u64,
    addr: String,
}

fn parse_peers(peers: &[String]) -> anyhow::Result<Vec<Peer>> {
    peers
        .iter()
        .map(|p| {
            let (id, addr) = p
                .split_once('=')
                .with_context(|| format!("peer {p:?} is not id=host:port"))?;
            Ok(Peer {
                id: id.parse().with_context(|| format!("peer id {id:?}"))?,
                addr: addr.to_string(),
            })
        })
        .collect()
}

async fn status_of(peer: &Peer, digest: bool, timeout: Duration) -> anyhow::Result<StatusReply> {
    let endpoint = rpc::channels::endpoint(&peer.addr)?.timeout(timeout);
    let channel = tokio::time::timeout(timeout, endpoint.connect())
        .await
        .context("connect timed out")??;
    let mut client = BrokerClient::new(channel);
    let reply = client
        .status(StatusRequest {
            with_digest: digest,
        })
        .await?;
    Ok(reply.into_inner())
}

/// Runs `xraft ctl`; the process exit code is the result's.
pub async fn run(args: CtlArgs) -> anyhow::Result<i32> {
    if let CtlAction::Ping { addr } = &args.action {
        return ping(addr, Duration::from_millis(args.timeout_ms)).await;
    }
    let mut peers = parse_peers(&args.peers)?;
    anyhow::ensure!(!peers.is_empty(), "--peers (or XRAFT_PEERS) is required");
    if let CtlAction::Health { node: Some(n) } = &args.action {
        peers.retain(|p| p.id == *n);
        anyhow::ensure!(!peers.is_empty(), "node {n} is not in --peers");
    }
    if let CtlAction::GroupOf {
        key,
        groups,
        replication,
    } = &args.action
    {
        let nodes = peers
            .iter()
            .map(|p| {
                (
                    placement::NodeId(p.id),
                    placement::NodeInfo {
                        addr: p.addr.clone(),
                    },
                )
            })
            .collect();
        let map = placement::ClusterMap::plan(nodes, *groups, *replication)
            .context("planning the cluster")?;
        println!("{}", map.group_of_key(key.as_bytes()));
        return Ok(0);
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let digest = matches!(args.action, CtlAction::Status { digest: true, .. });
    let mut replies = Vec::with_capacity(peers.len());
    for p in &peers {
        replies.push(status_of(p, digest, timeout).await);
    }
    match args.action {
        CtlAction::Status { json, .. } => {
            if json {
                println!("{}", status_json(&peers, &replies));
            } else {
                for (p, r) in peers.iter().zip(&replies) {
                    print_status(p, r);
                }
            }
            Ok(if replies.iter().all(|r| r.is_ok()) {
                0
            } else {
                1
            })
        }
        CtlAction::Health { .. } => {
            let mut problems = Vec::new();
            for (p, r) in peers.iter().zip(&replies) {
                match r {
                    Err(e) => problems.push(format!("node {} ({}): {e:#}", p.id, p.addr)),
                    Ok(s) => {
                        for g in s.groups.iter().filter(|g| g.leader_id.is_none()) {
                            problems.push(format!(
                                "node {}: group {} has no leader (term {})",
                                p.id, g.group_id, g.term
                            ));
                        }
                    }
                }
            }
            if problems.is_empty() {
                println!(
                    "healthy: {} node(s) answered, every group has a leader",
                    peers.len()
                );
                Ok(0)
            } else {
                for p in &problems {
                    println!("unhealthy: {p}");
                }
                Ok(1)
            }
        }
        CtlAction::Leader { group } => {
            // The highest term's claim wins (a deposed leader may not know yet).
            let mut best: Option<(u64, u64)> = None;
            for s in replies.iter().flatten() {
                for g in s.groups.iter().filter(|g| g.group_id == group) {
                    if let Some(l) = g.leader_id {
                        if best.is_none_or(|(t, _)| g.term > t) {
                            best = Some((g.term, l));
                        }
                    }
                }
            }
            match best {
                Some((term, leader)) => {
                    let addr = peers
                        .iter()
                        .find(|p| p.id == leader)
                        .map_or("?", |p| p.addr.as_str());
                    println!("{leader} {addr} term {term}");
                    Ok(0)
                }
                None => bail!("no node reports a leader for group {group}"),
            }
        }
        CtlAction::GroupOf { .. } | CtlAction::Ping { .. } => unreachable!("answered above"),
    }
}

/// RESP `PING` → `+PONG`.
async fn ping(addr: &str, timeout: Duration) -> anyhow::Result<i32> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n") {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        Ok::<Vec<u8>, std::io::Error>(got)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(r)) if r == b"+PONG\r\n" => {
            println!("PONG from {addr}");
            Ok(0)
        }
        Ok(Ok(r)) => {
            println!(
                "unexpected reply from {addr}: {}",
                String::from_utf8_lossy(&r).trim_end()
            );
            Ok(1)
        }
        Ok(Err(e)) => {
            println!("{addr}: {e}");
            Ok(1)
        }
        Err(_) => {
            println!("{addr}: no reply within {timeout:?}");
            Ok(1)
        }
    }
}

fn print_status(p: &Peer, r: &anyhow::Result<StatusReply>) {
    match r {
        Err(e) => println!("node {} {} unreachable: {e:#}", p.id, p.addr),
        Ok(s) => {
            for g in &s.groups {
                let leader = g.leader_id.map_or("-".to_string(), |l| l.to_string());
                let mut line = format!(
                    "node {} group {} role {} leader {} term {} last_log {} applied {} voters {:?}",
                    s.node_id,
                    g.group_id,
                    g.role,
                    leader,
                    g.term,
                    g.last_log_index,
                    g.applied_index,
                    g.voters
                );
                if let Some(d) = g.state_digest {
                    line.push_str(&format!(" digest {d:016x}@{}", g.digest_index));
                }
                println!("{line}");
            }
        }
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn status_json(peers: &[Peer], replies: &[anyhow::Result<StatusReply>]) -> String {
    let nodes: Vec<String> = peers
        .iter()
        .zip(replies)
        .map(|(p, r)| match r {
            Err(e) => format!(
                "{{\"node\":{},\"addr\":{},\"error\":{}}}",
                p.id,
                json_str(&p.addr),
                json_str(&format!("{e:#}"))
            ),
            Ok(s) => {
                let groups: Vec<String> = s
                    .groups
                    .iter()
                    .map(|g| {
                        let voters: Vec<String> = g.voters.iter().map(u64::to_string).collect();
                        format!(
                            "{{\"group\":{},\"role\":{},\"leader\":{},\"term\":{},\"last_log\":{},\"applied\":{},\"voters\":[{}],\"digest\":{},\"digest_index\":{}}}",
                            g.group_id,
                            json_str(&g.role),
                            g.leader_id.map_or("null".into(), |l| l.to_string()),
                            g.term,
                            g.last_log_index,
                            g.applied_index,
                            voters.join(","),
                            g.state_digest.map_or("null".into(), |d| json_str(&format!("{d:016x}"))),
                            g.digest_index
                        )
                    })
                    .collect();
                format!(
                    "{{\"node\":{},\"addr\":{},\"groups\":[{}]}}",
                    p.id,
                    json_str(&p.addr),
                    groups.join(",")
                )
            }
        })
        .collect();
    format!("{{\"nodes\":[{}]}}", nodes.join(","))
}
