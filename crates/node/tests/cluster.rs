//! In-process clusters over real gRPC on loopback: replication, leader loss, restarts,
//! snapshot catch-up. After each: every acknowledged XADD is present exactly once at its ID
//! and the replicas of each group hold identical state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use node::{Node, NodeConfig};
use placement::{ClusterMap, GroupId, NodeId, NodeInfo};
use raft::RaftSettings;
use resp::Reply;
use rpc::pb::broker_client::BrokerClient;
use rpc::pb::execute_reply::Outcome as PbOutcome;
use rpc::pb::{Command, ExecuteRequest};
use storage::StoreOptions;

fn settings() -> RaftSettings {
    RaftSettings {
        heartbeat_interval_ms: 50,
        election_timeout_min_ms: 300,
        election_timeout_max_ms: 600,
        ..RaftSettings::default()
    }
}

struct Cluster {
    map: ClusterMap,
    dirs: Vec<tempfile::TempDir>,
    nodes: Vec<Option<Node>>,
    raft: RaftSettings,
}

impl Cluster {
    async fn start(n: u64, groups: u32, raft: RaftSettings) -> Cluster {
        let listeners: Vec<std::net::TcpListener> = (0..n)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let infos: BTreeMap<NodeId, NodeInfo> = listeners
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    NodeId(i as u64 + 1),
                    NodeInfo {
                        addr: l.local_addr().unwrap().to_string(),
                    },
                )
            })
            .collect();
        let map = ClusterMap::plan(infos, groups, 3).unwrap();
        let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut c = Cluster {
            map,
            dirs,
            nodes: Vec::new(),
            raft,
        };
        for (i, l) in listeners.into_iter().enumerate() {
            let node = c.start_node(i, Some(l)).await;
            c.nodes.push(Some(node));
        }
        c
    }

    async fn start_node(&self, i: usize, listener: Option<std::net::TcpListener>) -> Node {
        let listener = match listener {
            Some(l) => l,
            None => {
                let addr = &self.map.node(NodeId(i as u64 + 1)).unwrap().addr;
                // The old server may take a moment to release the port.
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    match std::net::TcpListener::bind(addr) {
                        Ok(l) => break l,
                        Err(e) if Instant::now() < deadline => {
                            let _ = e;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("rebind {addr}: {e}"),
                    }
                }
            }
        };
        Node::start(NodeConfig {
            node_id: i as u64 + 1,
            data_dir: self.dirs[i].path().to_path_buf(),
            cluster: self.map.clone(),
            raft: self.raft.clone(),
            store: StoreOptions {
                cache_capacity_bytes: 8 * 1024 * 1024,
                fsync: true,
            },
            node_max_entries: 100,
            listener: Some(listener),
        })
        .await
        .expect("node starts")
    }

    async fn kill(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.shutdown().await;
        }
    }

    async fn restart(&mut self, i: usize) {
        let n = self.start_node(i, None).await;
        self.nodes[i] = Some(n);
    }

    fn addr(&self, node: u64) -> String {
        self.map.node(NodeId(node)).unwrap().addr.clone()
    }

    /// The node index leading `g`, as its own replica reports.
    fn leader_of(&self, g: u32) -> Option<usize> {
        self.nodes.iter().enumerate().find_map(|(i, n)| {
            let r = n.as_ref()?.group(g)?;
            let m = r.raft.metrics().borrow().clone();
            (m.current_leader == Some(i as u64 + 1)).then_some(i)
        })
    }

    async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i).await;
        }
    }

    /// Waits until every live replica of every group has applied what its leader applied,
    /// then returns each group's replica states (encoded) by node.
    async fn converged_states(&self) -> BTreeMap<u32, Vec<(usize, Vec<u8>)>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut all_equal = true;
            let mut out = BTreeMap::new();
            for g in self.map.groups.keys() {
                let mut states = Vec::new();
                let mut applied = Vec::new();
                for (i, n) in self.nodes.iter().enumerate() {
                    if let Some(r) = n.as_ref().and_then(|n| n.group(g.0)) {
                        let mut buf = Vec::new();
                        r.shared
                            .with_db(|db| streams::codec::encode_db(db, &mut buf));
                        applied.push(r.shared.applied_index());
                        states.push((i, buf));
                    }
                }
                if applied.windows(2).any(|w| w[0] != w[1])
                    || states.windows(2).any(|w| w[0].1 != w[1].1)
                {
                    all_equal = false;
                }
                out.insert(g.0, states);
            }
            if all_equal {
                return out;
            }
            assert!(Instant::now() < deadline, "replicas did not converge");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok(Vec<Reply>),
    Unknown(String),
    Failed(String),
}

