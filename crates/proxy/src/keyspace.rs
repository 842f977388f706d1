//! The cluster keyspace behind the proxy's RESP front end: splits each job of engine commands
//! by shard, fans out what spans shards, and runs blocking reads as wait loops.
//!
//! | command | route |
//! |---|---|
//! | keys in one shard | that shard's leader; consecutive ones travel in one call |
//! | DEL / UNLINK / EXISTS over shards | one call per shard, counts summed |
//! | XREAD / XREADGROUP over shards | one call per shard, replies merged in argument order |
//! | FLUSHALL / FLUSHDB / DBSIZE / KEYS / SCAN | every shard (SCAN answers in one pass) |
//! | other multi-key commands over shards, MULTI/EXEC over shards | `-CROSSSLOT` |
//! | XREAD BLOCK | `$` pinned on the leader, then a follower waits and serves the read from its applied (committed) state |
//! | XREADGROUP BLOCK, BLPOP/BRPOP | leader runs it; when empty, a replica waits for a change after the leader's index, then the leader runs it again |

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use resp::Reply;
use server::{RemoteFuture, RemoteJob, RemoteKeyspace, RemoteResult};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::router::{RouteError, Router};

const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// SCAN COUNT used per shard when the proxy scans a shard to the end.
const SCAN_PAGE: &str = "1000";
/// The longest single wait a blocked read asks a replica for (it loops for longer blocks).
const MAX_WAIT_SLICE: Duration = Duration::from_secs(30);

/// The keyspace of the whole cluster.
#[derive(Clone)]
pub struct ClusterKeyspace {
    router: Router,
}

impl ClusterKeyspace {
    pub fn new(router: Router) -> ClusterKeyspace {
        ClusterKeyspace { router }
    }
}

impl RemoteKeyspace for ClusterKeyspace {
    fn run(&self, job: RemoteJob) -> RemoteFuture {
        let router = self.router.clone();
        Box::pin(async move { run_job(&router, job).await })
    }

    fn shard_of(&self, args: &[Bytes]) -> Result<Option<u32>, Reply> {
        transaction_shard(&self.router, args)
    }
}

/// The shard a command inside MULTI binds the transaction to.
fn transaction_shard(router: &Router, args: &[Bytes]) -> Result<Option<u32>, Reply> {
    let multi_shard = router.groups().len() > 1;
    match classify(router, args) {
        Route::Group(g) | Route::BlockingPop(g) => Ok(Some(g)),
        Route::AllGroups if multi_shard => Err(Reply::error(CROSSSLOT)),
        Route::AllGroups => Ok(None),
        Route::StreamRead => {
            let keys = server::commands::command_keys(args).unwrap_or_default();
            let mut gs = keys.iter().map(|k| router.group_of_key(k));
            match gs.next() {
                None => Ok(None),
                Some(first) if gs.all(|g| g == first) => Ok(Some(first)),
                Some(_) => Err(Reply::error(CROSSSLOT)),
            }
        }
        Route::SplitSum(_) | Route::Error(_) => Err(Reply::error(CROSSSLOT)),
    }
}

