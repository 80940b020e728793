//! Header rules shared by both directions: hop-by-hop names (RFC 9110 §7.6.1), the names a
//! `Connection` header nominates, and the request-side framing and Host checks.

use super::error::Kind;
use super::head::BodyLen;

/// Most Connection tokens we track; more than this is an abuse and is refused.
const MAX_CONN_TOKENS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Forward,
    /// Connection, Keep-Alive, TE, Upgrade, Proxy-*, Trailer: never forwarded.
    HopByHop,
    /// Content-Length / Transfer-Encoding: the proxy writes its own framing.
    Framing,
    Host,
    Expect,
    XForwardedFor,
    /// X-Forwarded-Proto/Host/Port: set by the proxy, never trusted from the client.
    XForwardedOther,
}

pub fn classify(name: &str) -> Class {
    let n = name.as_bytes();
    // Cheap first-byte filter: most headers start with none of these letters.
    match n.first().map(|b| b.to_ascii_lowercase()) {
        Some(b'c' | b'k' | b't' | b'u' | b'p' | b'h' | b'e' | b'x') => {}
        _ => return Class::Forward,
    }
    let eq = |s: &str| name.eq_ignore_ascii_case(s);
    let proxy_ = n.len() >= 6 && n[..6].eq_ignore_ascii_case(b"proxy-");
    if proxy_ || eq("connection") || eq("keep-alive") || eq("te") || eq("upgrade") || eq("trailer")
    {
        Class::HopByHop
    } else if eq("content-length") || eq("transfer-encoding") {
        Class::Framing
    } else if eq("host") {
        Class::Host
    } else if eq("expect") {
        Class::Expect
    } else if eq("x-forwarded-for") {
        Class::XForwardedFor
    } else if eq("x-forwarded-proto") || eq("x-forwarded-host") || eq("x-forwarded-port") {
        Class::XForwardedOther
    } else {
        Class::Forward
    }
}

/// The names nominated by `Connection` headers, plus what those headers said.
#[derive(Default)]
pub struct Hop<'a> {
    tokens: [&'a [u8]; MAX_CONN_TOKENS],
    count: usize,
    pub close: bool,
    pub keep_alive: bool,
    /// `TE: trailers` is the one TE value that is forwarded.
    pub te_trailers: bool,
}

impl<'a> Hop<'a> {
    pub fn from_headers(hdrs: &[httparse::Header<'a>]) -> Result<Self, Kind> {
        let mut hop = Hop::default();
        for h in hdrs {
            if h.name.eq_ignore_ascii_case("connection") {
                for t in list(h.value) {
                    hop.add(t)?;
                }
            } else if h.name.eq_ignore_ascii_case("te") {
                hop.te_trailers |= list(h.value).any(|t| t.eq_ignore_ascii_case(b"trailers"));
            }
        }
        Ok(hop)
    }

    fn add(&mut self, t: &'a [u8]) -> Result<(), Kind> {
        if t.eq_ignore_ascii_case(b"close") {
            self.close = true;
        } else if t.eq_ignore_ascii_case(b"keep-alive") {
            self.keep_alive = true;
        } else if self.count == MAX_CONN_TOKENS {
            return Err(Kind::BadRequest);
        } else {
            self.tokens[self.count] = t;
            self.count += 1;
        }
        Ok(())
    }

    /// Whether `Connection` nominated this header (it is then hop-by-hop too).
    pub fn names(&self, name: &str) -> bool {
        self.tokens[..self.count]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// Comma-separated list elements, trimmed, empty ones skipped (RFC 9110 §5.6.1).
pub fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// What the request headers say about framing, Host and the connection.
pub struct RequestFacts<'a> {
    pub body: BodyLen,
    pub host: Option<&'a [u8]>,
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub hop: Hop<'a>,
}

pub fn scan_request<'a>(
    hdrs: &[httparse::Header<'a>],
    http10: bool,
) -> Result<RequestFacts<'a>, Kind> {
    let hop = Hop::from_headers(hdrs)?;
    let mut host = None;
    let mut length: Option<u64> = None;
    let mut te = Codings::default();
    let mut expect_continue = false;
    for h in hdrs {
        match classify(h.name) {
            Class::Host => {
                // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400.
                if host.is_some() || !valid_host(h.value) {
                    return Err(Kind::BadRequest);
                }
                host = Some(h.value);
            }
            Class::Framing if h.name.eq_ignore_ascii_case("content-length") => {
                // RFC 9112 §6.3: duplicate or non-decimal lengths are unrecoverable errors.
                if length.is_some() {
                    return Err(Kind::BadRequest);
                }
                length = Some(parse_length(h.value).ok_or(Kind::BadRequest)?);
            }
            Class::Framing => te.add(h.value),
            Class::Expect => {
                if !h.value.eq_ignore_ascii_case(b"100-continue") {
                    return Err(Kind::ExpectationFailed);
                }
                expect_continue = true;
            }
            _ => {}
        }
    }
    let body = match (length, te.present) {
        // RFC 9112 §6.1: Transfer-Encoding with Content-Length is a smuggling attempt.
        (Some(_), true) => return Err(Kind::BadRequest),
        (Some(n), false) if n > 0 => BodyLen::Length(n),
        (_, false) => BodyLen::None,
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing.
        (None, true) if http10 => return Err(Kind::BadRequest),
        (None, true) => te.judge()?,
    };
    let keep_alive = if http10 {
        hop.keep_alive && !hop.close
    } else {
        !hop.close
    };
    Ok(RequestFacts {
        body,
        host,
        keep_alive,
        expect_continue,
        hop,
    })
}

/// The transfer codings of all Transfer-Encoding lines, as one list (RFC 9110 §5.3).
#[derive(Default)]
struct Codings {
    present: bool,
    count: usize,
    chunked: usize,
    last_chunked: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) {
        self.present = true;
        for coding in list(value) {
            self.count += 1;
            self.last_chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.chunked += self.last_chunked as usize;
        }
    }

    /// RFC 9112 §6.1/§6.3: only a list whose final coding is `chunked`, once, frames a request;
    /// anything else leaves the body's end unknowable. Other codings before it we do not implement.
    fn judge(&self) -> Result<BodyLen, Kind> {
        match (self.count, self.chunked, self.last_chunked) {
            (1, 1, true) => Ok(BodyLen::Chunked),
            (_, 1, true) => Err(Kind::NotImplemented),
            _ => Err(Kind::BadRequest),
        }
    }
}

/// Strict 1*DIGIT, no sign, no list, no overflow.
pub fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| n * 10 + (d - b'0') as u64))
}

/// A Host value: reg-name or IP literal, optional port (RFC 9110 §7.2, RFC 3986 §3.2.2).
pub fn valid_host(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= 1024
        && v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(&b))
}
