//! The load balancer's health check: a listener that answers every request with 200 while the
//! node serves and 503 once it drains (or before it is ready), and exposes nothing else.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::NodeStatus;

pub fn serve_health(addr: SocketAddr, status: Arc<NodeStatus>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("vane-health".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, &status);
            }
        })?;
    Ok(local)
}

fn answer(mut s: TcpStream, status: &NodeStatus) {
    // A slow checker must not hold up the next one for long.
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 1024];
    let mut seen = 0;
    while seen < buf.len() {
        match s.read(&mut buf[seen..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen += n,
        }
        if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n")
            || buf[..seen].windows(2).any(|w| w == b"\n\n")
        {
            break;
        }
    }
    let head_only = buf.starts_with(b"HEAD ");
    let (code, body) = if status.healthy() {
        ("200 OK", "ok\n")
    } else if status.draining() {
        ("503 Service Unavailable", "draining\n")
    } else {
        ("503 Service Unavailable", "not ready\n")
    };
    let mut resp = format!("HTTP/1.1 {code}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n", body.len());
    if !head_only {
        resp.push_str(body);
    }
    let _ = s.write_all(resp.as_bytes());
}
