//! The command table: every command the broker supports (stream commands, the engine's
//! keyspace commands, and the server's connection/server commands), with Redis 8.0.2's arity,
//! flags, legacy key positions, ACL categories, tips, key specs and documentation, so that
//! `COMMAND INFO` / `COMMAND DOCS` answer like Redis and redis-cli can show its hints.
//!
//! The table was transcribed from what a Redis 8.0.2 server reports for these commands
//! (`COMMAND INFO` and `COMMAND DOCS`), restricted to the subcommands xraft implements.
//!
//! ```text
//!  args ──lookup──▶ &'static CommandSpec   (or Redis's exact unknown-command / arity error)
//!  COMMAND ...  ──command_command──▶ Reply (COUNT, INFO, DOCS, LIST, GETKEYS, HELP)
//! ```

use bytes::Bytes;
use resp::Reply;

/// One command (or subcommand, named `container|sub`) of the table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case full name: `"xadd"`, `"xgroup|create"`.
    pub name: &'static str,
    /// Redis arity: `n` means exactly `n` arguments (the name included), `-n` at least `n`.
    pub arity: i32,
    /// Command flags as `COMMAND INFO` shows them (`write`, `readonly`, `no_auth`, ...).
    pub flags: &'static [&'static str],
    /// Legacy (first key, last key, step) of `COMMAND INFO`.
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    /// ACL categories with their `@` (`@write`, `@stream`, ...).
    pub acl_categories: &'static [&'static str],
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    /// Subcommands of a container command (empty otherwise).
    pub subcommands: &'static [CommandSpec],
    pub docs: Docs,
}

/// Where the search for a key spec's keys begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// At a fixed argument index.
    Index(i32),
    /// After a keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword(&'static str, i32),
}

/// How a key spec's keys are found once the search began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Find {
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
}

/// A Redis 7+ key specification.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub notes: Option<&'static str>,
    /// `RO`, `RW`, `OW`, `RM`, `access`, `update`, `insert`, `delete`, `not_key`,
    /// `incomplete`, `variable_flags`.
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Find,
}

/// Documentation of a command (`COMMAND DOCS`).
#[derive(Debug, Clone, Copy)]
pub struct Docs {
    pub summary: &'static str,
    pub since: &'static str,
    pub group: &'static str,
    pub complexity: Option<&'static str>,
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: &'static [Arg],
}

/// The type of a documented argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    String,
    Integer,
    Double,
    Key,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl ArgType {
    /// The name `COMMAND DOCS` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Key => "key",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::OneOf => "oneof",
            ArgType::Block => "block",
        }
    }
}

/// A documented argument (possibly a `oneof` / `block` of further arguments).
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgType,
    /// Shown instead of the name in hints (defaults to the name).
    pub display_text: Option<&'static str>,
    pub key_spec_index: Option<i32>,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
    pub arguments: &'static [Arg],
}

// ---------------------------------------------------------------- const builders for the table

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    acl_categories: &'static [&'static str],
    docs: Docs,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        key_step: keys.2,
        acl_categories,
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        docs,
    }
}

impl CommandSpec {
    const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }
    const fn key_specs(mut self, key_specs: &'static [KeySpec]) -> Self {
        self.key_specs = key_specs;
        self
    }
    const fn subcommands(mut self, subcommands: &'static [CommandSpec]) -> Self {
        self.subcommands = subcommands;
        self
    }
}

const fn key_spec(flags: &'static [&'static str], begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin,
        find,
    }
}

impl KeySpec {
    const fn notes(mut self, notes: &'static str) -> Self {
        self.notes = Some(notes);
        self
    }
}

const fn docs(summary: &'static str, since: &'static str, group: &'static str) -> Docs {
    Docs {
        summary,
        since,
        group,
        complexity: None,
        doc_flags: &[],
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        arguments: &[],
    }
}

impl Docs {
    const fn complexity(mut self, c: &'static str) -> Self {
        self.complexity = Some(c);
        self
    }
    const fn doc_flags(mut self, f: &'static [&'static str]) -> Self {
        self.doc_flags = f;
        self
    }
    const fn deprecated_since(mut self, v: &'static str) -> Self {
        self.deprecated_since = Some(v);
        self
    }
    const fn replaced_by(mut self, r: &'static str) -> Self {
        self.replaced_by = Some(r);
        self
    }
    const fn history(mut self, h: &'static [(&'static str, &'static str)]) -> Self {
        self.history = h;
        self
    }
    const fn args(mut self, a: &'static [Arg]) -> Self {
        self.arguments = a;
        self
    }
}

const fn arg(name: &'static str, kind: ArgType) -> Arg {
    Arg {
        name,
        kind,
        display_text: None,
        key_spec_index: None,
        token: None,
        summary: None,
        since: None,
        deprecated_since: None,
        optional: false,
        multiple: false,
        multiple_token: false,
        arguments: &[],
    }
}
const fn key(name: &'static str) -> Arg {
    arg(name, ArgType::Key)
}
const fn string(name: &'static str) -> Arg {
    arg(name, ArgType::String)
}
const fn integer(name: &'static str) -> Arg {
    arg(name, ArgType::Integer)
}
const fn double(name: &'static str) -> Arg {
    arg(name, ArgType::Double)
}
const fn pattern(name: &'static str) -> Arg {
    arg(name, ArgType::Pattern)
}
const fn unix_time(name: &'static str) -> Arg {
    arg(name, ArgType::UnixTime)
}
const fn pure_token(name: &'static str, token: &'static str) -> Arg {
    let mut a = arg(name, ArgType::PureToken);
    a.token = Some(token);
    a
}
const fn oneof(name: &'static str, arguments: &'static [Arg]) -> Arg {
    let mut a = arg(name, ArgType::OneOf);
    a.arguments = arguments;
    a
}
const fn block(name: &'static str, arguments: &'static [Arg]) -> Arg {
    let mut a = arg(name, ArgType::Block);
    a.arguments = arguments;
    a
}

impl Arg {
    const fn display(mut self, d: &'static str) -> Self {
        self.display_text = Some(d);
        self
    }
    const fn key_spec(mut self, i: i32) -> Self {
        self.key_spec_index = Some(i);
        self
    }
    const fn token(mut self, t: &'static str) -> Self {
        self.token = Some(t);
        self
    }
    const fn since(mut self, s: &'static str) -> Self {
        self.since = Some(s);
        self
    }
    const fn deprecated_since(mut self, s: &'static str) -> Self {
        self.deprecated_since = Some(s);
        self
    }
    const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    const fn multiple(mut self) -> Self {
        self.multiple = true;
        self
    }
}

impl CommandSpec {
    /// The name commandstats use: `"xadd"`, `"xgroup|create"`.
    pub fn stat_name(&self) -> &'static str {
        self.name
    }

    /// A write command (`write` flag): its changes must be committed before the reply.
    pub fn is_write(&self) -> bool {
        self.has_flag("write")
    }

    /// May run before AUTH when a password is required (Redis's `no_auth` flag: HELLO, AUTH,
    /// QUIT, RESET).
    pub fn allowed_before_auth(&self) -> bool {
        self.has_flag("no_auth")
    }

    /// May be queued inside MULTI (false for commands with Redis's `no_multi` flag).
    pub fn allowed_in_multi(&self) -> bool {
        !self.has_flag("no_multi")
    }

    /// A command that may block the client (`blocking` flag).
    pub fn is_blocking(&self) -> bool {
        self.has_flag("blocking")
    }

    /// Whether `COMMAND INFO` lists `flag` for this command.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether this command is a container of subcommands (XGROUP, XINFO, CLIENT, ...).
    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// Whether `argc` arguments (the command name, and the subcommand name, included) fit the
    /// arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Whether any key spec names real keys (not `not_key`).
    fn has_keys(&self) -> bool {
        self.key_specs.iter().any(|k| !k.flags.contains(&"not_key"))
    }
}

/// Every top-level command, in table order (`COMMAND COUNT` is its length).
pub fn table() -> &'static [CommandSpec] {
    COMMANDS
}

/// Finds a top-level command by name, ASCII case-insensitively.
pub fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|c| c.name.len() == name.len() && c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Finds a subcommand of `container` by its own name (`create` for `xgroup|create`).
pub fn find_subcommand(
    container: &'static CommandSpec,
    sub: &[u8],
) -> Option<&'static CommandSpec> {
    container.subcommands.iter().find(|c| {
        let own = c.name.split_once('|').map_or(c.name, |(_, s)| s).as_bytes();
        own.eq_ignore_ascii_case(sub)
    })
}

/// Finds a command by its full name (`xadd`, `xgroup|create`), as `COMMAND INFO/DOCS` do.
pub fn find_by_full_name(full: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = full.split(|b| *b == b'|');
    let base = parts.next()?;
    let sub = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let base = find(base)?;
    match sub {
        None => Some(base),
        Some(s) if base.is_container() => find_subcommand(base, s),
        Some(_) => None,
    }
}

/// How much of one argument Redis echoes in an error (`%.128s`).
const ECHO_ARG_BYTES: usize = 128;

/// `s` as C's `%.Ns` prints it: up to the first NUL byte, at most `max` bytes.
fn c_str_prefix(s: &[u8], max: usize) -> &[u8] {
    let end = s.iter().position(|b| *b == 0).unwrap_or(s.len()).min(max);
    &s[..end]
}

/// An `ERR ...` reply built from raw bytes, with CR/LF turned into spaces as Redis does for
/// messages that echo user input.
fn err_bytes(mut msg: Vec<u8>) -> Reply {
    for b in msg.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    Reply::Error(Bytes::from(msg))
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
fn unknown_command(args: &[Bytes]) -> Reply {
    let mut msg = b"ERR unknown command '".to_vec();
    if let Some(name) = args.first() {
        msg.extend_from_slice(c_str_prefix(name, ECHO_ARG_BYTES));
    }
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut echoed = Vec::new();
    for a in args.iter().skip(1) {
        if echoed.len() >= ECHO_ARG_BYTES {
            break;
        }
        let room = ECHO_ARG_BYTES - echoed.len();
        echoed.push(b'\'');
        echoed.extend_from_slice(c_str_prefix(a, room));
        echoed.extend_from_slice(b"' ");
    }
    msg.extend_from_slice(&echoed);
    err_bytes(msg)
}

/// `ERR unknown subcommand 'foo'. Try XGROUP HELP.` (the container name as typed, upper-cased).
fn unknown_subcommand(container: &[u8], sub: &[u8]) -> Reply {
    let mut msg = b"ERR unknown subcommand '".to_vec();
    msg.extend_from_slice(c_str_prefix(sub, ECHO_ARG_BYTES));
    msg.extend_from_slice(b"'. Try ");
    msg.extend(
        c_str_prefix(container, usize::MAX)
            .iter()
            .map(u8::to_ascii_uppercase),
    );
    msg.extend_from_slice(b" HELP.");
    err_bytes(msg)
}

/// `ERR wrong number of arguments for 'xgroup|create' command`.
pub fn arity_error(spec: &CommandSpec) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{}' command",
        spec.name
    ))
}

