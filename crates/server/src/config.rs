//! The server configuration: every limit and setting is a named parameter with a Redis-like
//! default, settable from a redis.conf-style file, from `XRAFT_<NAME>` environment variables
//! and (when mutable) at run time with `CONFIG SET`.
//!
//! ```text
//!  Config::default() ──from_file(path)──▶ ──apply_env()──▶ Config ──CONFIG SET──▶ Config'
//!                      name value lines      XRAFT_PORT=…            (atomic, all or nothing)
//! ```
//!
//! Parameters (see [`describe`] for defaults and meanings): `bind`, `port`, `dir`,
//! `requirepass`, `maxclients`, `timeout`, `proto-max-bulk-len`, `max-args`,
//! `client-query-buffer-limit`, `client-output-buffer-limit`, `unauthenticated-max-args`,
//! `unauthenticated-max-bulk-len`, `stream-node-max-entries`, `stream-node-max-bytes`,
//! `cache-capacity`, `fsync`, `appendfsync`, and the fixed ones clients ask about: `save`,
//! `appendonly`, `databases`, `maxmemory`, `maxmemory-policy`, `cluster-enabled`.
//!
//! Value syntax as Redis: booleans `yes`/`no`; integers without sign or leading zeros;
//! memory values with an optional unit (`b`, `k` = 1000, `kb` = 1024, `m`, `mb`, `g`, `gb`,
//! any case).
//!
//! Environment: every parameter can be overridden by `XRAFT_<NAME>` where `<NAME>` is the
//! parameter name upper-cased with `-` replaced by `_` (`XRAFT_PORT=6380`,
//! `XRAFT_STREAM_NODE_MAX_ENTRIES=10`, `XRAFT_CLIENT_OUTPUT_BUFFER_LIMIT="normal 0 0 0"`).
//! Other `XRAFT_*` variables are ignored.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use resp::Reply;

use crate::stats::Stats;

/// Limits of one client class of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferClass {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_secs: u64,
}

/// The parts of `client-output-buffer-limit` besides the normal class's hard limit (which is
/// [`Config::client_output_buffer_limit_bytes`]): accepted and reported like Redis, not
/// enforced (xraft has no soft limits, replicas or pub/sub clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferOther {
    pub normal_soft_bytes: u64,
    pub normal_soft_secs: u64,
    pub replica: OutputBufferClass,
    pub pubsub: OutputBufferClass,
}

impl Default for OutputBufferOther {
    fn default() -> Self {
        OutputBufferOther {
            normal_soft_bytes: 0,
            normal_soft_secs: 0,
            replica: OutputBufferClass {
                hard_bytes: 256 << 20,
                soft_bytes: 64 << 20,
                soft_secs: 60,
            },
            pubsub: OutputBufferClass {
                hard_bytes: 32 << 20,
                soft_bytes: 8 << 20,
                soft_secs: 60,
            },
        }
    }
}

/// The server configuration. `Default` gives Redis-like defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `bind`: space-separated addresses; the server listens on the first one (a leading `-`
    /// is accepted as in Redis). Immutable at run time.
    pub bind: String,
    /// `port`: TCP port (0 = any free port). Immutable at run time.
    pub port: u16,
    /// `dir`: the data directory (the sled database). Immutable at run time.
    pub dir: PathBuf,
    /// `requirepass`: the `default` user's password; `None` (or `""`) = no AUTH needed.
    pub requirepass: Option<String>,
    /// `maxclients`: most simultaneous client connections.
    pub maxclients: usize,
    /// `proto-max-bulk-len`: largest bulk string a client may send.
    pub proto_max_bulk_len: usize,
    /// `max-args`: most arguments (multibulk count) in one command.
    pub max_args: usize,
    /// `client-query-buffer-limit`: most unparsed input buffered for one client.
    pub client_query_buffer_limit: usize,
    /// Hard limit of a normal client's pending output (0 = none): the normal class's hard
    /// limit of `client-output-buffer-limit`.
    pub client_output_buffer_limit_bytes: usize,
    /// `unauthenticated-max-args`: most arguments in one command before AUTH.
    pub unauthenticated_max_args: usize,
    /// `unauthenticated-max-bulk-len`: largest bulk string before AUTH.
    pub unauthenticated_max_bulk_len: usize,
    /// `stream-node-max-entries`: most entries per stream node (0 = no limit).
    pub stream_node_max_entries: u64,
    /// `stream-node-max-bytes`: accepted and reported; the engine sizes nodes by entry count.
    pub stream_node_max_bytes: u64,
    /// `cache-capacity`: sled's page cache size. Immutable at run time.
    pub cache_capacity_bytes: u64,
    /// `fsync` (and `appendfsync always|no`): make every acknowledged write durable with
    /// fdatasync. `false` only for tests and benchmarks. Immutable at run time.
    pub fsync: bool,
    /// `timeout`: close clients idle for this many seconds (0 = never).
    pub timeout_secs: u64,
    /// The rest of `client-output-buffer-limit`.
    pub client_output_buffer_limit_other: OutputBufferOther,
    /// The configuration file this configuration was read from (INFO `config_file`).
    pub config_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: "127.0.0.1".into(),
            port: 6379,
            dir: PathBuf::from("./xraft-data"),
            requirepass: None,
            maxclients: 10_000,
            proto_max_bulk_len: 512 << 20,
            max_args: 1024 * 1024,
            client_query_buffer_limit: 1 << 30,
            client_output_buffer_limit_bytes: 256 << 20,
            unauthenticated_max_args: 10,
            unauthenticated_max_bulk_len: 16_384,
            stream_node_max_entries: 100,
            stream_node_max_bytes: 4096,
            cache_capacity_bytes: 64 << 20,
            fsync: true,
            timeout_secs: 0,
            client_output_buffer_limit_other: OutputBufferOther::default(),
            config_file: None,
        }
    }
}

