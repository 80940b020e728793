//! The proxy's data path end to end: connection reuse, pipelining, HTTP/1.0, streaming, large
//! bodies both ways, bodiless responses, `Expect: 100-continue`, hop-by-hop stripping and the
//! forwarding headers.

// The harness re-exports helpers this file does not use.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const MIB: usize = 1024 * 1024;

/// A client connection kept open across requests: a writer and a buffered reader.
struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(vane: &Vane) -> Conn {
        let s = client::connect(vane.addr);
        Conn {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("write request");
    }

    fn read(&mut self, head_request: bool) -> Response {
        client::read_response(&mut self.r, head_request).expect("a response")
    }

    fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n").as_bytes());
        self.read(false)
    }

    /// True once the peer closed the connection (a read returns end of stream).
    fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.r.read(&mut byte), Ok(0))
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a shifted or dropped byte shows.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// FNV-1a, 64 bit.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn digest(bytes: &[u8]) -> String {
    format!("{} {:016x}", bytes.len(), fnv(bytes))
}

/// Answers every request with the length and hash of the body it received.
fn digest_upstream() -> Upstream {
    Upstream::start(|seen, s| {
        let d = digest(&seen.body);
        let _ = s.write_all(
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{d}", d.len()).as_bytes(),
        );
        true
    })
}

/// How many lines of the forwarded head carry header `name`.
fn header_lines(seen: &Seen, name: &str) -> usize {
    seen.head
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        })
        .count()
}

#[test]
fn keep_alive_reuses_one_upstream_connection() {
    let up = Upstream::ok("hello");
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    for i in 0..10 {
        let r = c.get(&format!("/{i}"));
        assert_eq!((r.status, r.text().as_str()), (200, "hello"), "request {i}");
        assert!(
            r.header("connection").is_none(),
            "request {i}: {:?}",
            r.headers
        );
    }
    assert_eq!(up.request_count(), 10);
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        1,
        "all 10 requests on one upstream connection"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let up = Upstream::echo_line();
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    let one = |p: &str| format!("GET /{p} HTTP/1.1\r\nHost: example.com\r\n\r\n");
    c.send([one("1"), one("2"), one("3")].concat().as_bytes());
    for p in ["1", "2", "3"] {
        let r = c.read(false);
        assert_eq!((r.status, r.text()), (200, format!("GET /{p} HTTP/1.1")));
    }
}

#[test]
fn http10_without_keep_alive_gets_the_body_then_a_close() {
    let up = Upstream::ok("hello");
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    c.send(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
    let r = c.read(false);
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        c.closed(),
        "the connection must close after an HTTP/1.0 response"
    );
}

#[test]
fn http10_with_keep_alive_stays_open() {
    let up = Upstream::ok("hello");
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    for i in 0..2 {
        c.send(b"GET / HTTP/1.0\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n");
        let r = c.read(false);
        assert_eq!((r.status, r.text().as_str()), (200, "hello"), "request {i}");
        assert_eq!(r.header("connection"), Some("keep-alive"), "request {i}");
    }
    assert_eq!(up.request_count(), 2);
}

/// Reads re-encoded chunks until `want` bytes arrived (Vane may split a chunk in two).
fn read_chunks(r: &mut BufReader<TcpStream>, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        let chunk = client::read_chunk(r)
            .expect("a chunk")
            .expect("not the last chunk yet");
        got.extend_from_slice(&chunk);
    }
    got
}

