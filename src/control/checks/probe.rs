//! One active check: `GET <path>` on a fresh connection, judged by the status line alone.

use std::fmt;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A status line longer than this is not one a health endpoint sends.
const MAX_STATUS_LINE: usize = 1024;

/// Why a check failed. The text is generic (no addresses, no OS error strings): it is shown
/// in the admin API and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeError {
    ConnectRefused,
    ConnectFailed,
    Reset,
    Closed,
    BadStatusLine,
    Timeout,
    Status(u16),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::ConnectRefused => f.write_str("connect refused"),
            ProbeError::ConnectFailed => f.write_str("connect failed"),
            ProbeError::Reset => f.write_str("connection reset"),
            ProbeError::Closed => f.write_str("closed before a status line"),
            ProbeError::BadStatusLine => f.write_str("malformed status line"),
            ProbeError::Timeout => f.write_str("timeout"),
            ProbeError::Status(code) => write!(f, "status {code}"),
        }
    }
}

/// Checks `addr`: a 2xx or 3xx status line within `limit` (connect included) is a success.
pub async fn probe(addr: SocketAddr, path: &str, limit: Duration) -> Result<(), ProbeError> {
    match tokio::time::timeout(limit, exchange(addr, path)).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Timeout),
    }
}

async fn exchange(addr: SocketAddr, path: &str) -> Result<(), ProbeError> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| match e.kind() {
        ErrorKind::ConnectionRefused => ProbeError::ConnectRefused,
        _ => ProbeError::ConnectFailed,
    })?;
    let _ = s.set_nodelay(true);
    let req = request(addr, path);
    s.write_all(req.as_bytes()).await.map_err(io_error)?;
    let code = read_status(&mut s).await?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(ProbeError::Status(code))
    }
}

/// `Host` is the endpoint's own address: the check asks the endpoint about itself, whatever
/// virtual hosts route to it.
fn request(addr: SocketAddr, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: vane-health-check\r\n\r\n"
    )
}

fn io_error(e: std::io::Error) -> ProbeError {
    match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => ProbeError::Reset,
        _ => ProbeError::Closed,
    }
}

async fn read_status(s: &mut TcpStream) -> Result<u16, ProbeError> {
    let mut buf = [0u8; MAX_STATUS_LINE];
    let mut seen = 0;
    loop {
        let n = s.read(&mut buf[seen..]).await.map_err(io_error)?;
        if n == 0 {
            return Err(ProbeError::Closed);
        }
        seen += n;
        if let Some(end) = buf[..seen].iter().position(|&b| b == b'\n') {
            return status_code(&buf[..end]).ok_or(ProbeError::BadStatusLine);
        }
        if seen == buf.len() {
            return Err(ProbeError::BadStatusLine);
        }
    }
}

/// The code of an HTTP/1.x status line (without its LF): `HTTP/1.1 200 OK`.
fn status_code(line: &[u8]) -> Option<u16> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (minor, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ")?;
    if !minor.is_ascii_digit() || rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if rest.len() > 3 && rest[3] != b' ' {
        return None;
    }
    let code = rest[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..600).contains(&code).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 302 Found"), Some(302));
        assert_eq!(status_code(b"HTTP/1.1 503\r"), Some(503));
        assert_eq!(status_code(b"HTTP/1.1 204 "), Some(204));
        for bad in [
            &b"HTTP/2 200 OK"[..],
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1  200 OK",
            b"http/1.1 200 OK",
            b"HTTP/1.1 099 x",
            b"SSH-2.0-OpenSSH",
            b"",
        ] {
            assert_eq!(status_code(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn asks_the_endpoint_about_itself() {
        let addr: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(
            request(addr, "/healthz"),
            "GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\nUser-Agent: vane-health-check\r\n\r\n"
        );
    }

    /// A one-connection endpoint that answers `response` and hands back what it received.
    async fn endpoint(response: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let served = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while !req.ends_with(b"\r\n\r\n") {
                match s.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => req.extend_from_slice(&buf[..n]),
                }
            }
            s.write_all(response).await.unwrap();
            String::from_utf8(req).unwrap()
        });
        (addr, served)
    }

    #[tokio::test]
    async fn judges_real_endpoints() {
        let limit = Duration::from_secs(5);
        let (ok, req) = endpoint(b"HTTP/1.1 302 Found\r\nLocation: /\r\n\r\n").await;
        assert_eq!(probe(ok, "/healthz", limit).await, Ok(()));
        assert_eq!(req.await.unwrap(), request(ok, "/healthz"));

        let (bad, _) = endpoint(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        assert_eq!(probe(bad, "/", limit).await, Err(ProbeError::Status(503)));

        let (junk, _) = endpoint(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        assert_eq!(
            probe(junk, "/", limit).await,
            Err(ProbeError::BadStatusLine)
        );

        let (mute, _) = endpoint(b"").await;
        assert_eq!(probe(mute, "/", limit).await, Err(ProbeError::Closed));
    }

    #[tokio::test]
    async fn refused_and_silent_endpoints_fail() {
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        let limit = Duration::from_secs(5);
        assert_eq!(
            probe(addr, "/", limit).await,
            Err(ProbeError::ConnectRefused)
        );

        // Connects (the kernel's backlog accepts) but never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let started = std::time::Instant::now();
        let r = probe(addr, "/", Duration::from_millis(100)).await;
        assert_eq!(r, Err(ProbeError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn texts_name_no_address() {
        assert_eq!(ProbeError::Status(503).to_string(), "status 503");
        assert_eq!(ProbeError::ConnectRefused.to_string(), "connect refused");
    }
}