/// A client that finds the group's leader and follows hints; gives up after `budget`.
#[derive(Clone)]
struct Client {
    map: ClusterMap,
    addrs: HashMap<u64, String>,
    leaders: Arc<Mutex<HashMap<u32, u64>>>,
}

impl Client {
    fn new(c: &Cluster) -> Client {
        Client {
            map: c.map.clone(),
            addrs: c.map.nodes.keys().map(|n| (n.0, c.addr(n.0))).collect(),
            leaders: Arc::default(),
        }
    }

    async fn exec(&self, key: &str, cmds: &[&[&str]], budget: Duration) -> Outcome {
        let g = self.map.group_of_key(key.as_bytes()).0;
        let replicas: Vec<u64> = self
            .map
            .group(GroupId(g))
            .unwrap()
            .replicas
            .iter()
            .map(|n| n.0)
            .collect();
        let deadline = Instant::now() + budget;
        let mut attempt = 0usize;
        loop {
            if Instant::now() > deadline {
                return Outcome::Failed("no leader within the budget".into());
            }
            let target = self
                .leaders
                .lock()
                .unwrap()
                .get(&g)
                .copied()
                .unwrap_or(replicas[attempt % replicas.len()]);
            attempt += 1;
            let req = ExecuteRequest {
                node_max_entries: None,
                group_id: g,
                commands: cmds
                    .iter()
                    .map(|c| Command {
                        args: c
                            .iter()
                            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                            .collect(),
                    })
                    .collect(),
            };
            let endpoint = match rpc::channels::endpoint(&self.addrs[&target]) {
                Ok(e) => e,
                Err(e) => return Outcome::Failed(e.to_string()),
            };
            let reply = match endpoint.connect().await {
                Ok(ch) => BrokerClient::new(ch).execute(req).await,
                Err(_) => {
                    self.leaders.lock().unwrap().remove(&g);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match reply.map(|r| r.into_inner().outcome) {
                Ok(Some(PbOutcome::Replies(b))) => {
                    self.leaders.lock().unwrap().insert(g, target);
                    return Outcome::Ok(raft::codec::decode(&b).expect("replies decode"));
                }
                Ok(Some(PbOutcome::NotLeader(nl))) => {
                    let hinted = {
                        let mut l = self.leaders.lock().unwrap();
                        match nl.leader_id {
                            Some(id) if id != target => {
                                l.insert(g, id);
                                true
                            }
                            _ => {
                                l.remove(&g);
                                false
                            }
                        }
                    };
                    if !hinted {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                Ok(Some(PbOutcome::Unavailable(_))) => {
                    self.leaders.lock().unwrap().remove(&g);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Some(PbOutcome::Unknown(m))) => return Outcome::Unknown(m),
                Ok(None) => return Outcome::Unknown("empty reply".into()),
                // The call may have reached the leader: unknown.
                Err(status) if status.code() != tonic::Code::Unavailable => {
                    return Outcome::Unknown(status.to_string())
                }
                Err(_) => {
                    self.leaders.lock().unwrap().remove(&g);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

fn bulk(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a bulk reply, got {other:?}"),
    }
}

/// Every acknowledged (key, id) is in the group's state exactly once.
async fn check_acked(c: &Cluster, client: &Client, acked: &[(String, String)]) {
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, id) in acked {
        by_key.entry(k).or_default().push(id);
    }
    for (key, ids) in by_key {
        let out = client
            .exec(key, &[&["XRANGE", key, "-", "+"]], Duration::from_secs(20))
            .await;
        let Outcome::Ok(replies) = out else {
            panic!("XRANGE {key}: {out:?}");
        };
        let Reply::Array(entries) = &replies[0] else {
            panic!("XRANGE reply {:?}", replies[0]);
        };
        let present: Vec<String> = entries
            .iter()
            .map(|e| match e {
                Reply::Array(pair) => bulk(&pair[0]),
                other => panic!("entry {other:?}"),
            })
            .collect();
        for w in present.windows(2) {
            let p = |s: &str| {
                let (a, b) = s.split_once('-').unwrap();
                (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap())
            };
            assert!(p(&w[0]) < p(&w[1]), "IDs must strictly increase: {w:?}");
        }
        for id in ids {
            let n = present.iter().filter(|p| p.as_str() == id).count();
            assert_eq!(n, 1, "acknowledged {key} {id} present {n} times");
        }
    }
    let _ = c;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_survive_leader_kill_and_replicas_converge() {
    let mut c = Cluster::start(3, 2, settings()).await;
    let client = Client::new(&c);
    let keys: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    // Phase 1: writers run; the leader of s0's group is killed mid-way.
    let acked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let unknown = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    for w in 0..6 {
        let client = client.clone();
        let keys = keys.clone();
        let acked = Arc::clone(&acked);
        let unknown = Arc::clone(&unknown);
        tasks.push(tokio::spawn(async move {
            for i in 0..80 {
                let key = &keys[(w + i) % keys.len()];
                let v = format!("{w}-{i}");
                match client
                    .exec(
                        key,
                        &[&["XADD", key, "*", "w", &v]],
                        Duration::from_secs(20),
                    )
                    .await
                {
                    Outcome::Ok(r) => acked.lock().unwrap().push((key.clone(), bulk(&r[0]))),
                    Outcome::Unknown(_) => *unknown.lock().unwrap() += 1,
                    Outcome::Failed(e) => panic!("write failed: {e}"),
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let g0 = c.map.group_of_key(b"s0").0;
    let victim = c.leader_of(g0).expect("a leader");
    eprintln!("phase: killing node {} (leader of group {g0})", victim + 1);
    let killed_at = Instant::now();
    let before_kill = acked.lock().unwrap().len();
    c.kill(victim).await;
    // Failover: time until a write to that group succeeds again.
    let probe = client
        .exec(
            "s0",
            &[&["XADD", "s0", "*", "probe", "1"]],
            Duration::from_secs(20),
        )
        .await;
    let failover = killed_at.elapsed();
    if let Outcome::Ok(r) = &probe {
        acked.lock().unwrap().push(("s0".into(), bulk(&r[0])));
    }
    eprintln!("failover: group {g0} accepted writes again after {failover:?} ({probe:?})");
    for t in tasks {
        t.await.unwrap();
    }
    let total = acked.lock().unwrap().len();
    eprintln!(
        "acked {total} (before kill {before_kill}), unknown {}",
        unknown.lock().unwrap()
    );
    assert!(total > before_kill, "writes continued after the kill");

    // Phase 2: the killed node comes back and catches up.
    c.restart(victim).await;
    let states = c.converged_states().await;
    for (g, s) in &states {
        assert_eq!(s.len(), 3, "group {g} has 3 live replicas");
    }
    let acked = acked.lock().unwrap().clone();
    check_acked(&c, &client, &acked).await;

    // Phase 3: every node restarts at once; nothing acknowledged is lost.
    for i in 0..3 {
        c.kill(i).await;
    }
    for i in 0..3 {
        c.restart(i).await;
    }
    check_acked(&c, &client, &acked).await;
    let after = client
        .exec(
            "s1",
            &[&["XADD", "s1", "*", "after", "restart"]],
            Duration::from_secs(20),
        )
        .await;
    assert!(matches!(after, Outcome::Ok(_)), "{after:?}");
    c.converged_states().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn isolated_follower_catches_up_by_snapshot() {
    let raft = RaftSettings {
        snapshot_logs_since_last: 40,
        max_in_snapshot_log_to_keep: 5,
        replication_lag_threshold: 20,
        ..settings()
    };
    let mut c = Cluster::start(3, 1, raft).await;
    let client = Client::new(&c);
    let ok = client
        .exec(
            "k",
            &[&["XADD", "k", "*", "f", "0"]],
            Duration::from_secs(20),
        )
        .await;
    assert!(matches!(ok, Outcome::Ok(_)), "{ok:?}");
    let leader = c.leader_of(0).unwrap();
    let follower = (leader + 1) % 3;
    let fid = follower as u64 + 1;
    eprintln!("phase: isolating node {fid}");
    for (i, n) in c.nodes.iter().enumerate() {
        let n = n.as_ref().unwrap();
        if i == follower {
            for p in 1..=3u64 {
                if p != fid {
                    n.faults.block(p);
                }
            }
        } else {
            n.faults.block(fid);
        }
    }
    let mut acked = Vec::new();
    for i in 0..200 {
        let v = i.to_string();
        match client
            .exec(
                "k",
                &[&["XADD", "k", "*", "f", &v]],
                Duration::from_secs(20),
            )
            .await
        {
            Outcome::Ok(r) => acked.push(("k".to_string(), bulk(&r[0]))),
            other => panic!("{other:?}"),
        }
    }
    // Snapshots are built and the log purged in the background, after the writes.
    let mut metrics = c.nodes[leader]
        .as_ref()
        .unwrap()
        .group(0)
        .unwrap()
        .raft
        .metrics();
    let _ = tokio::time::timeout(
        Duration::from_secs(20),
        metrics.wait_for(|m| m.purged.is_some()),
    )
    .await;
    let purged = metrics.borrow().purged;
    eprintln!("leader purged up to {purged:?}");
    assert!(purged.is_some(), "the leader purged its log");
    eprintln!("phase: healing");
    for n in c.nodes.iter().flatten() {
        n.faults.heal_all();
    }
    c.converged_states().await;
    let snap = c.nodes[follower]
        .as_ref()
        .unwrap()
        .group(0)
        .unwrap()
        .raft
        .metrics()
        .borrow()
        .snapshot;
    eprintln!("follower snapshot: {snap:?}");
    assert!(snap.is_some(), "the follower installed a snapshot");
    check_acked(&c, &client, &acked).await;
    // The caught-up follower survives a restart with the installed state.
    c.kill(follower).await;
    c.restart(follower).await;
    c.converged_states().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_leader_hands_its_leadership_to_a_follower() {
    let c = Cluster::start(3, 1, settings()).await;
    let client = Client::new(&c);
    for i in 0..20 {
        let v = i.to_string();
        let ok = client
            .exec(
                "k",
                &[&["XADD", "k", "*", "f", &v]],
                Duration::from_secs(20),
            )
            .await;
        assert!(matches!(ok, Outcome::Ok(_)), "{ok:?}");
    }
    let leader = c.leader_of(0).unwrap();
    let node = c.nodes[leader].as_ref().unwrap();
    let started = Instant::now();
    let moved = node.hand_off_leadership(Duration::from_secs(5)).await;
    let took = started.elapsed();
    eprintln!(
        "hand-off: {moved} group(s) moved in {:.2}s",
        took.as_secs_f64()
    );
    assert_eq!(moved, 1);
    let new_leader = c.leader_of(0).unwrap();
    assert_ne!(new_leader, leader);
    // The old leader refuses new writes (not applied); the client finds the new leader.
    let ok = client
        .exec("k", &[&["XLEN", "k"]], Duration::from_secs(20))
        .await;
    match ok {
        Outcome::Ok(r) => assert_eq!(r[0], resp::Reply::Integer(20)),
        other => panic!("{other:?}"),
    }
    c.shutdown().await;
}
