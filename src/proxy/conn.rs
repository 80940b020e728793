//! One client connection: a loop of `read_head → route → forward`, until the client or the
//! worker ends it. Pipelined requests are served in order from the same buffer.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use super::ctx::{ActiveGuard, WorkerCtx};
use super::error::{Kind, ProxyError};
use super::forward;
use super::head::{parse_request, Forwarded, RequestHead};
use super::io::{self, Io, SMALL_BUF};
use super::respond;
use crate::accesslog::RequestInfo;
use crate::metrics::Sample;
use crate::model::Settings;

/// Longest we keep reading (and discarding) after an error response, so that the client sees
/// the response instead of a reset caused by its unread bytes.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 256 * 1024;

pub struct Client {
    pub io: Io,
    /// The next bytes to write: a head, or a head plus a small body.
    pub out: Vec<u8>,
    /// Body re-encoding space.
    pub scratch: Vec<u8>,
    /// Response bytes written to the client (heads and payload), for the byte counters.
    pub sent: u64,
    /// When the current request's head was complete. The exchange reuses this reading where
    /// a fresh one would differ by microseconds (pool idle checks, a bodiless request's
    /// response deadline): a clock read costs about as much as routing the request.
    pub began: Instant,
    /// The current request's text for the access log (empty when logging is off).
    req: RequestInfo,
    ip: Box<[u8]>,
}

pub async fn serve(ctx: Rc<WorkerCtx>, stream: TcpStream, peer: SocketAddr) {
    let _guard = ActiveGuard::new(ctx.clone());
    let _ = stream.set_nodelay(true);
    let mut c = Client {
        io: Io::new(stream, SMALL_BUF),
        out: Vec::new(),
        scratch: Vec::new(),
        sent: 0,
        began: Instant::now(),
        req: RequestInfo::default(),
        ip: peer.ip().to_string().into_bytes().into_boxed_slice(),
    };
    // The first head must arrive within `request_head` of the accept; later ones may wait
    // `keepalive_idle` after the previous response.
    let mut wait_from = (c.began, true);
    let mut counted = Counted::default();
    loop {
        let snap = ctx.snapshot();
        let head = match read_head(&ctx, &mut c, &snap.settings, wait_from).await {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(kind) => {
                let err = ProxyError::from(kind);
                let mut s = Sample {
                    status: respond::status_of(err).unwrap_or(CLIENT_GONE),
                    ..Sample::default()
                };
                counted.take(&c, &mut s);
                c.req.clear();
                record(&ctx, &c, &s);
                return fail(&ctx, &mut c, err, false).await;
            }
        };
        c.began = Instant::now();
        if ctx.log.is_some() {
            c.req
                .capture(&c.io.pending()[..head.head_len], head.host.clone());
        }
        let mut s = Sample::default();
        let result = forward::handle(&ctx, &mut c, &snap, &head, &mut s).await;
        if let Err(e) = result {
            s.status = respond::status_of(e).unwrap_or(CLIENT_GONE);
        }
        let ended = Instant::now();
        s.micros = (ended - c.began).as_micros() as u64;
        wait_from = (ended, false);
        counted.take(&c, &mut s);
        record(&ctx, &c, &s);
        match result {
            Ok(true) if !ctx.draining.get() => {
                c.io.shrink();
                if c.out.capacity() > 16 * 1024 {
                    c.out = Vec::new();
                }
            }
            Ok(_) => return io::shutdown(&mut c.io.stream).await,
            Err(e) => return fail(&ctx, &mut c, e, head.is_head).await,
        }
    }
}

/// Counts the request in the worker's metrics and writes its access log line.
#[inline]
fn record(ctx: &WorkerCtx, c: &Client, s: &Sample) {
    ctx.record(s);
    if let Some(log) = &ctx.log {
        log.write(&c.ip, &c.req, s);
    }
}

/// The status recorded when the client went away before it could be answered (nginx's 499).
const CLIENT_GONE: u16 = 499;

/// Byte counts already recorded for this connection.
#[derive(Default)]
struct Counted {
    read: u64,
    sent: u64,
}

impl Counted {
    /// Moves the bytes since the last request into `s`.
    fn take(&mut self, c: &Client, s: &mut Sample) {
        s.bytes_in = c.io.read_total - self.read;
        s.bytes_out = c.sent - self.sent;
        self.read = c.io.read_total;
        self.sent = c.sent;
    }
}

/// Reads until a whole head is buffered. `Ok(None)`: the connection ends quietly (client
/// closed, idle timeout, worker draining, or a timeout before any byte of a head).
/// `since, first`: when the wait began, and whether this is the connection's first request.
async fn read_head(
    ctx: &WorkerCtx,
    c: &mut Client,
    s: &Settings,
    (since, first): (Instant, bool),
) -> Result<Option<RequestHead>, Kind> {
    c.out.clear();
    let fwd = Forwarded {
        client_ip: &c.ip,
        port: &ctx.port,
    };
    let limits = &s.limits;
    let max = limits.max_header_bytes + 1;
    if !c.io.pending().is_empty() {
        if let Some(h) = parse_request(c.io.pending(), limits, &fwd, &mut c.out)? {
            return Ok(Some(h));
        }
    }
    let deadline = first.then(|| since + s.timeouts.request_head);
    if c.io.pending().is_empty() {
        // Waiting for the first byte of a request: an idle keep-alive, ended early by a drain.
        let wait_until = deadline.unwrap_or(since + s.timeouts.keepalive_idle);
        let read = c.io.fill_cancelable(max, ctx.cancel_handle());
        match monoio::time::timeout_at(wait_until.into(), read).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Ok(None),
        }
        if let Some(h) = parse_request(c.io.pending(), limits, &fwd, &mut c.out)? {
            return Ok(Some(h));
        }
    }
    // A head that did not come whole in one read: from here it has `request_head` to finish.
    let deadline = deadline.unwrap_or_else(|| Instant::now() + s.timeouts.request_head);
    loop {
        match monoio::time::timeout_at(deadline.into(), c.io.fill(max)).await {
            Err(_) => return Err(Kind::HeadTimeout),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                return Err(Kind::HeadersTooLarge)
            }
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
            Ok(Ok(_)) => {}
        }
        if let Some(h) = parse_request(c.io.pending(), limits, &fwd, &mut c.out)? {
            return Ok(Some(h));
        }
    }
}

/// Answers an error (if the client can still hear it) and closes the connection.
async fn fail(ctx: &WorkerCtx, c: &mut Client, err: ProxyError, head_only: bool) {
    let Some(status) = respond::status_of(err) else {
        return;
    };
    c.out.clear();
    respond::write_error(&mut c.out, status, head_only);
    ctx.metrics.borrow_mut().bytes_out += c.out.len() as u64;
    if io::write_vec(&mut c.io.stream, &mut c.out).await.is_err() {
        return;
    }
    io::shutdown(&mut c.io.stream).await;
    linger(c).await;
}

async fn linger(c: &mut Client) {
    let deadline = Instant::now() + LINGER;
    let mut seen = 0;
    while seen < LINGER_BYTES {
        c.io.consume(c.io.pending().len());
        match monoio::time::timeout_at(deadline.into(), c.io.fill(SMALL_BUF)).await {
            Ok(Ok(n)) if n > 0 => seen += n,
            _ => return,
        }
    }
}