#[test]
fn a_chunked_response_streams_chunk_by_chunk() {
    // The upstream sends each chunk after a 300 ms pause and only once the test has received
    // the previous one: a proxy that buffered the response would never let the test go on.
    let (go, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let sent_last = Arc::new(Mutex::new(None));
    let sent = sent_last.clone();
    let up = Upstream::start(move |_, s| {
        let gate = gate.lock().unwrap();
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
        for part in ["second", "third"] {
            std::thread::sleep(Duration::from_millis(300));
            if gate.recv_timeout(Duration::from_secs(20)).is_err() {
                return false;
            }
            *sent.lock().unwrap() = Some(Instant::now());
            let _ = s.write_all(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes());
        }
        let _ = s.write_all(b"0\r\n\r\n");
        true
    });
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    c.send(b"GET /stream HTTP/1.1\r\nHost: example.com\r\n\r\n");
    let mut status = String::new();
    c.r.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut head = String::new();
    for _ in 0..100 {
        let mut line = String::new();
        if c.r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );

    assert_eq!(read_chunks(&mut c.r, 5), b"first");
    let first_at = Instant::now();
    go.send(()).unwrap();
    assert_eq!(read_chunks(&mut c.r, 6), b"second");
    go.send(()).unwrap();
    assert_eq!(read_chunks(&mut c.r, 5), b"third");
    assert_eq!(
        client::read_chunk(&mut c.r),
        Some(None),
        "then the last chunk"
    );
    let last_at = sent_last
        .lock()
        .unwrap()
        .expect("the upstream sent the last chunk");
    assert!(
        first_at < last_at,
        "chunk 1 arrived before chunk 3 was sent"
    );
}

#[test]
fn an_8mib_request_body_with_content_length_arrives_intact() {
    let up = digest_upstream();
    let vane = Vane::start(&catch_all(up.addr));
    let body = pattern(8 * MIB, 1);
    let mut c = Conn::open(&vane);
    c.send(
        format!(
            "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    c.send(&body);
    let r = c.read(false);
    assert_eq!((r.status, r.text()), (200, digest(&body)));
    assert_eq!(
        up.requests()[0].header("content-length"),
        Some(body.len().to_string())
    );
}

#[test]
fn an_8mib_chunked_upload_arrives_intact() {
    let up = digest_upstream();
    let vane = Vane::start(&catch_all(up.addr));
    let body = pattern(8 * MIB, 2);
    let mut wire =
        b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    // Odd chunk sizes, so chunk boundaries never line up with Vane's read buffers.
    for piece in body.chunks(100_003) {
        wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let mut c = Conn::open(&vane);
    c.send(&wire);
    let r = c.read(false);
    assert_eq!((r.status, r.text()), (200, digest(&body)));
    assert_eq!(
        up.requests()[0].header("transfer-encoding").as_deref(),
        Some("chunked")
    );
}

#[test]
fn an_8mib_response_body_arrives_intact() {
    let body = Arc::new(pattern(8 * MIB, 3));
    let sent = body.clone();
    let up = Upstream::start(move |_, s| {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", sent.len());
        let _ = s.write_all(&[head.as_bytes(), &sent[..]].concat());
        true
    });
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    let r = c.get("/big");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(r.body == *body, "body differs: got {}", digest(&r.body));
    // The connection is reusable after the big body.
    assert_eq!(c.get("/again").body.len(), body.len());
}

/// Answers `GET /<status>` with that status; HEAD gets the GET head without a body.
fn status_upstream() -> Upstream {
    Upstream::start(|seen, s| {
        let line = seen.request_line();
        let resp = match line.split(' ').nth(1).unwrap_or("") {
            "/204" => "HTTP/1.1 204 No Content\r\nX-Status: 204\r\n\r\n".to_string(),
            "/304" => "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n".to_string(),
            _ if line.starts_with("HEAD ") => {
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_string()
            }
            _ => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_string(),
        };
        let _ = s.write_all(resp.as_bytes());
        true
    })
}

#[test]
fn head_response_has_a_length_but_no_body_and_the_connection_is_reused() {
    let up = status_upstream();
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    c.send(b"HEAD /x HTTP/1.1\r\nHost: example.com\r\n\r\n");
    let r = c.read(true);
    assert_eq!((r.status, r.header("content-length")), (200, Some("5")));
    // Were body bytes sent after the HEAD response, this would read them as a status line.
    let r = c.get("/x");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
}

#[test]
fn no_body_statuses_204_and_304_keep_the_connection_usable() {
    let up = status_upstream();
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    for status in [204u16, 304] {
        let r = c.get(&format!("/{status}"));
        assert_eq!(r.status, status);
        assert!(
            r.header("transfer-encoding").is_none(),
            "{status}: {:?}",
            r.headers
        );
        let r = c.get("/ok");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "hello"),
            "request after {status}"
        );
    }
    let r = c.get("/304");
    assert_eq!(r.header("etag"), Some("\"v1\""));
}

#[test]
fn expect_100_continue_is_answered_by_vane_and_not_forwarded() {
    let up = digest_upstream();
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    c.send(b"POST /e HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let mut line = String::new();
    c.r.read_line(&mut line).unwrap();
    assert_eq!(
        line, "HTTP/1.1 100 Continue\r\n",
        "interim response before the body is sent"
    );
    let mut blank = String::new();
    c.r.read_line(&mut blank).unwrap();
    assert_eq!(blank, "\r\n");
    c.send(b"hello");
    let r = c.read(false);
    assert_eq!((r.status, r.text()), (200, digest(b"hello")));
    let seen = &up.requests()[0];
    assert_eq!(seen.body, b"hello");
    assert_eq!(seen.header("expect"), None, "{}", seen.head);
}

#[test]
fn hop_by_hop_request_headers_are_stripped() {
    let up = Upstream::ok("ok");
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    c.send(
        b"GET /h HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Custom\r\nKeep-Alive: timeout=5\r\n\
          TE: gzip\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n\
          X-Custom: secret\r\nX-End-To-End: kept\r\n\r\n",
    );
    assert_eq!(c.read(false).status, 200);
    c.send(b"GET /t HTTP/1.1\r\nHost: example.com\r\nTE: trailers\r\n\r\n");
    assert_eq!(c.read(false).status, 200);
    let seen = up.requests();
    for name in [
        "connection",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-connection",
        "proxy-authorization",
        "x-custom",
    ] {
        assert_eq!(
            header_lines(&seen[0], name),
            0,
            "{name} reached the upstream:\n{}",
            seen[0].head
        );
    }
    assert_eq!(seen[0].header("x-end-to-end").as_deref(), Some("kept"));
    // RFC 9110 §10.1.4: `TE: trailers` is the one TE the next hop may need.
    assert_eq!(
        seen[1].header("te").as_deref(),
        Some("trailers"),
        "{}",
        seen[1].head
    );
}

#[test]
fn hop_by_hop_response_headers_are_stripped() {
    let up = Upstream::start(|_, s| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Up-Custom\r\nKeep-Alive: timeout=5, max=100\r\nTE: trailers\r\n\
              Upgrade: h2c\r\nProxy-Connection: keep-alive\r\nX-Up-Custom: secret\r\nX-Up-Kept: yes\r\nContent-Length: 2\r\n\r\nok",
        );
        true
    });
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    let r = c.get("/h");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    for name in [
        "connection",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-connection",
        "x-up-custom",
    ] {
        assert!(
            r.header(name).is_none(),
            "{name} reached the client: {:?}",
            r.headers
        );
    }
    assert_eq!(r.header("x-up-kept"), Some("yes"));
}

#[test]
fn host_is_preserved_and_forwarding_headers_are_set() {
    let up = Upstream::ok("ok");
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    c.send(
        b"GET /f HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\
          X-Forwarded-Host: evil.test\r\nX-Forwarded-Port: 1\r\n\r\n",
    );
    assert_eq!(c.read(false).status, 200);
    let seen = &up.requests()[0];
    let port = vane.addr.port().to_string();
    let expected = [
        ("host", "Example.COM:8080"),
        ("x-forwarded-for", "1.2.3.4, 127.0.0.1"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "Example.COM:8080"),
        ("x-forwarded-port", port.as_str()),
    ];
    for (name, value) in expected {
        assert_eq!(
            header_lines(seen, name),
            1,
            "one {name} line:\n{}",
            seen.head
        );
        assert_eq!(
            seen.header(name).as_deref(),
            Some(value),
            "{name}:\n{}",
            seen.head
        );
    }
}

#[test]
fn a_close_delimited_response_reaches_an_http11_client_chunked() {
    let body = Arc::new(pattern(300_000, 4));
    let sent = body.clone();
    let up = Upstream::start(move |_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
        let _ = s.write_all(&sent);
        false // close: that is the end of the body
    });
    let vane = Vane::start(&catch_all(up.addr));
    let mut c = Conn::open(&vane);
    for i in 0..2 {
        let r = c.get("/close-delimited");
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(
            r.header("transfer-encoding"),
            Some("chunked"),
            "request {i}: {:?}",
            r.headers
        );
        assert!(r.header("content-length").is_none(), "request {i}");
        assert!(
            r.body == *body,
            "request {i}: body differs: got {}",
            digest(&r.body)
        );
    }
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        2,
        "a close-delimited connection is never reused"
    );
}
