//! A 3-node cluster (in-process nodes over real gRPC) behind the RESP proxy, driven with a
//! real client (the `redis` crate): the single-node flows, cross-shard commands, blocking
//! reads served through followers, and a leader kill.

#[path = "shared/cluster.rs"]
mod shared;

use shared::start_cluster_and_proxy;

use std::time::{Duration, Instant};

use node::LocalCluster;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, Value};

struct Setup {
    cluster: LocalCluster,
    proxy: server::ServerHandle,
    _dir: tempfile::TempDir,
}

async fn setup(groups: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = server::Config {
        bind: "127.0.0.1".into(),
        port: 0,
        ..server::Config::default()
    };
    let (cluster, proxy) = start_cluster_and_proxy(dir.path(), groups, true, config).await;
    Setup {
        cluster,
        proxy,
        _dir: dir,
    }
}

async fn conn(s: &Setup) -> MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{}/", s.proxy.local_addr())).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Two keys that live in different shards.
fn keys_in_two_groups(s: &Setup) -> (String, String) {
    let a = "k0".to_string();
    let ga = s.cluster.map.group_of_key(a.as_bytes());
    let b = (1..1000)
        .map(|i| format!("k{i}"))
        .find(|k| s.cluster.map.group_of_key(k.as_bytes()) != ga)
        .unwrap();
    (a, b)
}