fn name_of(args: &[Bytes]) -> Vec<u8> {
    args.first()
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_readonly(args: &[Bytes]) -> bool {
    server::commands::lookup(args).is_ok_and(|s| !s.is_write())
}

/// Where a command goes.
enum Route {
    /// One shard, no waiting.
    Group(u32),
    /// Every shard, replies combined.
    AllGroups,
    /// Keys split by shard, integer replies summed.
    SplitSum(BTreeMap<u32, Vec<Bytes>>),
    /// XREAD / XREADGROUP, possibly over shards, possibly blocking.
    StreamRead,
    /// BLPOP / BRPOP (one shard).
    BlockingPop(u32),
    /// Refused here.
    Error(Reply),
}

fn classify(router: &Router, args: &[Bytes]) -> Route {
    let name = name_of(args);
    let Some(keys) = server::commands::command_keys(args) else {
        // Malformed: the engine answers the right error wherever it runs.
        return Route::Group(router.groups().first().copied().unwrap_or(0));
    };
    match name.as_slice() {
        b"flushall" | b"flushdb" | b"dbsize" | b"keys" | b"scan" => return Route::AllGroups,
        b"xread" | b"xreadgroup" => return Route::StreamRead,
        _ => {}
    }
    if keys.is_empty() {
        return Route::Group(router.groups().first().copied().unwrap_or(0));
    }
    let mut by_group: BTreeMap<u32, Vec<Bytes>> = BTreeMap::new();
    for k in &keys {
        by_group
            .entry(router.group_of_key(k))
            .or_default()
            .push(k.clone());
    }
    let single = (by_group.len() == 1).then(|| *by_group.keys().next().expect("one group"));
    match (name.as_slice(), single) {
        (b"blpop" | b"brpop", Some(g)) => Route::BlockingPop(g),
        (_, Some(g)) => Route::Group(g),
        (b"del" | b"unlink" | b"exists", None) => Route::SplitSum(by_group),
        _ => Route::Error(Reply::error(CROSSSLOT)),
    }
}

async fn run_job(router: &Router, job: RemoteJob) -> RemoteResult {
    let router = &router.with_node_max_entries(job.node_max_entries);
    if job.transaction {
        return run_transaction(router, job.commands).await;
    }
    let mut job = job;
    let commands = std::mem::take(&mut job.commands);
    let mut replies: Vec<Option<Reply>> = vec![None; commands.len()];
    // One-shard commands between two barriers (commands that fan out or block), by shard.
    let mut pending: BTreeMap<u32, Vec<(usize, Vec<Bytes>)>> = BTreeMap::new();
    for (i, args) in commands.into_iter().enumerate() {
        match classify(router, &args) {
            Route::Group(g) => pending.entry(g).or_default().push((i, args)),
            route => {
                flush(router, &mut pending, &mut replies, job.readonly).await;
                replies[i] = Some(match route {
                    Route::AllGroups => all_groups(router, &args).await,
                    Route::SplitSum(by_group) => split_sum(router, &args[0], by_group).await,
                    Route::StreamRead => stream_read(router, &args, &job).await,
                    Route::BlockingPop(g) => blocking_pop(router, g, &args, &job).await,
                    Route::Error(e) => e,
                    Route::Group(_) => unreachable!("handled above"),
                });
            }
        }
    }
    flush(router, &mut pending, &mut replies, job.readonly).await;
    RemoteResult::Replies {
        replies: replies
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Reply::error("ERR internal error: no reply")))
            .collect(),
        dirty: router.dirty(),
    }
}

/// Sends the pending one-shard commands: one call per shard, all shards at once. Commands of
/// one shard keep their order; commands of different shards touch different keys, so running
/// them concurrently cannot change any reply.
/// Runs the pending one-shard commands, one call per shard, shards concurrently. With
/// `readonly` (the connection sent READONLY) a shard's all-read commands go to any replica.
async fn flush(
    router: &Router,
    pending: &mut BTreeMap<u32, Vec<(usize, Vec<Bytes>)>>,
    replies: &mut [Option<Reply>],
    readonly: bool,
) {
    let mut calls = Vec::with_capacity(pending.len());
    for (g, cmds) in std::mem::take(pending) {
        let (slots, cmds): (Vec<usize>, Vec<Vec<Bytes>>) = cmds.into_iter().unzip();
        let idempotent = cmds.iter().all(|c| is_readonly(c));
        let router = router.clone();
        let call = tokio::spawn(async move {
            if readonly && idempotent {
                router.read(g, cmds).await
            } else {
                router.execute(g, cmds, idempotent).await
            }
        });
        calls.push((slots, call));
    }
    for (slots, call) in calls {
        let result = match call.await {
            Ok(r) => r,
            Err(e) => Err(RouteError::Unknown {
                group: 0,
                reason: format!("routing task failed: {e}"),
            }),
        };
        match result {
            Ok(r) => {
                for (slot, reply) in slots.into_iter().zip(r) {
                    replies[slot] = Some(reply);
                }
            }
            Err(e) => {
                let reply = e.to_reply();
                for slot in slots {
                    replies[slot] = Some(reply.clone());
                }
            }
        }
    }
}

