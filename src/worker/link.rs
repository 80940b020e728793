use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::Sender;

use super::ack::{AckWaiter, Stamp};
use super::Doorbell;
use crate::metrics::WorkerReport;
use crate::router::Snapshot;
use crate::upstream::ActiveHealth;

pub enum WorkerMsg {
    Snapshot(Arc<Snapshot>),
    /// The active health checker's latest verdicts (a whole table; the latest wins).
    Health(Arc<ActiveHealth>),
    /// Send a copy of this worker's metrics back (answered between requests).
    Scrape(Sender<WorkerReport>),
    /// Stop accepting, finish what is in flight, close idle connections, exit.
    Drain,
}

/// What the control side holds for one worker: how to reach it and what it reported.
#[derive(Clone)]
pub struct WorkerLink {
    pub tx: Sender<WorkerMsg>,
    pub bell: Doorbell,
    pub status: Arc<WorkerStatus>,
}

impl WorkerLink {
    /// Queues `msg` and wakes the worker; false if the worker has exited.
    pub fn send(&self, msg: WorkerMsg) -> bool {
        let ok = self.tx.send(msg).is_ok();
        self.bell.ring();
        ok
    }
}

/// Written by the worker off the request path (on swap, on exit); read by status and health.
#[derive(Default)]
pub struct WorkerStatus {
    pub driver: OnceLock<&'static str>,
    /// Generation and source revision of the snapshot the worker serves (its acknowledgement).
    pub generation: AtomicU64,
    pub revision: AtomicI64,
    /// When the worker started serving that snapshot.
    pub swapped_at: Stamp,
    pub waiter: AckWaiter,
    pub connections: AtomicUsize,
    pub exited: AtomicBool,
}

impl WorkerStatus {
    /// Called by the worker once it serves `snap`.
    pub fn ack(&self, snap: &Snapshot) {
        self.swapped_at.set_now();
        self.revision.store(snap.revision, Ordering::Release);
        self.generation.store(snap.generation, Ordering::Release);
        self.waiter.notify();
    }
}
