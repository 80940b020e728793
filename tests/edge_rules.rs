//! HTTP/1.1 edge rules (RFC 9110 / RFC 9112), hyper `t!`-table style: every malformed or
//! refused request gets its status, with `connection: close`, and the upstream sees nothing.

// The harness re-exports helpers this file does not use.
mod common;

use std::io::{BufReader, Write};
use std::sync::atomic::Ordering;

use common::*;

/// One row: a name for the assert message, the raw request, the status Vane must answer.
struct Row {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
}

fn t(name: &'static str, status: u16, request: impl AsRef<[u8]>) -> Row {
    Row {
        name,
        request: request.as_ref().to_vec(),
        status,
    }
}

/// `GET / HTTP/1.1` with `Host: a` and the given extra header lines.
fn get_with(headers: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: a\r\n{headers}\r\n")
}

/// `POST / HTTP/1.1` with `Host: a`, the given header lines and body.
fn post_with(headers: &str, body: &str) -> String {
    format!("POST / HTTP/1.1\r\nHost: a\r\n{headers}\r\n{body}")
}

/// 18 header lines of 4 KiB each: a header section over 64 KiB.
fn big_header_section() -> String {
    get_with(&format!("X-Big: {}\r\n", "a".repeat(4000)).repeat(18))
}

