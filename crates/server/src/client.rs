//! Per-client state kept by the executor (the client registry behind CLIENT LIST/INFO/KILL
//! and INFO clients), and the pure helpers of the connection commands.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Instant;

use bytes::Bytes;
use resp::Protocol;
use tokio::sync::mpsc::UnboundedSender;

use crate::commands::CommandSpec;
use crate::executor::Response;

/// A transaction being queued (MULTI ... EXEC).
#[derive(Default)]
pub(crate) struct Multi {
    pub cmds: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A command was rejected while queueing: EXEC answers EXECABORT.
    pub aborted: bool,
    /// Cluster mode: the shard the queued commands' keys belong to.
    pub shard: Option<u32>,
}

/// One connected client, as the executor sees it.
pub(crate) struct Session {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub tx: UnboundedSender<Response>,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub created: Instant,
    pub last_interaction: Instant,
    /// `stat_name` of the last command (`cmd=` of CLIENT LIST); "NULL" before any.
    pub last_cmd: &'static str,
    pub proto: Protocol,
    pub authenticated: bool,
    pub multi: Option<Multi>,
    pub watched: Vec<Bytes>,
    /// Cluster mode: the shard leader's token for each of `watched` (same order), and the
    /// shard they are in (a transaction after WATCH stays in it).
    pub watch_tokens: Vec<Bytes>,
    pub watch_shard: Option<u32>,
    /// Cluster mode: READONLY was sent (reads may be served by followers, possibly stale).
    pub readonly: bool,
    /// A watched key was touched: EXEC answers a null array.
    pub dirty_cas: bool,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Encoded replies not yet handed back to the connection.
    pub out: Vec<u8>,
    /// Commands of the current batch not yet run (waiting behind a blocked command).
    pub pending: VecDeque<Vec<Bytes>>,
    /// A batch is in progress: its final response has not been sent.
    pub in_batch: bool,
    /// Already listed in the executor's outbox.
    pub queued_for_send: bool,
    /// QUIT / CLIENT KILL of itself / output limit: close once the output is handed over.
    pub close_after_reply: bool,
    /// Cluster mode: engine commands collected for the next remote job.
    pub remote_batch: Vec<(&'static crate::commands::CommandSpec, Vec<Bytes>)>,
    /// Cluster mode: a remote job is out; the client's other commands wait for it.
    pub awaiting: Option<crate::executor::Awaiting>,
}

impl Session {
    pub(crate) fn new(
        id: u64,
        addr: String,
        laddr: String,
        fd: i32,
        tx: UnboundedSender<Response>,
        authenticated: bool,
    ) -> Session {
        let now = Instant::now();
        Session {
            id,
            addr,
            laddr,
            fd,
            tx,
            name: None,
            lib_name: None,
            lib_ver: None,
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            proto: Protocol::Resp2,
            authenticated,
            multi: None,
            watched: Vec::new(),
            watch_tokens: Vec::new(),
            watch_shard: None,
            readonly: false,
            dirty_cas: false,
            no_evict: false,
            no_touch: false,
            out: Vec::new(),
            pending: VecDeque::new(),
            in_batch: false,
            queued_for_send: false,
            close_after_reply: false,
            remote_batch: Vec::new(),
            awaiting: None,
        }
    }

    /// One `CLIENT LIST` line (without the trailing newline), in Redis's field order.
    pub(crate) fn info_line(&self, now: Instant, blocked: bool) -> String {
        let mut flags = String::new();
        if self.multi.is_some() {
            flags.push('x');
        }
        if blocked {
            flags.push('b');
        }
        if self.dirty_cas {
            flags.push('d');
        }
        if self.close_after_reply {
            flags.push('c');
        }
        if self.no_evict {
            flags.push('e');
        }
        if self.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let multi_len: i64 = self.multi.as_ref().map_or(-1, |m| m.cmds.len() as i64);
        let multi_mem: usize = self.multi.as_ref().map_or(0, |m| {
            m.cmds
                .iter()
                .map(|(_, a)| a.iter().map(|x| x.len()).sum::<usize>())
                .sum()
        });
        let pending_mem: usize = self.pending.iter().flatten().map(|a| a.len()).sum();
        let omem = self.out.capacity();
        let tot_mem = omem + pending_mem + multi_mem + std::mem::size_of::<Session>();
        let mut s = String::with_capacity(320);
        let _ = write!(
            s,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 \
             multi={} watch={} qbuf=0 qbuf-free=0 argv-mem={} multi-mem={} rbs=0 rbp=0 obl={} oll=0 \
             omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            lossy(self.name.as_ref()),
            now.saturating_duration_since(self.created).as_secs(),
            now.saturating_duration_since(self.last_interaction).as_secs(),
            flags,
            multi_len,
            self.watched.len(),
            pending_mem,
            multi_mem,
            self.out.len(),
            omem,
            tot_mem,
            self.last_cmd,
            match self.proto {
                Protocol::Resp2 => 2,
                Protocol::Resp3 => 3,
            },
            lossy(self.lib_name.as_ref()),
            lossy(self.lib_ver.as_ref()),
        );
        s
    }
}

fn lossy(b: Option<&Bytes>) -> std::borrow::Cow<'_, str> {
    match b {
        Some(b) => String::from_utf8_lossy(b),
        None => std::borrow::Cow::Borrowed(""),
    }
}

/// Redis's `validateClientAttr`: printable ASCII without spaces (`!`..=`~`).
pub(crate) fn valid_client_attr(v: &[u8]) -> bool {
    v.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// Compares a password without an early exit on the first differing byte.
pub(crate) fn password_matches(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Parses a whole argument as an `i64` the way Redis's `string2ll` does (no spaces, no `+`,
/// no leading zeros except "0").
pub(crate) fn parse_i64(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with('+') || s.len() > 20 {
        return None;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty()
        || (digits.len() > 1 && digits.starts_with('0'))
        || digits == "0" && s != "0"
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"x",
            b"-",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn client_attrs_and_passwords() {
        assert!(valid_client_attr(b"redis-py"));
        assert!(valid_client_attr(b""));
        assert!(!valid_client_attr(b"a b"));
        assert!(!valid_client_attr(b"a\nb"));
        assert!(!valid_client_attr("é".as_bytes()));
        assert!(password_matches(b"secret", b"secret"));
        assert!(!password_matches(b"secreT", b"secret"));
        assert!(!password_matches(b"secret1", b"secret"));
    }

    #[test]
    fn info_line_shows_state() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut s = Session::new(
            7,
            "127.0.0.1:5000".into(),
            "127.0.0.1:6379".into(),
            9,
            tx,
            true,
        );
        s.name = Some(Bytes::from_static(b"worker"));
        s.multi = Some(Multi::default());
        let line = s.info_line(Instant::now(), true);
        assert!(line.starts_with("id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name=worker age=0 idle=0 flags=xb db=0 "), "{line}");
        assert!(line.contains(" multi=0 watch=0 "), "{line}");
        assert!(
            line.ends_with(" cmd=NULL user=default redir=-1 resp=2 lib-name= lib-ver="),
            "{line}"
        );
    }
}
