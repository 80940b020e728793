//! The `vane-admin` thread: a current-thread tokio runtime accepting connections, each one a
//! task bounded in time (a slow client cannot hold a task for long) and in number.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::http::{read_request, write_response, Response};
use super::{dispatch, stats, ApiError, Shared};

/// Connections served at once; more are closed at once (the API is for operators and scrapers).
const MAX_CONNECTIONS: usize = 64;
/// From accept to the whole request read.
const READ_LIMIT: Duration = Duration::from_secs(10);
/// A handler that needs longer (etcd stuck, a long `wait`) answers 503.
const HANDLE_LIMIT: Duration = Duration::from_secs(40);
const WRITE_LIMIT: Duration = Duration::from_secs(10);

pub(super) fn run(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(target: "vane::admin", "cannot start the admin runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(target: "vane::admin", "cannot adopt the admin listener: {e}");
                return;
            }
        };
        tokio::spawn(stats::run_sampler(shared.clone()));
        accept_loop(listener, shared).await;
    });
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(target: "vane::admin", "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropped: closed
        };
        let shared = shared.clone();
        // A panicking handler ends its own task only; the runtime and the listener go on.
        tokio::spawn(async move {
            serve(stream, &shared).await;
            drop(slot);
        });
    }
}

async fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let resp = match timeout(READ_LIMIT, read_request(&mut stream)).await {
        Ok(Ok(req)) => match timeout(HANDLE_LIMIT, dispatch::handle(&req, shared)).await {
            Ok(r) => r,
            Err(_) => Response::error(&ApiError::unavailable("the request took too long")),
        },
        Ok(Err(e)) => Response::error(&e),
        Err(_) => Response::error(&ApiError::new(408, "request not received in time")),
    };
    let _ = timeout(WRITE_LIMIT, write_response(&mut stream, &resp)).await;
    // A request refused before its end was read (413, 431) leaves bytes unread; closing on
    // them would reset the connection, and the client might never see the answer. Read and
    // drop the rest for a moment first (a lingering close).
    let _ = timeout(LINGER, drain(&mut stream)).await;
}

const LINGER: Duration = Duration::from_secs(1);

async fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 8192];
    let mut left = 1usize << 20;
    while left > 0 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}
