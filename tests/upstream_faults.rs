//! Upstream faults as the client sees them: refused → 502, reset/close before a complete head →
//! 502, hang → 504, malformed head → 502 (connection dropped), truncated body → a truncated or
//! closed response (never a complete 200), and the one retry for stale pooled connections.

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::client::{connect, read_response};
use common::upstream::read_request;
use common::*;

/// Makes the next close of `s` (or of its last clone) send a RST instead of a FIN.
fn linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd and a correctly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

/// Sends `req` on a new connection and reads until Vane closes it. Panics if Vane neither
/// finishes nor closes within 15 s (a hang is never an acceptable answer to a fault).
fn send_until_close(addr: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(req).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return buf,
            Err(e) => panic!(
                "vane neither answered nor closed: {e}; got {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
}

/// Parses the bytes of one response; `None` if they do not hold a complete one.
fn parse(bytes: &[u8]) -> Option<Response> {
    read_response(&mut BufReader::new(bytes), false)
}

fn get_close(addr: SocketAddr, path: &str) -> Option<Response> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    parse(&send_until_close(addr, req.as_bytes()))
}

fn status_of(addr: SocketAddr, path: &str) -> u16 {
    get_close(addr, path)
        .unwrap_or_else(|| panic!("no complete response for {path}"))
        .status
}

#[test]
fn refused_upstream_is_a_generic_502() {
    let port = free_port();
    let vane = Vane::start(&catch_all(loopback(port)));
    let req = b"GET /x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";
    let bytes = send_until_close(vane.addr, req);
    let text = String::from_utf8_lossy(&bytes);
    let r = parse(&bytes).unwrap_or_else(|| panic!("no response: {text:?}"));
    assert_eq!(r.status, 502, "{text}");
    let lower = text.to_lowercase();
    for leak in ["127.0.0.1", &port.to_string(), "os error", "refused"] {
        assert!(!lower.contains(leak), "502 leaks {leak:?}: {text:?}");
    }
    // No error text in the body: no Rust error or error-kind names either.
    let body = r.text().to_lowercase();
    for leak in ["connect", "error", "kind", "upstream"] {
        assert!(!body.contains(leak), "502 body leaks {leak:?}: {body:?}");
    }
}

/// `/short-*`: Content-Length 1000 (the small-body path), `/long-*`: Content-Length 200000
/// (the streaming path); `*-close` ends with a FIN, `*-reset` with a RST. Only 10 body bytes are
/// sent either way. Anything else: 200 "good".
fn truncating_upstream() -> Upstream {
    Upstream::start(|seen, s| {
        let line = seen.request_line().to_string();
        let len = if line.contains("/short-") {
            1000
        } else if line.contains("/long-") {
            200_000
        } else {
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood");
            return true;
        };
        let first = if len > 10_000 { 10_000 } else { 10 };
        let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
        out.resize(out.len() + first, b'x');
        // One write, no Nagle delay: a RST discards whatever is still unsent.
        let _ = s.set_nodelay(true);
        let _ = s.write_all(&out);
        if line.contains("-reset") {
            // Give the bytes time to leave before the RST overtakes them in our own buffer.
            std::thread::sleep(Duration::from_millis(50));
            linger_zero(s);
        }
        false
    })
}