async fn run_transaction(router: &Router, commands: Vec<Vec<Bytes>>) -> RemoteResult {
    let mut group = None;
    for args in &commands {
        match transaction_shard(router, args) {
            Err(e) => return RemoteResult::Refused(e),
            Ok(Some(g)) if group.is_some_and(|prev| prev != g) => {
                return RemoteResult::Refused(Reply::error(CROSSSLOT))
            }
            Ok(Some(g)) => group = Some(g),
            Ok(None) => {}
        }
    }
    let g = group
        .or_else(|| router.groups().first().copied())
        .unwrap_or(0);
    match router.execute(g, commands, false).await {
        Ok(r) => RemoteResult::Replies {
            replies: r,
            dirty: router.dirty(),
        },
        Err(e) => RemoteResult::Refused(e.to_reply()),
    }
}

/// FLUSHALL / FLUSHDB / DBSIZE / KEYS / SCAN on every shard.
async fn all_groups(router: &Router, args: &[Bytes]) -> Reply {
    let name = name_of(args);
    if name == b"scan" {
        return scan_all(router, args).await;
    }
    let mut sum = 0i64;
    let mut keys = Vec::new();
    for g in router.groups() {
        let idempotent = name != b"flushall" && name != b"flushdb";
        let r = match router.execute(g, vec![args.to_vec()], idempotent).await {
            Ok(mut r) => r.pop().unwrap_or(Reply::Null),
            Err(e) => return e.to_reply(),
        };
        match r {
            Reply::Error(_) => return r,
            Reply::Integer(n) => sum += n,
            Reply::Array(items) | Reply::Set(items) => keys.extend(items),
            _ => {}
        }
    }
    match name.as_slice() {
        b"dbsize" => Reply::Integer(sum),
        b"keys" => Reply::Array(keys),
        _ => Reply::ok(),
    }
}

/// SCAN: every shard scanned to the end, answered in one pass with cursor 0 (SCAN's
/// guarantees hold: every key present throughout is returned).
async fn scan_all(router: &Router, args: &[Bytes]) -> Reply {
    if args.len() < 2 {
        return Reply::error("ERR wrong number of arguments for 'scan' command");
    }
    if args[1].as_ref() != b"0" {
        // Only cursor 0 is ever handed out; anything else is a finished scan.
        return Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"0")),
            Reply::Array(vec![]),
        ]);
    }
    // Options without COUNT (the proxy pages with its own).
    let mut opts = Vec::new();
    let mut i = 2;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"count") && i + 1 < args.len() {
            i += 2;
            continue;
        }
        opts.push(args[i].clone());
        i += 1;
    }
    let mut keys = Vec::new();
    for g in router.groups() {
        let mut cursor = Bytes::from_static(b"0");
        loop {
            let mut cmd = vec![Bytes::from_static(b"SCAN"), cursor.clone()];
            cmd.extend(opts.iter().cloned());
            cmd.push(Bytes::from_static(b"COUNT"));
            cmd.push(Bytes::from_static(SCAN_PAGE.as_bytes()));
            let r = match router.execute(g, vec![cmd], true).await {
                Ok(mut r) => r.pop().unwrap_or(Reply::Null),
                Err(e) => return e.to_reply(),
            };
            match r {
                Reply::Array(mut parts) if parts.len() == 2 => {
                    let page = parts.pop().expect("two parts");
                    let next = parts.pop().expect("two parts");
                    if let Reply::Array(items) = page {
                        keys.extend(items);
                    }
                    match next {
                        Reply::Bulk(c) if c.as_ref() != b"0" => cursor = c,
                        _ => break,
                    }
                }
                other => return other,
            }
        }
    }
    Reply::Array(vec![
        Reply::Bulk(Bytes::from_static(b"0")),
        Reply::Array(keys),
    ])
}

