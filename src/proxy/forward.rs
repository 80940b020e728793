//! The upstream exchange: `route → balance → pool get/connect → send → receive → return`.
//!
//! Retries, for a request that is fully buffered (no body, or a small one) and `retries` ≥ 1:
//! when a *reused* pooled connection fails before any response byte and the request is
//! idempotent without a body, it is resent once on a fresh connection (the stale keep-alive
//! race: the upstream closed the idle connection as we reused it; it must never reach the
//! client as a 502). When the connect is refused (any method: nothing reached the endpoint),
//! or a fresh connection is dropped before any response byte (idempotent requests only, as
//! nginx's `proxy_next_upstream error`), the request goes once to another endpoint.

use std::net::SocketAddr;
use std::time::Instant;

use monoio::net::TcpStream;

use super::body::{Relay, RelayError, Source};
use super::chunked::ChunkedDecoder;
use super::conn::Client;
use super::ctx::WorkerCtx;
use super::error::{Kind, ProxyError, Side};
use super::head::{BodyLen, RequestHead};
use super::io::{self, Io, BODY_BUF};
use super::policy::Policy;
use super::response::{parse_response, ClientSide, Parsed, RespBody, ResponseHead};
use crate::metrics::{Sample, UpstreamError};
use crate::router::{Snapshot, UpstreamIdx};
use crate::upstream::Picked;

/// Bodies up to this size travel in the same write as their head.
const COALESCE: u64 = 64 * 1024;
/// Upstream read buffers start here; a small response fits in one read.
const UPSTREAM_BUF: usize = 4096;

/// Serves one request; `Ok(true)` if the client connection may carry another. What happened
/// is written into `s` (route, endpoint, status, failures) for the caller to record.
pub async fn handle<'s>(
    ctx: &WorkerCtx,
    c: &mut Client,
    snap: &'s Snapshot,
    head: &RequestHead,
    s: &mut Sample<'s>,
) -> Result<bool, ProxyError> {
    if !snap.ready {
        // No config has been loaded yet (no etcd, no cache): nothing can be routed.
        return Err(Kind::NoEndpoint.into());
    }
    let (idx, policy) = {
        let pending = c.io.pending();
        // An absolute-form target with an empty path (`http://h`) means `/` (RFC 9112 §3.2.2).
        let path = if head.path.is_empty() {
            &b"/"[..]
        } else {
            &pending[head.path.clone()]
        };
        let route = snap
            .lookup(&pending[head.host.clone()], path)
            .ok_or(Kind::NoRoute)?;
        s.route = Some(route);
        let idx = route.upstream.ok_or(Kind::NoEndpoint)?;
        (
            idx,
            Policy::resolve(route, snap.upstream(idx), &snap.settings),
        )
    };
    if let (BodyLen::Length(n), Some(max)) = (head.body, policy.max_body) {
        if n > max {
            return Err(Kind::BodyTooLarge.into());
        }
    }
    c.io.consume(head.head_len);
    let name = &*snap.upstream(idx).name;
    s.upstream = Some((idx, name));
    let picked = ctx
        .upstreams
        .borrow_mut()
        .pick(idx, policy.balance)
        .ok_or(Kind::NoEndpoint)?;
    let mut target = Target {
        idx,
        name,
        picked,
        policy,
        reported: false,
    };
    let result = exchange(ctx, c, &mut target, head, s).await;
    s.endpoint = Some(target.picked.addr);
    // Passive health: the endpoint failed if it could not be reached or answered badly.
    let ok = match &result {
        Ok(_) => s.status < 500,
        Err(e) => e.side != Side::Upstream,
    };
    if let Err(e) = &result {
        s.error = upstream_error(e.kind);
    }
    if !target.reported {
        report(ctx, &target, ok);
    }
    result
}

