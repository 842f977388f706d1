//! INFO: Redis's `# Section\r\nkey:value\r\n` report, sections in Redis's order and separated
//! by a blank line, built from a snapshot of the executor's state ([`InfoInput`]).
//!
//! ```text
//!  executor state ──InfoInput──▶ info(args) ──▶ Verbatim "txt" (a bulk string in RESP2)
//! ```
//!
//! Only fields xraft can report truthfully are included (plus the constant ones clients rely
//! on, such as `role:master` and `loading:0`); xraft's own counters carry an `xraft_` prefix.

use std::fmt::Write as _;

use bytes::Bytes;
use resp::Reply;

use crate::config::Config;
use crate::stats::Stats;

/// The Redis version xraft reports (the semantics it implements).
pub const REDIS_VERSION: &str = "8.0.2";

/// Everything INFO reports, gathered by the executor.
pub struct InfoInput<'a> {
    pub config: &'a Config,
    pub stats: &'a Stats,
    pub uptime_ms: u64,
    pub now_ms: u64,
    pub run_id: &'a str,
    pub tcp_port: u16,
    pub process_id: u32,
    pub connected_clients: usize,
    pub blocked_clients: usize,
    pub total_blocking_keys: usize,
    pub total_blocking_keys_on_nokey: usize,
    pub keys: usize,
    pub dirty: u64,
    pub used_memory_bytes: u64,
    pub store: storage::StoreStats,
}

/// The sections in Redis's order: (name asked for, header, in the default set).
const SECTIONS: &[(&str, &str, bool)] = &[
    ("server", "Server", true),
    ("clients", "Clients", true),
    ("memory", "Memory", true),
    ("persistence", "Persistence", true),
    ("stats", "Stats", true),
    ("replication", "Replication", true),
    ("cpu", "CPU", true),
    ("modules", "Modules", true),
    ("commandstats", "Commandstats", false),
    ("errorstats", "Errorstats", true),
    ("latencystats", "Latencystats", false),
    ("cluster", "Cluster", true),
    ("keyspace", "Keyspace", true),
];

/// Which sections `INFO args...` asks for (indexes into [`SECTIONS`]).
/// Whether `INFO args` shows the keyspace section (the proxy then counts the cluster's keys).
pub fn wants_keyspace(args: &[Bytes]) -> bool {
    SECTIONS
        .iter()
        .position(|s| s.0 == "keyspace")
        .is_some_and(|i| wanted(args)[i])
}

fn wanted(args: &[Bytes]) -> [bool; SECTIONS.len()] {
    let mut want = [false; SECTIONS.len()];
    let names = args.get(1..).unwrap_or_default();
    if names.is_empty() {
        for (w, s) in want.iter_mut().zip(SECTIONS) {
            *w = s.2;
        }
        return want;
    }
    for n in names {
        let n = n.to_ascii_lowercase();
        match n.as_slice() {
            b"default" => {
                for (w, s) in want.iter_mut().zip(SECTIONS) {
                    *w |= s.2;
                }
            }
            b"all" | b"everything" => want = [true; SECTIONS.len()],
            // Redis's name for the module list inside the default set.
            b"module_list" => want[7] = true,
            _ => {
                if let Some(i) = SECTIONS.iter().position(|s| s.0.as_bytes() == n) {
                    want[i] = true;
                }
            }
        }
    }
    want
}

