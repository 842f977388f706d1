//! Wire helpers shared by the single-node tests and, through the proxy, the cluster's run of
//! the same suites (`crates/proxy/tests/server_suite.rs`): a raw RESP client that asserts exact
//! bytes, a frame splitter, INFO polling.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for any single reply before failing.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Escapes CR/LF so that RESP is readable in assertion messages.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Splits a command line on spaces and encodes it.
pub fn encode_line(line: &str) -> Vec<u8> {
    let parts: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    encode(&parts)
}

/// The length of the first complete RESP2/RESP3 frame in `b`, if complete.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    fn line_end(b: &[u8], from: usize) -> Option<usize> {
        b.get(from..)?
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    }
    fn frame(b: &[u8], at: usize) -> Option<usize> {
        let kind = *b.get(at)?;
        let end = line_end(b, at + 1)?;
        let head = std::str::from_utf8(&b[at + 1..end]).ok()?;
        let after = end + 2;
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
            b'$' | b'=' | b'!' => {
                let n: i64 = head.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let stop = after + n as usize + 2;
                (b.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = head.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let items = if kind == b'%' || kind == b'|' {
                    2 * n
                } else {
                    n
                };
                let mut pos = after;
                for _ in 0..items {
                    pos = frame(b, pos)?;
                }
                Some(pos)
            }
            _ => None,
        }
    }
    frame(b, 0)
}

/// A raw TCP client.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: std::net::SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads one complete reply frame.
    pub async fn read_frame(&mut self) -> Vec<u8> {
        self.try_read_frame(REPLY_TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("no complete reply; have {:?}", show(&self.buf)))
    }

    /// One frame within `wait`, or `None` on timeout or EOF.
    pub async fn try_read_frame(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let mut chunk = [0u8; 16384];
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends a command line and returns its reply.
    pub async fn cmd(&mut self, line: &str) -> Vec<u8> {
        self.send(&encode_line(line)).await;
        self.read_frame().await
    }

    pub async fn cmd_args(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(args)).await;
        self.read_frame().await
    }

    /// Sends a command line and asserts the exact reply bytes.
    #[track_caller]
    pub fn expect<'a>(
        &'a mut self,
        line: &'a str,
        reply: &'a str,
    ) -> impl std::future::Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let got = self.cmd(line).await;
            assert_eq!(
                show(&got),
                show(reply.as_bytes()),
                "reply to `{line}` ({caller})"
            );
        }
    }

    /// True if the server closed the connection (EOF) within `wait`; bytes received before
    /// the EOF are kept (see [`Raw::leftover`]).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            let mut chunk = [0u8; 16384];
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return false,
            }
        }
    }

    /// Bytes received but not consumed as frames.
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }
}

/// Reads one `field:value` from an INFO reply body.
pub fn info_field(info: &[u8], field: &str) -> Option<String> {
    let text = String::from_utf8_lossy(info);
    text.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

/// Polls INFO on `raw` until `field` equals `want` (panics after the deadline).
pub async fn wait_info(raw: &mut Raw, field: &str, want: &str) {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        let info = raw.cmd("INFO").await;
        let got = info_field(&info, field);
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "INFO {field} is {got:?}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn log_phase(msg: &str) {
    eprintln!("--- {msg}");
}
