//! The control side's half: ask every worker for a copy of its metrics and merge them.
//! A worker answers between requests, so a scrape costs the data path one copy per worker and
//! nothing on the request path itself.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Merged, WorkerMetrics};
use crate::worker::{WorkerLink, WorkerMsg};

/// What one worker sends back.
#[derive(Clone, Debug, Default)]
pub struct WorkerReport {
    pub worker: usize,
    pub active_connections: usize,
    pub idle_upstream_connections: usize,
    pub metrics: WorkerMetrics,
    /// Passive health: `(upstream, endpoint, ejected now)` for every endpoint.
    pub endpoints: Vec<(Box<str>, SocketAddr, bool)>,
    pub access_log_dropped: u64,
}

/// Scrapes every live worker, waiting at most `timeout` for their answers; a worker that does
/// not answer in time (or has exited) is left out of this scrape.
pub fn collect(links: &[WorkerLink], timeout: Duration) -> Merged {
    let (tx, rx) = crossbeam_channel::bounded(links.len().max(1));
    let asked = links
        .iter()
        .filter(|l| l.send(WorkerMsg::Scrape(tx.clone())))
        .count();
    drop(tx);
    let deadline = Instant::now() + timeout;
    let mut merged = Merged::default();
    for _ in 0..asked {
        match rx.recv_deadline(deadline) {
            Ok(report) => merged.add(&report),
            Err(_) => break,
        }
    }
    merged.workers.sort_by_key(|w| w.worker);
    merged
}