// ---------------------------------------------------------------- the parameter table

/// Whether `CONFIG SET` may change a parameter at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutability {
    Mutable,
    /// Settable in the file and the environment; at run time only to its current value.
    Immutable,
}

type Getter = fn(&Config) -> String;
/// Sets the parameter from its arguments (one, or the space-split words of a multi-argument
/// parameter); the error is Redis's message (`argument must be ...`).
type Setter = fn(&mut Config, &[&str]) -> Result<(), String>;

struct Param {
    name: &'static str,
    mutability: Mutability,
    /// Takes several space-separated words (`bind`, `client-output-buffer-limit`).
    multi_arg: bool,
    get: Getter,
    set: Setter,
    doc: &'static str,
}

const SIGNED_MAX: u64 = i64::MAX as u64;
const MIB: u64 = 1 << 20;

fn one<'a>(args: &[&'a str]) -> Result<&'a str, String> {
    match args {
        [v] => Ok(v),
        _ => Err("wrong number of arguments".into()),
    }
}

/// Redis's `string2ll`: an optional `-`, digits, no leading zeros, no `+`, no spaces.
fn parse_ll(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || (s.starts_with('-') && digits == "0")
    {
        return None;
    }
    s.parse().ok()
}

/// Redis's `memtoull`: digits and an optional unit (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`).
pub fn parse_memory(s: &str) -> Option<u64> {
    let split = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.is_empty() {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

fn bounded(v: u64, min: u64, max: u64) -> Result<u64, String> {
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

/// An integer parameter in `min..=max`.
fn int_arg(args: &[&str], min: u64, max: u64) -> Result<u64, String> {
    let v = parse_ll(one(args)?).ok_or("argument couldn't be parsed into an integer")?;
    match u64::try_from(v) {
        Ok(v) => bounded(v, min, max),
        Err(_) => Err(format!(
            "argument must be between {min} and {max} inclusive"
        )),
    }
}

/// A memory parameter in `min..=max`.
fn mem_arg(args: &[&str], min: u64, max: u64) -> Result<u64, String> {
    let v = parse_memory(one(args)?).ok_or("argument must be a memory value")?;
    bounded(v, min, max)
}

fn bool_arg(args: &[&str]) -> Result<bool, String> {
    let v = one(args)?;
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// A parameter whose value is fixed in xraft (reported for clients that ask).
fn fixed(args: &[&str], value: &str) -> Result<(), String> {
    let joined = args.join(" ");
    if joined.eq_ignore_ascii_case(value) {
        Ok(())
    } else {
        Err(format!("xraft supports only '{value}'"))
    }
}

fn obuf_get(c: &Config) -> String {
    let o = &c.client_output_buffer_limit_other;
    format!(
        "normal {} {} {} slave {} {} {} pubsub {} {} {}",
        c.client_output_buffer_limit_bytes,
        o.normal_soft_bytes,
        o.normal_soft_secs,
        o.replica.hard_bytes,
        o.replica.soft_bytes,
        o.replica.soft_secs,
        o.pubsub.hard_bytes,
        o.pubsub.soft_bytes,
        o.pubsub.soft_secs
    )
}

/// `<class> <hard> <soft> <soft_seconds>` groups, validated all before any is applied.
fn obuf_set(c: &mut Config, args: &[&str]) -> Result<(), String> {
    if !args.chunks_exact(4).remainder().is_empty() {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut parsed = Vec::with_capacity(args.len() / 4);
    for g in args.chunks(4) {
        let class = g[0].to_ascii_lowercase();
        if !matches!(class.as_str(), "normal" | "slave" | "replica" | "pubsub") {
            return Err("Invalid client class specified in buffer limit configuration.".into());
        }
        let hard = parse_memory(g[1]);
        let soft = parse_memory(g[2]);
        let secs = parse_ll(g[3]).and_then(|s| u64::try_from(s).ok());
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(secs)) => parsed.push((
                class,
                OutputBufferClass {
                    hard_bytes: h,
                    soft_bytes: s,
                    soft_secs: secs,
                },
            )),
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    for (class, l) in parsed {
        let o = &mut c.client_output_buffer_limit_other;
        match class.as_str() {
            "normal" => {
                c.client_output_buffer_limit_bytes = to_usize(l.hard_bytes);
                o.normal_soft_bytes = l.soft_bytes;
                o.normal_soft_secs = l.soft_secs;
            }
            "pubsub" => o.pubsub = l,
            _ => o.replica = l,
        }
    }
    Ok(())
}

static PARAMS: &[Param] = &[
    Param {
        name: "bind",
        mutability: Mutability::Immutable,
        multi_arg: true,
        get: |c| c.bind.clone(),
        set: |c, a| {
            if a.is_empty() || a.iter().any(|w| w.is_empty()) {
                return Err("Too many bind addresses specified.".into());
            }
            c.bind = a.join(" ");
            Ok(())
        },
        doc: "Addresses to listen on, space separated; the server binds the first one.",
    },
    Param {
        name: "port",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |c| c.port.to_string(),
        set: |c, a| {
            c.port = u16::try_from(int_arg(a, 0, 65535)?).unwrap_or(u16::MAX);
            Ok(())
        },
        doc: "TCP port to listen on (0 = any free port).",
    },
    Param {
        name: "dir",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |c| c.dir.to_string_lossy().into_owned(),
        set: |c, a| {
            let v = one(a)?;
            if v.is_empty() {
                return Err("argument must be a directory".into());
            }
            c.dir = PathBuf::from(v);
            Ok(())
        },
        doc: "Data directory: the sled database lives here.",
    },
    Param {
        name: "requirepass",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.requirepass.clone().unwrap_or_default(),
        set: |c, a| {
            let v = one(a)?;
            c.requirepass = (!v.is_empty()).then(|| v.to_string());
            Ok(())
        },
        doc: "Password of the `default` user; empty = clients need no AUTH.",
    },
    Param {
        name: "maxclients",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.maxclients.to_string(),
        set: |c, a| {
            c.maxclients = to_usize(int_arg(a, 1, u64::from(u32::MAX))?);
            Ok(())
        },
        doc: "Most simultaneous client connections; more are refused with `-ERR max number of clients reached`.",
    },
    Param {
        name: "timeout",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.timeout_secs.to_string(),
        set: |c, a| {
            c.timeout_secs = int_arg(a, 0, i32::MAX as u64)?;
            Ok(())
        },
        doc: "Close a client idle for this many seconds (0 = never).",
    },
    Param {
        name: "proto-max-bulk-len",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, a| {
            c.proto_max_bulk_len = to_usize(mem_arg(a, MIB, SIGNED_MAX)?);
            Ok(())
        },
        doc: "Largest bulk string a client may send (memory value).",
    },
    Param {
        name: "max-args",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.max_args.to_string(),
        set: |c, a| {
            c.max_args = to_usize(int_arg(a, 1, i32::MAX as u64)?);
            Ok(())
        },
        doc: "Most arguments (multibulk length) of one command.",
    },
    Param {
        name: "client-query-buffer-limit",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, a| {
            c.client_query_buffer_limit = to_usize(mem_arg(a, MIB, SIGNED_MAX)?);
            Ok(())
        },
        doc: "Most unparsed input buffered for one client; past it the client is closed.",
    },
    Param {
        name: "client-output-buffer-limit",
        mutability: Mutability::Mutable,
        multi_arg: true,
        get: obuf_get,
        set: obuf_set,
        doc: "`<class> <hard> <soft> <soft-seconds>` groups as Redis; the normal class's hard limit (0 = none) closes a client whose pending output exceeds it, the rest is reported only.",
    },
    Param {
        name: "unauthenticated-max-args",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.unauthenticated_max_args.to_string(),
        set: |c, a| {
            c.unauthenticated_max_args = to_usize(int_arg(a, 1, i32::MAX as u64)?);
            Ok(())
        },
        doc: "Most arguments of one command before the client authenticated (when requirepass is set).",
    },
    Param {
        name: "unauthenticated-max-bulk-len",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.unauthenticated_max_bulk_len.to_string(),
        set: |c, a| {
            c.unauthenticated_max_bulk_len = to_usize(mem_arg(a, 1, SIGNED_MAX)?);
            Ok(())
        },
        doc: "Largest bulk string before the client authenticated (when requirepass is set).",
    },
    Param {
        name: "stream-node-max-entries",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.stream_node_max_entries.to_string(),
        set: |c, a| {
            c.stream_node_max_entries = int_arg(a, 0, SIGNED_MAX)?;
            Ok(())
        },
        doc: "Most entries in one stream node (0 = no limit); shapes `~` trimming and XINFO radix-tree fields.",
    },
    Param {
        name: "stream-node-max-bytes",
        mutability: Mutability::Mutable,
        multi_arg: false,
        get: |c| c.stream_node_max_bytes.to_string(),
        set: |c, a| {
            c.stream_node_max_bytes = mem_arg(a, 0, SIGNED_MAX)?;
            Ok(())
        },
        doc: "Accepted and reported for compatibility; xraft sizes stream nodes by entry count only.",
    },
    Param {
        name: "cache-capacity",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |c| c.cache_capacity_bytes.to_string(),
        set: |c, a| {
            c.cache_capacity_bytes = mem_arg(a, MIB, SIGNED_MAX)?;
            Ok(())
        },
        doc: "sled page cache size (memory value).",
    },
    Param {
        name: "fsync",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |c| yes_no(c.fsync),
        set: |c, a| {
            c.fsync = bool_arg(a)?;
            Ok(())
        },
        doc: "yes: every acknowledged write is fdatasync'ed first (group commit). no: only for tests and benchmarks.",
    },
    Param {
        name: "appendfsync",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |c| if c.fsync { "always" } else { "no" }.to_string(),
        set: |c, a| {
            let v = one(a)?;
            if v.eq_ignore_ascii_case("always") {
                c.fsync = true;
            } else if v.eq_ignore_ascii_case("no") {
                c.fsync = false;
            } else {
                return Err("argument(s) must be one of the following: always, no".into());
            }
            Ok(())
        },
        doc: "Redis's name for `fsync`: always = fsync yes, no = fsync no (everysec is not offered).",
    },
    Param {
        name: "save",
        mutability: Mutability::Immutable,
        multi_arg: true,
        get: |_| String::new(),
        set: |_, a| fixed(a, ""),
        doc: "Always empty: xraft takes no snapshots, every write is persisted.",
    },
    Param {
        name: "appendonly",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |_| "yes".into(),
        set: |_, a| fixed(a, "yes"),
        doc: "Always yes: every write is persisted before it is acknowledged.",
    },
    Param {
        name: "databases",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |_| "1".into(),
        set: |_, a| fixed(a, "1"),
        doc: "Always 1: only database 0 exists.",
    },
    Param {
        name: "maxmemory",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |_| "0".into(),
        set: |_, a| fixed(a, "0"),
        doc: "Always 0: no memory limit, nothing is evicted.",
    },
    Param {
        name: "maxmemory-policy",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |_| "noeviction".into(),
        set: |_, a| fixed(a, "noeviction"),
        doc: "Always noeviction.",
    },
    Param {
        name: "cluster-enabled",
        mutability: Mutability::Immutable,
        multi_arg: false,
        get: |_| "no".into(),
        set: |_, a| fixed(a, "no"),
        doc: "Always no: a single node speaks the standalone protocol.",
    },
];

fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Every parameter as (name, default value, meaning), in table order, for documentation
/// (the README's configuration table is generated from it).
pub fn describe() -> Vec<(&'static str, &'static str, &'static str)> {
    static DEFAULTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let defaults = DEFAULTS.get_or_init(|| {
        let d = Config::default();
        PARAMS.iter().map(|p| (p.get)(&d)).collect()
    });
    PARAMS
        .iter()
        .zip(defaults)
        .map(|(p, v)| (p.name, v.as_str(), p.doc))
        .collect()
}

/// Applies `value` to `param` on `c`, splitting multi-argument parameters on spaces.
fn apply(c: &mut Config, p: &Param, value: &str) -> Result<(), String> {
    if p.multi_arg {
        let words: Vec<&str> = if value.is_empty() {
            Vec::new()
        } else {
            value.split(' ').collect()
        };
        (p.set)(c, &words)
    } else {
        (p.set)(c, &[value])
    }
}

impl Config {
    /// The current value of a parameter as `CONFIG GET` shows it (`None` if unknown).
    pub fn get(&self, name: &str) -> Option<String> {
        param(name).map(|p| (p.get)(self))
    }

    /// Sets one parameter as the configuration file or the environment would (immutable ones
    /// included). Errors name what is wrong with the value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let p = param(name).ok_or_else(|| format!("unknown parameter '{name}'"))?;
        apply(self, p, value)
    }

    /// Reads a redis.conf-style file: `name value...` lines, `#` comments, blank lines, and
    /// Redis's quoting (`"..."` with `\n \r \t \b \a \\ \" \xHH` escapes, `'...'`). Parameters not
    /// in the file keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
        let mut c = Config::default();
        c.load_str(&text)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        c.config_file = Some(path.to_path_buf());
        Ok(c)
    }

    /// Applies redis.conf-style text on top of this configuration (see [`Config::from_file`]).
    pub fn load_str(&mut self, text: &str) -> Result<(), String> {
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: String| format!("line {}: >>> '{}': {what}", n + 1, line);
            let words = split_args(line).ok_or_else(|| bad("unbalanced quotes".into()))?;
            let Some((name, values)) = words.split_first() else {
                continue;
            };
            let p = param(name)
                .ok_or_else(|| bad("Bad directive or wrong number of arguments".into()))?;
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            if !p.multi_arg && values.len() != 1 {
                return Err(bad("wrong number of arguments".into()));
            }
            (p.set)(self, &values).map_err(bad)?;
        }
        Ok(())
    }

    /// Applies `XRAFT_<NAME>` overrides from the process environment.
    pub fn apply_env(&mut self) -> Result<(), String> {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                k.starts_with(ENV_PREFIX).then_some((k, v))
            })
            .map(|(k, v)| {
                v.into_string()
                    .map(|v| (k.clone(), v))
                    .map_err(|_| format!("{k}: the value is not valid UTF-8"))
            })
            .collect::<Result<_, _>>()?;
        self.apply_env_vars(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Applies `XRAFT_<NAME>=value` pairs (names of no parameter are ignored).
    pub fn apply_env_vars<'a>(
        &mut self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), String> {
        for (k, v) in vars {
            let Some(name) = k.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let name = name.to_ascii_lowercase().replace('_', "-");
            if let Some(p) = param(&name) {
                apply(self, p, v).map_err(|e| format!("{k}={v}: {e}"))?;
            }
        }
        Ok(())
    }
}

const ENV_PREFIX: &str = "XRAFT_";

/// Splits a config line like Redis's `sdssplitargs`; `None` on unbalanced quotes.
fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let mut cur: Vec<u8> = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                let c = *b.get(i)?;
                if c == b'\\'
                    && i + 3 < b.len()
                    && b[i + 1] == b'x'
                    && b[i + 2].is_ascii_hexdigit()
                    && b[i + 3].is_ascii_hexdigit()
                {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok()?;
                    cur.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 4;
                    continue;
                } else if c == b'\\' && i + 1 < b.len() {
                    cur.push(match b[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                    continue;
                } else if c == b'"' {
                    // The closing quote must be followed by a space or the end.
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else if in_sq {
                let c = *b.get(i)?;
                if c == b'\\' && i + 1 < b.len() && b[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                match b.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(c) => cur.push(*c),
                }
                i += 1;
            }
        }
        out.push(String::from_utf8(cur).ok()?);
    }
}

// ---------------------------------------------------------------- glob matching

/// Redis's glob matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
/// Linear-time backtracking on the last `*` only, so no pattern can blow up.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            star = Some((p, i));
            continue;
        }
        if i == s.len() {
            return p == pattern.len();
        }
        if p < pattern.len() {
            let (ok, next) = glob_atom(pattern, p, s[i], nocase);
            if ok {
                p = next;
                i += 1;
                continue;
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
}

/// Whether the pattern atom at `p` matches `c`, and where the next atom starts.
fn glob_atom(pat: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pat[p] {
        b'?' => (true, p + 1),
        b'[' => {
            let mut q = p + 1;
            let not = q < pat.len() && pat[q] == b'^';
            if not {
                q += 1;
            }
            let mut matched = false;
            while q < pat.len() {
                if pat[q] == b'\\' && q + 1 < pat.len() {
                    matched |= eq(pat[q + 1], c);
                    q += 2;
                } else if pat[q] == b']' {
                    q += 1;
                    break;
                } else if q + 2 < pat.len() && pat[q + 1] == b'-' {
                    let (mut lo, mut hi, mut ch) = (pat[q], pat[q + 2], c);
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    if nocase {
                        lo = lo.to_ascii_lowercase();
                        hi = hi.to_ascii_lowercase();
                        ch = ch.to_ascii_lowercase();
                    }
                    matched |= lo <= ch && ch <= hi;
                    q += 3;
                } else {
                    matched |= eq(pat[q], c);
                    q += 1;
                }
            }
            (matched != not, q)
        }
        b'\\' if p + 1 < pat.len() => (eq(pat[p + 1], c), p + 2),
        x => (eq(x, c), p + 1),
    }
}

// ---------------------------------------------------------------- CONFIG

const CONFIG_HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
];

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An `ERR ...` line with CR/LF turned into spaces (the message echoes user input).
fn err_line(msg: String) -> Reply {
    Reply::error(msg.replace(['\r', '\n'], " "))
}

