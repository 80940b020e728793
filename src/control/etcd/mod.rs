//! The etcd config source: routes live in etcd under a prefix (vulcand's layout, see
//! `model::etcd_keys`), followed by one control thread with its own current-thread tokio
//! runtime. Nothing here runs on, or is awaited by, the data path: workers only ever receive
//! finished snapshots through their links.
//!
//! `source.rs` is the control loop (`source/report.rs`: logs and status.json); `client.rs`
//! the connection and the consistent full read; `watch.rs` the watch stream (resume,
//! compaction, liveness, draining bursts); `apply.rs` compile → publish → acknowledgements →
//! freeing old snapshots; `persist.rs` the on-disk cache writer; `status.rs` what is reported;
//! `backoff.rs` reconnect delays; `settings_file.rs` the node settings that still come from
//! the file.
//!
//! Never imports `proxy` or touches data-path sockets.

mod apply;
mod backoff;
mod client;
mod persist;
mod settings_file;
mod source;
mod status;
mod watch;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use status::{
    status_path, ConnectionDoc, LatencyDoc, RejectionDoc, RouteSource, StatusDoc, WorkerDoc,
};

use super::{NodeStatus, Publisher};
use crate::model::Settings;

pub struct EtcdSourceConfig {
    /// The node's settings; `settings.etcd` says where etcd is.
    pub settings: Arc<Settings>,
    /// The config file, watched for settings changes (its routes are ignored).
    pub config_file: Option<PathBuf>,
    pub publisher: Arc<Mutex<Publisher>>,
    /// Turned ready once every worker serves a real config (from etcd or the cache).
    pub node: Arc<NodeStatus>,
    /// The generation of the snapshot the workers started with.
    pub generation: u64,
}

pub struct EtcdSource {
    /// What `status.json` holds, for the admin API.
    pub status: Arc<Mutex<StatusDoc>>,
    pub thread: JoinHandle<()>,
}

/// Starts the `vane-etcd` control thread. It never gives up: with etcd unreachable it serves
/// the cache (or 503) and keeps retrying.
pub fn spawn_etcd_source(c: EtcdSourceConfig) -> std::io::Result<EtcdSource> {
    let etcd = c.settings.etcd.clone();
    if etcd.endpoints.is_empty() {
        return Err(std::io::Error::other("no etcd endpoints configured"));
    }
    if let Err(e) = std::fs::create_dir_all(&etcd.state_dir) {
        tracing::warn!(target: "vane::etcd", "state dir {}: {e}: no cache and no status.json will be written", etcd.state_dir.display());
    }
    let status = Arc::new(Mutex::new(StatusDoc::new(
        etcd.endpoints.clone(),
        etcd.prefix.clone(),
    )));
    let cache = persist::CacheWriter::spawn(etcd.state_dir.clone())?;
    let doc = status.clone();
    let slice = c.settings.scheduler.control_slice;
    let thread = std::thread::Builder::new()
        .name("vane-etcd".into())
        .spawn(move || {
            // A route change should not wait out a busy neighbour's whole slice.
            crate::sched::request_slice_or_log(slice, "vane-etcd");
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(target: "vane::etcd", "cannot start the etcd runtime: {e}");
                    return;
                }
            };
            rt.block_on(source::Source::new(c, doc, Some(cache)).run());
        })?;
    Ok(EtcdSource { status, thread })
}
