//! The proxy layer's one error type. Every failure on the request path becomes a `ProxyError`,
//! and `respond` turns it into a response in one place.

use std::io;

/// Which peer caused the failure: it decides the status class and whether to blame the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Downstream,
    Upstream,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Malformed or ambiguous request (RFC 9112 framing, header syntax, Host).
    BadRequest,
    /// The request head did not complete in time (slowloris).
    HeadTimeout,
    BodyTooLarge,
    UriTooLong,
    HeadersTooLarge,
    /// A transfer coding we do not implement.
    NotImplemented,
    /// CONNECT and other methods a reverse proxy does not serve.
    MethodNotAllowed,
    ExpectationFailed,
    /// The client went away or broke the connection: nothing can be answered.
    ClientIo,
    NoRoute,
    NoEndpoint,
    Connect,
    /// Upstream reset or closed before a complete response head.
    UpstreamIo,
    UpstreamTimeout,
    MalformedResponse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} ({side:?})")]
pub struct ProxyError {
    pub kind: Kind,
    pub side: Side,
}

impl ProxyError {
    pub const fn new(kind: Kind) -> Self {
        let side = match kind {
            Kind::NoRoute | Kind::NoEndpoint => Side::Internal,
            Kind::Connect | Kind::UpstreamIo | Kind::UpstreamTimeout | Kind::MalformedResponse => {
                Side::Upstream
            }
            _ => Side::Downstream,
        };
        ProxyError { kind, side }
    }

    pub fn client_io(_: io::Error) -> Self {
        ProxyError::new(Kind::ClientIo)
    }

    pub fn upstream_io(_: io::Error) -> Self {
        ProxyError::new(Kind::UpstreamIo)
    }
}

impl From<Kind> for ProxyError {
    fn from(kind: Kind) -> Self {
        ProxyError::new(kind)
    }
}