/// Feeds passive outlier detection; counts an ejection when one happens.
fn report(ctx: &WorkerCtx, t: &Target<'_>, ok: bool) {
    let ejected = ctx
        .upstreams
        .borrow_mut()
        .report(t.idx, t.picked, ok, &t.policy.outlier);
    if let Some(d) = ejected {
        ctx.metrics
            .borrow_mut()
            .ejected(t.idx, t.name, t.picked.addr);
        tracing::warn!(target: "vane::health", worker = ctx.id, upstream = t.name, endpoint = %t.picked.addr, seconds = d.as_secs_f64(), "endpoint ejected after consecutive failures");
    }
}

fn upstream_error(kind: Kind) -> Option<UpstreamError> {
    Some(match kind {
        Kind::Connect => UpstreamError::Connect,
        Kind::UpstreamIo => UpstreamError::Reset,
        Kind::UpstreamTimeout => UpstreamError::Timeout,
        Kind::MalformedResponse => UpstreamError::Malformed,
        _ => return None,
    })
}

/// Where a request goes and under which policy.
struct Target<'a> {
    idx: UpstreamIdx,
    name: &'a str,
    picked: Picked,
    policy: Policy,
    /// `picked`'s outcome was already fed to passive health (a failure with no other
    /// endpoint to move to): not again.
    reported: bool,
}

async fn exchange(
    ctx: &WorkerCtx,
    c: &mut Client,
    t: &mut Target<'_>,
    head: &RequestHead,
    s: &mut Sample<'_>,
) -> Result<bool, ProxyError> {
    let body = coalesce_small_body(c, head.body);
    // The whole request is in `c.out`: it can be sent again.
    let replayable = t.policy.retries > 0 && body == BodyLen::None;
    let idempotent_replay = replayable && head.idempotent && head.body == BodyLen::None;
    let mut result = attempt(ctx, c, t, head, body, Some(c.began)).await;
    // A stale pooled connection (the keep-alive race): resend on a fresh one, same endpoint.
    if matches!(result, Err(Attempt::Stale)) && idempotent_replay {
        s.retried = true;
        result = attempt(ctx, c, t, head, body, None).await;
    }
    // The endpoint refused the connect (nothing reached it: any method), or dropped a fresh
    // connection before any response byte (idempotent only): once more, on another endpoint.
    let failed = match &result {
        Err(Attempt::Failed(e)) if e.kind == Kind::Connect && replayable => Some(e.kind),
        Err(Attempt::Dropped) if idempotent_replay => Some(Kind::UpstreamIo),
        _ => None,
    };
    if let Some(kind) = failed {
        report(ctx, t, false);
        if let Some(e) = upstream_error(kind) {
            ctx.metrics
                .borrow_mut()
                .failed_attempt(t.idx, t.name, t.picked.addr, e);
        }
        let other = ctx
            .upstreams
            .borrow_mut()
            .pick_other(t.idx, t.policy.balance, t.picked);
        match other {
            Some(p) => {
                t.picked = p;
                s.retried = true;
                result = attempt(ctx, c, t, head, body, Some(Instant::now())).await;
            }
            None => t.reported = true,
        }
    }
    let (mut upc, res, reused) = result.map_err(Attempt::into_error)?;
    s.reused = Some(reused);
    s.status = res.status;
    let complete = send_response(c, &mut upc, &res, t.policy.body_idle).await?;
    // Bytes past the end of the response (say, a body sent to HEAD) make a connection unusable.
    if complete && res.upstream_reusable && upc.pending().is_empty() {
        upc.shrink();
        let (max, now) = (t.policy.pool_max_idle, Instant::now());
        ctx.upstreams
            .borrow_mut()
            .put_idle(t.idx, t.name, t.picked, upc, max, now);
    }
    Ok(!res.client_close)
}

enum Attempt {
    /// A reused connection failed before any response byte: worth one retry.
    Stale,
    /// A fresh connection failed before any response byte (the endpoint went away).
    Dropped,
    Failed(ProxyError),
}

