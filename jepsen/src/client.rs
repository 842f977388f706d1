//! A raw RESP2 client for the harness: one request at a time, a deadline per operation, no
//! retries. Outcomes map to the history's types: a reply is `ok` (or `fail` for an error reply
//! that means "not applied", `info` for `-TIMEOUT`, the proxy's "outcome unknown"); a request
//! that may have been sent but got no reply is `info`; a connection that could not be made is
//! `fail` (nothing was sent).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

/// What one call came to.
#[derive(Debug)]
pub enum Outcome {
    Reply(Resp),
    /// Nothing was sent (could not connect).
    NotSent(String),
    /// Sent, no reply (timeout, connection lost): unknown.
    Unknown(String),
}

pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
    conn: Option<(TcpStream, BufReader<TcpStream>)>,
}

impl Client {
    pub fn new(addr: SocketAddr, timeout: Duration) -> Client {
        Client {
            addr,
            timeout,
            conn: None,
        }
    }

    /// Drops the connection (after an unknown outcome the worker starts afresh).
    pub fn reset(&mut self) {
        self.conn = None;
    }

    pub fn call(&mut self, args: &[&[u8]]) -> Outcome {
        if self.conn.is_none() {
            match TcpStream::connect_timeout(&self.addr, self.timeout) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(self.timeout));
                    let _ = s.set_write_timeout(Some(self.timeout));
                    match s.try_clone() {
                        Ok(r) => self.conn = Some((s, BufReader::new(r))),
                        Err(e) => return Outcome::NotSent(e.to_string()),
                    }
                }
                Err(e) => return Outcome::NotSent(e.to_string()),
            }
        }
        let (w, r) = self.conn.as_mut().expect("connected above");
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        if let Err(e) = w.write_all(&req) {
            self.conn = None;
            return Outcome::Unknown(format!("write: {e}"));
        }
        match parse(r) {
            Ok(v) => Outcome::Reply(v),
            Err(e) => {
                self.conn = None;
                Outcome::Unknown(format!("read: {e}"))
            }
        }
    }
}

fn line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut s = String::new();
    if r.read_line(&mut s)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    Ok(s.trim_end_matches("\r\n").to_string())
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

pub fn parse(r: &mut impl BufRead) -> std::io::Result<Resp> {
    let l = line(r)?;
    let (t, rest) = l.split_at(1.min(l.len()));
    let n = || rest.parse::<i64>().map_err(|_| bad("bad length"));
    Ok(match t {
        "+" => Resp::Simple(rest.to_string()),
        "-" => Resp::Error(rest.to_string()),
        ":" => Resp::Int(n()?),
        "$" => match n()? {
            -1 => Resp::Bulk(None),
            len if len >= 0 => {
                let mut buf = vec![0; len as usize + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(len as usize);
                Resp::Bulk(Some(buf))
            }
            _ => return Err(bad("bad bulk length")),
        },
        "*" => match n()? {
            -1 => Resp::Array(None),
            len if len >= 0 => {
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(parse(r)?);
                }
                Resp::Array(Some(items))
            }
            _ => return Err(bad("bad array length")),
        },
        _ => return Err(bad("unexpected reply type")),
    })
}

impl Resp {
    pub fn text(&self) -> Option<String> {
        match self {
            Resp::Simple(s) => Some(s.clone()),
            Resp::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// An XRANGE / XREAD entry list as `(id, value of field "p")`.
    pub fn entries(&self) -> Option<Vec<(String, String)>> {
        let Resp::Array(Some(items)) = self else {
            return matches!(self, Resp::Array(None)).then(Vec::new);
        };
        items
            .iter()
            .map(|e| {
                let Resp::Array(Some(pair)) = e else {
                    return None;
                };
                let id = pair.first()?.text()?;
                let Resp::Array(Some(fields)) = pair.get(1)? else {
                    return None;
                };
                let payload = fields
                    .chunks(2)
                    .find(|kv| kv[0].text().as_deref() == Some("p"))
                    .and_then(|kv| kv.get(1)?.text())
                    .unwrap_or_default();
                Some((id, payload))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_replies_and_entries() {
        let wire = b"*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\np\r\n$2\r\nw1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\np\r\n$2\r\nw2\r\n";
        let v = parse(&mut &wire[..]).unwrap();
        assert_eq!(
            v.entries().unwrap(),
            vec![("1-0".into(), "w1".into()), ("2-0".into(), "w2".into())]
        );
        assert_eq!(
            parse(&mut &b"-TIMEOUT x\r\n"[..]).unwrap(),
            Resp::Error("TIMEOUT x".into())
        );
        assert_eq!(parse(&mut &b"*-1\r\n"[..]).unwrap().entries(), Some(vec![]));
        assert!(parse(&mut &b"$5\r\nab"[..]).is_err());
    }
}
