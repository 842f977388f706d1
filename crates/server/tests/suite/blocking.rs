//! Blocking reads: wake-ups, releases, fairness, deadlines, disconnects, CLIENT UNBLOCK.
use std::time::{Duration, Instant};

use crate::common::*;

const ENTRY_5_1: &str =
    "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n5-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";

#[tokio::test]
async fn xread_block_is_woken_by_xadd_from_another_connection() {
    let srv = start().await;
    let mut reader = srv.raw().await;
    let mut writer = srv.raw().await;
    reader.send(&encode_line("XREAD BLOCK 0 STREAMS s $")).await;
    wait_info(&mut writer, "blocked_clients", "1").await;
    wait_info(&mut writer, "total_blocking_keys", "1").await;
    wait_info(&mut writer, "total_blocking_keys_on_nokey", "0").await;
    log_phase("nothing arrives before the XADD");
    assert!(reader
        .try_read_frame(Duration::from_millis(100))
        .await
        .is_none());
    writer.expect("XADD s 5-1 f v", "$3\r\n5-1\r\n").await;
    assert_eq!(show(&reader.read_frame().await), show(ENTRY_5_1.as_bytes()));
    wait_info(&mut writer, "blocked_clients", "0").await;
    wait_info(&mut writer, "total_blocking_keys", "0").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn pipelined_commands_wait_behind_a_blocked_command() {
    let srv = start().await;
    let mut reader = srv.raw().await;
    let mut writer = srv.raw().await;
    let mut bytes = encode_line("PING");
    bytes.extend(encode_line("XREAD BLOCK 0 STREAMS s $"));
    bytes.extend(encode_line("ECHO after"));
    reader.send(&bytes).await;
    log_phase("the reply before the blocked command arrives at once");
    assert_eq!(show(&reader.read_frame().await), "+PONG\\r\\n");
    wait_info(&mut writer, "blocked_clients", "1").await;
    assert!(reader
        .try_read_frame(Duration::from_millis(100))
        .await
        .is_none());
    writer.expect("XADD s 5-1 f v", "$3\r\n5-1\r\n").await;
    assert_eq!(show(&reader.read_frame().await), show(ENTRY_5_1.as_bytes()));
    assert_eq!(show(&reader.read_frame().await), "$5\\r\\nafter\\r\\n");
    srv.shutdown().await;
}

#[tokio::test]
async fn block_timeout_replies_null_in_both_protocols() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let t = Instant::now();
    c.expect("XREAD BLOCK 100 STREAMS s $", "*-1\r\n").await;
    assert!(
        t.elapsed() >= Duration::from_millis(90),
        "{:?}",
        t.elapsed()
    );
    let r = c.cmd("HELLO 3").await;
    assert!(r.starts_with(b"%7"));
    c.expect("XREAD BLOCK 50 STREAMS s $", "_\r\n").await;
    srv.shutdown().await;
}

async fn blocked_group_reader(srv: &TestServer, setup: &mut Raw) -> Raw {
    setup
        .expect("XGROUP CREATE s g $ MKSTREAM", "+OK\r\n")
        .await;
    let mut reader = srv.raw().await;
    reader
        .send(&encode_line("XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"))
        .await;
    wait_info(setup, "blocked_clients", "1").await;
    wait_info(setup, "total_blocking_keys_on_nokey", "1").await;
    reader
}

const NOGROUP: &str =
    "-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n";

#[tokio::test]
async fn xreadgroup_block_released_with_nogroup_on_del() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut reader = blocked_group_reader(&srv, &mut admin).await;
    admin.expect("DEL s", ":1\r\n").await;
    assert_eq!(show(&reader.read_frame().await), show(NOGROUP.as_bytes()));
    wait_info(&mut admin, "blocked_clients", "0").await;
    wait_info(&mut admin, "total_blocking_keys_on_nokey", "0").await;
    let stats = admin.cmd("INFO errorstats").await;
    assert!(
        info_field(&stats, "errorstat_NOGROUP").is_some(),
        "{}",
        show(&stats)
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn xreadgroup_block_released_with_nogroup_on_group_destroy() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut reader = blocked_group_reader(&srv, &mut admin).await;
    admin.expect("XGROUP DESTROY s g", ":1\r\n").await;
    assert_eq!(show(&reader.read_frame().await), show(NOGROUP.as_bytes()));
    srv.shutdown().await;
}

