//! Connection-level behaviour: pipelining, RESP3, AUTH, protocol errors, inline commands,
//! connection commands, client limits.
use std::time::Duration;

use crate::common::*;

fn parse_int(reply: &[u8]) -> i64 {
    let s = std::str::from_utf8(reply).expect("utf8");
    s.trim_start_matches(':')
        .trim_end()
        .parse()
        .expect("integer reply")
}

#[tokio::test]
async fn pipelined_commands_in_one_write_are_answered_in_order() {
    let srv = start().await;
    let mut c = srv.raw().await;
    log_phase("send 500 XADDs and an XLEN in a single write");
    let mut bytes = Vec::new();
    for i in 1..=500 {
        bytes.extend(encode_line(&format!("XADD s {i}-1 f v")));
    }
    bytes.extend(encode_line("XLEN s"));
    c.send(&bytes).await;
    log_phase("every reply arrives, in order");
    for i in 1..=500 {
        let id = format!("{i}-1");
        let want = format!("${}\r\n{id}\r\n", id.len());
        assert_eq!(show(&c.read_frame().await), show(want.as_bytes()));
    }
    assert_eq!(show(&c.read_frame().await), show(b":500\r\n"));
    srv.shutdown().await;
}

#[tokio::test]
async fn hello_3_switches_the_connection_to_resp3() {
    let srv = start().await;
    let mut c = srv.raw().await;
    c.expect("CLIENT GETNAME", "$-1\r\n").await;
    let id = parse_int(&c.cmd("CLIENT ID").await);
    log_phase("HELLO 3 replies with a RESP3 map");
    let want = format!(
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n8.0.2\r\n$5\r\nproto\r\n:3\r\n\
         $2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
         $7\r\nmodules\r\n*0\r\n"
    );
    c.expect("HELLO 3", &want).await;
    log_phase("later replies use RESP3 framing");
    c.expect("CLIENT GETNAME", "_\r\n").await;
    c.expect("XREAD STREAMS nokey 0", "_\r\n").await;
    log_phase("HELLO 2 switches back; the map becomes a flat array");
    let want2 = format!(
        "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n8.0.2\r\n$5\r\nproto\r\n:2\r\n\
         $2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
         $7\r\nmodules\r\n*0\r\n"
    );
    c.expect("HELLO 2", &want2).await;
    c.expect("XREAD STREAMS nokey 0", "*-1\r\n").await;
    log_phase("bad versions");
    c.expect("HELLO 4", "-NOPROTO unsupported protocol version\r\n")
        .await;
    c.expect(
        "HELLO x",
        "-ERR Protocol version is not an integer or out of range\r\n",
    )
    .await;
    c.expect("HELLO 3 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n")
        .await;
    log_phase("HELLO SETNAME names the client; RESET goes back to RESP2 and no name");
    let r = c.cmd("HELLO 3 SETNAME app1").await;
    assert!(r.starts_with(b"%7\r\n"), "{}", show(&r));
    c.expect("CLIENT GETNAME", "$4\r\napp1\r\n").await;
    c.expect("RESET", "+RESET\r\n").await;
    c.expect("CLIENT GETNAME", "$-1\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn auth_flow_with_requirepass_and_pre_auth_limits() {
    let srv = start_with(|c| c.requirepass = Some("sekret".into())).await;
    let mut c = srv.raw().await;
    log_phase("commands need AUTH first");
    c.expect("PING", "-NOAUTH Authentication required.\r\n")
        .await;
    c.expect("XLEN s", "-NOAUTH Authentication required.\r\n")
        .await;
    c.expect(
        "AUTH wrong",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    c.expect(
        "AUTH someone sekret",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    c.expect(
        "HELLO 3",
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
         select the RESP protocol version at the same time\r\n",
    )
    .await;
    log_phase("AUTH succeeds; larger commands are accepted afterwards");
    c.expect("AUTH sekret", "+OK\r\n").await;
    c.expect("PING", "+PONG\r\n").await;
    let mut args: Vec<Vec<u8>> = vec![b"XADD".to_vec(), b"s".to_vec(), b"1-1".to_vec()];
    for i in 0..10 {
        args.push(format!("f{i}").into_bytes());
        args.push(vec![b'x'; 20_000]);
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    assert_eq!(show(&c.cmd_args(&refs).await), show(b"$3\r\n1-1\r\n"));
    log_phase("AUTH default <pw> and HELLO 3 AUTH on fresh connections");
    let mut d = srv.raw().await;
    d.expect("AUTH default sekret", "+OK\r\n").await;
    let mut e = srv.raw().await;
    let r = e.cmd("HELLO 3 AUTH default sekret").await;
    assert!(r.starts_with(b"%7\r\n"), "{}", show(&r));
    e.expect("PING", "+PONG\r\n").await;
    log_phase("RESET logs the client out again");
    e.expect("RESET", "+RESET\r\n").await;
    e.expect("PING", "-NOAUTH Authentication required.\r\n")
        .await;

    log_phase("before AUTH: too many arguments is a protocol error that closes");
    let mut f = srv.raw().await;
    f.send(&encode_line("XADD s * a b c d e f g h i j")).await;
    let r = f.read_frame().await;
    assert!(
        r.starts_with(b"-ERR Protocol error: unauthenticated multibulk length"),
        "{}",
        show(&r)
    );
    assert!(f.closed_within(REPLY_TIMEOUT).await);
    log_phase("before AUTH: a big bulk string is a protocol error that closes");
    let mut g = srv.raw().await;
    let big = vec![b'x'; 20_000];
    g.send(&encode(&[b"AUTH", &big])).await;
    let r = g.read_frame().await;
    assert!(
        r.starts_with(b"-ERR Protocol error: unauthenticated bulk length"),
        "{}",
        show(&r)
    );
    assert!(g.closed_within(REPLY_TIMEOUT).await);
    srv.shutdown().await;
}

#[tokio::test]
async fn auth_without_a_password_configured() {
    let srv = start().await;
    let mut c = srv.raw().await;
    c.expect(
        "AUTH foo",
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n",
    )
    .await;
    c.expect("AUTH default anything", "+OK\r\n").await;
    c.expect("AUTH a b c", "-ERR syntax error\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn protocol_error_closes_but_command_error_does_not() {
    let srv = start().await;
    let mut c = srv.raw().await;
    log_phase("command errors keep the connection open");
    c.expect(
        "XADD",
        "-ERR wrong number of arguments for 'xadd' command\r\n",
    )
    .await;
    c.expect(
        "NOSUCH a b",
        "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n",
    )
    .await;
    c.expect("PING", "+PONG\r\n").await;
    log_phase("commands before a protocol error run; then the error and close");
    let mut bytes = encode_line("XADD s 1-1 f v");
    bytes.extend_from_slice(b"*1\r\n$x\r\n");
    c.send(&bytes).await;
    assert_eq!(show(&c.read_frame().await), show(b"$3\r\n1-1\r\n"));
    let r = c.read_frame().await;
    assert_eq!(
        show(&r),
        show(b"-ERR Protocol error: invalid bulk length\r\n")
    );
    assert!(c.closed_within(REPLY_TIMEOUT).await);
    log_phase("the write before the error is durable state");
    let mut d = srv.raw().await;
    d.expect("XLEN s", ":1\r\n").await;
    log_phase("an invalid multibulk length closes too");
    let mut e = srv.raw().await;
    e.send(b"*abc\r\n").await;
    let r = e.read_frame().await;
    assert_eq!(
        show(&r),
        show(b"-ERR Protocol error: invalid multibulk length\r\n")
    );
    assert!(e.closed_within(REPLY_TIMEOUT).await);
    srv.shutdown().await;
}

#[tokio::test]
async fn inline_commands() {
    let srv = start().await;
    let mut c = srv.raw().await;
    c.send(b"PING\r\n").await;
    assert_eq!(show(&c.read_frame().await), "+PONG\\r\\n");
    c.send(b"ECHO hello\r\n\r\nXADD s 1-1 f v\r\n").await;
    assert_eq!(show(&c.read_frame().await), "$5\\r\\nhello\\r\\n");
    assert_eq!(show(&c.read_frame().await), "$3\\r\\n1-1\\r\\n");
    c.send(b"ECHO \"a b\"\r\n").await;
    assert_eq!(show(&c.read_frame().await), "$3\\r\\na b\\r\\n");
    log_phase("a command split across writes");
    c.send(b"*2\r\n$4\r\nEC").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.send(b"HO\r\n$2\r\nhi\r\n").await;
    assert_eq!(show(&c.read_frame().await), "$2\\r\\nhi\\r\\n");
    srv.shutdown().await;
}

#[tokio::test]
async fn connection_commands() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut other = srv.raw().await;
    c.expect("SELECT 0", "+OK\r\n").await;
    c.expect("SELECT 1", "-ERR DB index is out of range\r\n")
        .await;
    c.expect(
        "SELECT x",
        "-ERR value is not an integer or out of range\r\n",
    )
    .await;
    // Redis without cluster mode refuses them; the proxy accepts them as Redis Cluster does.
    let cluster_only = if CLUSTER {
        "+OK\r\n"
    } else {
        "-ERR This instance has cluster support disabled\r\n"
    };
    c.expect("READONLY", cluster_only).await;
    c.expect("READWRITE", cluster_only).await;
    c.expect("PING hi", "$2\r\nhi\r\n").await;
    c.expect("ECHO x", "$1\r\nx\r\n").await;
    c.expect("CLIENT SETNAME worker-1", "+OK\r\n").await;
    c.expect("CLIENT GETNAME", "$8\r\nworker-1\r\n").await;
    expect_bad_name(&mut c).await;
    c.expect("CLIENT SETINFO LIB-NAME redis-py", "+OK\r\n")
        .await;
    c.expect("CLIENT SETINFO LIB-VER 5.0", "+OK\r\n").await;
    c.expect("CLIENT SETINFO FOO x", "-ERR Unrecognized option 'FOO'\r\n")
        .await;
    c.expect("CLIENT NO-EVICT on", "+OK\r\n").await;
    c.expect(
        "CLIENT FOO",
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    )
    .await;
    log_phase("CLIENT INFO / LIST describe the connections");
    let info = c.cmd("CLIENT INFO").await;
    let text = String::from_utf8_lossy(&info);
    assert!(text.contains(" name=worker-1 "), "{text}");
    assert!(text.contains(" lib-name=redis-py lib-ver=5.0\n"), "{text}");
    assert!(
        text.contains(" cmd=client|info ") || text.contains(" cmd=client "),
        "{text}"
    );
    let other_id = parse_int(&other.cmd("CLIENT ID").await);
    let list = c.cmd("CLIENT LIST").await;
    let text = String::from_utf8_lossy(&list);
    let lines = text.lines().filter(|l| l.starts_with("id=")).count();
    assert_eq!(lines, 2, "{text}");
    assert!(text.contains(&format!("id={other_id} ")), "{text}");
    log_phase("CLIENT KILL ID closes the other connection");
    c.expect(&format!("CLIENT KILL ID {other_id}"), ":1\r\n")
        .await;
    assert!(other.closed_within(REPLY_TIMEOUT).await);
    c.expect(&format!("CLIENT KILL ID {other_id}"), ":0\r\n")
        .await;
    c.expect("CLIENT KILL 1.2.3.4:5", "-ERR No such client\r\n")
        .await;
    log_phase("old-form CLIENT KILL addr");
    let mut third = srv.raw().await;
    let addr = third.stream.local_addr().unwrap().to_string();
    third.expect("PING", "+PONG\r\n").await;
    c.expect(&format!("CLIENT KILL {addr}"), "+OK\r\n").await;
    assert!(third.closed_within(REPLY_TIMEOUT).await);
    log_phase("QUIT answers OK and closes");
    c.expect("QUIT", "+OK\r\n").await;
    assert!(c.closed_within(REPLY_TIMEOUT).await);
    srv.shutdown().await;
}

/// CLIENT SETNAME with a space in the name (a multibulk carries the space).
async fn expect_bad_name(c: &mut Raw) {
    let r = c.cmd_args(&[b"CLIENT", b"SETNAME", b"a b"]).await;
    assert_eq!(
        show(&r),
        show(b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
    );
}

#[tokio::test]
async fn maxclients_rejects_extra_connections() {
    let srv = start_with(|c| c.maxclients = 2).await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    a.expect("PING", "+PONG\r\n").await;
    b.expect("PING", "+PONG\r\n").await;
    log_phase("the third connection gets the error and is closed");
    let mut c = srv.raw().await;
    let r = c.read_frame().await;
    assert_eq!(show(&r), show(b"-ERR max number of clients reached\r\n"));
    assert!(c.closed_within(REPLY_TIMEOUT).await);
    log_phase("after one leaves, a new client is admitted");
    drop(a);
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        let mut d = srv.raw().await;
        d.send(&encode_line("PING")).await;
        if d.read_frame().await == b"+PONG\r\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.expect("PING", "+PONG\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn output_buffer_limit_closes_the_client() {
    let srv = start_with(|c| c.client_output_buffer_limit_bytes = 4096).await;
    let mut c = srv.raw().await;
    let big = vec![b'v'; 5000];
    let r = c.cmd_args(&[b"XADD", b"s", b"1-1", b"f", &big]).await;
    assert_eq!(show(&r), show(b"$3\r\n1-1\r\n"));
    c.expect("XLEN s", ":1\r\n").await;
    log_phase("a reply larger than the limit closes the connection without it");
    c.send(&encode_line("XRANGE s - +")).await;
    assert!(c.closed_within(REPLY_TIMEOUT).await);
    assert!(c.leftover().is_empty(), "{}", show(c.leftover()));
    let mut d = srv.raw().await;
    d.expect("XLEN s", ":1\r\n").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn idle_clients_time_out() {
    let srv = start_with(|c| c.timeout_secs = 1).await;
    let mut c = srv.raw().await;
    c.expect("PING", "+PONG\r\n").await;
    assert!(c.closed_within(Duration::from_secs(5)).await);
    srv.shutdown().await;
}

#[tokio::test]
async fn works_with_the_redis_crate() {
    let srv = start().await;
    let client = redis::Client::open(srv.redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let id: String = redis::cmd("XADD")
        .arg("orders")
        .arg("5-1")
        .arg("item")
        .arg("book")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(id, "5-1");
    let len: i64 = redis::cmd("XLEN")
        .arg("orders")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(len, 1);
    let range: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("orders")
        .arg("-")
        .arg("+")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(
        range,
        vec![("5-1".to_string(), vec!["item".into(), "book".into()])]
    );
    let err = redis::cmd("XADD")
        .arg("orders")
        .arg("1-1")
        .arg("a")
        .arg("b")
        .query_async::<String>(&mut con)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "The ID specified in XADD is equal or smaller than the target stream top item"
        ),
        "{err}"
    );
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    srv.shutdown().await;
}

#[tokio::test]
async fn server_commands_on_the_executor() {
    let srv = start().await;
    let mut c = srv.raw().await;
    c.expect("FUNCTION FLUSH", "+OK\r\n").await;
    c.expect("FUNCTION FLUSH SYNC", "+OK\r\n").await;
    c.expect("SCRIPT FLUSH", "+OK\r\n").await;
    c.expect("SCRIPT FLUSH ASYNC", "+OK\r\n").await;
    c.expect("DEBUG LOG hello", "+OK\r\n").await;
    c.expect(
        "DEBUG FOO",
        "-ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.\r\n",
    )
    .await;
    log_phase("CONFIG SET stream-node-max-entries changes the node size of later XADDs");
    c.expect("CONFIG SET stream-node-max-entries 2", "+OK\r\n")
        .await;
    for i in 1..=5 {
        c.expect(&format!("XADD n {i}-1 f v"), &format!("$3\r\n{i}-1\r\n"))
            .await;
    }
    let info = c.cmd("XINFO STREAM n").await;
    assert!(
        show(&info).contains("$15\\r\\nradix-tree-keys\\r\\n:3\\r\\n"),
        "{}",
        show(&info)
    );
    log_phase("commandstats count calls; CONFIG RESETSTAT clears them");
    let stats = c.cmd("INFO commandstats").await;
    let xadd = info_field(&stats, "cmdstat_xadd").unwrap_or_default();
    assert!(xadd.starts_with("calls=5,"), "{xadd}");
    c.expect(
        "XADD n 1-1 f v",
        "-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    )
    .await;
    let stats = c.cmd("INFO errorstats").await;
    assert_eq!(
        info_field(&stats, "errorstat_ERR").as_deref(),
        Some("count=2"),
        "{}",
        show(&stats)
    );
    c.expect("CONFIG RESETSTAT", "+OK\r\n").await;
    let stats = c.cmd("INFO commandstats").await;
    assert_eq!(info_field(&stats, "cmdstat_xadd"), None, "{}", show(&stats));
    let keyspace = c.cmd("INFO keyspace").await;
    let db0 = info_field(&keyspace, "db0").unwrap_or_default();
    assert!(db0.starts_with("keys=1,expires=0,"), "{}", show(&keyspace));
    srv.shutdown().await;
}