async fn shutdown(s: Setup) {
    s.proxy.shutdown().await.unwrap();
    s.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_and_groups_through_the_proxy() {
    let s = setup(4).await;
    let mut c = conn(&s).await;
    eprintln!("phase: a pipeline over many keys keeps its order");
    let mut pipe = redis::pipe();
    for i in 0..40 {
        pipe.cmd("XADD")
            .arg(format!("s{}", i % 8))
            .arg(format!("{}-1", i + 1))
            .arg("n")
            .arg(i);
    }
    let ids: Vec<String> = pipe.query_async(&mut c).await.unwrap();
    assert_eq!(
        ids,
        (0..40).map(|i| format!("{}-1", i + 1)).collect::<Vec<_>>()
    );
    let len: i64 = c.xlen("s3").await.unwrap();
    assert_eq!(len, 5);

    eprintln!("phase: consumer group flow");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("s3")
        .arg("g")
        .arg("0")
        .query_async(&mut c)
        .await
        .unwrap();
    let read: Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("alice")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg("s3")
        .arg(">")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(format!("{read:?}").contains("4-1"), "{read:?}");
    let pending: Value = redis::cmd("XPENDING")
        .arg("s3")
        .arg("g")
        .query_async(&mut c)
        .await
        .unwrap();
    match &pending {
        Value::Array(items) => assert_eq!(items[0], Value::Int(2), "{pending:?}"),
        other => panic!("XPENDING {other:?}"),
    }
    let acked: i64 = redis::cmd("XACK")
        .arg("s3")
        .arg("g")
        .arg("4-1")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(acked, 1);
    let claimed: Value = redis::cmd("XCLAIM")
        .arg("s3")
        .arg("g")
        .arg("bob")
        .arg(0)
        .arg("12-1")
        .arg("JUSTID")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(format!("{claimed:?}").contains("12-1"), "{claimed:?}");

    eprintln!("phase: cross-shard commands");
    let (a, b) = keys_in_two_groups(&s);
    let _: String = c.xadd(&a, "*", &[("f", "v")]).await.unwrap();
    let _: String = c.xadd(&b, "*", &[("f", "v")]).await.unwrap();
    let n: i64 = redis::cmd("EXISTS")
        .arg(&a)
        .arg(&b)
        .arg(&a)
        .arg("nope")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(size, 10);
    // INFO's keyspace section counts the keys of every shard, as DBSIZE does.
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        info.contains("db0:keys=10,expires=0,avg_ttl=0,subexpiry=0"),
        "{info}"
    );
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    keys.sort();
    assert_eq!(keys.len(), 10);
    let (cursor, scanned): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("s*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(cursor, "0");
    assert_eq!(scanned.len(), 8);
    let err = redis::cmd("RENAME")
        .arg(&a)
        .arg(&b)
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("crossslot"),
        "{err}"
    );
    let read: Value = redis::cmd("XREAD")
        .arg("STREAMS")
        .arg(&b)
        .arg(&a)
        .arg("0")
        .arg("0")
        .query_async(&mut c)
        .await
        .unwrap();
    let shown = format!("{read:?}");
    assert!(
        shown.find(&b).unwrap() < shown.find(&a).unwrap(),
        "argument order kept: {shown}"
    );
    let deleted: i64 = redis::cmd("DEL")
        .arg(&a)
        .arg(&b)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(deleted, 2);

    eprintln!("phase: MULTI/EXEC in one shard is atomic; across shards CROSSSLOT");
    let (r1, r2): (String, i64) = redis::pipe()
        .atomic()
        .cmd("XADD")
        .arg("{t}a")
        .arg("*")
        .arg("f")
        .arg("v")
        .cmd("XLEN")
        .arg("{t}a")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(r1.contains('-'));
    assert_eq!(r2, 1);
    let err = redis::pipe()
        .atomic()
        .cmd("XADD")
        .arg(&a)
        .arg("*")
        .arg("f")
        .arg("v")
        .cmd("XADD")
        .arg(&b)
        .arg("*")
        .arg("f")
        .arg("v")
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("crossslot"),
        "{err}"
    );

    eprintln!("phase: WATCH: EXEC aborts (nil) iff a watched key changed, whoever changed it");
    let mut other = conn(&s).await;
    let watch = |keys: &[&str]| {
        let mut cmd = redis::cmd("WATCH");
        for k in keys {
            cmd.arg(*k);
        }
        cmd
    };
    let exec_xlen = |key: &str| redis::pipe().atomic().cmd("XLEN").arg(key).clone();
    let _: () = watch(&["{w}1"]).query_async(&mut c).await.unwrap();
    let _: String = other.xadd("{w}1", "*", &[("f", "v")]).await.unwrap();
    let r: Value = exec_xlen("{w}1").query_async(&mut c).await.unwrap();
    assert_eq!(r, Value::Nil, "a key changed by another client aborts EXEC");
    let _: () = watch(&["{w}1", "{w}2"]).query_async(&mut c).await.unwrap();
    let _: String = other.xadd("{w}3", "*", &[("f", "v")]).await.unwrap();
    let r: (i64,) = exec_xlen("{w}1").query_async(&mut c).await.unwrap();
    assert_eq!(
        r,
        (1,),
        "an unwatched key of the same shard changing does not abort"
    );
    let _: () = watch(&["{w}2"]).query_async(&mut c).await.unwrap();
    let _: i64 = other.del("{w}1").await.unwrap();
    let r: (i64,) = exec_xlen("{w}1").query_async(&mut c).await.unwrap();
    assert_eq!(r, (0,));
    let _: () = watch(&["{w}1"]).query_async(&mut c).await.unwrap();
    let _: String = c.xadd("{w}1", "*", &[("f", "v")]).await.unwrap();
    let r: Value = exec_xlen("{w}1").query_async(&mut c).await.unwrap();
    assert_eq!(
        r,
        Value::Nil,
        "the watcher's own write aborts too, as in Redis"
    );
    let _: () = watch(&["{w}1"]).query_async(&mut c).await.unwrap();
    let _: String = other.xadd("{w}1", "*", &[("f", "v")]).await.unwrap();
    let _: () = redis::cmd("UNWATCH").query_async(&mut c).await.unwrap();
    let r: (i64,) = exec_xlen("{w}1").query_async(&mut c).await.unwrap();
    assert_eq!(r, (2,), "UNWATCH forgets");
    let err = watch(&[a.as_str(), b.as_str()])
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("crossslot"),
        "{err}"
    );
    let _: () = watch(&[a.as_str()]).query_async(&mut c).await.unwrap();
    let err = watch(&[b.as_str()])
        .query_async::<()>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("crossslot"),
        "{err}"
    );
    let _: () = redis::cmd("UNWATCH").query_async(&mut c).await.unwrap();

    eprintln!(
        "phase: READONLY reads come from any replica (eventually current), writes still work"
    );
    let mut ro = conn(&s).await;
    let _: () = redis::cmd("READONLY").query_async(&mut ro).await.unwrap();
    for i in 0..20 {
        let _: String = ro.xadd("{ro}s", "*", &[("i", i)]).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        // Several reads, spread over the replicas: each sees a committed prefix.
        let n: i64 = ro.xlen("{ro}s").await.unwrap();
        assert!((0..=20).contains(&n), "{n}");
        seen.push(n);
        if seen.len() >= 6 && seen[seen.len() - 6..].iter().all(|n| *n == 20) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas never caught up: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r: Value = redis::cmd("XRANGE")
        .arg("{ro}s")
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut ro)
        .await
        .unwrap();
    assert!(matches!(r, Value::Array(ref a) if a.len() == 1), "{r:?}");
    let _: () = redis::cmd("READWRITE").query_async(&mut ro).await.unwrap();
    let n: i64 = ro.xlen("{ro}s").await.unwrap();
    assert_eq!(n, 20);
    shutdown(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocking_reads_wake_on_new_data_across_shards() {
    let s = setup(4).await;
    let (a, b) = keys_in_two_groups(&s);
    let mut c = conn(&s).await;
    let mut writer = conn(&s).await;
    eprintln!("phase: XREAD BLOCK over two shards with $ wakes on the second stream");
    let reader = tokio::spawn({
        let mut c = conn(&s).await;
        let (a, b) = (a.clone(), b.clone());
        async move {
            let started = Instant::now();
            let v: Value = redis::cmd("XREAD")
                .arg("BLOCK")
                .arg(10_000)
                .arg("STREAMS")
                .arg(&a)
                .arg(&b)
                .arg("$")
                .arg("$")
                .query_async(&mut c)
                .await
                .unwrap();
            (v, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id: String = writer.xadd(&b, "*", &[("late", "1")]).await.unwrap();
    let (v, waited) = reader.await.unwrap();
    assert!(format!("{v:?}").contains(&id), "{v:?}");
    assert!(waited < Duration::from_secs(5), "woke after {waited:?}");

    eprintln!("phase: XREADGROUP BLOCK wakes when an entry arrives");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&a)
        .arg("g")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut c)
        .await
        .unwrap();
    let reader = tokio::spawn({
        let mut c = conn(&s).await;
        let a = a.clone();
        async move {
            let v: Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg("g")
                .arg("c1")
                .arg("BLOCK")
                .arg(10_000)
                .arg("STREAMS")
                .arg(&a)
                .arg(">")
                .query_async(&mut c)
                .await
                .unwrap();
            v
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id: String = writer.xadd(&a, "*", &[("job", "1")]).await.unwrap();
    let v = reader.await.unwrap();
    assert!(format!("{v:?}").contains(&id), "{v:?}");

    eprintln!("phase: a BLOCK timeout answers nil");
    let started = Instant::now();
    let v: Value = redis::cmd("XREAD")
        .arg("BLOCK")
        .arg(300)
        .arg("STREAMS")
        .arg(&a)
        .arg("$")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, Value::Nil);
    assert!(started.elapsed() >= Duration::from_millis(290));
    shutdown(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_the_proxy_survive_a_leader_kill() {
    let mut s = setup(2).await;
    let mut c = conn(&s).await;
    let g = s.cluster.map.group_of_key(b"q").0;
    let mut acked = Vec::new();
    for i in 0..50 {
        let id: String = c.xadd("q", "*", &[("n", i)]).await.unwrap();
        acked.push(id);
    }
    let leader = s.cluster.leader_of(g).unwrap();
    eprintln!("phase: stopping node {leader} (leader of shard {g})");
    let killed = Instant::now();
    s.cluster.stop_node(leader).await;
    let mut unknown = 0;
    let mut first_ok = None;
    for i in 50..100 {
        match c.xadd::<_, _, _, _, String>("q", "*", &[("n", i)]).await {
            Ok(id) => {
                first_ok.get_or_insert_with(|| killed.elapsed());
                acked.push(id);
            }
            Err(e) => {
                let m = e.to_string();
                if unknown == 0 {
                    eprintln!("first error: {m}");
                }
                assert!(m.contains("TIMEOUT") || m.contains("TRYAGAIN"), "{m}");
                unknown += 1;
            }
        }
    }
    eprintln!("failover through the proxy: first write ok after {first_ok:?}, {unknown} errors");
    assert!(first_ok.is_some());
    s.cluster.restart_node(leader).await.unwrap();
    let ids: Vec<Value> = redis::cmd("XRANGE")
        .arg("q")
        .arg("-")
        .arg("+")
        .query_async::<Vec<Value>>(&mut c)
        .await
        .unwrap();
    let present: Vec<String> = ids
        .iter()
        .filter_map(|e| match e {
            Value::Array(p) => match &p[0] {
                Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for id in &acked {
        assert_eq!(present.iter().filter(|p| *p == id).count(), 1, "{id}");
    }
    shutdown(s).await;
}
