//! MULTI / EXEC / DISCARD / WATCH.
use crate::common::*;

#[tokio::test]
async fn multi_exec_runs_queued_commands() {
    let srv = start().await;
    let mut c = srv.raw().await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XADD s 1-1 a 1", "+QUEUED\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect("EXEC", "*2\r\n$3\r\n1-1\r\n:1\r\n").await;
    log_phase("errors of queued commands are replies inside EXEC, not aborts");
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XADD s 1-1 a 1", "+QUEUED\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect(
        "EXEC",
        "*2\r\n-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n:1\r\n",
    )
    .await;
    srv.shutdown().await;
}

#[tokio::test]
async fn multi_state_errors() {
    let srv = start().await;
    let mut c = srv.raw().await;
    c.expect("EXEC", "-ERR EXEC without MULTI\r\n").await;
    c.expect("DISCARD", "-ERR DISCARD without MULTI\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("MULTI", "-ERR MULTI calls can not be nested\r\n")
        .await;
    c.expect("WATCH s", "-ERR WATCH inside MULTI is not allowed\r\n")
        .await;
    c.expect("XADD s 1-1 a 1", "+QUEUED\r\n").await;
    log_phase("neither error aborted the transaction");
    c.expect("EXEC", "*1\r\n$3\r\n1-1\r\n").await;
    log_phase("DISCARD drops the queue");
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XADD s 2-1 a 1", "+QUEUED\r\n").await;
    c.expect("DISCARD", "+OK\r\n").await;
    c.expect("XLEN s", ":1\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn queueing_errors_abort_exec() {
    let srv = start().await;
    let mut c = srv.raw().await;
    log_phase("unknown command while queueing");
    c.expect("MULTI", "+OK\r\n").await;
    c.expect(
        "NOSUCH x",
        "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n",
    )
    .await;
    c.expect("XADD s 1-1 a 1", "+QUEUED\r\n").await;
    c.expect(
        "EXEC",
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    c.expect("XLEN s", ":0\r\n").await;
    log_phase("arity error while queueing");
    c.expect("MULTI", "+OK\r\n").await;
    c.expect(
        "XLEN",
        "-ERR wrong number of arguments for 'xlen' command\r\n",
    )
    .await;
    c.expect(
        "EXEC",
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    c.expect("EXEC", "-ERR EXEC without MULTI\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn watch_detects_modification_by_another_client() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut other = srv.raw().await;
    c.expect("WATCH s", "+OK\r\n").await;
    other.expect("XADD s 3-1 a 1", "$3\r\n3-1\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect("EXEC", "*-1\r\n").await;
    log_phase("EXEC unwatched everything: the next transaction runs");
    c.expect("WATCH s", "+OK\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect("EXEC", "*1\r\n:1\r\n").await;
    log_phase("UNWATCH forgets a touched key");
    c.expect("WATCH s", "+OK\r\n").await;
    other.expect("XADD s 4-1 a 1", "$3\r\n4-1\r\n").await;
    c.expect("UNWATCH", "+OK\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect("EXEC", "*1\r\n:2\r\n").await;
    log_phase("DEL of a watched key touches it; a write to another key does not");
    c.expect("WATCH s", "+OK\r\n").await;
    other.expect("XADD t 1-1 a 1", "$3\r\n1-1\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect("EXEC", "*1\r\n:2\r\n").await;
    c.expect("WATCH s", "+OK\r\n").await;
    other.expect("DEL s", ":1\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect("EXEC", "*-1\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn flushall_touches_watched_keys_that_exist() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut other = srv.raw().await;
    c.expect("XADD s 1-1 a 1", "$3\r\n1-1\r\n").await;
    c.expect("WATCH s", "+OK\r\n").await;
    other.expect("FLUSHALL", "+OK\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XLEN s", "+QUEUED\r\n").await;
    c.expect("EXEC", "*-1\r\n").await;
    log_phase("a watched key that did not exist is not touched by FLUSHALL");
    other.expect("XADD other 1-1 a 1", "$3\r\n1-1\r\n").await;
    c.expect("WATCH missing", "+OK\r\n").await;
    other.expect("FLUSHALL", "+OK\r\n").await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XLEN missing", "+QUEUED\r\n").await;
    c.expect("EXEC", "*1\r\n:0\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn exec_shares_one_timestamp_and_never_blocks() {
    let srv = start().await;
    let mut c = srv.raw().await;
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XADD t * a 1", "+QUEUED\r\n").await;
    c.expect("XADD t * a 2", "+QUEUED\r\n").await;
    c.expect("XADD t * a 3", "+QUEUED\r\n").await;
    let r = c.cmd("EXEC").await;
    let text = String::from_utf8_lossy(&r).to_string();
    let ids: Vec<&str> = text.split("\r\n").filter(|l| l.contains('-')).collect();
    assert_eq!(ids.len(), 3, "{text}");
    let ms: Vec<&str> = ids.iter().map(|i| i.split('-').next().unwrap()).collect();
    assert!(ms.iter().all(|m| *m == ms[0]), "{text}");
    let seqs: Vec<&str> = ids.iter().map(|i| i.split('-').nth(1).unwrap()).collect();
    assert_eq!(seqs, vec!["0", "1", "2"], "{text}");
    log_phase("a blocking read inside MULTI answers like a timeout");
    c.expect("MULTI", "+OK\r\n").await;
    c.expect("XREAD BLOCK 0 STREAMS nokey $", "+QUEUED\r\n")
        .await;
    c.expect("XLEN t", "+QUEUED\r\n").await;
    c.expect("EXEC", "*2\r\n*-1\r\n:3\r\n").await;
    srv.shutdown().await;
}