#[test]
fn truncated_upstream_body_never_reaches_the_client_as_a_complete_200() {
    let up = truncating_upstream();
    let vane = Vane::start(&catch_all(up.addr));
    for path in ["/short-close", "/short-reset", "/long-close", "/long-reset"] {
        let bytes = send_until_close(
            vane.addr,
            format!("GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        match parse(&bytes) {
            // Truncated: the head (maybe) and part of the body, then the connection closed.
            None => {}
            Some(r) => assert_eq!(
                r.status,
                502,
                "{path}: a complete response for a truncated body: {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            ),
        }
        // Vane keeps serving.
        let next = get(vane.addr, "example.com", "/good");
        assert_eq!(
            (next.status, next.text().as_str()),
            (200, "good"),
            "after {path}"
        );
    }
}

/// An upstream that reads one request, records it, then closes (FIN) or resets (RST) without
/// writing a byte.
fn silent_upstream(rst: bool) -> Upstream {
    Upstream::start_raw(move |stream, conn, seen| {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        if let Some(req) = read_request(&mut r, conn) {
            seen.lock().unwrap().push(req);
        }
        if rst {
            linger_zero(&stream);
        }
    })
}

#[test]
fn close_before_any_response_byte_is_a_502() {
    for rst in [false, true] {
        let up = silent_upstream(rst);
        let vane = Vane::start(&catch_all(up.addr));
        assert_eq!(status_of(vane.addr, "/a"), 502, "rst={rst}");
        // A fresh connection is never retried.
        assert_eq!(up.request_count(), 1, "rst={rst}");
        assert_eq!(status_of(vane.addr, "/b"), 502, "rst={rst}");
        assert_eq!(up.request_count(), 2, "rst={rst}");
    }
}

#[test]
fn upstream_that_never_answers_is_a_504() {
    // Reads the request, then waits (bounded) for Vane to give up and close.
    let up = Upstream::start_raw(|stream, conn, seen| {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let mut r = BufReader::new(stream);
        if let Some(req) = read_request(&mut r, conn) {
            seen.lock().unwrap().push(req);
        }
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    });
    let routes = format!(
        "[timeouts]\nresponse_header = \"1s\"\n\n{}",
        catch_all(up.addr)
    );
    let vane = Vane::start(&routes);
    assert_eq!(status_of(vane.addr, "/hang"), 504);
    assert_eq!(up.request_count(), 1);
}

/// One row per malformed upstream response head.
const MALFORMED: &[(&str, &str)] = &[
    ("garbage", "garbage\r\n\r\n"),
    (
        "non-numeric status",
        "HTTP/1.1 abc\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "Content-Length with Transfer-Encoding",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    (
        "two different Content-Lengths",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ),
];

#[test]
fn malformed_response_head_is_a_502_and_the_connection_is_not_reused() {
    for (name, bad) in MALFORMED {
        let bad: &'static str = bad;
        // Keeps every connection open, so a reuse would be visible in `Seen::conn`.
        let up = Upstream::start(move |seen, s| {
            if seen.request_line().contains("/bad") {
                let _ = s.write_all(bad.as_bytes());
            } else {
                let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood");
            }
            true
        });
        // One worker: one pool, so the malformed response arrives on a pooled connection.
        let vane = Vane::start_with(&catch_all(up.addr), 1);
        assert_eq!(status_of(vane.addr, "/good"), 200, "{name}: warm-up");
        assert_eq!(status_of(vane.addr, "/bad"), 502, "{name}");
        let r = get_close(vane.addr, "/good").expect("response after a malformed one");
        assert_eq!((r.status, r.text().as_str()), (200, "good"), "{name}");
        let seen: Vec<Seen> = up.requests();
        let paths: Vec<_> = seen.iter().map(|s| s.request_line().to_string()).collect();
        assert_eq!(
            seen.len(),
            3,
            "{name}: the malformed one is not retried: {paths:?}"
        );
        assert_ne!(
            seen[2].conn, seen[1].conn,
            "{name}: the connection that sent a malformed head was reused"
        );
    }
}

/// Answers each request with keep-alive framing, then closes the connection at once (FIN, or
/// RST when `rst`): as if its idle timeout fired the moment Vane pooled it.
fn one_shot_upstream(rst: bool) -> Upstream {
    Upstream::start(move |seen, s| {
        let body = seen.request_line().to_string();
        let out = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        // One write, no Nagle delay: a RST discards whatever is still unsent, and the response
        // must be whole before the connection goes stale.
        let _ = s.set_nodelay(true);
        let _ = s.write_all(out.as_bytes());
        if rst {
            linger_zero(s);
        }
        false
    })
}

const STALE_ROUNDS: usize = 50;
/// Lets the upstream's close reach Vane before the pooled connection is reused.
const LET_CLOSE_LAND: Duration = Duration::from_millis(20);

#[test]
fn stale_pooled_connection_is_retried_for_get_on_new_client_connections() {
    for rst in [false, true] {
        let up = one_shot_upstream(rst);
        let vane = Vane::start(&catch_all(up.addr));
        for i in 0..STALE_ROUNDS {
            let path = format!("/n{i}");
            let r = get_close(vane.addr, &path).expect("response");
            assert_eq!(r.status, 200, "rst={rst} request {i}: {}", r.text());
            assert_eq!(r.text(), format!("GET {path} HTTP/1.1"));
            std::thread::sleep(LET_CLOSE_LAND);
        }
        assert_eq!(up.request_count(), STALE_ROUNDS, "rst={rst}");
    }
}

#[test]
fn stale_pooled_connection_is_retried_for_get_on_one_keep_alive_connection() {
    for rst in [false, true] {
        let up = one_shot_upstream(rst);
        let vane = Vane::start(&catch_all(up.addr));
        let mut w = connect(vane.addr);
        let mut r = BufReader::new(w.try_clone().unwrap());
        for i in 0..STALE_ROUNDS {
            let path = format!("/k{i}");
            write!(w, "GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
            let resp = read_response(&mut r, false)
                .unwrap_or_else(|| panic!("rst={rst} request {i}: connection closed"));
            assert_eq!(resp.status, 200, "rst={rst} request {i}: {}", resp.text());
            assert_eq!(resp.text(), format!("GET {path} HTTP/1.1"));
            std::thread::sleep(LET_CLOSE_LAND);
        }
        assert_eq!(up.request_count(), STALE_ROUNDS, "rst={rst}");
    }
}

#[test]
fn stale_pooled_connection_is_not_retried_for_post() {
    for rst in [false, true] {
        let up = one_shot_upstream(rst);
        let vane = Vane::start(&catch_all(up.addr));
        let mut statuses = Vec::new();
        for i in 0..STALE_ROUNDS {
            let body = format!("post-{i}");
            let req = format!(
                "POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let r = parse(&send_until_close(vane.addr, req.as_bytes()))
                .unwrap_or_else(|| panic!("rst={rst} POST {i}: no complete response"));
            assert!(
                r.status == 200 || r.status == 502,
                "rst={rst} POST {i}: {}",
                r.status
            );
            statuses.push(r.status);
            std::thread::sleep(LET_CLOSE_LAND);
        }
        let mut bodies: Vec<_> = up
            .requests()
            .into_iter()
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect();
        let oks = statuses.iter().filter(|s| **s == 200).count();
        assert!(bodies.len() >= oks, "rst={rst}: {oks} OKs, {bodies:?}");
        bodies.sort();
        let before = bodies.len();
        bodies.dedup();
        assert_eq!(
            bodies.len(),
            before,
            "rst={rst}: a POST reached the upstream twice"
        );
    }
}