/// INFO [section ...]: `default` (no argument), `all`, `everything`, or section names (any
/// case, any order; the report keeps Redis's order). Unknown names add nothing.
pub fn info(args: &[Bytes], input: &InfoInput) -> Reply {
    let want = wanted(args);
    let mut out = String::with_capacity(2048);
    for (i, (name, header, _)) in SECTIONS.iter().enumerate() {
        if !want[i] {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {header}\r\n");
        section(&mut out, name, input);
    }
    Reply::Verbatim {
        format: *b"txt",
        text: Bytes::from(out),
    }
}

/// Appends `key:value\r\n`.
fn field(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{key}:{value}\r\n");
}

fn section(out: &mut String, name: &str, i: &InfoInput) {
    match name {
        "server" => server(out, i),
        "clients" => clients(out, i),
        "memory" => memory(out, i),
        "persistence" => persistence(out, i),
        "stats" => stats(out, i),
        "replication" => replication(out),
        "cpu" => cpu(out),
        "commandstats" => commandstats(out, i.stats),
        "errorstats" => errorstats(out, i.stats),
        "latencystats" => latencystats(out, i.stats),
        "cluster" => field(out, "cluster_enabled", 0),
        "keyspace" if i.keys > 0 => {
            let _ = write!(
                out,
                "db0:keys={},expires=0,avg_ttl=0,subexpiry=0\r\n",
                i.keys
            );
        }
        // "modules": xraft loads none; "keyspace" with no keys is just the header.
        _ => {}
    }
}

/// The address the server listens on: the first `bind` address, as the listener uses it.
fn listen_addr(bind: &str) -> &str {
    bind.split_whitespace()
        .next()
        .unwrap_or("127.0.0.1")
        .trim_start_matches('-')
}

/// `uname`-like text (`Linux 6.1.0 x86_64`), read once.
fn os_name() -> &'static str {
    static OS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OS.get_or_init(read_os_name)
}

fn read_os_name() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        other => other,
    };
    [os, release.as_str(), std::env::consts::ARCH]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn server(out: &mut String, i: &InfoInput) {
    field(out, "redis_version", REDIS_VERSION);
    field(out, "xraft_version", env!("CARGO_PKG_VERSION"));
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_mode", "standalone");
    field(out, "os", os_name());
    field(out, "arch_bits", usize::BITS);
    field(out, "monotonic_clock", "POSIX clock_gettime");
    let api = if cfg!(target_os = "linux") {
        "epoll"
    } else {
        "kqueue"
    };
    field(out, "multiplexing_api", api);
    field(out, "process_id", i.process_id);
    field(out, "process_supervised", "no");
    field(out, "run_id", i.run_id);
    field(out, "tcp_port", i.tcp_port);
    field(out, "server_time_usec", i.now_ms.saturating_mul(1000));
    let up_secs = i.uptime_ms / 1000;
    field(out, "uptime_in_seconds", up_secs);
    field(out, "uptime_in_days", up_secs / 86_400);
    static EXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let exe = EXE.get_or_init(|| {
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    });
    field(out, "executable", exe);
    let config_file = i
        .config
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    field(out, "config_file", config_file);
    let _ = write!(
        out,
        "listener0:name=tcp,bind={},port={}\r\n",
        listen_addr(&i.config.bind),
        i.tcp_port
    );
}

fn clients(out: &mut String, i: &InfoInput) {
    field(out, "connected_clients", i.connected_clients);
    field(out, "cluster_connections", 0);
    field(out, "maxclients", i.config.maxclients);
    field(out, "blocked_clients", i.blocked_clients);
    field(out, "tracking_clients", 0);
    field(out, "pubsub_clients", 0);
    field(out, "total_blocking_keys", i.total_blocking_keys);
    field(
        out,
        "total_blocking_keys_on_nokey",
        i.total_blocking_keys_on_nokey,
    );
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `2.00M`, ... up to petabytes.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (k, (div, unit)) in UNITS.iter().enumerate() {
        let limit = UNITS.get(k + 1).map_or(1 << 60, |u| u.0);
        if n < limit {
            return format!("{:.2}{unit}", n as f64 / *div as f64);
        }
    }
    format!("{n}B")
}

fn memory(out: &mut String, i: &InfoInput) {
    field(out, "used_memory", i.used_memory_bytes);
    field(
        out,
        "used_memory_human",
        bytes_to_human(i.used_memory_bytes),
    );
    field(out, "used_memory_rss", i.used_memory_bytes);
    field(
        out,
        "used_memory_rss_human",
        bytes_to_human(i.used_memory_bytes),
    );
    field(out, "maxmemory", 0);
    field(out, "maxmemory_human", "0B");
    field(out, "maxmemory_policy", "noeviction");
    field(out, "mem_allocator", "libc");
    field(out, "xraft_cache_capacity", i.config.cache_capacity_bytes);
}