/// CONFIG GET pattern [pattern ...]: a map of the matching parameters.
fn config_get(args: &[Bytes], config: &Config) -> Reply {
    let mut found: Vec<(String, &'static Param)> = Vec::new();
    for pat in args.get(2..).unwrap_or_default() {
        if !pat.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
            let Some(p) = std::str::from_utf8(pat).ok().and_then(param) else {
                continue;
            };
            if !found.iter().any(|(_, q)| std::ptr::eq(*q, p)) {
                found.push((lossy(pat), p));
            }
            continue;
        }
        for p in PARAMS {
            if !found.iter().any(|(_, q)| std::ptr::eq(*q, p))
                && glob_match(pat, p.name.as_bytes(), true)
            {
                found.push((p.name.to_string(), p));
            }
        }
    }
    Reply::Map(
        found
            .into_iter()
            .map(|(name, p)| (Reply::bulk(name), Reply::bulk((p.get)(config))))
            .collect(),
    )
}

/// CONFIG SET name value [name value ...]: all or nothing, with Redis's errors.
fn config_set(args: &[Bytes], config: &mut Config) -> Reply {
    // Name/value pairs after CONFIG SET.
    let pairs = args.get(2..).unwrap_or_default();
    if !pairs.chunks_exact(2).remainder().is_empty() {
        return Reply::error("ERR syntax error");
    }
    // Pass 1: every name known, no immutable change, no duplicate. The first problem wins.
    let mut chosen: Vec<(&'static Param, String)> = Vec::new();
    for pair in pairs.chunks_exact(2) {
        let (name, value) = (&pair[0], lossy(&pair[1]));
        let Some(p) = std::str::from_utf8(name).ok().and_then(param) else {
            return err_line(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                lossy(name)
            ));
        };
        let failed = |what: &str| {
            err_line(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {what}",
                lossy(name)
            ))
        };
        if p.mutability == Mutability::Immutable {
            let mut probe = config.clone();
            let same = apply(&mut probe, p, &value).is_ok() && (p.get)(&probe) == (p.get)(config);
            if !same {
                return failed("can't set immutable config");
            }
        }
        if chosen.iter().any(|(q, _)| std::ptr::eq(*q, p)) {
            return failed("duplicate parameter");
        }
        chosen.push((p, value));
    }
    // Pass 2: set them all on a copy; the first invalid value aborts with nothing changed.
    let mut next = config.clone();
    for (p, value) in &chosen {
        if let Err(e) = apply(&mut next, p, value) {
            return err_line(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {e}",
                p.name
            ));
        }
    }
    *config = next;
    Reply::ok()
}