/// Finds the command (and subcommand) for `args`, or returns Redis's exact error: unknown
/// command, unknown subcommand, or wrong number of arguments.
pub fn lookup(args: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
    let Some(name) = args.first() else {
        return Err(unknown_command(args));
    };
    let Some(base) = find(name) else {
        return Err(unknown_command(args));
    };
    let spec = match args.get(1) {
        Some(sub) if base.is_container() => match find_subcommand(base, sub) {
            Some(s) => s,
            None => return Err(unknown_subcommand(name, sub)),
        },
        _ => base,
    };
    if !spec.arity_ok(args.len()) {
        return Err(arity_error(spec));
    }
    Ok(spec)
}

// ---------------------------------------------------------------- COMMAND

fn bulk(s: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(s.as_bytes()))
}

fn status(s: &'static str) -> Reply {
    Reply::Simple(Bytes::from_static(s.as_bytes()))
}

fn status_set(items: &'static [&'static str]) -> Reply {
    Reply::Set(items.iter().map(|s| status(s)).collect())
}

fn int(n: i32) -> Reply {
    Reply::Integer(i64::from(n))
}

fn key_spec_reply(k: &KeySpec) -> Reply {
    let mut m = Vec::with_capacity(4);
    if let Some(n) = k.notes {
        m.push((bulk("notes"), bulk(n)));
    }
    m.push((bulk("flags"), status_set(k.flags)));
    let begin = match k.begin {
        Begin::Index(i) => Reply::Map(vec![
            (bulk("type"), bulk("index")),
            (bulk("spec"), Reply::Map(vec![(bulk("index"), int(i))])),
        ]),
        Begin::Keyword(kw, from) => Reply::Map(vec![
            (bulk("type"), bulk("keyword")),
            (
                bulk("spec"),
                Reply::Map(vec![
                    (bulk("keyword"), bulk(kw)),
                    (bulk("startfrom"), int(from)),
                ]),
            ),
        ]),
    };
    m.push((bulk("begin_search"), begin));
    let find = match k.find {
        Find::Range {
            lastkey,
            keystep,
            limit,
        } => Reply::Map(vec![
            (bulk("type"), bulk("range")),
            (
                bulk("spec"),
                Reply::Map(vec![
                    (bulk("lastkey"), int(lastkey)),
                    (bulk("keystep"), int(keystep)),
                    (bulk("limit"), int(limit)),
                ]),
            ),
        ]),
        Find::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => Reply::Map(vec![
            (bulk("type"), bulk("keynum")),
            (
                bulk("spec"),
                Reply::Map(vec![
                    (bulk("keynumidx"), int(keynumidx)),
                    (bulk("firstkey"), int(firstkey)),
                    (bulk("keystep"), int(keystep)),
                ]),
            ),
        ]),
    };
    m.push((bulk("find_keys"), find));
    Reply::Map(m)
}

/// The 10-element `COMMAND INFO` entry of a command.
pub fn info_reply(c: &CommandSpec) -> Reply {
    let subcommands = if c.is_container() {
        Reply::Array(c.subcommands.iter().map(info_reply).collect())
    } else {
        Reply::Set(Vec::new())
    };
    Reply::Array(vec![
        bulk(c.name),
        int(c.arity),
        status_set(c.flags),
        int(c.first_key),
        int(c.last_key),
        int(c.key_step),
        status_set(c.acl_categories),
        Reply::Set(c.tips.iter().map(|t| bulk(t)).collect()),
        Reply::Set(c.key_specs.iter().map(key_spec_reply).collect()),
        subcommands,
    ])
}

fn arg_reply(a: &Arg) -> Reply {
    let mut m = Vec::with_capacity(10);
    m.push((bulk("name"), bulk(a.name)));
    m.push((bulk("type"), bulk(a.kind.as_str())));
    let nested = matches!(a.kind, ArgType::OneOf | ArgType::Block);
    if !nested {
        m.push((bulk("display_text"), bulk(a.display_text.unwrap_or(a.name))));
    }
    if let Some(i) = a.key_spec_index {
        m.push((bulk("key_spec_index"), int(i)));
    }
    if let Some(t) = a.token {
        m.push((bulk("token"), bulk(t)));
    }
    if let Some(s) = a.summary {
        m.push((bulk("summary"), bulk(s)));
    }
    if let Some(s) = a.since {
        m.push((bulk("since"), bulk(s)));
    }
    if let Some(s) = a.deprecated_since {
        m.push((bulk("deprecated_since"), bulk(s)));
    }
    let flags: Vec<Reply> = [
        (a.optional, "optional"),
        (a.multiple, "multiple"),
        (a.multiple_token, "multiple_token"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, f)| status(f))
    .collect();
    if !flags.is_empty() {
        m.push((bulk("flags"), Reply::Set(flags)));
    }
    if nested {
        m.push((
            bulk("arguments"),
            Reply::Array(a.arguments.iter().map(arg_reply).collect()),
        ));
    }
    Reply::Map(m)
}

/// The `COMMAND DOCS` map of a command.
pub fn docs_reply(c: &CommandSpec) -> Reply {
    let d = &c.docs;
    let mut m = Vec::with_capacity(10);
    m.push((bulk("summary"), bulk(d.summary)));
    m.push((bulk("since"), bulk(d.since)));
    m.push((bulk("group"), bulk(d.group)));
    if let Some(x) = d.complexity {
        m.push((bulk("complexity"), bulk(x)));
    }
    if !d.doc_flags.is_empty() {
        m.push((bulk("doc_flags"), status_set(d.doc_flags)));
    }
    if let Some(x) = d.deprecated_since {
        m.push((bulk("deprecated_since"), bulk(x)));
    }
    if let Some(x) = d.replaced_by {
        m.push((bulk("replaced_by"), bulk(x)));
    }
    if !d.history.is_empty() {
        m.push((
            bulk("history"),
            Reply::Set(
                d.history
                    .iter()
                    .map(|(v, what)| Reply::Array(vec![bulk(v), bulk(what)]))
                    .collect(),
            ),
        ));
    }
    if !d.arguments.is_empty() {
        m.push((
            bulk("arguments"),
            Reply::Array(d.arguments.iter().map(arg_reply).collect()),
        ));
    }
    if c.is_container() {
        m.push((
            bulk("subcommands"),
            Reply::Map(
                c.subcommands
                    .iter()
                    .map(|s| (bulk(s.name), docs_reply(s)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(m)
}

/// Every full name (commands, then each container's subcommands after it), as COMMAND LIST.
fn all_names() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

/// The key positions (in `cmd_args`, where index 0 is the command name) and their flags, as
/// Redis's `getKeysFromCommandWithSpecs`; `None` when the arguments do not hold the keys the
/// specs promise.
fn keys_of(
    spec: &CommandSpec,
    cmd_args: &[Bytes],
) -> Option<Vec<(usize, &'static [&'static str])>> {
    let variable = spec
        .key_specs
        .iter()
        .any(|k| k.flags.contains(&"variable_flags"));
    if !variable {
        if let Some(keys) = keys_by_specs(spec, cmd_args) {
            return Some(keys);
        }
    }
    match spec.name {
        "xread" | "xreadgroup" => xread_keys(cmd_args),
        // The GET option makes SET read the key.
        "set" => {
            let get = cmd_args
                .iter()
                .skip(3)
                .any(|a| a.eq_ignore_ascii_case(b"get"));
            let flags: &'static [&'static str] = if get {
                &["RW", "access", "update"]
            } else {
                &["OW", "update"]
            };
            Some(vec![(1, flags)])
        }
        _ => None,
    }
}

/// XREAD / XREADGROUP keys by parsing the options up to STREAMS (Redis's `xreadGetKeys`).
fn xread_keys(argv: &[Bytes]) -> Option<Vec<(usize, &'static [&'static str])>> {
    let mut streams_pos = None;
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"block") || a.eq_ignore_ascii_case(b"count") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"group") {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"noack") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"streams") {
            streams_pos = Some(i);
            break;
        } else {
            break;
        }
    }
    let pos = streams_pos?;
    let rest = &argv[pos + 1..];
    // Keys and IDs come in pairs.
    if rest.is_empty() || !rest.chunks_exact(2).remainder().is_empty() {
        return None;
    }
    let num = rest.len();
    Some((pos + 1..=pos + num / 2).map(|p| (p, &[][..])).collect())
}