#[tokio::test]
async fn xreadgroup_block_released_with_wrongtype_on_set() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut reader = blocked_group_reader(&srv, &mut admin).await;
    admin.expect("SET s foo", "+OK\r\n").await;
    assert_eq!(
        show(&reader.read_frame().await),
        show(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn xread_is_not_woken_by_a_type_change() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut reader = srv.raw().await;
    reader
        .send(&encode_line("XREAD BLOCK 300 STREAMS s $"))
        .await;
    wait_info(&mut admin, "blocked_clients", "1").await;
    admin.expect("SET s foo", "+OK\r\n").await;
    log_phase("XREAD keeps waiting and times out");
    assert_eq!(show(&reader.read_frame().await), "*-1\\r\\n");
    srv.shutdown().await;
}

#[tokio::test]
async fn blocked_group_consumers_are_served_in_fifo_order() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    admin
        .expect("XGROUP CREATE s g $ MKSTREAM", "+OK\r\n")
        .await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    a.send(&encode_line(
        "XREADGROUP GROUP g a COUNT 1 BLOCK 0 STREAMS s >",
    ))
    .await;
    wait_info(&mut admin, "blocked_clients", "1").await;
    b.send(&encode_line(
        "XREADGROUP GROUP g b COUNT 1 BLOCK 0 STREAMS s >",
    ))
    .await;
    wait_info(&mut admin, "blocked_clients", "2").await;
    log_phase("the first entry goes to the first blocked consumer");
    admin.expect("XADD s 1-1 f v", "$3\r\n1-1\r\n").await;
    let r = a.read_frame().await;
    assert!(show(&r).contains("1-1"), "{}", show(&r));
    wait_info(&mut admin, "blocked_clients", "1").await;
    assert!(b.try_read_frame(Duration::from_millis(100)).await.is_none());
    log_phase("the second entry goes to the second");
    admin.expect("XADD s 2-1 f v", "$3\r\n2-1\r\n").await;
    let r = b.read_frame().await;
    assert!(show(&r).contains("2-1"), "{}", show(&r));
    let pending = admin.cmd("XPENDING s g").await;
    assert!(
        show(&pending).starts_with("*4\\r\\n:2\\r\\n"),
        "{}",
        show(&pending)
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn block_deadline_is_not_reset_by_unserved_wakeups() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut reader = srv.raw().await;
    admin.expect("XADD s 1-1 f v", "$3\r\n1-1\r\n").await;
    let t = Instant::now();
    reader
        .send(&encode_line("XREAD BLOCK 1500 STREAMS s 100000-0"))
        .await;
    wait_info(&mut admin, "blocked_clients", "1").await;
    log_phase("wake the reader repeatedly with entries it does not want");
    let mut seq = 2;
    while t.elapsed() < Duration::from_millis(1300) {
        admin
            .expect(
                &format!("XADD s {seq}-1 f v"),
                &format!("${}\r\n{seq}-1\r\n", 2 + seq.to_string().len()),
            )
            .await;
        seq += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(show(&reader.read_frame().await), "*-1\\r\\n");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(1450), "{waited:?}");
    assert!(
        waited < Duration::from_millis(2600),
        "deadline was reset: {waited:?}"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn blocked_client_disconnect_is_noticed() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut reader = srv.raw().await;
    reader
        .send(&encode_line("XREAD BLOCK 0 STREAMS s1 s2 $ $"))
        .await;
    wait_info(&mut admin, "blocked_clients", "1").await;
    wait_info(&mut admin, "total_blocking_keys", "2").await;
    drop(reader);
    wait_info(&mut admin, "blocked_clients", "0").await;
    wait_info(&mut admin, "total_blocking_keys", "0").await;
    let clients = admin.cmd("INFO clients").await;
    assert_eq!(
        info_field(&clients, "connected_clients").as_deref(),
        Some("1")
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn client_unblock_timeout_and_error() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut reader = srv.raw().await;
    let id = String::from_utf8(reader.cmd("CLIENT ID").await).unwrap();
    let id = id.trim_start_matches(':').trim_end().to_string();
    admin
        .expect(&format!("CLIENT UNBLOCK {id}"), ":0\r\n")
        .await;
    reader.send(&encode_line("XREAD BLOCK 0 STREAMS s $")).await;
    wait_info(&mut admin, "blocked_clients", "1").await;
    admin
        .expect(&format!("CLIENT UNBLOCK {id}"), ":1\r\n")
        .await;
    assert_eq!(show(&reader.read_frame().await), "*-1\\r\\n");
    reader.send(&encode_line("XREAD BLOCK 0 STREAMS s $")).await;
    wait_info(&mut admin, "blocked_clients", "1").await;
    admin
        .expect(
            &format!("CLIENT UNBLOCK {id} FOO"),
            "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
        )
        .await;
    admin
        .expect(&format!("CLIENT UNBLOCK {id} ERROR"), ":1\r\n")
        .await;
    assert_eq!(
        show(&reader.read_frame().await),
        show(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
    );
    reader.expect("PING", "+PONG\r\n").await;
    srv.shutdown().await;
}