fn persistence(out: &mut String, i: &InfoInput) {
    let s = &i.store;
    field(out, "loading", 0);
    field(out, "async_loading", 0);
    field(out, "rdb_changes_since_last_save", i.dirty);
    field(out, "rdb_bgsave_in_progress", 0);
    let started_secs = i.now_ms.saturating_sub(i.uptime_ms) / 1000;
    field(out, "rdb_last_save_time", started_secs);
    field(out, "rdb_last_bgsave_status", "ok");
    field(out, "aof_enabled", 1);
    field(out, "aof_rewrite_in_progress", 0);
    field(out, "aof_rewrite_scheduled", 0);
    field(out, "aof_last_write_status", "ok");
    field(
        out,
        "xraft_fsync",
        if i.config.fsync { "yes" } else { "no" },
    );
    field(out, "xraft_applied_index", s.applied_index);
    field(out, "xraft_store_commits_total", s.commits_total);
    field(out, "xraft_store_items_put_total", s.items_put_total);
    field(
        out,
        "xraft_store_items_deleted_total",
        s.items_deleted_total,
    );
    field(out, "xraft_store_syncs_total", s.syncs_total);
    field(
        out,
        "xraft_store_sync_seconds_total",
        format!("{:.6}", s.sync_seconds_total),
    );
    field(
        out,
        "xraft_store_sync_seconds_max",
        format!("{:.6}", s.sync_seconds_max),
    );
    field(
        out,
        "xraft_store_last_sync_seconds",
        format!("{:.6}", s.last_sync_seconds),
    );
    field(
        out,
        "xraft_store_blob_files_synced_total",
        s.blob_files_synced_total,
    );
    field(out, "xraft_store_disk_bytes", s.disk_bytes);
}

fn stats(out: &mut String, i: &InfoInput) {
    let s = i.stats;
    field(
        out,
        "total_connections_received",
        s.total_connections_received,
    );
    field(out, "total_commands_processed", s.total_commands_processed);
    field(out, "rejected_connections", s.rejected_connections);
    field(out, "expired_keys", 0);
    field(out, "evicted_keys", 0);
    field(out, "pubsub_channels", 0);
    field(out, "pubsub_patterns", 0);
    field(out, "unexpected_error_replies", 0);
    field(out, "total_error_replies", s.total_error_replies);
}

fn replication(out: &mut String) {
    field(out, "role", "master");
    field(out, "connected_slaves", 0);
    field(out, "master_failover_state", "no-failover");
    field(out, "master_repl_offset", 0);
    field(out, "second_repl_offset", -1);
    field(out, "repl_backlog_active", 0);
}

/// (user, system) CPU seconds of this process, from /proc (Linux).
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // Linux reports in USER_HZ clock ticks, 100 per second on every mainstream platform.
    const TICKS_PER_SECOND: f64 = 100.0;
    Some((utime / TICKS_PER_SECOND, stime / TICKS_PER_SECOND))
}

fn cpu(out: &mut String) {
    if let Some((user, sys)) = cpu_seconds() {
        field(out, "used_cpu_sys", format!("{sys:.6}"));
        field(out, "used_cpu_user", format!("{user:.6}"));
        field(out, "used_cpu_sys_children", "0.000000");
        field(out, "used_cpu_user_children", "0.000000");
    }
}

/// Redis's `getSafeInfoString`: `#`, `:`, CR and LF become `_`.
fn safe(name: &[u8]) -> String {
    String::from_utf8_lossy(name).replace(['#', ':', '\r', '\n'], "_")
}

fn commandstats(out: &mut String, s: &Stats) {
    for (name, c) in s.commands() {
        let per_call = if c.calls == 0 {
            0.0
        } else {
            c.usec as f64 / c.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            safe(name.as_bytes()),
            c.calls,
            c.usec,
            per_call,
            c.rejected_calls,
            c.failed_calls
        );
    }
}

fn errorstats(out: &mut String, s: &Stats) {
    for (code, n) in s.errors() {
        let _ = write!(out, "errorstat_{}:count={n}\r\n", safe(code));
    }
}