fn keys_by_specs(
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Option<Vec<(usize, &'static [&'static str])>> {
    let argc = i64::try_from(argv.len()).ok()?;
    let mut keys = Vec::new();
    for ks in spec.key_specs {
        if ks.flags.contains(&"not_key") {
            continue;
        }
        let first: i64 = match ks.begin {
            Begin::Index(i) => i64::from(i),
            Begin::Keyword(kw, startfrom) => {
                let from = i64::from(startfrom);
                let (start, end, fwd) = if from > 0 {
                    (from, argc - 1, true)
                } else {
                    (argc + from, 1, false)
                };
                let mut found = 0;
                let mut i = start;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if argv[i as usize].eq_ignore_ascii_case(kw.as_bytes()) {
                        found = i + 1;
                        break;
                    }
                    i += if fwd { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
        };
        let (first, last, step) = match ks.find {
            Find::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + i64::from(lastkey)
                } else if limit == 0 {
                    argc + i64::from(lastkey)
                } else {
                    first + ((argc - first) / i64::from(limit) + i64::from(lastkey))
                };
                (first, last, i64::from(keystep))
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let idx = first + i64::from(keynumidx);
                if idx >= argc || idx < 0 {
                    return None;
                }
                let n: i64 = std::str::from_utf8(&argv[idx as usize])
                    .ok()?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 0)?;
                let first = first + i64::from(firstkey);
                (first, first + n - 1, i64::from(keystep))
            }
        };
        if last >= argc || last < first || first >= argc || step <= 0 {
            return None;
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, ks.flags));
            i += step;
        }
        if ks.flags.contains(&"incomplete") {
            return None;
        }
    }
    Some(keys)
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS.
fn getkeys(args: &[Bytes], with_flags: bool) -> Reply {
    let cmd_args = args.get(2..).unwrap_or_default();
    let spec = cmd_args.first().and_then(|name| {
        let base = find(name)?;
        match cmd_args.get(1) {
            Some(sub) if base.is_container() => find_subcommand(base, sub),
            _ => Some(base),
        }
    });
    let Some(spec) = spec else {
        return Reply::error("ERR Invalid command specified");
    };
    if !spec.has_keys() {
        return Reply::error("ERR The command has no key arguments");
    }
    if !spec.arity_ok(cmd_args.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    match keys_of(spec, cmd_args).filter(|k| !k.is_empty()) {
        Some(keys) => Reply::Array(
            keys.into_iter()
                .map(|(pos, flags)| {
                    let key = Reply::Bulk(cmd_args[pos].clone());
                    if with_flags {
                        Reply::Array(vec![key, status_set(flags)])
                    } else {
                        key
                    }
                })
                .collect(),
        ),
        None if spec.has_flag("no_mandatory_keys") => Reply::Array(Vec::new()),
        None => Reply::error("ERR Invalid arguments specified for command"),
    }
}

/// COMMAND LIST [FILTERBY (MODULE name | ACLCAT cat | PATTERN pattern)].
fn command_list(args: &[Bytes]) -> Reply {
    enum Filter<'a> {
        None,
        Module,
        AclCat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let mut filter = Filter::None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args[i].eq_ignore_ascii_case(b"filterby") && more == 2 {
            let kind = &args[i + 1];
            let value = &args[i + 2];
            filter = if kind.eq_ignore_ascii_case(b"module") {
                Filter::Module
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                Filter::AclCat(value)
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                Filter::Pattern(value)
            } else {
                return Reply::error("ERR syntax error");
            };
            i += 3;
        } else {
            return Reply::error("ERR syntax error");
        }
    }
    let names = all_names()
        .filter(|c| match filter {
            Filter::None => true,
            // xraft loads no modules.
            Filter::Module => false,
            Filter::AclCat(cat) => c.acl_categories.iter().any(|a| {
                a.strip_prefix('@')
                    .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(cat))
            }),
            Filter::Pattern(p) => crate::config::glob_match(p, c.name.as_bytes(), true),
        })
        .map(|c| bulk(c.name))
        .collect();
    Reply::Array(names)
}

const COMMAND_HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

