//! The admin API: JSON over HTTP/1.1 on its own listener (loopback by default), served by one
//! `vane-admin` thread with a current-thread tokio runtime. Reads come from the live snapshot
//! and the control plane's status; writes go to etcd (the node then applies them through its
//! normal watch, like any other etcd write), and answer 409 when routes come from a file.
//!
//! `server.rs` accepts and bounds each connection; `http.rs` reads one request and writes one
//! response; `dispatch.rs` checks the token and maps method + path to a handler; handlers:
//! `status.rs`, `hosts.rs`, `upstreams.rs`, `route_test.rs` (reads), `metrics.rs` (Prometheus),
//! `stats.rs` (rates and percentiles over the last second, for `vanectl top`), `plan.rs`
//! (request bodies validated into etcd operations), `writes.rs` (applying them), `deploy.rs` (switch/rollback), `etcd.rs` (the client),
//! `wait.rs` (until the workers serve a revision). `auth.rs` owns the token rules.
//!
//! Never imports `proxy` or touches data-path sockets: what it knows of the workers is their
//! links' status counters and the snapshot they were sent.

mod auth;
mod deploy;
mod dispatch;
mod error;
mod etcd;
mod hosts;
mod http;
mod metrics;
mod options_json;
mod plan;
mod route_test;
mod server;
mod stats;
mod status;
mod upstreams;
mod wait;
mod writes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use auth::{Token, TOKEN_ENV};
pub use error::{AdminError, ApiError};

use crate::control::checks::CheckView;
use crate::control::etcd::StatusDoc;
use crate::control::{NodeStatus, SnapshotFeed};
use crate::model::{AdminSettings, EtcdSettings};
use crate::worker::WorkerLink;

/// Where the node's routes come from, as the API reports (and writes) them.
pub enum RouteSourceInfo {
    /// The TOML file (`None`: the embedded default config).
    File(Option<PathBuf>),
    /// etcd; `status` is the etcd source's live report.
    Etcd {
        settings: EtcdSettings,
        status: Arc<Mutex<StatusDoc>>,
    },
}

/// What the API reads from the running node.
pub struct AdminContext {
    pub source: RouteSourceInfo,
    /// The snapshot the workers were last sent (`Publisher::subscribe`).
    pub live: SnapshotFeed,
    pub links: Vec<WorkerLink>,
    pub node: Arc<NodeStatus>,
    /// The active health checker's verdicts.
    pub checks: CheckView,
}

/// The admin listener, bound and with its token settled, not serving yet: binding first lets
/// `vane` refuse to start on a bad admin config before anything else runs.
pub struct AdminListener {
    listener: std::net::TcpListener,
    token: Option<Token>,
}

/// Resolves the token (`$VANE_ADMIN_TOKEN`, then `[admin]`), refuses a non-loopback `addr`
/// without one, and binds.
pub fn bind(addr: SocketAddr, settings: &AdminSettings) -> Result<AdminListener, AdminError> {
    let token = auth::resolve(settings, std::env::var(TOKEN_ENV).ok())?;
    auth::check_exposure(addr, token.as_ref())?;
    let bind_err = |source| AdminError::Bind { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    Ok(AdminListener { listener, token })
}

impl AdminListener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Starts the `vane-admin` thread.
    pub fn serve(self, ctx: AdminContext) -> Result<JoinHandle<()>, AdminError> {
        let shared = Arc::new(Shared::new(ctx, self.token));
        let listener = self.listener;
        std::thread::Builder::new()
            .name("vane-admin".into())
            .spawn(move || server::run(listener, shared))
            .map_err(AdminError::Thread)
    }
}

/// Everything a handler reads, shared by the connection tasks.
struct Shared {
    ctx: AdminContext,
    token: Option<Token>,
    started: Instant,
    started_unix_ms: u64,
    /// Present with the etcd source: where writes go.
    etcd: Option<etcd::Writer>,
    stats: stats::Sampler,
    /// The config file's last verdict, by (mtime, length) (`status.rs`).
    file_check: Mutex<Option<FileVerdict>>,
}

type FileVerdict = (Option<(Option<SystemTime>, u64)>, Vec<String>);

impl Shared {
    /// The snapshot the workers were last sent; `None` only before the first publish.
    fn snapshot(&self) -> Option<Arc<crate::router::Snapshot>> {
        self.ctx.live.borrow().clone()
    }

    fn new(ctx: AdminContext, token: Option<Token>) -> Shared {
        let etcd = match &ctx.source {
            RouteSourceInfo::Etcd { settings, .. } => Some(etcd::Writer::new(settings.clone())),
            RouteSourceInfo::File(_) => None,
        };
        Shared {
            ctx,
            token,
            started: Instant::now(),
            started_unix_ms: unix_ms(SystemTime::now()),
            etcd,
            stats: stats::Sampler::default(),
            file_check: Mutex::new(None),
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