/// DEL / UNLINK / EXISTS over shards: one command per shard with its keys, counts summed.
async fn split_sum(router: &Router, name: &Bytes, by_group: BTreeMap<u32, Vec<Bytes>>) -> Reply {
    let mut sum = 0i64;
    let readonly = name.eq_ignore_ascii_case(b"exists");
    for (g, keys) in by_group {
        let mut cmd = vec![name.clone()];
        cmd.extend(keys);
        match router.execute(g, vec![cmd], readonly).await {
            Ok(mut r) => match r.pop() {
                Some(Reply::Integer(n)) => sum += n,
                Some(other) => return other,
                None => return Reply::error("ERR internal error: no reply"),
            },
            Err(e) => return e.to_reply(),
        }
    }
    Reply::Integer(sum)
}

/// The parts of an XREAD / XREADGROUP.
struct StreamsArgs {
    /// Everything before STREAMS except BLOCK <ms>.
    head: Vec<Bytes>,
    block_ms: Option<u64>,
    keys: Vec<Bytes>,
    ids: Vec<Bytes>,
}

fn parse_streams(args: &[Bytes]) -> Option<StreamsArgs> {
    let mut head = vec![args[0].clone()];
    let mut block_ms = None;
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"block") {
            let ms: i64 = std::str::from_utf8(args.get(i + 1)?).ok()?.parse().ok()?;
            if ms < 0 {
                return None;
            }
            block_ms = Some(ms as u64);
            i += 2;
        } else if a.eq_ignore_ascii_case(b"count") {
            head.extend(args.get(i..i + 2)?.iter().cloned());
            i += 2;
        } else if a.eq_ignore_ascii_case(b"group") {
            head.extend(args.get(i..i + 3)?.iter().cloned());
            i += 3;
        } else if a.eq_ignore_ascii_case(b"noack") {
            head.push(a.clone());
            i += 1;
        } else if a.eq_ignore_ascii_case(b"streams") {
            let rest = &args[i + 1..];
            if rest.is_empty() || !rest.len().is_multiple_of(2) {
                return None;
            }
            let (keys, ids) = rest.split_at(rest.len() / 2);
            return Some(StreamsArgs {
                head,
                block_ms,
                keys: keys.to_vec(),
                ids: ids.to_vec(),
            });
        } else {
            return None;
        }
    }
    None
}

fn build_read(head: &[Bytes], keys: &[Bytes], ids: &[Bytes]) -> Vec<Bytes> {
    let mut cmd = head.to_vec();
    cmd.push(Bytes::from_static(b"STREAMS"));
    cmd.extend(keys.iter().cloned());
    cmd.extend(ids.iter().cloned());
    cmd
}

/// Per shard: the positions (in the original argument order) of its streams.
fn streams_by_group(router: &Router, keys: &[Bytes]) -> BTreeMap<u32, Vec<usize>> {
    let mut m: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        m.entry(router.group_of_key(k)).or_default().push(i);
    }
    m
}

/// Merges per-shard XREAD replies: streams with data in argument order; the first error
/// (by the position of its shard's first stream) wins; nothing at all is a null array.
fn merge_reads(parts: Vec<(usize, Reply)>, keys: &[Bytes]) -> Reply {
    let mut parts = parts;
    parts.sort_by_key(|(first, _)| *first);
    let mut pairs: Vec<(usize, (Reply, Reply))> = Vec::new();
    let mut resp3_map = false;
    for (_, r) in parts {
        match r {
            Reply::Error(_) => return r,
            Reply::PairMap(ps) => pairs.extend(ps.into_iter().map(|p| (position(&p.0, keys), p))),
            Reply::Map(ps) => {
                resp3_map = true;
                pairs.extend(ps.into_iter().map(|p| (position(&p.0, keys), p)));
            }
            _ => {}
        }
    }
    if pairs.is_empty() {
        return Reply::NullArray;
    }
    pairs.sort_by_key(|(i, _)| *i);
    let pairs = pairs.into_iter().map(|(_, p)| p).collect();
    if resp3_map {
        Reply::Map(pairs)
    } else {
        Reply::PairMap(pairs)
    }
}

