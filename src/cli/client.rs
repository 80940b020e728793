//! A small blocking HTTP/1.1 client for the admin API: one request per connection (the API
//! closes after each answer), JSON in and out, bounded in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

use super::CliError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Above the API's own longest wait (`?wait=` is capped at 30 s).
const IO_TIMEOUT: Duration = Duration::from_secs(45);
/// Longest answer read (a `/metrics` of a large node is the biggest).
const MAX_RESPONSE: u64 = 256 << 20;

#[derive(Debug, Clone)]
pub struct Client {
    /// `host:port` as given, for the Host header and messages.
    authority: String,
    token: Option<String>,
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Client {
    /// `url` is `http://host:port` (a trailing `/` is fine; no other path).
    pub fn new(url: &str, token: Option<String>) -> Result<Client, CliError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            CliError::Usage(format!("--admin `{url}`: expected http://host:port"))
        })?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(CliError::Usage(format!(
                "--admin `{url}`: expected http://host:port"
            )));
        }
        Ok(Client {
            authority: authority.to_string(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    fn addrs(&self) -> Result<Vec<SocketAddr>, CliError> {
        let with_port = if self
            .authority
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()))
        {
            self.authority.clone()
        } else {
            format!("{}:80", self.authority)
        };
        with_port
            .to_socket_addrs()
            .map(Iterator::collect)
            .map_err(|e| CliError::Unreachable(format!("{}: {e}", self.authority)))
    }

    fn connect(&self) -> Result<TcpStream, CliError> {
        let mut last = None;
        for a in self.addrs()? {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        let why = last.map_or("no address".into(), |e| e.to_string());
        Err(CliError::Unreachable(format!(
            "cannot reach the admin API at http://{}: {why}",
            self.authority
        )))
    }

    /// One request; `path` includes any query. Transport failures are `Unreachable`.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, CliError> {
        let mut s = self.connect()?;
        let lost = |e: std::io::Error| {
            CliError::Unreachable(format!("admin API at http://{}: {e}", self.authority))
        };
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(lost)?;
        s.set_write_timeout(Some(IO_TIMEOUT)).map_err(lost)?;
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: vanectl/{}\r\nAccept: application/json\r\nConnection: close\r\n",
            self.authority,
            env!("CARGO_PKG_VERSION")
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if body.is_some() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
        s.write_all(head.as_bytes()).map_err(lost)?;
        s.write_all(payload.as_bytes()).map_err(lost)?;
        let mut raw = Vec::new();
        s.take(MAX_RESPONSE).read_to_end(&mut raw).map_err(lost)?;
        parse_answer(&raw).ok_or_else(|| {
            CliError::Unreachable(format!(
                "http://{} did not answer with HTTP (is it the admin API?)",
                self.authority
            ))
        })
    }

    /// `send`, then the body as JSON; a status of 400 and above is `CliError::Api` with the
    /// API's `error` message.
    pub fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let a = self.send(method, path, body)?;
        let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        if a.status >= 400 {
            let message = v["error"].as_str().map_or_else(
                || String::from_utf8_lossy(&a.body).into_owned(),
                str::to_string,
            );
            return Err(CliError::Api {
                status: a.status,
                message,
            });
        }
        Ok(v)
    }

    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.json("GET", path, None)
    }
}

/// Status line, headers, then a body framed by Content-Length (or the rest, the connection
/// being closed).
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/1.") {
        return None;
    }
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let rest = &raw[end + 4..];
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let body = match length {
        Some(n) => rest.get(..n)?.to_vec(),
        None => rest.to_vec(),
    };
    Some(Answer { status, body })
}

/// Percent-encodes a path segment or query value: everything but RFC 3986 unreserved bytes.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_answers_and_urls() {
        let a =
            parse_answer(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}extra").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (404, &b"{}"[..]));
        assert!(parse_answer(b"SSH-2.0\r\n\r\n").is_none());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort").is_none());
        assert!(Client::new("http://127.0.0.1:8182/", None).is_ok());
        assert!(matches!(
            Client::new("https://x:1", None),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            Client::new("http://x:1/v1", None),
            Err(CliError::Usage(_))
        ));
        assert_eq!(encode("*"), "%2A");
        assert_eq!(encode("/a b/é"), "%2Fa%20b%2F%C3%A9");
        assert_eq!(encode("example.com"), "example.com");
    }
}