/// CONFIG GET/SET/RESETSTAT/HELP (`args[0]` is `CONFIG`). GET takes glob patterns (several,
/// case-insensitive); SET takes several name/value pairs and applies all or none; setting an
/// immutable parameter succeeds only when the value is the current one.
pub fn config_command(args: &[Bytes], config: &mut Config, stats: &mut Stats) -> Reply {
    let Some(sub) = args.get(1) else {
        return Reply::error("ERR wrong number of arguments for 'config' command");
    };
    let sub_l = sub.to_ascii_lowercase();
    let arity_ok = match sub_l.as_slice() {
        b"get" => args.len() >= 3,
        b"set" => args.len() >= 4,
        b"resetstat" | b"help" => args.len() == 2,
        _ => true,
    };
    if !arity_ok {
        return Reply::error(format!(
            "ERR wrong number of arguments for 'config|{}' command",
            lossy(&sub_l)
        ));
    }
    match sub_l.as_slice() {
        b"get" => config_get(args, config),
        b"set" => config_set(args, config),
        b"resetstat" => {
            stats.reset();
            Reply::ok()
        }
        b"help" => crate::commands::help_reply(&args[0], CONFIG_HELP),
        _ => {
            let mut name = args[0].to_ascii_uppercase();
            name.retain(|b| *b != b'\r' && *b != b'\n');
            err_line(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                lossy(&sub[..sub.len().min(128)]),
                lossy(&name)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp::Protocol;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::from(a.to_string())).collect()
    }

    fn run(c: &mut Config, s: &str) -> Reply {
        config_command(&args(s), c, &mut Stats::default())
    }

    fn err_text(r: Reply) -> String {
        match r {
            Reply::Error(e) => String::from_utf8_lossy(&e).into_owned(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn get_map(c: &mut Config, s: &str) -> Vec<(String, String)> {
        let Reply::Map(m) = run(c, s) else {
            panic!("not a map")
        };
        m.into_iter()
            .map(|(k, v)| match (k, v) {
                (Reply::Bulk(k), Reply::Bulk(v)) => (lossy(&k), lossy(&v)),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parsers_follow_redis() {
        assert_eq!(parse_ll("12"), Some(12));
        assert_eq!(parse_ll("-3"), Some(-3));
        for bad in [
            "012",
            "+1",
            " 1",
            "1 ",
            "",
            "-",
            "-0",
            "1.5",
            "99999999999999999999",
        ] {
            assert_eq!(parse_ll(bad), None, "{bad:?}");
        }
        assert_eq!(parse_memory("1024"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2mb"), Some(2 << 20));
        assert_eq!(parse_memory("3G"), Some(3_000_000_000));
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("7b"), Some(7));
        for bad in [
            "",
            "kb",
            "-1",
            "1x",
            "1 kb",
            "1.5mb",
            "99999999999999999999gb",
        ] {
            assert_eq!(parse_memory(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn glob_matching() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("stream-*", "stream-node-max-entries"));
        assert!(m("*max*", "maxclients"));
        assert!(m("h?llo", "hello") && !m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo") && m("h[b-a]llo", "hallo") && !m("h[a-b]llo", "hcllo"));
        assert!(m("h\\*llo", "h*llo") && !m("h\\*llo", "hallo"));
        assert!(m("a[\\]]b", "a]b"));
        assert!(m("a[bc", "ab") && !m("a[bc", "ad"));
        assert!(m("ab\\", "ab\\"));
        assert!(!m("a*b", "acd"));
        assert!(m("a*b*c", "aXXbYYc") && !m("a*b*c", "aXXbYY"));
        assert!(!m("abc", "ab") && !m("ab", "abc"));
        assert!(glob_match(b"STREAM-*", b"stream-node-max-bytes", true));
        assert!(!glob_match(b"STREAM-*", b"stream-node-max-bytes", false));
        assert!(glob_match(b"[A-C]x", b"bx", true));
        // Many stars on a long non-match stay cheap (no exponential backtracking).
        let pat = "*a".repeat(30) + "b";
        assert!(!m(&pat, &"a".repeat(200)));
    }

    #[test]
    fn split_args_like_redis() {
        let s = |l: &str| split_args(l);
        assert_eq!(s("port 6380"), Some(vec!["port".into(), "6380".into()]));
        assert_eq!(s("  save \"\"  "), Some(vec!["save".into(), String::new()]));
        assert_eq!(
            s("requirepass \"a b\\n\\x41\""),
            Some(vec!["requirepass".into(), "a b\nA".into()])
        );
        assert_eq!(s("dir 'it\\'s'"), Some(vec!["dir".into(), "it's".into()]));
        assert_eq!(s("a \"unterminated"), None);
        assert_eq!(s("a \"x\"y"), None);
        assert_eq!(s("a 'x'y"), None);
        assert_eq!(s(""), Some(vec![]));
    }

    #[test]
    fn defaults_are_described_and_round_trip() {
        let d = Config::default();
        let described = describe();
        assert_eq!(described.len(), PARAMS.len());
        for (name, default, doc) in described {
            assert!(!doc.is_empty(), "{name}");
            assert_eq!(d.get(name).as_deref(), Some(default), "{name}");
            let mut c = d.clone();
            c.set(name, default)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c, d, "{name}");
        }
        assert_eq!(d.get("stream-node-max-entries").as_deref(), Some("100"));
        assert_eq!(
            d.get("client-output-buffer-limit").as_deref(),
            Some("normal 268435456 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        );
        assert_eq!(d.get("appendfsync").as_deref(), Some("always"));
        assert_eq!(d.get("save").as_deref(), Some(""));
        assert_eq!(d.get("nosuch"), None);
    }

    #[test]
    fn config_get_patterns() {
        let mut c = Config::default();
        assert_eq!(
            get_map(&mut c, "config get stream-node-max-entries"),
            pairs(&[("stream-node-max-entries", "100")])
        );
        // Exact names keep the case they were asked in; duplicates are answered once.
        assert_eq!(
            get_map(&mut c, "CONFIG GET MAXCLIENTS maxclients timeout"),
            pairs(&[("MAXCLIENTS", "10000"), ("timeout", "0")])
        );
        assert_eq!(
            get_map(&mut c, "config get STREAM-node* stream-node-max-bytes"),
            pairs(&[
                ("stream-node-max-entries", "100"),
                ("stream-node-max-bytes", "4096")
            ])
        );
        assert_eq!(get_map(&mut c, "config get nosuch"), vec![]);
        assert_eq!(get_map(&mut c, "config get *").len(), PARAMS.len());
        assert_eq!(
            get_map(&mut c, "config get appendonly save"),
            pairs(&[("appendonly", "yes"), ("save", "")])
        );
        let r = run(&mut c, "config get port");
        assert_eq!(
            r.to_bytes(Protocol::Resp2),
            b"*2\r\n$4\r\nport\r\n$4\r\n6379\r\n"
        );
        assert_eq!(
            r.to_bytes(Protocol::Resp3),
            b"%1\r\n$4\r\nport\r\n$4\r\n6379\r\n"
        );
    }

    #[test]
    fn config_set_values() {
        let mut c = Config::default();
        assert_eq!(
            run(&mut c, "config set stream-node-max-entries 5"),
            Reply::ok()
        );
        assert_eq!(c.stream_node_max_entries, 5);
        assert_eq!(
            run(
                &mut c,
                "CONFIG SET Stream-Node-Max-Bytes 1kb proto-max-bulk-len 2mb"
            ),
            Reply::ok()
        );
        assert_eq!(
            (c.stream_node_max_bytes, c.proto_max_bulk_len),
            (1024, 2 << 20)
        );
        assert_eq!(run(&mut c, "config set requirepass secret"), Reply::ok());
        assert_eq!(c.requirepass.as_deref(), Some("secret"));
        let set_empty = vec![
            Bytes::from_static(b"config"),
            Bytes::from_static(b"set"),
            Bytes::from_static(b"requirepass"),
            Bytes::new(),
        ];
        assert_eq!(
            config_command(&set_empty, &mut c, &mut Stats::default()),
            Reply::ok()
        );
        assert_eq!(c.requirepass, None);
        let obuf = [
            "config",
            "set",
            "client-output-buffer-limit",
            "normal 1mb 2mb 3 pubsub 1 2 3",
        ]
        .map(|s| Bytes::from(s.to_string()));
        assert_eq!(
            config_command(&obuf, &mut c, &mut Stats::default()),
            Reply::ok()
        );
        assert_eq!(c.client_output_buffer_limit_bytes, 1 << 20);
        assert_eq!(
            c.get("client-output-buffer-limit").as_deref(),
            Some("normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 1 2 3")
        );
        assert_eq!(
            run(&mut c, "config set maxclients 7 timeout 30"),
            Reply::ok()
        );
        assert_eq!((c.maxclients, c.timeout_secs), (7, 30));
    }

    #[test]
    fn config_set_errors_as_redis() {
        let mut c = Config::default();
        let e = |c: &mut Config, s: &str| err_text(run(c, s));
        let failed = |arg: &str, why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{arg}') - {why}")
        };
        assert_eq!(
            e(&mut c, "config set stream-node-max-entries abc"),
            failed(
                "stream-node-max-entries",
                "argument couldn't be parsed into an integer"
            )
        );
        assert_eq!(
            e(&mut c, "config set stream-node-max-entries -1"),
            failed(
                "stream-node-max-entries",
                "argument must be between 0 and 9223372036854775807 inclusive"
            )
        );
        assert_eq!(
            e(&mut c, "config set stream-node-max-bytes 1x"),
            failed("stream-node-max-bytes", "argument must be a memory value")
        );
        assert_eq!(
            e(&mut c, "config set proto-max-bulk-len 100"),
            failed(
                "proto-max-bulk-len",
                "argument must be between 1048576 and 9223372036854775807 inclusive"
            )
        );
        assert_eq!(
            e(&mut c, "config set maxclients 0"),
            failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive"
            )
        );
        assert_eq!(
            e(&mut c, "config set timeout -1"),
            failed(
                "timeout",
                "argument must be between 0 and 2147483647 inclusive"
            )
        );
        assert_eq!(
            e(&mut c, "config set foo bar"),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            e(&mut c, "config set maxclients 5 MAXCLIENTS 6"),
            failed("MAXCLIENTS", "duplicate parameter")
        );
        assert_eq!(
            e(&mut c, "config set maxclients 5 timeout"),
            "ERR syntax error"
        );
        // The pass-2 error names the parameter canonically.
        assert_eq!(
            e(&mut c, "config set MAXCLIENTS 0"),
            failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive"
            )
        );
        // The first problem of pass 1 wins over later ones.
        assert_eq!(
            e(&mut c, "config set maxclients 0 foo 1"),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            e(&mut c, "config set port 1 foo 1"),
            failed("port", "can't set immutable config")
        );
        let obuf = |v: &str| {
            ["config", "set", "client-output-buffer-limit", v].map(|s| Bytes::from(s.to_string()))
        };
        let o =
            |c: &mut Config, v: &str| err_text(config_command(&obuf(v), c, &mut Stats::default()));
        assert_eq!(
            o(&mut c, "normal 1mb 0"),
            failed(
                "client-output-buffer-limit",
                "Wrong number of arguments in buffer limit configuration."
            )
        );
        assert_eq!(
            o(&mut c, "master 1 0 0"),
            failed(
                "client-output-buffer-limit",
                "Invalid client class specified in buffer limit configuration."
            )
        );
        assert_eq!(
            o(&mut c, "normal 1 0 -1"),
            failed(
                "client-output-buffer-limit",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            )
        );
        // Nothing above changed anything.
        assert_eq!(c, Config::default());
    }

    #[test]
    fn config_set_is_atomic() {
        let mut c = Config::default();
        let r = run(&mut c, "config set stream-node-max-entries 7 maxclients 0");
        assert!(r.is_error());
        assert_eq!(c.stream_node_max_entries, 100);
        let r = run(&mut c, "config set stream-node-max-entries 7 maxclients 8");
        assert_eq!(r, Reply::ok());
        assert_eq!((c.stream_node_max_entries, c.maxclients), (7, 8));
    }

    #[test]
    fn immutable_parameters_accept_only_their_value() {
        let mut c = Config::default();
        for same in [
            "config set port 6379",
            "config set appendonly yes",
            "config set appendfsync always",
            "config set fsync yes",
            "config set databases 1",
            "config set cache-capacity 64mb",
            "config set dir ./xraft-data",
        ] {
            assert_eq!(run(&mut c, same), Reply::ok(), "{same}");
        }
        for other in [
            "config set port 6380",
            "config set appendonly no",
            "config set appendfsync no",
            "config set databases 16",
            "config set maxmemory 1",
            "config set cache-capacity 1gb",
            "config set dir /tmp",
            "config set port abc",
        ] {
            let e = err_text(run(&mut c, other));
            assert!(e.ends_with("- can't set immutable config"), "{other}: {e}");
        }
        assert_eq!(c, Config::default());
    }

    #[test]
    fn every_parameter_of_get_star_can_be_set_back() {
        // What the official test suite does after each test block.
        let mut c = Config {
            stream_node_max_entries: 3,
            requirepass: Some("pw".into()),
            ..Config::default()
        };
        let all = get_map(&mut c, "config get *");
        let before = c.clone();
        for (name, value) in all {
            let cmd = ["config", "set", name.as_str(), value.as_str()]
                .map(|s| Bytes::from(s.to_string()));
            let r = config_command(&cmd, &mut c, &mut Stats::default());
            assert_eq!(r, Reply::ok(), "{name} {value}");
        }
        assert_eq!(c, before);
    }

    #[test]
    fn resetstat_help_and_unknown() {
        let mut c = Config::default();
        let mut s = Stats::default();
        s.record_call("xadd", 5, None);
        let r = config_command(&args("CONFIG RESETSTAT"), &mut c, &mut s);
        assert_eq!(r, Reply::ok());
        assert_eq!(s.total_commands_processed, 0);
        let Reply::Array(help) = run(&mut c, "config help") else {
            panic!("not an array")
        };
        assert_eq!(help.len(), CONFIG_HELP.len() + 3);
        assert_eq!(
            help.first(),
            Some(&Reply::simple(
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
            ))
        );
        assert_eq!(
            err_text(run(&mut c, "config rewrite")),
            "ERR unknown subcommand 'rewrite'. Try CONFIG HELP."
        );
        assert_eq!(
            err_text(run(&mut c, "config get")),
            "ERR wrong number of arguments for 'config|get' command"
        );
    }

    #[test]
    fn load_from_text_and_file() {
        let mut c = Config::default();
        let text = "# xraft\n\nport 7001\nbind \"0.0.0.0\" ::1\nrequirepass 'p w'\n\
                    stream-node-max-entries 10\nproto-max-bulk-len 1gb\n\
                    client-output-buffer-limit normal 0 0 0\nappendfsync no\nsave \"\"\n";
        c.load_str(text).expect("valid");
        assert_eq!(c.port, 7001);
        assert_eq!(c.bind, "0.0.0.0 ::1");
        assert_eq!(c.requirepass.as_deref(), Some("p w"));
        assert_eq!(c.stream_node_max_entries, 10);
        assert_eq!(c.proto_max_bulk_len, 1 << 30);
        assert_eq!(c.client_output_buffer_limit_bytes, 0);
        assert!(!c.fsync);
        let err = |t: &str| Config::default().load_str(t).expect_err(t);
        assert_eq!(
            err("port 1\nnosuch 1\n"),
            "line 2: >>> 'nosuch 1': Bad directive or wrong number of arguments"
        );
        assert_eq!(
            err("port abc"),
            "line 1: >>> 'port abc': argument couldn't be parsed into an integer"
        );
        assert_eq!(
            err("port 1 2"),
            "line 1: >>> 'port 1 2': wrong number of arguments"
        );
        assert_eq!(
            err("appendonly no"),
            "line 1: >>> 'appendonly no': xraft supports only 'yes'"
        );
        assert_eq!(
            err("save 900 1"),
            "line 1: >>> 'save 900 1': xraft supports only ''"
        );
        assert_eq!(err("dir \"x"), "line 1: >>> 'dir \"x': unbalanced quotes");

        let path =
            std::env::temp_dir().join(format!("xraft-config-test-{}.conf", std::process::id()));
        std::fs::write(&path, "port 7002\nfsync no\n").expect("write");
        let c = Config::from_file(&path).expect("valid");
        let _ = std::fs::remove_file(&path);
        assert_eq!((c.port, c.fsync), (7002, false));
        assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
        assert!(Config::from_file(&path).is_err());
    }

    #[test]
    fn environment_overrides() {
        let mut c = Config::default();
        c.apply_env_vars([
            ("XRAFT_PORT", "6380"),
            ("XRAFT_STREAM_NODE_MAX_ENTRIES", "10"),
            ("XRAFT_CLIENT_OUTPUT_BUFFER_LIMIT", "normal 0 0 0"),
            ("XRAFT_FSYNC", "no"),
            ("XRAFT_SOMETHING_ELSE", "ignored"),
            ("PORT", "1"),
        ])
        .expect("valid");
        assert_eq!(c.port, 6380);
        assert_eq!(c.stream_node_max_entries, 10);
        assert_eq!(c.client_output_buffer_limit_bytes, 0);
        assert!(!c.fsync);
        let e = Config::default()
            .apply_env_vars([("XRAFT_PORT", "x")])
            .expect_err("bad port");
        assert_eq!(
            e,
            "XRAFT_PORT=x: argument couldn't be parsed into an integer"
        );
    }
}