/// The reply of `<CMD> HELP`: a header naming the command as typed (upper-cased), the lines,
/// and the closing `HELP` entry, all as status replies (Redis's `addReplyHelp`).
pub fn help_reply(command: &[u8], lines: &[&'static str]) -> Reply {
    let mut header = c_str_prefix(command, usize::MAX).to_ascii_uppercase();
    header.extend_from_slice(b" <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Simple(Bytes::from(header)));
    out.extend(lines.iter().map(|l| status(l)));
    out.push(status("HELP"));
    out.push(status("    Print this help."));
    Reply::Array(out)
}

/// COMMAND, COMMAND COUNT / INFO [names] / DOCS [names] / LIST [FILTERBY ...] /
/// GETKEYS / GETKEYSANDFLAGS / HELP (`args[0]` is `COMMAND`).
pub fn command_command(args: &[Bytes]) -> Reply {
    let Some(sub) = args.get(1) else {
        return Reply::Array(COMMANDS.iter().map(info_reply).collect());
    };
    let sub_l = sub.to_ascii_lowercase();
    let container = find(b"command");
    let spec = container.and_then(|c| find_subcommand(c, sub));
    let Some(spec) = spec else {
        return unknown_subcommand(&args[0], sub);
    };
    if !spec.arity_ok(args.len()) {
        return arity_error(spec);
    }
    match sub_l.as_slice() {
        b"count" => Reply::Integer(i64::try_from(COMMANDS.len()).unwrap_or(i64::MAX)),
        b"info" if args.len() == 2 => Reply::Array(COMMANDS.iter().map(info_reply).collect()),
        b"info" => Reply::Array(
            args[2..]
                .iter()
                .map(|n| find_by_full_name(n).map_or(Reply::Null, info_reply))
                .collect(),
        ),
        b"docs" if args.len() == 2 => Reply::Map(
            COMMANDS
                .iter()
                .map(|c| (bulk(c.name), docs_reply(c)))
                .collect(),
        ),
        b"docs" => Reply::Map(
            args[2..]
                .iter()
                .filter_map(|n| find_by_full_name(n))
                .map(|c| (bulk(c.name), docs_reply(c)))
                .collect(),
        ),
        b"list" => command_list(args),
        b"getkeys" => getkeys(args, false),
        b"getkeysandflags" => getkeys(args, true),
        b"help" => help_reply(&args[0], COMMAND_HELP),
        _ => unknown_subcommand(&args[0], sub),
    }
}

// ---------------------------------------------------------------- the table

/// Every top-level command xraft supports, with the subcommands it implements.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd("xadd", -5, &["write", "denyoom", "fast"], (1, 1, 1), &["@write", "@stream", "@fast"],
        docs("Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0", "stream").complexity("O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.")
            .history(&[
                ("6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option."),
                ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
            ])
            .args(&[
                key("key").key_spec(0),
                pure_token("nomkstream", "NOMKSTREAM").since("6.2.0").optional(),
                block("trim", &[
                    oneof("strategy", &[
                        pure_token("maxlen", "MAXLEN"),
                        pure_token("minid", "MINID").since("6.2.0"),
                    ]),
                    oneof("operator", &[
                        pure_token("equal", "="),
                        pure_token("approximately", "~"),
                    ]).optional(),
                    string("threshold"),
                    integer("count").token("LIMIT").since("6.2.0").optional(),
                ]).optional(),
                oneof("id-selector", &[
                    pure_token("auto-id", "*"),
                    string("id"),
                ]),
                block("data", &[
                    string("field"),
                    string("value"),
                ]).multiple(),
            ]))
    .tips(&["nondeterministic_output"])
    .key_specs(&[
        key_spec(&["RW", "update"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }).notes("UPDATE instead of INSERT because of the optional trimming feature"),
    ]),
    cmd("xtrim", -4, &["write"], (1, 1, 1), &["@write", "@stream", "@slow"],
        docs("Deletes messages from the beginning of a stream.", "5.0.0", "stream").complexity("O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.")
            .history(&[
                ("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),
            ])
            .args(&[
                key("key").key_spec(0),
                block("trim", &[
                    oneof("strategy", &[
                        pure_token("maxlen", "MAXLEN"),
                        pure_token("minid", "MINID").since("6.2.0"),
                    ]),
                    oneof("operator", &[
                        pure_token("equal", "="),
                        pure_token("approximately", "~"),
                    ]).optional(),
                    string("threshold"),
                    integer("count").token("LIMIT").since("6.2.0").optional(),
                ]),
            ]))
    .tips(&["nondeterministic_output"])
    .key_specs(&[
        key_spec(&["RW", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xdel", -3, &["write", "fast"], (1, 1, 1), &["@write", "@stream", "@fast"],
        docs("Returns the number of messages after removing them from a stream.", "5.0.0", "stream").complexity("O(1) for each single item to delete in the stream, regardless of the stream size.")
            .args(&[
                key("key").key_spec(0),
                string("id").multiple(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xlen", 2, &["readonly", "fast"], (1, 1, 1), &["@read", "@stream", "@fast"],
        docs("Return the number of messages in a stream.", "5.0.0", "stream").complexity("O(1)")
            .args(&[
                key("key").key_spec(0),
            ]))
    .key_specs(&[
        key_spec(&["RO"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xrange", -4, &["readonly"], (1, 1, 1), &["@read", "@stream", "@slow"],
        docs("Returns the messages from a stream within a range of IDs.", "5.0.0", "stream").complexity("O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).")
            .history(&[
                ("6.2.0", "Added exclusive ranges."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("start"),
                string("end"),
                integer("count").token("COUNT").optional(),
            ]))
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xrevrange", -4, &["readonly"], (1, 1, 1), &["@read", "@stream", "@slow"],
        docs("Returns the messages from a stream within a range of IDs in reverse order.", "5.0.0", "stream").complexity("O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).")
            .history(&[
                ("6.2.0", "Added exclusive ranges."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("end"),
                string("start"),
                integer("count").token("COUNT").optional(),
            ]))
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xread", -4, &["readonly", "blocking", "movablekeys"], (0, 0, 0), &["@read", "@stream", "@slow", "@blocking"],
        docs("Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", "5.0.0", "stream")
            .args(&[
                integer("count").token("COUNT").optional(),
                integer("milliseconds").token("BLOCK").optional(),
                block("streams", &[
                    key("key").key_spec(0).multiple(),
                    string("id").multiple(),
                ]).token("STREAMS"),
            ]))
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Keyword("STREAMS", 1), Find::Range { lastkey: -1, keystep: 1, limit: 2 }),
    ]),
    cmd("xreadgroup", -7, &["write", "blocking", "movablekeys"], (0, 0, 0), &["@write", "@stream", "@slow", "@blocking"],
        docs("Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", "5.0.0", "stream").complexity("For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.")
            .args(&[
                block("group-block", &[
                    string("group"),
                    string("consumer"),
                ]).token("GROUP"),
                integer("count").token("COUNT").optional(),
                integer("milliseconds").token("BLOCK").optional(),
                pure_token("noack", "NOACK").optional(),
                block("streams", &[
                    key("key").key_spec(0).multiple(),
                    string("id").multiple(),
                ]).token("STREAMS"),
            ]))
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Keyword("STREAMS", 4), Find::Range { lastkey: -1, keystep: 1, limit: 2 }),
    ]),
    cmd("xack", -4, &["write", "fast"], (1, 1, 1), &["@write", "@stream", "@fast"],
        docs("Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", "5.0.0", "stream").complexity("O(1) for each message ID processed.")
            .args(&[
                key("key").key_spec(0),
                string("group"),
                string("id").multiple(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "update"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xgroup", -2, &[], (0, 0, 0), &["@slow"],
        docs("A container for consumer groups commands.", "5.0.0", "stream").complexity("Depends on subcommand."))
    .subcommands(&[
        cmd("xgroup|create", -5, &["write", "denyoom"], (2, 2, 1), &["@write", "@stream", "@slow"],
            docs("Creates a consumer group.", "5.0.0", "stream").complexity("O(1)")
                .history(&[
                    ("7.0.0", "Added the `entries_read` named argument."),
                ])
                .args(&[
                    key("key").key_spec(0),
                    string("group"),
                    oneof("id-selector", &[
                        string("id"),
                        pure_token("new-id", "$"),
                    ]),
                    pure_token("mkstream", "MKSTREAM").optional(),
                    integer("entriesread").display("entries-read").token("ENTRIESREAD").optional(),
                ]))
        .key_specs(&[
            key_spec(&["RW", "insert"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
        cmd("xgroup|createconsumer", 5, &["write", "denyoom"], (2, 2, 1), &["@write", "@stream", "@slow"],
            docs("Creates a consumer in a consumer group.", "6.2.0", "stream").complexity("O(1)")
                .args(&[
                    key("key").key_spec(0),
                    string("group"),
                    string("consumer"),
                ]))
        .key_specs(&[
            key_spec(&["RW", "insert"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
        cmd("xgroup|delconsumer", 5, &["write"], (2, 2, 1), &["@write", "@stream", "@slow"],
            docs("Deletes a consumer from a consumer group.", "5.0.0", "stream").complexity("O(1)")
                .args(&[
                    key("key").key_spec(0),
                    string("group"),
                    string("consumer"),
                ]))
        .key_specs(&[
            key_spec(&["RW", "delete"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
        cmd("xgroup|destroy", 4, &["write"], (2, 2, 1), &["@write", "@stream", "@slow"],
            docs("Destroys a consumer group.", "5.0.0", "stream").complexity("O(N) where N is the number of entries in the group's pending entries list (PEL).")
                .args(&[
                    key("key").key_spec(0),
                    string("group"),
                ]))
        .key_specs(&[
            key_spec(&["RW", "delete"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
        cmd("xgroup|help", 2, &["loading", "stale"], (0, 0, 0), &["@stream", "@slow"],
            docs("Returns helpful text about the different subcommands.", "5.0.0", "stream").complexity("O(1)")),
        cmd("xgroup|setid", -5, &["write"], (2, 2, 1), &["@write", "@stream", "@slow"],
            docs("Sets the last-delivered ID of a consumer group.", "5.0.0", "stream").complexity("O(1)")
                .history(&[
                    ("7.0.0", "Added the optional `entries_read` argument."),
                ])
                .args(&[
                    key("key").key_spec(0),
                    string("group"),
                    oneof("id-selector", &[
                        string("id"),
                        pure_token("new-id", "$"),
                    ]),
                    integer("entriesread").display("entries-read").token("ENTRIESREAD").optional(),
                ]))
        .key_specs(&[
            key_spec(&["RW", "update"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
    ]),
    cmd("xpending", -3, &["readonly"], (1, 1, 1), &["@read", "@stream", "@slow"],
        docs("Returns the information and entries from a stream consumer group's pending entries list.", "5.0.0", "stream").complexity("O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.")
            .history(&[
                ("6.2.0", "Added the `IDLE` option and exclusive range intervals."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("group"),
                block("filters", &[
                    integer("min-idle-time").token("IDLE").since("6.2.0").optional(),
                    string("start"),
                    string("end"),
                    integer("count"),
                    string("consumer").optional(),
                ]).optional(),
            ]))
    .tips(&["nondeterministic_output"])
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xclaim", -6, &["write", "fast"], (1, 1, 1), &["@write", "@stream", "@fast"],
        docs("Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", "5.0.0", "stream").complexity("O(log N) with N being the number of messages in the PEL of the consumer group.")
            .args(&[
                key("key").key_spec(0),
                string("group"),
                string("consumer"),
                string("min-idle-time"),
                string("id").multiple(),
                integer("ms").token("IDLE").optional(),
                unix_time("unix-time-milliseconds").token("TIME").optional(),
                integer("count").token("RETRYCOUNT").optional(),
                pure_token("force", "FORCE").optional(),
                pure_token("justid", "JUSTID").optional(),
                string("lastid").token("LASTID").optional(),
            ]))
    .tips(&["nondeterministic_output"])
    .key_specs(&[
        key_spec(&["RW", "update"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xautoclaim", -6, &["write", "fast"], (1, 1, 1), &["@write", "@stream", "@fast"],
        docs("Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", "6.2.0", "stream").complexity("O(1) if COUNT is small.")
            .history(&[
                ("7.0.0", "Added an element to the reply array, containing deleted entries the command cleared from the PEL"),
            ])
            .args(&[
                key("key").key_spec(0),
                string("group"),
                string("consumer"),
                string("min-idle-time"),
                string("start"),
                integer("count").token("COUNT").optional(),
                pure_token("justid", "JUSTID").optional(),
            ]))
    .tips(&["nondeterministic_output"])
    .key_specs(&[
        key_spec(&["RW", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("xinfo", -2, &[], (0, 0, 0), &["@slow"],
        docs("A container for stream introspection commands.", "5.0.0", "stream").complexity("Depends on subcommand."))
    .subcommands(&[
        cmd("xinfo|consumers", 4, &["readonly"], (2, 2, 1), &["@read", "@stream", "@slow"],
            docs("Returns a list of the consumers in a consumer group.", "5.0.0", "stream").complexity("O(1)")
                .history(&[
                    ("7.2.0", "Added the `inactive` field, and changed the meaning of `idle`."),
                ])
                .args(&[
                    key("key").key_spec(0),
                    string("group"),
                ]))
        .tips(&["nondeterministic_output"])
        .key_specs(&[
            key_spec(&["RO", "access"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
        cmd("xinfo|groups", 3, &["readonly"], (2, 2, 1), &["@read", "@stream", "@slow"],
            docs("Returns a list of the consumer groups of a stream.", "5.0.0", "stream").complexity("O(1)")
                .history(&[
                    ("7.0.0", "Added the `entries-read` and `lag` fields"),
                ])
                .args(&[
                    key("key").key_spec(0),
                ]))
        .key_specs(&[
            key_spec(&["RO", "access"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
        cmd("xinfo|help", 2, &["loading", "stale"], (0, 0, 0), &["@stream", "@slow"],
            docs("Returns helpful text about the different subcommands.", "5.0.0", "stream").complexity("O(1)")),
        cmd("xinfo|stream", -3, &["readonly"], (2, 2, 1), &["@read", "@stream", "@slow"],
            docs("Returns information about a stream.", "5.0.0", "stream").complexity("O(1)")
                .history(&[
                    ("6.0.0", "Added the `FULL` modifier."),
                    ("7.0.0", "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, `entries-read` and `lag` fields"),
                    ("7.2.0", "Added the `active-time` field, and changed the meaning of `seen-time`."),
                ])
                .args(&[
                    key("key").key_spec(0),
                    block("full-block", &[
                        pure_token("full", "FULL"),
                        integer("count").token("COUNT").optional(),
                    ]).optional(),
                ]))
        .key_specs(&[
            key_spec(&["RO", "access"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        ]),
    ]),
    cmd("xsetid", -3, &["write", "denyoom", "fast"], (1, 1, 1), &["@write", "@stream", "@fast"],
        docs("An internal command for replicating stream values.", "5.0.0", "stream").complexity("O(1)")
            .history(&[
                ("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("last-id"),
                integer("entries-added").token("ENTRIESADDED").since("7.0.0").optional(),
                string("max-deleted-id").token("MAXDELETEDID").since("7.0.0").optional(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "update"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("del", -2, &["write"], (1, -1, 1), &["@keyspace", "@write", "@slow"],
        docs("Deletes one or more keys.", "1.0.0", "generic").complexity("O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).")
            .args(&[
                key("key").key_spec(0).multiple(),
            ]))
    .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
    .key_specs(&[
        key_spec(&["RM", "delete"], Begin::Index(1), Find::Range { lastkey: -1, keystep: 1, limit: 0 }),
    ]),
    cmd("unlink", -2, &["write", "fast"], (1, -1, 1), &["@keyspace", "@write", "@fast"],
        docs("Asynchronously deletes one or more keys.", "4.0.0", "generic").complexity("O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.")
            .args(&[
                key("key").key_spec(0).multiple(),
            ]))
    .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
    .key_specs(&[
        key_spec(&["RM", "delete"], Begin::Index(1), Find::Range { lastkey: -1, keystep: 1, limit: 0 }),
    ]),
    cmd("exists", -2, &["readonly", "fast"], (1, -1, 1), &["@keyspace", "@read", "@fast"],
        docs("Determines whether one or more keys exist.", "1.0.0", "generic").complexity("O(N) where N is the number of keys to check.")
            .history(&[
                ("3.0.3", "Accepts multiple `key` arguments."),
            ])
            .args(&[
                key("key").key_spec(0).multiple(),
            ]))
    .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
    .key_specs(&[
        key_spec(&["RO"], Begin::Index(1), Find::Range { lastkey: -1, keystep: 1, limit: 0 }),
    ]),
    cmd("type", 2, &["readonly", "fast"], (1, 1, 1), &["@keyspace", "@read", "@fast"],
        docs("Determines the type of value stored at a key.", "1.0.0", "generic").complexity("O(1)")
            .args(&[
                key("key").key_spec(0),
            ]))
    .key_specs(&[
        key_spec(&["RO"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("rename", 3, &["write"], (1, 2, 1), &["@keyspace", "@write", "@slow"],
        docs("Renames a key and overwrites the destination.", "1.0.0", "generic").complexity("O(1)")
            .args(&[
                key("key").key_spec(0),
                key("newkey").key_spec(1),
            ]))
    .key_specs(&[
        key_spec(&["RW", "access", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        key_spec(&["OW", "update"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("renamenx", 3, &["write", "fast"], (1, 2, 1), &["@keyspace", "@write", "@fast"],
        docs("Renames a key only when the target key name doesn't exist.", "1.0.0", "generic").complexity("O(1)")
            .history(&[
                ("3.2.0", "The command no longer returns an error when source and destination names are the same."),
            ])
            .args(&[
                key("key").key_spec(0),
                key("newkey").key_spec(1),
            ]))
    .key_specs(&[
        key_spec(&["RW", "access", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
        key_spec(&["OW", "insert"], Begin::Index(2), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("scan", -2, &["readonly"], (0, 0, 0), &["@keyspace", "@read", "@slow"],
        docs("Iterates over the key names in the database.", "2.8.0", "generic").complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")
            .history(&[
                ("6.0.0", "Added the `TYPE` subcommand."),
            ])
            .args(&[
                integer("cursor"),
                pattern("pattern").token("MATCH").optional(),
                integer("count").token("COUNT").optional(),
                string("type").token("TYPE").since("6.0.0").optional(),
            ]))
    .tips(&["nondeterministic_output", "request_policy:special", "response_policy:special"]),
    cmd("keys", 2, &["readonly"], (0, 0, 0), &["@keyspace", "@read", "@slow", "@dangerous"],
        docs("Returns all key names that match a pattern.", "1.0.0", "generic").complexity("O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.")
            .args(&[
                pattern("pattern"),
            ]))
    .tips(&["request_policy:all_shards", "nondeterministic_output_order"]),
    cmd("dbsize", 1, &["readonly", "fast"], (0, 0, 0), &["@keyspace", "@read", "@fast"],
        docs("Returns the number of keys in the database.", "1.0.0", "server").complexity("O(1)"))
    .tips(&["request_policy:all_shards", "response_policy:agg_sum"]),
    cmd("flushall", -1, &["write"], (0, 0, 0), &["@keyspace", "@write", "@slow", "@dangerous"],
        docs("Removes all keys from all databases.", "1.0.0", "server").complexity("O(N) where N is the total number of keys in all databases")
            .history(&[
                ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
                ("6.2.0", "Added the `SYNC` flushing mode modifier."),
            ])
            .args(&[
                oneof("flush-type", &[
                    pure_token("async", "ASYNC").since("4.0.0"),
                    pure_token("sync", "SYNC").since("6.2.0"),
                ]).optional(),
            ]))
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd("flushdb", -1, &["write"], (0, 0, 0), &["@keyspace", "@write", "@slow", "@dangerous"],
        docs("Remove all keys from the current database.", "1.0.0", "server").complexity("O(N) where N is the number of keys in the selected database")
            .history(&[
                ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
                ("6.2.0", "Added the `SYNC` flushing mode modifier."),
            ])
            .args(&[
                oneof("flush-type", &[
                    pure_token("async", "ASYNC").since("4.0.0"),
                    pure_token("sync", "SYNC").since("6.2.0"),
                ]).optional(),
            ]))
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd("dump", 2, &["readonly"], (1, 1, 1), &["@keyspace", "@read", "@slow"],
        docs("Returns a serialized representation of the value stored at a key.", "2.6.0", "generic").complexity("O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).")
            .args(&[
                key("key").key_spec(0),
            ]))
    .tips(&["nondeterministic_output"])
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("restore", -4, &["write", "denyoom"], (1, 1, 1), &["@keyspace", "@write", "@slow", "@dangerous"],
        docs("Creates a key from the serialized representation of a value.", "2.6.0", "generic").complexity("O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
            .history(&[
                ("3.0.0", "Added the `REPLACE` modifier."),
                ("5.0.0", "Added the `ABSTTL` modifier."),
                ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
            ])
            .args(&[
                key("key").key_spec(0),
                integer("ttl"),
                string("serialized-value"),
                pure_token("replace", "REPLACE").since("3.0.0").optional(),
                pure_token("absttl", "ABSTTL").since("5.0.0").optional(),
                integer("seconds").token("IDLETIME").since("5.0.0").optional(),
                integer("frequency").token("FREQ").since("5.0.0").optional(),
            ]))
    .key_specs(&[
        key_spec(&["OW", "update"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("set", -3, &["write", "denyoom"], (1, 1, 1), &["@write", "@string", "@slow"],
        docs("Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "string").complexity("O(1)")
            .history(&[
                ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
                ("6.0.0", "Added the `KEEPTTL` option."),
                ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
                ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("value"),
                oneof("condition", &[
                    pure_token("nx", "NX"),
                    pure_token("xx", "XX"),
                ]).since("2.6.12").optional(),
                pure_token("get", "GET").since("6.2.0").optional(),
                oneof("expiration", &[
                    integer("seconds").token("EX").since("2.6.12"),
                    integer("milliseconds").token("PX").since("2.6.12"),
                    unix_time("unix-time-seconds").token("EXAT").since("6.2.0"),
                    unix_time("unix-time-milliseconds").token("PXAT").since("6.2.0"),
                    pure_token("keepttl", "KEEPTTL").since("6.0.0"),
                ]).optional(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "access", "update", "variable_flags"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }).notes("RW and ACCESS due to the optional `GET` argument"),
    ]),
    cmd("get", 2, &["readonly", "fast"], (1, 1, 1), &["@read", "@string", "@fast"],
        docs("Returns the string value of a key.", "1.0.0", "string").complexity("O(1)")
            .args(&[
                key("key").key_spec(0),
            ]))
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("lpush", -3, &["write", "denyoom", "fast"], (1, 1, 1), &["@write", "@list", "@fast"],
        docs("Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "list").complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
            .history(&[
                ("2.4.0", "Accepts multiple `element` arguments."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("element").multiple(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "insert"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("rpush", -3, &["write", "denyoom", "fast"], (1, 1, 1), &["@write", "@list", "@fast"],
        docs("Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "list").complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
            .history(&[
                ("2.4.0", "Accepts multiple `element` arguments."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("element").multiple(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "insert"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("lpop", -2, &["write", "fast"], (1, 1, 1), &["@write", "@list", "@fast"],
        docs("Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", "list").complexity("O(N) where N is the number of elements returned")
            .history(&[
                ("6.2.0", "Added the `count` argument."),
            ])
            .args(&[
                key("key").key_spec(0),
                integer("count").since("6.2.0").optional(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "access", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("rpop", -2, &["write", "fast"], (1, 1, 1), &["@write", "@list", "@fast"],
        docs("Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "1.0.0", "list").complexity("O(N) where N is the number of elements returned")
            .history(&[
                ("6.2.0", "Added the `count` argument."),
            ])
            .args(&[
                key("key").key_spec(0),
                integer("count").since("6.2.0").optional(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "access", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("lrange", 4, &["readonly"], (1, 1, 1), &["@read", "@list", "@slow"],
        docs("Returns a range of elements from a list.", "1.0.0", "list").complexity("O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.")
            .args(&[
                key("key").key_spec(0),
                integer("start"),
                integer("stop"),
            ]))
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("llen", 2, &["readonly", "fast"], (1, 1, 1), &["@read", "@list", "@fast"],
        docs("Returns the length of a list.", "1.0.0", "list").complexity("O(1)")
            .args(&[
                key("key").key_spec(0),
            ]))
    .key_specs(&[
        key_spec(&["RO"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("blpop", -3, &["write", "blocking"], (1, -2, 1), &["@write", "@list", "@slow", "@blocking"],
        docs("Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "list").complexity("O(N) where N is the number of provided keys.")
            .history(&[
                ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
            ])
            .args(&[
                key("key").key_spec(0).multiple(),
                double("timeout"),
            ]))
    .key_specs(&[
        key_spec(&["RW", "access", "delete"], Begin::Index(1), Find::Range { lastkey: -2, keystep: 1, limit: 0 }),
    ]),
    cmd("brpop", -3, &["write", "blocking"], (1, -2, 1), &["@write", "@list", "@slow", "@blocking"],
        docs("Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "list").complexity("O(N) where N is the number of provided keys.")
            .history(&[
                ("6.0.0", "`timeout` is interpreted as a double instead of an integer."),
            ])
            .args(&[
                key("key").key_spec(0).multiple(),
                double("timeout"),
            ]))
    .key_specs(&[
        key_spec(&["RW", "access", "delete"], Begin::Index(1), Find::Range { lastkey: -2, keystep: 1, limit: 0 }),
    ]),
    cmd("sadd", -3, &["write", "denyoom", "fast"], (1, 1, 1), &["@write", "@set", "@fast"],
        docs("Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0", "set").complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
            .history(&[
                ("2.4.0", "Accepts multiple `member` arguments."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("member").multiple(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "insert"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("srem", -3, &["write", "fast"], (1, 1, 1), &["@write", "@set", "@fast"],
        docs("Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0", "set").complexity("O(N) where N is the number of members to be removed.")
            .history(&[
                ("2.4.0", "Accepts multiple `member` arguments."),
            ])
            .args(&[
                key("key").key_spec(0),
                string("member").multiple(),
            ]))
    .key_specs(&[
        key_spec(&["RW", "delete"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("smembers", 2, &["readonly"], (1, 1, 1), &["@read", "@set", "@slow"],
        docs("Returns all members of a set.", "1.0.0", "set").complexity("O(N) where N is the set cardinality.")
            .args(&[
                key("key").key_spec(0),
            ]))
    .tips(&["nondeterministic_output_order"])
    .key_specs(&[
        key_spec(&["RO", "access"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("scard", 2, &["readonly", "fast"], (1, 1, 1), &["@read", "@set", "@fast"],
        docs("Returns the number of members in a set.", "1.0.0", "set").complexity("O(1)")
            .args(&[
                key("key").key_spec(0),
            ]))
    .key_specs(&[
        key_spec(&["RO"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("sismember", 3, &["readonly", "fast"], (1, 1, 1), &["@read", "@set", "@fast"],
        docs("Determines whether a member belongs to a set.", "1.0.0", "set").complexity("O(1)")
            .args(&[
                key("key").key_spec(0),
                string("member"),
            ]))
    .key_specs(&[
        key_spec(&["RO"], Begin::Index(1), Find::Range { lastkey: 0, keystep: 1, limit: 0 }),
    ]),
    cmd("hello", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), &["@fast", "@connection"],
        docs("Handshakes with the Redis server.", "6.0.0", "connection").complexity("O(1)")
            .history(&[
                ("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),
            ])
            .args(&[
                block("arguments", &[
                    integer("protover"),
                    block("auth", &[
                        string("username"),
                        string("password"),
                    ]).token("AUTH").optional(),
                    string("clientname").token("SETNAME").optional(),
                ]).optional(),
            ])),
    cmd("auth", -2, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), &["@fast", "@connection"],
        docs("Authenticates the connection.", "1.0.0", "connection").complexity("O(N) where N is the number of passwords defined for the user")
            .history(&[
                ("6.0.0", "Added ACL style (username and password)."),
            ])
            .args(&[
                string("username").since("6.0.0").optional(),
                string("password"),
            ])),
    cmd("ping", -1, &["fast"], (0, 0, 0), &["@fast", "@connection"],
        docs("Returns the server's liveliness response.", "1.0.0", "connection").complexity("O(1)")
            .args(&[
                string("message").optional(),
            ]))
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd("echo", 2, &["loading", "stale", "fast"], (0, 0, 0), &["@fast", "@connection"],
        docs("Returns the given string.", "1.0.0", "connection").complexity("O(1)")
            .args(&[
                string("message"),
            ])),
    cmd("quit", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), &["@fast", "@connection"],
        docs("Closes the connection.", "1.0.0", "connection").complexity("O(1)").doc_flags(&["deprecated"]).deprecated_since("7.2.0").replaced_by("just closing the connection")),
    cmd("reset", 1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), &["@fast", "@connection"],
        docs("Resets the connection.", "6.2.0", "connection").complexity("O(1)")),
    cmd("readonly", 1, &["loading", "stale", "fast"], (0, 0, 0), &["@fast", "@connection"],
        docs("Enables read-only queries for a connection to a Redis Cluster replica node.", "3.0.0", "cluster").complexity("O(1)")),
    cmd("readwrite", 1, &["loading", "stale", "fast"], (0, 0, 0), &["@fast", "@connection"],
        docs("Enables read-write queries for a connection to a Reids Cluster replica node.", "3.0.0", "cluster").complexity("O(1)")),
    cmd("select", 2, &["loading", "stale", "fast"], (0, 0, 0), &["@fast", "@connection"],
        docs("Changes the selected database.", "1.0.0", "connection").complexity("O(1)")
            .args(&[
                integer("index"),
            ])),
    cmd("client", -2, &[], (0, 0, 0), &["@slow"],
        docs("A container for client connection commands.", "2.4.0", "connection").complexity("Depends on subcommand."))
    .subcommands(&[
        cmd("client|getname", 2, &["noscript", "loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns the name of the connection.", "2.6.9", "connection").complexity("O(1)")),
        cmd("client|help", 2, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns helpful text about the different subcommands.", "5.0.0", "connection").complexity("O(1)")),
        cmd("client|id", 2, &["noscript", "loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns the unique client ID of the connection.", "5.0.0", "connection").complexity("O(1)")),
        cmd("client|info", 2, &["noscript", "loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns information about the connection.", "6.2.0", "connection").complexity("O(1)"))
        .tips(&["nondeterministic_output"]),
        cmd("client|kill", -3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous", "@connection"],
            docs("Terminates open connections.", "2.4.0", "connection").complexity("O(N) where N is the number of client connections")
                .history(&[
                    ("2.8.12", "Added new filter format."),
                    ("2.8.12", "`ID` option."),
                    ("3.2.0", "Added `master` type in for `TYPE` option."),
                    ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
                    ("6.2.0", "`LADDR` option."),
                    ("7.4.0", "`MAXAGE` option."),
                ])
                .args(&[
                    oneof("filter", &[
                        string("old-format").display("ip:port").deprecated_since("2.8.12"),
                        oneof("new-format", &[
                            integer("client-id").token("ID").since("2.8.12").optional(),
                            oneof("client-type", &[
                                pure_token("normal", "NORMAL"),
                                pure_token("master", "MASTER").since("3.2.0"),
                                pure_token("slave", "SLAVE"),
                                pure_token("replica", "REPLICA").since("5.0.0"),
                                pure_token("pubsub", "PUBSUB"),
                            ]).token("TYPE").since("2.8.12").optional(),
                            string("username").token("USER").optional(),
                            string("addr").display("ip:port").token("ADDR").optional(),
                            string("laddr").display("ip:port").token("LADDR").since("6.2.0").optional(),
                            oneof("skipme", &[
                                pure_token("yes", "YES"),
                                pure_token("no", "NO"),
                            ]).token("SKIPME").optional(),
                            integer("maxage").token("MAXAGE").since("7.4.0").optional(),
                        ]).multiple(),
                    ]),
                ])),
        cmd("client|list", -2, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous", "@connection"],
            docs("Lists open connections.", "2.4.0", "connection").complexity("O(N) where N is the number of client connections")
                .history(&[
                    ("2.8.12", "Added unique client `id` field."),
                    ("5.0.0", "Added optional `TYPE` filter."),
                    ("6.0.0", "Added `user` field."),
                    ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
                    ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
                    ("7.0.3", "Added `ssub` field."),
                    ("7.2.0", "Added `lib-name` and `lib-ver` fields."),
                    ("7.4.0", "Added `watch` field."),
                    ("8.0.0", "Added `io-thread` field."),
                ])
                .args(&[
                    oneof("client-type", &[
                        pure_token("normal", "NORMAL"),
                        pure_token("master", "MASTER"),
                        pure_token("replica", "REPLICA"),
                        pure_token("pubsub", "PUBSUB"),
                    ]).token("TYPE").since("5.0.0").optional(),
                    integer("client-id").token("ID").since("6.2.0").optional().multiple(),
                ]))
        .tips(&["nondeterministic_output"]),
        cmd("client|no-evict", 3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous", "@connection"],
            docs("Sets the client eviction mode of the connection.", "7.0.0", "connection").complexity("O(1)")
                .args(&[
                    oneof("enabled", &[
                        pure_token("on", "ON"),
                        pure_token("off", "OFF"),
                    ]),
                ])),
        cmd("client|no-touch", 3, &["noscript", "loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0", "connection").complexity("O(1)")
                .args(&[
                    oneof("enabled", &[
                        pure_token("on", "ON"),
                        pure_token("off", "OFF"),
                    ]),
                ])),
        cmd("client|setinfo", 4, &["noscript", "loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Sets information specific to the client or connection.", "7.2.0", "connection").complexity("O(1)")
                .args(&[
                    oneof("attr", &[
                        string("libname").token("LIB-NAME"),
                        string("libver").token("LIB-VER"),
                    ]),
                ]))
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
        cmd("client|setname", 3, &["noscript", "loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Sets the connection name.", "2.6.9", "connection").complexity("O(1)")
                .args(&[
                    string("connection-name"),
                ]))
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
        cmd("client|unblock", -3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous", "@connection"],
            docs("Unblocks a client blocked by a blocking command from a different connection.", "5.0.0", "connection").complexity("O(log N) where N is the number of client connections")
                .args(&[
                    integer("client-id"),
                    oneof("unblock-type", &[
                        pure_token("timeout", "TIMEOUT"),
                        pure_token("error", "ERROR"),
                    ]).optional(),
                ])),
    ]),
    cmd("command", -1, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
        docs("Returns detailed information about all commands.", "2.8.13", "server").complexity("O(N) where N is the total number of Redis commands"))
    .tips(&["nondeterministic_output_order"])
    .subcommands(&[
        cmd("command|count", 2, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns a count of commands.", "2.8.13", "server").complexity("O(1)")),
        cmd("command|docs", -2, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns documentary information about one, multiple or all commands.", "7.0.0", "server").complexity("O(N) where N is the number of commands to look up")
                .args(&[
                    string("command-name").optional().multiple(),
                ]))
        .tips(&["nondeterministic_output_order"]),
        cmd("command|getkeys", -3, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Extracts the key names from an arbitrary command.", "2.8.13", "server").complexity("O(N) where N is the number of arguments to the command")
                .args(&[
                    string("command"),
                    string("arg").optional().multiple(),
                ])),
        cmd("command|getkeysandflags", -3, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Extracts the key names and access flags for an arbitrary command.", "7.0.0", "server").complexity("O(N) where N is the number of arguments to the command")
                .args(&[
                    string("command"),
                    string("arg").optional().multiple(),
                ])),
        cmd("command|help", 2, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns helpful text about the different subcommands.", "5.0.0", "server").complexity("O(1)")),
        cmd("command|info", -2, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns information about one, multiple or all commands.", "2.8.13", "server").complexity("O(N) where N is the number of commands to look up")
                .history(&[
                    ("7.0.0", "Allowed to be called with no argument to get info on all commands."),
                ])
                .args(&[
                    string("command-name").optional().multiple(),
                ]))
        .tips(&["nondeterministic_output_order"]),
        cmd("command|list", -2, &["loading", "stale"], (0, 0, 0), &["@slow", "@connection"],
            docs("Returns a list of command names.", "7.0.0", "server").complexity("O(N) where N is the total number of Redis commands")
                .args(&[
                    oneof("filterby", &[
                        string("module-name").token("MODULE"),
                        string("category").token("ACLCAT"),
                        pattern("pattern").token("PATTERN"),
                    ]).token("FILTERBY").optional(),
                ]))
        .tips(&["nondeterministic_output_order"]),
    ]),
    cmd("info", -1, &["loading", "stale"], (0, 0, 0), &["@slow", "@dangerous"],
        docs("Returns information and statistics about the server.", "1.0.0", "server").complexity("O(1)")
            .history(&[
                ("7.0.0", "Added support for taking multiple section arguments."),
            ])
            .args(&[
                string("section").optional().multiple(),
            ]))
    .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    cmd("config", -2, &[], (0, 0, 0), &["@slow"],
        docs("A container for server configuration commands.", "2.0.0", "server").complexity("Depends on subcommand."))
    .subcommands(&[
        cmd("config|get", -3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous"],
            docs("Returns the effective values of configuration parameters.", "2.0.0", "server").complexity("O(N) when N is the number of configuration parameters provided")
                .history(&[
                    ("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),
                ])
                .args(&[
                    string("parameter").multiple(),
                ])),
        cmd("config|help", 2, &["loading", "stale"], (0, 0, 0), &["@slow"],
            docs("Returns helpful text about the different subcommands.", "5.0.0", "server").complexity("O(1)")),
        cmd("config|resetstat", 2, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous"],
            docs("Resets the server's statistics.", "2.0.0", "server").complexity("O(1)"))
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
        cmd("config|set", -4, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous"],
            docs("Sets configuration parameters in-flight.", "2.0.0", "server").complexity("O(N) when N is the number of configuration parameters provided")
                .history(&[
                    ("7.0.0", "Added the ability to set multiple parameters in one call."),
                ])
                .args(&[
                    block("data", &[
                        string("parameter"),
                        string("value"),
                    ]).multiple(),
                ]))
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    ]),
    cmd("debug", -2, &["admin", "noscript", "loading", "stale"], (0, 0, 0), &["@admin", "@slow", "@dangerous"],
        docs("A container for debugging commands.", "1.0.0", "server").complexity("Depends on subcommand.").doc_flags(&["syscmd"])),
    cmd("function", -2, &[], (0, 0, 0), &["@slow"],
        docs("A container for function commands.", "7.0.0", "scripting").complexity("Depends on subcommand."))
    .subcommands(&[
        cmd("function|flush", -2, &["write", "noscript"], (0, 0, 0), &["@write", "@slow", "@scripting"],
            docs("Deletes all libraries and functions.", "7.0.0", "scripting").complexity("O(N) where N is the number of functions deleted")
                .args(&[
                    oneof("flush-type", &[
                        pure_token("async", "ASYNC"),
                        pure_token("sync", "SYNC"),
                    ]).optional(),
                ]))
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    ]),
    cmd("script", -2, &[], (0, 0, 0), &["@slow"],
        docs("A container for Lua scripts management commands.", "2.6.0", "scripting").complexity("Depends on subcommand."))
    .subcommands(&[
        cmd("script|flush", -2, &["noscript"], (0, 0, 0), &["@slow", "@scripting"],
            docs("Removes all server-side Lua scripts from the script cache.", "2.6.0", "scripting").complexity("O(N) with N being the number of scripts in cache")
                .history(&[
                    ("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),
                ])
                .args(&[
                    oneof("flush-type", &[
                        pure_token("async", "ASYNC"),
                        pure_token("sync", "SYNC"),
                    ]).since("6.2.0").optional(),
                ]))
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    ]),
    cmd("multi", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), &["@fast", "@transaction"],
        docs("Starts a transaction.", "1.2.0", "transactions").complexity("O(1)")),
    cmd("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0), &["@slow", "@transaction"],
        docs("Executes all commands in a transaction.", "1.2.0", "transactions").complexity("Depends on commands in the transaction")),
    cmd("discard", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), &["@fast", "@transaction"],
        docs("Discards a transaction.", "2.0.0", "transactions").complexity("O(N), when N is the number of queued commands")),
    cmd("watch", -2, &["noscript", "loading", "stale", "fast", "allow_busy"], (1, -1, 1), &["@fast", "@transaction"],
        docs("Monitors changes to keys to determine the execution of a transaction.", "2.2.0", "transactions").complexity("O(1) for every key.")
            .args(&[
                key("key").key_spec(0).multiple(),
            ]))
    .key_specs(&[
        key_spec(&["RO"], Begin::Index(1), Find::Range { lastkey: -1, keystep: 1, limit: 0 }),
    ]),
    cmd("unwatch", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), &["@fast", "@transaction"],
        docs("Forgets about watched keys of a transaction.", "2.2.0", "transactions").complexity("O(1)")),
];

/// The key arguments of a command (`args[0]` is its name), by its key specs, as the cluster
/// proxy routes them: `Some(empty)` for a keyless command, `None` for an unknown command or
/// arguments that do not hold the keys the specs promise (the command fails wherever it runs).
pub fn command_keys(args: &[Bytes]) -> Option<Vec<Bytes>> {
    if let Some(keys) = streams::watch::internal_keys(args) {
        return Some(keys);
    }
    let spec = lookup(args).ok()?;
    if !spec.has_keys() {
        return Some(Vec::new());
    }
    let keys = keys_of(spec, args)?;
    Some(
        keys.into_iter()
            .filter_map(|(p, _)| args.get(p).cloned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp::Protocol;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::from(a.to_string())).collect()
    }

    fn err_text(r: Reply) -> String {
        match r {
            Reply::Error(e) => String::from_utf8_lossy(&e).into_owned(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn lookup_err(a: &[Bytes]) -> String {
        match lookup(a) {
            Ok(spec) => panic!("expected an error, found {}", spec.name),
            Err(e) => err_text(e),
        }
    }

    fn resp2(r: &Reply) -> Vec<u8> {
        r.to_bytes(Protocol::Resp2)
    }

    fn resp3(r: &Reply) -> Vec<u8> {
        r.to_bytes(Protocol::Resp3)
    }

    #[test]
    fn lookup_finds_commands_and_subcommands_in_any_case() {
        assert_eq!(
            lookup(&args("XADD s * f v")).map(|s| s.name).ok(),
            Some("xadd")
        );
        assert_eq!(
            lookup(&args("xAdd s * f v")).map(|s| s.name).ok(),
            Some("xadd")
        );
        let create = lookup(&args("xgroup CREATE s g $")).map(|s| s.name).ok();
        assert_eq!(create, Some("xgroup|create"));
        let stream = lookup(&args("XINFO stream s")).map(|s| s.stat_name()).ok();
        assert_eq!(stream, Some("xinfo|stream"));
        assert_eq!(lookup(&args("ping")).map(|s| s.name).ok(), Some("ping"));
        assert_eq!(
            lookup(&args("client setinfo lib-name x"))
                .map(|s| s.name)
                .ok(),
            Some("client|setinfo")
        );
    }

    #[test]
    fn unknown_command_errors_as_redis() {
        assert_eq!(
            lookup_err(&args("FOO a b")),
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            lookup_err(&args("foo")),
            "ERR unknown command 'foo', with args beginning with: "
        );
        assert_eq!(
            lookup_err(&[]),
            "ERR unknown command '', with args beginning with: "
        );
        // At most 128 bytes of echoed arguments, each cut to what is left.
        let long = "x".repeat(150);
        assert_eq!(
            lookup_err(&args(&format!("foo {long} b"))),
            format!(
                "ERR unknown command 'foo', with args beginning with: '{}' ",
                "x".repeat(128)
            )
        );
        let a = "a".repeat(100);
        let b = "b".repeat(50);
        assert_eq!(
            lookup_err(&args(&format!("foo {a} {b} cc"))),
            format!(
                "ERR unknown command 'foo', with args beginning with: '{a}' '{}' ",
                &b[..25]
            )
        );
        // Command names are cut to 128 bytes, CR/LF become spaces, a NUL ends an argument.
        let name = "n".repeat(200);
        assert!(lookup_err(&args(&name))
            .starts_with(&format!("ERR unknown command '{}',", "n".repeat(128))));
        let odd = vec![Bytes::from_static(b"f\r\no"), Bytes::from_static(b"a\0b")];
        assert_eq!(
            lookup_err(&odd),
            "ERR unknown command 'f  o', with args beginning with: 'a' "
        );
    }

    #[test]
    fn subcommand_and_arity_errors_as_redis() {
        assert_eq!(
            lookup_err(&args("xgroup foo")),
            "ERR unknown subcommand 'foo'. Try XGROUP HELP."
        );
        assert_eq!(
            lookup_err(&args("XInfo Bar x")),
            "ERR unknown subcommand 'Bar'. Try XINFO HELP."
        );
        assert_eq!(
            lookup_err(&args("client nope")),
            "ERR unknown subcommand 'nope'. Try CLIENT HELP."
        );
        assert_eq!(
            lookup_err(&args("config rewrite")),
            "ERR unknown subcommand 'rewrite'. Try CONFIG HELP."
        );
        assert_eq!(
            lookup_err(&args("command nope")),
            "ERR unknown subcommand 'nope'. Try COMMAND HELP."
        );
        let long = "s".repeat(200);
        assert_eq!(
            lookup_err(&args(&format!("xgroup {long}"))),
            format!(
                "ERR unknown subcommand '{}'. Try XGROUP HELP.",
                "s".repeat(128)
            )
        );
        assert_eq!(
            lookup_err(&args("xgroup")),
            "ERR wrong number of arguments for 'xgroup' command"
        );
        assert_eq!(
            lookup_err(&args("XGROUP CREATE s g")),
            "ERR wrong number of arguments for 'xgroup|create' command"
        );
        assert_eq!(
            lookup_err(&args("xgroup help x")),
            "ERR wrong number of arguments for 'xgroup|help' command"
        );
        assert_eq!(
            lookup_err(&args("xinfo groups")),
            "ERR wrong number of arguments for 'xinfo|groups' command"
        );
        assert_eq!(
            lookup_err(&args("XADD s *")),
            "ERR wrong number of arguments for 'xadd' command"
        );
        assert_eq!(
            lookup_err(&args("xlen a b")),
            "ERR wrong number of arguments for 'xlen' command"
        );
        assert_eq!(
            lookup_err(&args("config get")),
            "ERR wrong number of arguments for 'config|get' command"
        );
        assert!(lookup(&args("xlen a")).is_ok());
        assert!(lookup(&args("xgroup help")).is_ok());
    }

    #[test]
    fn arity_values_match_the_reference() {
        let expect = [
            ("xadd", -5),
            ("xtrim", -4),
            ("xdel", -3),
            ("xlen", 2),
            ("xrange", -4),
            ("xrevrange", -4),
            ("xread", -4),
            ("xreadgroup", -7),
            ("xack", -4),
            ("xgroup|create", -5),
            ("xgroup|setid", -5),
            ("xgroup|destroy", 4),
            ("xgroup|createconsumer", 5),
            ("xgroup|delconsumer", 5),
            ("xpending", -3),
            ("xclaim", -6),
            ("xautoclaim", -6),
            ("xinfo|stream", -3),
            ("xinfo|groups", 3),
            ("xinfo|consumers", 4),
            ("xsetid", -3),
        ];
        for (name, arity) in expect {
            let spec = find_by_full_name(name.as_bytes()).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(spec.arity, arity, "{name}");
        }
    }

    #[test]
    fn flags_drive_the_executor_rules() {
        let spec = |n: &str| find_by_full_name(n.as_bytes()).unwrap_or_else(|| panic!("{n}"));
        for n in ["hello", "auth", "quit", "reset"] {
            assert!(spec(n).allowed_before_auth(), "{n}");
        }
        for n in ["xadd", "ping", "info", "client|setname", "command|docs"] {
            assert!(!spec(n).allowed_before_auth(), "{n}");
        }
        for n in [
            "xadd",
            "xreadgroup",
            "del",
            "set",
            "xgroup|create",
            "flushall",
            "restore",
        ] {
            assert!(spec(n).is_write(), "{n}");
        }
        for n in ["xlen", "xrange", "xread", "get", "info", "xinfo|stream"] {
            assert!(!spec(n).is_write(), "{n}");
        }
        for n in ["xread", "xreadgroup", "blpop", "brpop"] {
            assert!(spec(n).is_blocking(), "{n}");
        }
        assert!(COMMANDS.iter().all(|c| c.allowed_in_multi()));
        assert_eq!(spec("xgroup|create").stat_name(), "xgroup|create");
    }

    #[test]
    fn table_is_consistent() {
        let mut names: Vec<&str> = all_names().map(|c| c.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate command names");
        for c in all_names() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.arity != 0, "{}", c.name);
            for a in c.docs.arguments {
                check_arg(c, a);
            }
        }
        for c in COMMANDS {
            assert!(!c.name.contains('|'));
            for s in c.subcommands {
                assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
                assert!(s.subcommands.is_empty());
                assert!(s.arity.unsigned_abs() >= 2, "{}", s.name);
            }
        }
        // Every container we list answers HELP, except FUNCTION and SCRIPT (only FLUSH is served).
        for c in COMMANDS
            .iter()
            .filter(|c| c.is_container() && !matches!(c.name, "function" | "script"))
        {
            assert!(find_subcommand(c, b"help").is_some(), "{}", c.name);
        }
    }

    fn check_arg(c: &CommandSpec, a: &Arg) {
        if let Some(i) = a.key_spec_index {
            assert!((i as usize) < c.key_specs.len(), "{} {}", c.name, a.name);
        }
        let nested = matches!(a.kind, ArgType::OneOf | ArgType::Block);
        assert_eq!(nested, !a.arguments.is_empty(), "{} {}", c.name, a.name);
        if a.kind == ArgType::PureToken {
            assert!(a.token.is_some(), "{} {}", c.name, a.name);
        }
        for s in a.arguments {
            check_arg(c, s);
        }
    }

    #[test]
    fn command_count_and_list() {
        assert_eq!(
            command_command(&args("COMMAND COUNT")),
            Reply::Integer(COMMANDS.len() as i64)
        );
        let Reply::Array(list) = command_command(&args("command list")) else {
            panic!("not an array");
        };
        assert_eq!(list.len(), all_names().count());
        assert!(list.contains(&Reply::bulk("xgroup|createconsumer")));
        assert!(list.contains(&Reply::bulk("xautoclaim")));
        let Reply::Array(all) = command_command(&args("command")) else {
            panic!("not an array");
        };
        assert_eq!(all.len(), COMMANDS.len());
        let Reply::Array(x) = command_command(&args("command list filterby pattern xinfo*")) else {
            panic!("not an array");
        };
        assert_eq!(x.len(), 5);
        let Reply::Array(stream) = command_command(&args("command list FILTERBY ACLCAT Stream"))
        else {
            panic!("not an array");
        };
        assert!(stream.contains(&Reply::bulk("xadd")) && !stream.contains(&Reply::bulk("get")));
        assert_eq!(
            command_command(&args("command list filterby module m")),
            Reply::Array(vec![])
        );
        assert_eq!(
            err_text(command_command(&args("command list filterby x y"))),
            "ERR syntax error"
        );
        assert_eq!(
            err_text(command_command(&args("command list foo"))),
            "ERR syntax error"
        );
    }

    // Expected bytes below were captured from Redis 8.0.2.

    #[test]
    fn command_info_xlen_bytes() {
        let r = command_command(&args("COMMAND INFO xlen"));
        let body2 = "*10\r\n$4\r\nxlen\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@stream\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*1\r\n+RO\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
        assert_eq!(
            String::from_utf8_lossy(&resp2(&r)),
            format!("*1\r\n{body2}")
        );
        let body3 = "*10\r\n$4\r\nxlen\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@stream\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~1\r\n+RO\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";
        assert_eq!(
            String::from_utf8_lossy(&resp3(&r)),
            format!("*1\r\n{body3}")
        );
        // Unknown names give a null in their place.
        let r = command_command(&args("COMMAND INFO nosuch xlen xadd|x"));
        assert_eq!(
            String::from_utf8_lossy(&resp2(&r)),
            format!("*3\r\n$-1\r\n{body2}$-1\r\n")
        );
        assert!(resp3(&r).starts_with(b"*3\r\n_\r\n*10\r\n"));
    }

    #[test]
    fn command_info_keyword_spec_and_subcommand_bytes() {
        let r = command_command(&args("COMMAND INFO xread"));
        let want = "*1\r\n*10\r\n$5\r\nxread\r\n:-4\r\n~3\r\n+readonly\r\n+blocking\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n~4\r\n+@read\r\n+@stream\r\n+@slow\r\n+@blocking\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$7\r\nkeyword\r\n$4\r\nspec\r\n%2\r\n$7\r\nkeyword\r\n$7\r\nSTREAMS\r\n$9\r\nstartfrom\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:2\r\n~0\r\n";
        assert_eq!(String::from_utf8_lossy(&resp3(&r)), want);
        let r = command_command(&args("COMMAND INFO XGROUP|CREATE"));
        let want = "*1\r\n*10\r\n$13\r\nxgroup|create\r\n:-5\r\n*2\r\n+write\r\n+denyoom\r\n:2\r\n:2\r\n:1\r\n*3\r\n+@write\r\n+@stream\r\n+@slow\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RW\r\n+insert\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
        assert_eq!(String::from_utf8_lossy(&resp2(&r)), want);
        let r = command_command(&args("COMMAND INFO hello"));
        let want = "*1\r\n*10\r\n$5\r\nhello\r\n:-1\r\n~6\r\n+noscript\r\n+loading\r\n+stale\r\n+fast\r\n+no_auth\r\n+allow_busy\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n";
        assert_eq!(String::from_utf8_lossy(&resp3(&r)), want);
        // A container lists its subcommands' entries.
        let Reply::Array(v) = command_command(&args("COMMAND INFO xinfo")) else {
            panic!("not an array");
        };
        let Some(Reply::Array(entry)) = v.first() else {
            panic!("no entry");
        };
        assert_eq!(
            entry
                .get(9)
                .map(|s| matches!(s, Reply::Array(a) if a.len() == 4)),
            Some(true)
        );
    }

    #[test]
    fn command_docs_bytes() {
        let r = command_command(&args("COMMAND DOCS xlen"));
        let want3 = "%1\r\n$4\r\nxlen\r\n%5\r\n$7\r\nsummary\r\n$42\r\nReturn the number of messages in a stream.\r\n$5\r\nsince\r\n$5\r\n5.0.0\r\n$5\r\ngroup\r\n$6\r\nstream\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n%4\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n";
        assert_eq!(String::from_utf8_lossy(&resp3(&r)), want3);
        let r = command_command(&args("COMMAND DOCS xack nosuch"));
        let want2 = "*2\r\n$4\r\nxack\r\n*10\r\n$7\r\nsummary\r\n$108\r\nReturns the number of messages that were successfully acknowledged by the consumer group member of a stream.\r\n$5\r\nsince\r\n$5\r\n5.0.0\r\n$5\r\ngroup\r\n$6\r\nstream\r\n$10\r\ncomplexity\r\n$35\r\nO(1) for each message ID processed.\r\n$9\r\narguments\r\n*3\r\n*8\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n*6\r\n$4\r\nname\r\n$5\r\ngroup\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$5\r\ngroup\r\n*8\r\n$4\r\nname\r\n$2\r\nid\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$2\r\nid\r\n$5\r\nflags\r\n*1\r\n+multiple\r\n";
        assert_eq!(String::from_utf8_lossy(&resp2(&r)), want2);
        let Reply::Map(all) = command_command(&args("COMMAND DOCS")) else {
            panic!("not a map");
        };
        assert_eq!(all.len(), COMMANDS.len());
    }

    #[test]
    fn docs_of_nested_arguments_and_subcommands() {
        let Reply::Map(m) = command_command(&args("command docs xgroup")) else {
            panic!("not a map");
        };
        let Some((_, Reply::Map(doc))) = m.first() else {
            panic!("no docs");
        };
        let subs = doc.iter().find(|(k, _)| *k == Reply::bulk("subcommands"));
        let Some((_, Reply::Map(subs))) = subs else {
            panic!("no subcommands");
        };
        assert_eq!(subs.len(), 6);
        assert!(subs.iter().any(|(k, _)| *k == Reply::bulk("xgroup|setid")));
        // A block argument has no display_text but nested arguments.
        let xadd = docs_reply(find(b"xadd").expect("xadd"));
        let bytes = resp3(&xadd);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("$4\r\nname\r\n$4\r\ntrim\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*4\r\n"));
        assert!(text.contains("$5\r\ntoken\r\n$10\r\nNOMKSTREAM\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n"));
        let quit = resp2(&docs_reply(find(b"quit").expect("quit")));
        let text = String::from_utf8_lossy(&quit);
        assert!(text.contains("$9\r\ndoc_flags\r\n*1\r\n+deprecated\r\n$16\r\ndeprecated_since\r\n$5\r\n7.2.0\r\n$11\r\nreplaced_by\r\n"));
    }

    #[test]
    fn getkeys() {
        let keys = |s: &str| resp2(&command_command(&args(s)));
        assert_eq!(keys("COMMAND GETKEYS xadd s * a b"), b"*1\r\n$1\r\ns\r\n");
        assert_eq!(
            keys("command getkeys xread count 2 streams a b 0 0"),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            keys("command getkeys xreadgroup group g c streams s >"),
            b"*1\r\n$1\r\ns\r\n"
        );
        assert_eq!(
            keys("command getkeys rename a b"),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            keys("command getkeys blpop a b 0"),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            keys("command getkeys del a b c"),
            b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        assert_eq!(
            keys("command getkeys xgroup create s g $"),
            b"*1\r\n$1\r\ns\r\n"
        );
        assert_eq!(
            resp3(&command_command(&args("command getkeysandflags xread count 2 streams a b 0 0"))),
            b"*2\r\n*2\r\n$1\r\na\r\n~2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n~2\r\n+RO\r\n+access\r\n"
        );
        assert_eq!(
            keys("command getkeysandflags set k v get"),
            b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"
        );
        assert_eq!(
            keys("command getkeysandflags set k v"),
            b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"
        );
        let e = |s: &str| err_text(command_command(&args(s)));
        assert_eq!(e("command getkeys nosuch"), "ERR Invalid command specified");
        assert_eq!(
            e("command getkeys xgroup foo s"),
            "ERR Invalid command specified"
        );
        assert_eq!(
            e("command getkeys ping"),
            "ERR The command has no key arguments"
        );
        assert_eq!(
            e("command getkeys xgroup"),
            "ERR The command has no key arguments"
        );
        assert_eq!(
            e("command getkeys get a b"),
            "ERR Invalid number of arguments specified for command"
        );
        assert_eq!(
            e("command getkeys xread count 1 streams"),
            "ERR Invalid arguments specified for command"
        );
        assert_eq!(
            keys("command getkeys xread streams a b c"),
            b"*1\r\n$1\r\na\r\n"
        );
        assert_eq!(
            e("command getkeys xread count 1 a b"),
            "ERR Invalid arguments specified for command"
        );
    }

    #[test]
    fn command_help_and_errors() {
        let Reply::Array(lines) = command_command(&args("command help")) else {
            panic!("not an array");
        };
        assert_eq!(lines.len(), COMMAND_HELP.len() + 3);
        assert_eq!(
            lines.first(),
            Some(&Reply::simple(
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
            ))
        );
        assert_eq!(lines.last(), Some(&Reply::simple("    Print this help.")));
        assert_eq!(
            err_text(command_command(&args("command nope"))),
            "ERR unknown subcommand 'nope'. Try COMMAND HELP."
        );
        assert_eq!(
            err_text(command_command(&args("command count x"))),
            "ERR wrong number of arguments for 'command|count' command"
        );
    }
}
