//! Parses an upstream response head and writes the head the client gets.
//!
//! The upstream is trusted no more than the client: an ambiguous or malformed head is a 502
//! and that upstream connection is dropped.

use std::mem::MaybeUninit;

use super::error::Kind;
use super::head::MAX_HEADERS;
use super::headers::{self, Class, Hop};
use super::respond::itoa;

/// How the response body is delimited on the upstream side (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespBody {
    /// HEAD, 1xx, 204, 304: no body whatever the headers say.
    None,
    Length(u64),
    Chunked,
    /// Read until the upstream closes.
    UntilClose,
}

/// How the client side wants the response framed.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide {
    pub http10: bool,
    pub is_head: bool,
    /// The connection closes after this response (client asked, draining, or an error earlier).
    pub close: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub head_len: usize,
    pub body: RespBody,
    /// The upstream connection may be reused once the body is read.
    pub upstream_reusable: bool,
    /// The body goes to the client with chunked framing (re-encoded).
    pub chunk_to_client: bool,
    /// The client connection must close after this response.
    pub client_close: bool,
}

pub enum Parsed {
    Partial,
    /// A 1xx interim response of this many bytes, to skip.
    Interim(usize),
    Final(ResponseHead),
}

pub fn parse_response(
    buf: &[u8],
    max_head: usize,
    client: ClientSide,
    out: &mut Vec<u8>,
) -> Result<Parsed, Kind> {
    let mut storage = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut res,
        buf,
        &mut storage,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > max_head => {
            return Err(Kind::MalformedResponse)
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(_) => return Err(Kind::MalformedResponse),
    };
    let status = res.code.unwrap_or(0);
    if !(100..=999).contains(&status) || status == 101 {
        // We never ask for an upgrade, so a 101 cannot be honoured.
        return Err(Kind::MalformedResponse);
    }
    if status < 200 {
        return Ok(Parsed::Interim(head_len));
    }
    let hop = Hop::from_headers(res.headers).map_err(|_| Kind::MalformedResponse)?;
    let (body, length) = framing(res.headers, status, client.is_head)?;
    let http10 = res.version == Some(0);
    let upstream_reusable =
        !hop.close && (!http10 || hop.keep_alive) && body != RespBody::UntilClose;
    let delimited_by_close =
        matches!(body, RespBody::Chunked | RespBody::UntilClose) && client.http10;
    let client_close = client.close || delimited_by_close;
    let chunk_to_client =
        matches!(body, RespBody::Chunked | RespBody::UntilClose) && !client.http10;
    let head = ResponseHead {
        status,
        head_len,
        body,
        upstream_reusable,
        chunk_to_client,
        client_close,
    };
    write_client_head(
        out,
        status,
        res.reason.unwrap_or(""),
        res.headers,
        &hop,
        &head,
        length,
        client.http10,
    );
    Ok(Parsed::Final(head))
}

/// Returns the body framing and, for bodiless responses, a Content-Length to pass on as-is.
fn framing(
    hdrs: &[httparse::Header],
    status: u16,
    is_head: bool,
) -> Result<(RespBody, Option<u64>), Kind> {
    let mut length = None;
    let mut te = false;
    for h in hdrs {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = headers::parse_length(h.value).ok_or(Kind::MalformedResponse)?;
            if length.is_some_and(|l| l != n) {
                return Err(Kind::MalformedResponse);
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only plain `chunked`: anything else leaves the end of the body ambiguous.
            let mut codings = headers::list(h.value);
            if te
                || codings.next().map(|c| c.eq_ignore_ascii_case(b"chunked")) != Some(true)
                || codings.next().is_some()
            {
                return Err(Kind::MalformedResponse);
            }
            te = true;
        }
    }
    if is_head || status == 204 || status == 304 {
        return Ok((RespBody::None, length));
    }
    match (length, te) {
        (Some(_), true) => Err(Kind::MalformedResponse),
        (Some(n), false) => Ok((RespBody::Length(n), None)),
        (None, true) => Ok((RespBody::Chunked, None)),
        (None, false) => Ok((RespBody::UntilClose, None)),
    }
}

#[allow(clippy::too_many_arguments)]
fn write_client_head(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    hdrs: &[httparse::Header],
    hop: &Hop,
    head: &ResponseHead,
    passthrough_length: Option<u64>,
    client_http10: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa(status as u64).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in hdrs {
        let keep = matches!(
            headers::classify(h.name),
            Class::Forward
                | Class::Host
                | Class::Expect
                | Class::XForwardedFor
                | Class::XForwardedOther
        );
        if keep && !hop.names(h.name) {
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value);
            out.extend_from_slice(b"\r\n");
        }
    }
    let length = match head.body {
        RespBody::Length(n) => Some(n),
        RespBody::None => passthrough_length,
        _ => None,
    };
    if let Some(n) = length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if head.chunk_to_client {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if head.client_close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if client_http10 {
        // HTTP/1.0 closes by default; say that this connection stays open.
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
