//! The one place where errors become responses. Bodies are generic: no addresses, no error text.

use super::error::{Kind, ProxyError};
pub use crate::itoa::{itoa, ItoaBuf};

/// The status for an error, or `None` when nothing can be answered (the client is gone).
pub fn status_of(err: ProxyError) -> Option<u16> {
    Some(match err.kind {
        Kind::BadRequest => 400,
        Kind::HeadTimeout => 408,
        Kind::BodyTooLarge => 413,
        Kind::UriTooLong => 414,
        Kind::HeadersTooLarge => 431,
        Kind::NotImplemented => 501,
        Kind::MethodNotAllowed => 405,
        Kind::ExpectationFailed => 417,
        Kind::NoRoute => 404,
        Kind::NoEndpoint => 503,
        Kind::Connect | Kind::UpstreamIo | Kind::MalformedResponse => 502,
        Kind::UpstreamTimeout => 504,
        Kind::ClientIo => return None,
    })
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// Writes a complete, self-framed error response. Error responses always close the
/// connection: after a framing error the byte stream can no longer be trusted.
pub fn write_error(out: &mut Vec<u8>, status: u16, head_only: bool) {
    let text = reason(status);
    let body_len = text.len() + 1;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa(status as u64).as_bytes());
    out.push(b' ');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: text/plain\r\ncontent-length: ");
    out.extend_from_slice(itoa(body_len as u64).as_bytes());
    out.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
    if !head_only {
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_is_generic_and_framed() {
        let mut out = Vec::new();
        write_error(&mut out, 502, false);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
        assert!(s.ends_with("\r\n\r\nBad Gateway\n"));
        assert!(s.contains("content-length: 12\r\n"));
        assert_eq!(itoa(0).as_bytes(), b"0");
        assert_eq!(itoa(1234567).as_bytes(), b"1234567");
    }
}
