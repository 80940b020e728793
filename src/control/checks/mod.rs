//! Active health checks, on the `vane-checks` thread (its own current-thread tokio runtime):
//! every endpoint of an upstream whose options have `health_check` gets `GET <path>` each
//! interval; verdicts reach the workers as a whole table of down endpoints
//! (`WorkerMsg::Health`), which they apply between requests.
//!
//! `run.rs` is the loop (follow the snapshot, one check loop per endpoint, send tables);
//! `probe.rs` one check; `verdict.rs` the thresholds; `targets.rs` which endpoints a snapshot
//! asks for; `view.rs` the read-only view for the admin API and metrics.
//!
//! Never touches a worker's sockets or state: workers only receive finished tables.

mod probe;
mod run;
mod targets;
mod verdict;
mod view;

use crate::control::SnapshotFeed;
use crate::worker::WorkerLink;

pub use view::{CheckView, EndpointCheck};

/// Starts the checker. It follows `feed` (from `Publisher::subscribe`) and sends verdicts to
/// `links`; the returned view shows every checked endpoint.
pub fn spawn_checker(feed: SnapshotFeed, links: Vec<WorkerLink>) -> std::io::Result<CheckView> {
    let view = CheckView::default();
    let checker = run::Checker::new(feed, links, view.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("vane-checks".into())
        .spawn(move || rt.block_on(checker.run()))?;
    Ok(view)
}
