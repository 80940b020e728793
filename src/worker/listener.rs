//! Binds one SO_REUSEPORT listener per worker. The kernel spreads connections over them.
//!
//! SO_REUSEPORT would also let a second Vane (same user) join the group and silently take half
//! the traffic. So first we bind a probe socket *without* SO_REUSEPORT: it fails with
//! EADDRINUSE whenever anything listens there, and we refuse to start.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

const BACKLOG: i32 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("{0} is already in use (is another Vane or another server listening there?)")]
    InUse(SocketAddr),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, io::Error),
}

/// Returns `n` listeners on `addr` (port 0 picks one free port for all of them).
pub fn bind_listeners(
    addr: SocketAddr,
    n: usize,
) -> Result<Vec<std::net::TcpListener>, ListenError> {
    let addr = probe(addr)?;
    (0..n)
        .map(|_| reuseport_listener(addr).map_err(|e| ListenError::Bind(addr, e)))
        .collect()
}

fn probe(addr: SocketAddr) -> Result<SocketAddr, ListenError> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| ListenError::Bind(addr, e))?;
    // SO_REUSEADDR only skips TIME_WAIT leftovers; it never lets us share a live listener.
    s.set_reuse_address(true)
        .map_err(|e| ListenError::Bind(addr, e))?;
    match s.bind(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(ListenError::InUse(addr)),
        Err(e) => return Err(ListenError::Bind(addr, e)),
    }
    let bound = s
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .unwrap_or(addr);
    Ok(bound)
}

fn reuseport_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}
