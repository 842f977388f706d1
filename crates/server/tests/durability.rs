//! Restart durability: everything acknowledged before a shutdown is there after reopening
//! the same directory, consumer-group state included.

mod common;

use common::*;

#[tokio::test]
async fn acknowledged_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let durable = || server::Config {
        fsync: true,
        ..test_config(dir.path())
    };
    let handle = server::serve(durable()).await.unwrap();
    let addr = handle.local_addr();

    log_phase("four clients write concurrently, each to its own stream and a shared one");
    let mut tasks = Vec::new();
    for w in 0..4u32 {
        tasks.push(tokio::spawn(async move {
            let mut c = Raw::connect(addr).await;
            let mut acked = Vec::new();
            for i in 1..=50u32 {
                let r = c.cmd(&format!("XADD own{w} {i}-{w} n {i}")).await;
                assert_eq!(
                    show(&r),
                    show(format!("${}\r\n{i}-{w}\r\n", format!("{i}-{w}").len()).as_bytes())
                );
                let r = c.cmd(&format!("XADD shared * w {w} i {i}")).await;
                assert!(r.starts_with(b"$"), "{}", show(&r));
                acked.push(r);
            }
            acked.len()
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 200);

    log_phase("a consumer group with a PEL and an ack");
    let mut c = Raw::connect(addr).await;
    c.expect("XGROUP CREATE shared g 0", "+OK\r\n").await;
    let delivered = c
        .cmd("XREADGROUP GROUP g alice COUNT 10 STREAMS shared >")
        .await;
    assert!(delivered.starts_with(b"*1\r\n"), "{}", show(&delivered));
    let first_id = c.cmd("XRANGE shared - + COUNT 1").await;
    let text = String::from_utf8_lossy(&first_id).to_string();
    let id = text.split("\r\n").nth(3).unwrap().to_string();
    c.expect(&format!("XACK shared g {id}"), ":1\r\n").await;
    let before = snapshot(&mut c).await;
    drop(c);
    handle.shutdown().await.unwrap();

    log_phase("reopen the same directory");
    let handle = server::serve(durable()).await.unwrap();
    let mut c = Raw::connect(handle.local_addr()).await;
    let after = snapshot(&mut c).await;
    assert_eq!(before.len(), after.len());
    for ((what, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(show(a), show(b), "{what} differs after restart");
    }
    c.expect("XLEN shared", ":200\r\n").await;
    c.expect("XPENDING shared g - + 100 bob", "*0\r\n").await;
    handle.shutdown().await.unwrap();
}

async fn snapshot(c: &mut Raw) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for q in [
        "XRANGE own0 - +",
        "XRANGE own1 - +",
        "XRANGE own2 - +",
        "XRANGE own3 - +",
        "XRANGE shared - +",
        "XPENDING shared g",
        "XINFO GROUPS shared",
        "DBSIZE",
    ] {
        out.push((q.to_string(), c.cmd(q).await));
    }
    out
}