fn position(key: &Reply, keys: &[Bytes]) -> usize {
    match key {
        Reply::Bulk(k) => keys.iter().position(|x| x == k).unwrap_or(usize::MAX),
        _ => usize::MAX,
    }
}

/// One non-blocking round of a (possibly multi-shard) stream read on the leaders, with the
/// leaders' applied indexes.
async fn read_round(
    router: &Router,
    sa: &StreamsArgs,
    ids: &[Bytes],
    groups: &BTreeMap<u32, Vec<usize>>,
    readonly: bool,
) -> Result<(Reply, BTreeMap<u32, u64>), Reply> {
    let mut parts = Vec::new();
    let mut applied = BTreeMap::new();
    for (g, positions) in groups {
        let keys: Vec<Bytes> = positions.iter().map(|&i| sa.keys[i].clone()).collect();
        let gids: Vec<Bytes> = positions.iter().map(|&i| ids[i].clone()).collect();
        let cmd = build_read(&sa.head, &keys, &gids);
        match router.execute_at(*g, vec![cmd], readonly).await {
            Ok((mut r, index)) => {
                applied.insert(*g, index);
                parts.push((positions[0], r.pop().unwrap_or(Reply::NullArray)));
            }
            Err(e) => return Err(e.to_reply()),
        }
    }
    Ok((merge_reads(parts, &sa.keys), applied))
}

/// XREAD `$`: the last entry ID of each such stream, on its leader (`0-0` for an empty or
/// missing stream: every later entry is new).
async fn pin_dollar(router: &Router, sa: &StreamsArgs) -> Result<Vec<Bytes>, Reply> {
    let mut ids = sa.ids.clone();
    for (i, id) in sa.ids.iter().enumerate() {
        if id.as_ref() != b"$" {
            continue;
        }
        let key = &sa.keys[i];
        let cmd = vec![
            Bytes::from_static(b"XREVRANGE"),
            key.clone(),
            Bytes::from_static(b"+"),
            Bytes::from_static(b"-"),
            Bytes::from_static(b"COUNT"),
            Bytes::from_static(b"1"),
        ];
        let r = router
            .execute(router.group_of_key(key), vec![cmd], true)
            .await
            .map_err(|e| e.to_reply())?;
        ids[i] = match r.first() {
            Some(Reply::Array(entries)) => match entries.first() {
                Some(Reply::Array(entry)) => match entry.first() {
                    Some(Reply::Bulk(id)) => id.clone(),
                    _ => Bytes::from_static(b"0-0"),
                },
                _ => Bytes::from_static(b"0-0"),
            },
            _ => Bytes::from_static(b"0-0"),
        };
    }
    Ok(ids)
}

/// How long the next wait may last: until the deadline (`None` once it passed), at most
/// [`MAX_WAIT_SLICE`]; no deadline (BLOCK 0) waits slice after slice.
fn wait_slice(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            (!left.is_zero()).then(|| left.min(MAX_WAIT_SLICE))
        }
        None => Some(MAX_WAIT_SLICE),
    }
}

