//! Reads and validates a request head (RFC 9112) and writes the head we send upstream.
//!
//! Validation is strict because a proxy that forwards an ambiguous request is a smuggling
//! vector: every rule rejects before a single byte reaches an upstream.

use std::mem::MaybeUninit;
use std::ops::Range;

use super::error::Kind;
use super::headers::{self, Hop};
use super::respond::itoa;
use crate::model::Limits;

/// Capacity of the header array; `Limits::max_header_lines` is capped by it.
pub const MAX_HEADERS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLen {
    None,
    Length(u64),
    Chunked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub head_len: usize,
    pub http10: bool,
    pub is_head: bool,
    /// Safe to send twice (RFC 9110 §9.2.2), so a stale pooled connection may be retried.
    pub idempotent: bool,
    pub body: BodyLen,
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// Offsets into the parsed buffer, for routing.
    pub host: Range<usize>,
    pub path: Range<usize>,
}

/// What the proxy adds to the forwarded head.
pub struct Forwarded<'a> {
    pub client_ip: &'a [u8],
    pub port: &'a [u8],
}

/// Parses `buf`. `Ok(None)`: incomplete, read more. On success `out` holds the upstream head.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    fwd: &Forwarded,
    out: &mut Vec<u8>,
) -> Result<Option<RequestHead>, Kind> {
    // Uninitialized: zeroing 256 headers would cost an 8 KiB memset per request.
    let mut storage = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut storage) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return incomplete(buf, limits),
        Err(httparse::Error::TooManyHeaders) => return Err(Kind::HeadersTooLarge),
        Err(_) => return Err(Kind::BadRequest),
    };
    if head_len > limits.max_header_bytes || req.headers.len() > limits.max_header_lines {
        return Err(Kind::HeadersTooLarge);
    }
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line_end > limits.max_request_line {
        return Err(Kind::UriTooLong);
    }
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    let http10 = req.version == Some(0);
    if method == "CONNECT" {
        return Err(Kind::MethodNotAllowed);
    }
    let (authority, origin) = split_target(method, target)?;
    let facts = headers::scan_request(req.headers, http10)?;
    // RFC 9112 §3.2: Host is required in HTTP/1.1; an HTTP/1.0 request without one can only
    // match the catch-all host.
    let host_value = match authority.or(facts.host) {
        Some(h) => h,
        None if http10 => &b""[..],
        None => return Err(Kind::BadRequest),
    };
    let body = facts.body;
    if let (BodyLen::Length(n), Some(max)) = (body, limits.max_body) {
        if n > max {
            return Err(Kind::BodyTooLarge);
        }
    }
    write_upstream_head(
        out,
        method,
        origin,
        req.headers,
        &facts.hop,
        host_value,
        fwd,
        body,
    );
    let path_end = origin
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(origin.len());
    Ok(Some(RequestHead {
        head_len,
        http10,
        is_head: method == "HEAD",
        idempotent: matches!(
            method,
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
        ),
        body,
        keep_alive: facts.keep_alive,
        expect_continue: facts.expect_continue,
        host: offset(buf, host_value),
        path: offset(buf, &origin[..path_end]),
    }))
}

/// An incomplete head is fine unless it already breaks a size limit.
fn incomplete(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, Kind> {
    let line_end = buf.iter().position(|&b| b == b'\n');
    match line_end {
        None if buf.len() > limits.max_request_line => Err(Kind::UriTooLong),
        Some(n) if n > limits.max_request_line => Err(Kind::UriTooLong),
        _ if buf.len() > limits.max_header_bytes => Err(Kind::HeadersTooLarge),
        _ => Ok(None),
    }
}

/// RFC 9112 §3.2: origin-form, absolute-form (authority overrides Host), or `*` for OPTIONS.
/// Returns the authority (absolute-form only) and the origin-form target to send upstream.
fn split_target<'a>(method: &str, target: &'a str) -> Result<(Option<&'a [u8]>, &'a [u8]), Kind> {
    let t = target.as_bytes();
    if t.iter().any(|&b| b >= 0x80 || b == b'#') {
        return Err(Kind::BadRequest);
    }
    if t.first() == Some(&b'/') {
        return Ok((None, t));
    }
    if t == b"*" && method == "OPTIONS" {
        return Ok((None, t));
    }
    let lower_scheme =
        |s: &str| t.len() > s.len() && t[..s.len()].eq_ignore_ascii_case(s.as_bytes());
    let rest = if lower_scheme("http://") {
        &t[7..]
    } else if lower_scheme("https://") {
        &t[8..]
    } else {
        return Err(Kind::BadRequest);
    };
    let split = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() || authority.contains(&b'@') || !headers::valid_host(authority) {
        return Err(Kind::BadRequest);
    }
    match path.first() {
        Some(b'/') => Ok((Some(authority), path)),
        // `http://h?q` has an empty path: RFC 9112 §3.2.2 says send `/` (plus the query).
        _ if path.is_empty() => Ok((Some(authority), b"/")),
        _ => Err(Kind::BadRequest),
    }
}

fn offset(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    if start <= buf.len() {
        start..start + part.len()
    } else {
        // `part` is a static string (`/` for `http://h`): route on an empty range.
        0..0
    }
}

#[allow(clippy::too_many_arguments)]
fn write_upstream_head(
    out: &mut Vec<u8>,
    method: &str,
    target: &[u8],
    hdrs: &[httparse::Header],
    hop: &Hop,
    host: &[u8],
    fwd: &Forwarded,
    body: BodyLen,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    // Host is preserved; for an absolute-form target its authority wins (RFC 9112 §3.2.2).
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host);
    out.extend_from_slice(b"\r\n");
    let mut has_xff = false;
    for h in hdrs {
        match headers::classify(h.name) {
            headers::Class::Forward if !hop.names(h.name) => {
                out.extend_from_slice(h.name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(h.value);
                out.extend_from_slice(b"\r\n");
            }
            headers::Class::XForwardedFor => has_xff = true,
            _ => {}
        }
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    if has_xff {
        // Several X-Forwarded-For lines form one list, in order (RFC 9110 §5.3); we append.
        for h in hdrs
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("x-forwarded-for"))
        {
            out.extend_from_slice(h.value);
            out.extend_from_slice(b", ");
        }
    }
    out.extend_from_slice(fwd.client_ip);
    out.extend_from_slice(b"\r\nx-forwarded-proto: http\r\nx-forwarded-host: ");
    out.extend_from_slice(host);
    out.extend_from_slice(b"\r\nx-forwarded-port: ");
    out.extend_from_slice(fwd.port);
    if hop.te_trailers {
        out.extend_from_slice(b"\r\nte: trailers");
    }
    match body {
        BodyLen::None => {}
        BodyLen::Length(n) => {
            out.extend_from_slice(b"\r\ncontent-length: ");
            out.extend_from_slice(itoa(n).as_bytes());
        }
        BodyLen::Chunked => out.extend_from_slice(b"\r\ntransfer-encoding: chunked"),
    }
    out.extend_from_slice(b"\r\n\r\n");
}