/// A request line of about 9000 bytes.
fn long_request_line() -> String {
    format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000))
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    let te_body = "0\r\n\r\n";
    vec![
        // RFC 9112 §6.1 / §6.3: Content-Length with Transfer-Encoding is a smuggling vector.
        t("CL + TE", 400, post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", te_body)),
        t("TE + CL", 400, post_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", te_body)),

        // RFC 9112 §6.3 (5): duplicate or non-decimal Content-Length is unrecoverable.
        t("duplicate CL, same value", 400, post_with("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")),
        t("duplicate CL, different values", 400, post_with("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!")),
        t("CL +5", 400, post_with("Content-Length: +5\r\n", "hello")),
        t("CL 0x5", 400, post_with("Content-Length: 0x5\r\n", "hello")),
        t("CL 5 5", 400, post_with("Content-Length: 5 5\r\n", "hello")),
        t("CL -1", 400, post_with("Content-Length: -1\r\n", "hello")),
        t("CL 1,1", 400, post_with("Content-Length: 1,1\r\n", "h")),

        // RFC 9112 §6.3 (4): a request whose final transfer coding is not chunked cannot be framed.
        t("TE gzip", 400, post_with("Transfer-Encoding: gzip\r\n", te_body)),
        t("TE chunked, gzip", 400, post_with("Transfer-Encoding: chunked, gzip\r\n", te_body)),
        // RFC 9112 §6.1: a transfer coding the server does not understand → 501.
        t("TE gzip, chunked", 501, post_with("Transfer-Encoding: gzip, chunked\r\n", te_body)),
        // RFC 9112 §6.1, RFC 9110 §5.3: chunked at most once, and TE lines combine into one list.
        t("TE chunked, chunked", 400, post_with("Transfer-Encoding: chunked, chunked\r\n", te_body)),
        t("two TE lines, both chunked", 400, post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", te_body)),
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing.
        t("TE in HTTP/1.0", 400, "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),

        // RFC 9112 §5.2: obs-fold in a request → 400.
        t("obs-fold (space)", 400, get_with("X-A: b\r\n c\r\n")),
        t("obs-fold (tab)", 400, get_with("X-A: b\r\n\tc\r\n")),

        // RFC 9112 §2.2, RFC 9110 §5.5: bare CR, NUL and other CTLs have no place in a field.
        t("bare CR in value", 400, get_with("X-A: b\rc\r\n")),
        t("NUL in value", 400, get_with("X-A: b\0c\r\n")),
        t("NUL in name", 400, get_with("X-\0A: b\r\n")),
        t("0x01 in value", 400, get_with("X-A: b\x01c\r\n")),
        t("0x01 in name", 400, get_with("X-\x01A: b\r\n")),
        t("ESC in value", 400, get_with("X-A: b\x1bc\r\n")),
        t("DEL in value", 400, get_with("X-A: b\x7fc\r\n")),

        // RFC 9112 §5.1: no whitespace between field name and colon → 400.
        t("space before colon", 400, get_with("X-A : b\r\n")),
        t("tab before colon", 400, get_with("X-A\t: b\r\n")),
        // RFC 9110 §5.1: a field name is a token.
        t("name Foo@Bar", 400, get_with("Foo@Bar: x\r\n")),
        t("name \"x\"", 400, get_with("\"x\": y\r\n")),

        // RFC 9112 §3.2: Host missing (HTTP/1.1), repeated, or invalid → 400.
        t("missing Host", 400, "GET / HTTP/1.1\r\n\r\n"),
        t("duplicate Host", 400, get_with("Host: b\r\n")),
        t("Host a b", 400, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
        t("Host a/b", 400, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),

        // RFC 9112 §3.2: origin-, absolute-, authority- or asterisk-form, ASCII only (RFC 3986);
        // RFC 9110 §4.2.5: a fragment is never sent.
        t("target foo", 400, "GET foo HTTP/1.1\r\nHost: a\r\n\r\n"),
        t("non-ASCII in target", 400, b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
        t("fragment in target", 400, "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"),

        // RFC 9112 §2.3: HTTP-version is case-sensitive `HTTP/` DIGIT `.` DIGIT; we serve 1.0 and 1.1.
        t("version HTTP/1.2", 400, "GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
        t("version HTTP/2.0", 400, "GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
        t("version HTTTP/1.1", 400, "GET / HTTTP/1.1\r\nHost: a\r\n\r\n"),
        t("version http/1.1", 400, "GET / http/1.1\r\nHost: a\r\n\r\n"),

        // RFC 9110 §9.3.6: a reverse proxy does not tunnel.
        t("CONNECT", 405, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),

        // RFC 9110 §10.1.1: an expectation the server cannot meet → 417.
        t("Expect something-else", 417, get_with("Expect: something-else\r\n")),

        // RFC 6585 §5, RFC 9112 §3: head sections and request lines over the limits.
        t("header section > 64 KiB", 431, big_header_section()),
        t("101 header lines", 431, get_with(&"X-N: 1\r\n".repeat(101))),
        t("request line > 8 KiB", 414, long_request_line()),

        // RFC 9110 §15.5.14: a body over the configured limit (`max_body = 1000`) → 413.
        t("CL over max_body", 413, post_with("Content-Length: 1001\r\n", "")),
    ]
}

#[test]
fn malformed_requests_are_refused_and_never_reach_the_upstream() {
    let up = Upstream::ok("reached the upstream");
    let routes = format!("[limits]\nmax_body = 1000\n\n{}", catch_all(up.addr));
    let vane = Vane::start(&routes);
    let mut failures = Vec::new();
    for row in rows() {
        let (requests, conns) = (up.request_count(), up.conns.load(Ordering::SeqCst));
        let resp = client::raw(vane.addr, &row.request);
        let got = resp.as_ref().map(|r| r.status);
        if got != Some(row.status) {
            failures.push(format!(
                "{}: expected {}, got {got:?}",
                row.name, row.status
            ));
        } else if resp.as_ref().and_then(|r| r.header("connection")) != Some("close") {
            failures.push(format!("{}: response lacks `connection: close`", row.name));
        }
        let seen = up.request_count() - requests;
        let opened = up.conns.load(Ordering::SeqCst) - conns;
        if seen != 0 || opened != 0 {
            failures.push(format!(
                "{}: upstream saw {seen} requests on {opened} new connections",
                row.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "edge rules failed:\n  {}",
        failures.join("\n  ")
    );
    assert_eq!(up.request_count(), 0, "the upstream must see nothing");
}

/// Sends a chunked POST whose body is `body` and returns the status, if any came back.
fn post_chunked(vane: &Vane, body: &[u8]) -> Option<u16> {
    let mut s = client::connect(vane.addr);
    let head = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let _ = s.write_all(&[&head[..], body].concat());
    client::read_response(&mut BufReader::new(s), false).map(|r| r.status)
}

/// (name, chunked body on the wire, the body it was meant to carry).
#[rustfmt::skip]
const BAD_CHUNKED: [(&str, &[u8], &[u8]); 4] = [
    ("bad hex size", b"zz\r\nhello\r\n0\r\n\r\n", b"hello"),
    ("bad hex size after a good chunk", b"5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n", b"helloworld"),
    ("missing CRLF after data", b"5\r\nhelloXX5\r\nworld\r\n0\r\n\r\n", b"helloworld"),
    ("LF only after data", b"5\r\nhello\n5\r\nworld\r\n0\r\n\r\n", b"helloworld"),
];

// RFC 9112 §7.1: chunk-size is 1*HEXDIG and chunk-data is followed by CRLF; a relay that
// guessed would let the next message be smuggled inside this one. Vane may have started to
// forward the request before the bad bytes arrive, but must abort it, never complete it.
#[test]
fn bad_chunked_request_framing_never_completes_upstream() {
    let up = Upstream::ok("reached the upstream");
    let vane = Vane::start(&catch_all(up.addr));
    for (name, wire, meant) in BAD_CHUNKED {
        let status = post_chunked(&vane, wire);
        assert!(
            matches!(status, None | Some(400)),
            "{name}: expected 400 or a close, got {status:?}"
        );
        // The test upstream records a request only once its whole body has arrived.
        let seen = up.requests();
        assert!(
            seen.iter().all(|s| s.body != meant),
            "{name}: the upstream received the whole body"
        );
        assert_eq!(
            seen.len(),
            0,
            "{name}: the upstream received a complete request"
        );
    }
}