/// Marks the job blocked while a command waits (cleared when the command is done).
struct Waiting(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Waiting {
    fn new(job: &RemoteJob) -> Waiting {
        Waiting(std::sync::Arc::clone(&job.waiting))
    }
    fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// Resolves when the job is cancelled (never, if its sender is gone without cancelling).
async fn cancelled(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|c| *c).await.map(|_| ()).is_err() {
        std::future::pending::<()>().await;
    }
}

/// The reply of a blocked read that was cancelled (client gone, CLIENT UNBLOCK).
fn unblocked_reply(with_error: &watch::Receiver<bool>) -> Reply {
    if *with_error.borrow() {
        Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    } else {
        Reply::NullArray
    }
}

/// True when now + `block_ms` passes `i64::MAX` milliseconds (0 never does: no deadline).
fn timeout_overflows(block_ms: u64) -> bool {
    block_ms > 0 && block_ms > (i64::MAX as u64).saturating_sub(storage::clock::wall_clock_ms())
}

/// XREAD / XREADGROUP, over one or more shards, blocking or not.
async fn stream_read(router: &Router, args: &[Bytes], job: &RemoteJob) -> Reply {
    let unblock_with_error = &job.unblock_with_error;
    let Some(sa) = parse_streams(args) else {
        // Malformed: the engine answers the precise error.
        let g = server::commands::command_keys(args)
            .and_then(|k| k.first().map(|k| router.group_of_key(k)))
            .or_else(|| router.groups().first().copied())
            .unwrap_or(0);
        return match router
            .execute(g, vec![args.to_vec()], is_readonly(args))
            .await
        {
            Ok(mut r) => r.pop().unwrap_or(Reply::NullArray),
            Err(e) => e.to_reply(),
        };
    };
    // Errors the engine finds in the arguments alone are answered here, as the whole
    // command would get them: split over shards, each part could fail differently (e.g.
    // too few arguments).
    if let Some(Err(e)) = streams::parse(args) {
        return e;
    }
    if sa.block_ms.is_some_and(timeout_overflows) {
        // As the engine does (BLOCK is not sent on): Redis turns the timeout into a deadline
        // when it parses the command, and rejects one past the largest time.
        return Reply::error("ERR timeout is out of range");
    }
    let group_read = name_of(args) == b"xreadgroup";
    let groups = streams_by_group(router, &sa.keys);
    let Some(block_ms) = sa.block_ms else {
        return match read_round(router, &sa, &sa.ids, &groups, !group_read).await {
            Ok((r, _)) => r,
            Err(e) => e,
        };
    };
    let ids = if group_read {
        sa.ids.clone()
    } else {
        match pin_dollar(router, &sa).await {
            Ok(ids) => ids,
            Err(e) => return e,
        }
    };
    let deadline = (block_ms > 0).then(|| Instant::now() + Duration::from_millis(block_ms));
    let mut cancel = job.cancel.clone();
    let waiting = Waiting::new(job);
    let mut first = true;
    // Blocked XREADGROUPs on one key are served in the order they blocked (Redis's rule):
    // after a first look, a client waits for the clients of this proxy that blocked before
    // it; the head of the line waits for data.
    let line = (group_read && sa.keys.len() == 1).then(|| router.block_line(&sa.keys[0]));
    let mut place: Option<tokio::sync::OwnedMutexGuard<()>> = None;
    loop {
        let (r, applied) = match read_round(router, &sa, &ids, &groups, !group_read).await {
            Ok(x) => x,
            Err(e) => return e,
        };
        match &r {
            Reply::NullArray => {}
            // Once blocked, XREAD ignores a key that turned into another type (Redis does).
            Reply::Error(e) if !first && !group_read && e.starts_with(b"WRONGTYPE") => {}
            _ => return r,
        }
        first = false;
        waiting.set();
        // Join the line once blocked; at the head, look again (data may have come while
        // waiting in line) before waiting for data.
        if place.is_none() {
            if let Some(line) = &line {
                let turn = std::sync::Arc::clone(line).lock_owned();
                let got = match deadline {
                    Some(d) => tokio::select! {
                        g = tokio::time::timeout_at(d, turn) => g.ok(),
                        _ = cancelled(&mut cancel) => return unblocked_reply(unblock_with_error),
                    },
                    None => tokio::select! {
                        g = turn => Some(g),
                        _ = cancelled(&mut cancel) => return unblocked_reply(unblock_with_error),
                    },
                };
                match got {
                    Some(g) => {
                        place = Some(g);
                        continue;
                    }
                    None => return Reply::NullArray,
                }
            }
        }
        let Some(slice) = wait_slice(deadline) else {
            return Reply::NullArray;
        };
        // Wait on every shard at once; the first that reports a change (or data) wins.
        let (tx, mut rx) = tokio::sync::mpsc::channel(groups.len().max(1));
        let mut waits = Vec::new();
        for (g, positions) in &groups {
            let keys: Vec<Bytes> = positions.iter().map(|&i| sa.keys[i].clone()).collect();
            let read = (!group_read).then(|| {
                let gids: Vec<Bytes> = positions.iter().map(|&i| ids[i].clone()).collect();
                build_read(&sa.head, &keys, &gids)
            });
            let router = router.clone();
            let tx = tx.clone();
            let (g, since) = (*g, applied.get(g).copied().unwrap_or(0));
            waits.push(tokio::spawn(async move {
                let r = router.wait_for_data(g, keys, since, slice, read).await;
                let _ = tx.send(r).await;
            }));
        }
        drop(tx);
        let outcome = tokio::select! {
            r = rx.recv() => r,
            _ = cancelled(&mut cancel) => {
                for w in &waits { w.abort(); }
                return unblocked_reply(unblock_with_error);
            }
        };
        for w in &waits {
            w.abort();
        }
        match outcome {
            // A follower served the read from committed state.
            Some(Ok(w)) if !w.reply.is_empty() => {
                return match raft::codec::decode::<Reply>(&w.reply) {
                    Ok(r) => merge_reads(vec![(0, r)], &sa.keys),
                    Err(e) => {
                        Reply::error(format!("ERR internal error: bad reply from replica: {e}"))
                    }
                };
            }
            Some(Ok(_)) => {}
            Some(Err(RouteError::NotApplied { .. }))
            | Some(Err(RouteError::Unknown { .. }))
            | None => {
                // No replica could wait: back off briefly, then look on the leader again.
                tokio::time::sleep(crate::router::RETRY_BACKOFF).await;
            }
        }
    }
}

/// BLPOP / BRPOP: the leader pops; while nothing is there, a replica waits for a change.
async fn blocking_pop(router: &Router, g: u32, args: &[Bytes], job: &RemoteJob) -> Reply {
    let unblock_with_error = &job.unblock_with_error;
    let waiting = Waiting::new(job);
    let timeout_s: f64 = args
        .last()
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0);
    let deadline =
        (timeout_s > 0.0).then(|| Instant::now() + Duration::from_secs_f64(timeout_s.min(1e9)));
    let keys: Vec<Bytes> = args[1..args.len().saturating_sub(1)].to_vec();
    let mut cancel = job.cancel.clone();
    let mut first = true;
    loop {
        let (r, applied) = match router.execute_at(g, vec![args.to_vec()], false).await {
            Ok((mut r, i)) => (r.pop().unwrap_or(Reply::NullArray), i),
            Err(e) => return e.to_reply(),
        };
        match &r {
            Reply::NullArray => {}
            // Once blocked, BLPOP ignores a key that turned into another type (Redis does).
            Reply::Error(e) if !first && e.starts_with(b"WRONGTYPE") => {}
            _ => return r,
        }
        first = false;
        waiting.set();
        let Some(slice) = wait_slice(deadline) else {
            return Reply::NullArray;
        };
        tokio::select! {
            r = router.wait_for_data(g, keys.clone(), applied, slice, None) => {
                if r.is_err() {
                    tokio::time::sleep(crate::router::RETRY_BACKOFF).await;
                }
            }
            _ = cancelled(&mut cancel) => return unblocked_reply(unblock_with_error),
        }
    }
}