impl Attempt {
    fn into_error(self) -> ProxyError {
        match self {
            Attempt::Stale | Attempt::Dropped => Kind::UpstreamIo.into(),
            Attempt::Failed(e) => e,
        }
    }
}

impl From<Kind> for Attempt {
    fn from(k: Kind) -> Self {
        Attempt::Failed(k.into())
    }
}

/// Sends the request on a pooled or new connection and reads the response head. `pool_now`:
/// the time to judge pooled connections' idleness by, or `None` for a fresh connection.
async fn attempt(
    ctx: &WorkerCtx,
    c: &mut Client,
    t: &Target<'_>,
    head: &RequestHead,
    body: BodyLen,
    pool_now: Option<Instant>,
) -> Result<(Io, ResponseHead, bool), Attempt> {
    let p = &t.policy;
    let pooled = pool_now.and_then(|now| {
        ctx.upstreams
            .borrow_mut()
            .take_idle(t.idx, t.picked, p.pool_idle_timeout, now)
    });
    let reused = pooled.is_some();
    let mut upc = match pooled {
        Some(conn) => conn,
        None => connect(t.picked.addr, p.connect).await?,
    };
    let stale = |_: Kind| {
        if reused {
            Attempt::Stale
        } else {
            Attempt::Dropped
        }
    };
    io::write_keep(&mut upc.stream, &mut c.out)
        .await
        .map_err(|_| stale(Kind::UpstreamIo))?;
    if body != BodyLen::None {
        send_body(c, &mut upc, head, body, p)
            .await
            .map_err(Attempt::Failed)?;
    }
    // Counted from when the request was sent. With a pooled connection and no body to relay,
    // that was microseconds after `pool_now`, which serves instead of another clock read.
    let sent = match pool_now {
        Some(now) if reused && body == BodyLen::None => now,
        _ => Instant::now(),
    };
    let deadline = sent + p.response_header;
    loop {
        // `c.out` still holds the request until response bytes arrive, for the one retry.
        if !upc.pending().is_empty() {
            // Decided now, not before the wait: a drain may have started meanwhile.
            let client = ClientSide {
                http10: head.http10,
                is_head: head.is_head,
                close: !head.keep_alive || ctx.draining.get(),
            };
            c.out.clear();
            match parse_response(upc.pending(), p.max_head, client, &mut c.out)? {
                Parsed::Final(res) => return Ok((upc, res, reused)),
                Parsed::Interim(n) => upc.consume(n),
                Parsed::Partial => {}
            }
        }
        // Once any response byte arrived, a failure is the upstream's, not a stale connection.
        let fresh_failure = if upc.pending().is_empty() {
            stale(Kind::UpstreamIo)
        } else {
            Kind::UpstreamIo.into()
        };
        match monoio::time::timeout_at(deadline.into(), upc.fill(p.max_head + 1)).await {
            Err(_) => return Err(Kind::UpstreamTimeout.into()),
            Ok(Ok(0)) | Ok(Err(_)) => return Err(fresh_failure),
            Ok(Ok(_)) => {}
        }
    }
}

async fn connect(addr: SocketAddr, timeout: std::time::Duration) -> Result<Io, Attempt> {
    match monoio::time::timeout(timeout, TcpStream::connect_addr(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(Io::new(stream, UPSTREAM_BUF))
        }
        Ok(Err(_)) => Err(Kind::Connect.into()),
        Err(_) => Err(Kind::UpstreamTimeout.into()),
    }
}

/// Moves a small, fully buffered Content-Length body into `out` behind the head.
fn coalesce_small_body(c: &mut Client, body: BodyLen) -> BodyLen {
    match body {
        BodyLen::Length(n) if n <= COALESCE && (n as usize) <= c.io.pending().len() => {
            c.out.extend_from_slice(&c.io.pending()[..n as usize]);
            c.io.consume(n as usize);
            BodyLen::None
        }
        other => other,
    }
}