fn latencystats(out: &mut String, s: &Stats) {
    for (name, c) in s.commands() {
        if c.latency.count() == 0 {
            continue;
        }
        let _ = write!(
            out,
            "latency_percentiles_usec_{}:p50={:.3},p99={:.3},p99.9={:.3}\r\n",
            safe(name.as_bytes()),
            c.latency.percentile(50.0) as f64,
            c.latency.percentile(99.0) as f64,
            c.latency.percentile(99.9) as f64
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp::Protocol;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::from(a.to_string())).collect()
    }

    fn input<'a>(config: &'a Config, stats: &'a Stats) -> InfoInput<'a> {
        InfoInput {
            config,
            stats,
            uptime_ms: 90_061_000,
            now_ms: 1_700_000_000_123,
            run_id: "0123456789abcdef0123456789abcdef01234567",
            tcp_port: 7000,
            process_id: 42,
            connected_clients: 3,
            blocked_clients: 2,
            total_blocking_keys: 1,
            total_blocking_keys_on_nokey: 1,
            keys: 5,
            dirty: 17,
            used_memory_bytes: 3 << 20,
            store: storage::StoreStats::default(),
        }
    }

    fn text(r: &Reply) -> String {
        match r {
            Reply::Verbatim { format, text } => {
                assert_eq!(format, b"txt");
                String::from_utf8_lossy(text).into_owned()
            }
            other => panic!("not verbatim: {other:?}"),
        }
    }

    /// Parses the report into (section, [(key, value)]), checking its framing on the way.
    fn parse(report: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for (k, block) in report.split("\r\n\r\n").enumerate() {
            let mut lines = block.split("\r\n");
            let header = lines.next().expect("header");
            let name = header
                .strip_prefix("# ")
                .unwrap_or_else(|| panic!("block {k}: {header:?}"));
            let mut fields = Vec::new();
            for l in lines {
                if l.is_empty() {
                    continue;
                }
                let (key, value) = l.split_once(':').unwrap_or_else(|| panic!("{l:?}"));
                fields.push((key.to_string(), value.to_string()));
            }
            out.push((name.to_string(), fields));
        }
        out
    }

    fn value<'a>(p: &'a [(String, Vec<(String, String)>)], key: &str) -> Option<&'a str> {
        p.iter()
            .flat_map(|(_, f)| f.iter())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn headers(p: &[(String, Vec<(String, String)>)]) -> Vec<&str> {
        p.iter().map(|(h, _)| h.as_str()).collect()
    }

    #[test]
    fn default_sections_in_redis_order() {
        let (c, s) = (Config::default(), Stats::default());
        let report = text(&info(&args("INFO"), &input(&c, &s)));
        assert!(report.ends_with("\r\n") && !report.ends_with("\r\n\r\n"));
        let p = parse(&report);
        assert_eq!(
            headers(&p),
            [
                "Server",
                "Clients",
                "Memory",
                "Persistence",
                "Stats",
                "Replication",
                "CPU",
                "Modules",
                "Errorstats",
                "Cluster",
                "Keyspace"
            ]
        );
        assert_eq!(
            parse(&text(&info(&args("info default"), &input(&c, &s)))),
            p
        );
        for (k, v) in [
            ("redis_version", "8.0.2"),
            ("redis_mode", "standalone"),
            ("run_id", "0123456789abcdef0123456789abcdef01234567"),
            ("tcp_port", "7000"),
            ("process_id", "42"),
            ("uptime_in_seconds", "90061"),
            ("uptime_in_days", "1"),
            ("server_time_usec", "1700000000123000"),
            ("listener0", "name=tcp,bind=127.0.0.1,port=7000"),
            ("connected_clients", "3"),
            ("maxclients", "10000"),
            ("blocked_clients", "2"),
            ("total_blocking_keys", "1"),
            ("total_blocking_keys_on_nokey", "1"),
            ("used_memory", "3145728"),
            ("used_memory_human", "3.00M"),
            ("loading", "0"),
            ("rdb_changes_since_last_save", "17"),
            ("aof_enabled", "1"),
            ("role", "master"),
            ("connected_slaves", "0"),
            ("cluster_enabled", "0"),
            ("db0", "keys=5,expires=0,avg_ttl=0,subexpiry=0"),
            ("total_error_replies", "0"),
        ] {
            assert_eq!(value(&p, k), Some(v), "{k}");
        }
        assert_eq!(value(&p, "xraft_version"), Some(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn chosen_sections_all_and_unknown() {
        let (c, s) = (Config::default(), Stats::default());
        let run = |a: &str| text(&info(&args(a), &input(&c, &s)));
        // Redis's order, whatever the order asked, any case, each once.
        let p = parse(&run("INFO keyspace CLUSTER Server keyspace"));
        assert_eq!(headers(&p), ["Server", "Cluster", "Keyspace"]);
        let all = parse(&run("info all"));
        assert_eq!(all.len(), SECTIONS.len());
        assert_eq!(parse(&run("info everything")), all);
        assert_eq!(headers(&parse(&run("info commandstats default"))).len(), 12);
        assert_eq!(run("info nosuch"), "");
        // The exact framing of one section.
        assert_eq!(
            run("info keyspace"),
            "# Keyspace\r\ndb0:keys=5,expires=0,avg_ttl=0,subexpiry=0\r\n"
        );
        assert_eq!(run("info cluster keyspace"), "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=0,avg_ttl=0,subexpiry=0\r\n");
        let mut i = input(&c, &s);
        i.keys = 0;
        assert_eq!(text(&info(&args("info keyspace"), &i)), "# Keyspace\r\n");
    }

    #[test]
    fn stats_sections() {
        let c = Config::default();
        let mut s = Stats::default();
        s.record_call(
            "xreadgroup",
            30,
            Some(b"NOGROUP No such key 'mystream' or consumer group 'mygroup'"),
        );
        s.record_call("xadd", 10, None);
        s.record_call("xadd", 20, None);
        s.record_rejected(
            Some("xgroup|create"),
            b"ERR wrong number of arguments for 'xgroup|create' command",
        );
        s.record_connection();
        let report = text(&info(
            &args("info commandstats errorstats stats latencystats"),
            &input(&c, &s),
        ));
        assert!(report.contains(
            "\r\ncmdstat_xreadgroup:calls=1,usec=30,usec_per_call=30.00,rejected_calls=0,failed_calls=1\r\n"
        ));
        assert!(report.contains(
            "# Commandstats\r\ncmdstat_xadd:calls=2,usec=30,usec_per_call=15.00,rejected_calls=0,failed_calls=0\r\n"
        ));
        assert!(report.contains(
            "\r\ncmdstat_xgroup|create:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n"
        ));
        assert!(report
            .contains("# Errorstats\r\nerrorstat_ERR:count=1\r\nerrorstat_NOGROUP:count=1\r\n"));
        assert!(report
            .contains("\r\nlatency_percentiles_usec_xadd:p50=10.000,p99=20.000,p99.9=20.000\r\n"));
        let p = parse(&report);
        assert_eq!(
            headers(&p),
            ["Stats", "Commandstats", "Errorstats", "Latencystats"]
        );
        assert_eq!(value(&p, "total_error_replies"), Some("2"));
        assert_eq!(value(&p, "total_commands_processed"), Some("3"));
        assert_eq!(value(&p, "total_connections_received"), Some("1"));
    }

    #[test]
    fn protocols_and_helpers() {
        let (c, s) = (Config::default(), Stats::default());
        let r = info(&args("info cluster"), &input(&c, &s));
        assert_eq!(
            r.to_bytes(Protocol::Resp2),
            b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
        );
        assert_eq!(
            r.to_bytes(Protocol::Resp3),
            b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"
        );
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(772_016), "753.92K");
        assert_eq!(bytes_to_human(25_276_063_744), "23.54G");
        assert_eq!(bytes_to_human(1 << 50), "1.00P");
        assert_eq!(bytes_to_human(u64::MAX), format!("{}B", u64::MAX));
        assert_eq!(safe(b"a:b#c\r\nd"), "a_b_c__d");
        assert_eq!(listen_addr("-::1 127.0.0.1"), "::1");
    }
}