async fn send_body(
    c: &mut Client,
    upc: &mut Io,
    head: &RequestHead,
    body: BodyLen,
    p: &Policy,
) -> Result<(), ProxyError> {
    if head.expect_continue && !head.http10 && c.io.pending().is_empty() {
        // We answer `Expect: 100-continue` ourselves (and do not forward it): the limits that
        // could refuse the body have been checked already.
        c.scratch
            .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        io::write_vec(&mut c.io.stream, &mut c.scratch)
            .await
            .map_err(ProxyError::client_io)?;
    }
    let (source, chunk_out) = match body {
        BodyLen::Length(n) => (Source::Length(n), false),
        BodyLen::Chunked => (Source::Chunked(ChunkedDecoder::new()), true),
        BodyLen::None => return Ok(()),
    };
    let mut relay = Relay {
        idle: p.body_idle,
        chunk_out,
        max: p.max_body,
        scratch: &mut c.scratch,
    };
    match relay.run(&mut c.io, &mut upc.stream, source).await {
        Ok(_) => Ok(()),
        Err(RelayError::Framing) => Err(Kind::BadRequest.into()),
        Err(RelayError::TooLarge) => Err(Kind::BodyTooLarge.into()),
        Err(RelayError::Source) => Err(Kind::ClientIo.into()),
        Err(RelayError::Sink) => Err(Kind::UpstreamIo.into()),
    }
}

/// Writes the response head (`c.out`) and streams the body. `Ok(true)` when the upstream
/// message completed cleanly, so its connection may be pooled.
async fn send_response(
    c: &mut Client,
    upc: &mut Io,
    res: &ResponseHead,
    idle: std::time::Duration,
) -> Result<bool, ProxyError> {
    let source = match res.body {
        RespBody::None => {
            upc.consume(res.head_len);
            c.sent += c.out.len() as u64;
            io::write_vec(&mut c.io.stream, &mut c.out)
                .await
                .map_err(ProxyError::client_io)?;
            return Ok(true);
        }
        RespBody::Length(n) => Source::Length(n),
        RespBody::Chunked => Source::Chunked(ChunkedDecoder::new()),
        RespBody::UntilClose => Source::UntilClose,
    };
    upc.consume(res.head_len);
    if let Source::Length(n) = source {
        if n <= COALESCE {
            return send_small(c, upc, n as usize, idle).await;
        }
    }
    c.sent += c.out.len() as u64;
    io::write_vec(&mut c.io.stream, &mut c.out)
        .await
        .map_err(ProxyError::client_io)?;
    let mut relay = Relay {
        idle,
        chunk_out: res.chunk_to_client,
        max: None,
        scratch: &mut c.scratch,
    };
    match relay.run(upc, &mut c.io.stream, source).await {
        Ok(n) => {
            c.sent += n;
            Ok(true)
        }
        // The head is out: a broken upstream body can only be signalled by closing.
        Err(_) => Err(Kind::ClientIo.into()),
    }
}

/// A small body is read whole and sent with its head in one write.
async fn send_small(
    c: &mut Client,
    upc: &mut Io,
    n: usize,
    idle: std::time::Duration,
) -> Result<bool, ProxyError> {
    while upc.pending().len() < n {
        upc.grow_for_body();
        match monoio::time::timeout(idle, upc.fill(BODY_BUF)).await {
            Ok(Ok(m)) if m > 0 => {}
            _ => {
                // Nothing sent yet: the client can still get a clean 502.
                return Err(Kind::UpstreamIo.into());
            }
        }
    }
    c.out.extend_from_slice(&upc.pending()[..n]);
    upc.consume(n);
    c.sent += c.out.len() as u64;
    io::write_vec(&mut c.io.stream, &mut c.out)
        .await
        .map_err(ProxyError::client_io)?;
    Ok(true)
}
