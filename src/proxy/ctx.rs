//! One worker's state, shared by its connection tasks through an `Rc` (single thread, no locks).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use monoio::io::{CancelHandle, Canceller};

use super::io::Io;
use crate::accesslog::{LogSink, WorkerLog};
use crate::metrics::{Sample, WorkerMetrics, WorkerReport};
use crate::router::Snapshot;
use crate::upstream::Upstreams;

pub struct WorkerCtx {
    pub id: usize,
    /// The listener port, preformatted for X-Forwarded-Port.
    pub port: Box<[u8]>,
    /// `Rc` around the `Arc` so taking the snapshot per request is a non-atomic increment:
    /// cloning the `Arc` itself would bounce its refcount's cache line between cores.
    #[allow(clippy::redundant_allocation)]
    snapshot: RefCell<Rc<Arc<Snapshot>>>,
    pub upstreams: RefCell<Upstreams<Io>>,
    pub metrics: RefCell<WorkerMetrics>,
    /// `None` when access logging is off.
    pub log: Option<WorkerLog>,
    /// Request metrics are on (`[metrics] enabled`, read at start).
    pub metrics_on: bool,
    pub draining: Cell<bool>,
    /// Connections currently open.
    pub active: Cell<usize>,
    canceller: RefCell<Option<Canceller>>,
    cancel: CancelHandle,
}

impl WorkerCtx {
    pub fn new(id: usize, port: u16, snapshot: Arc<Snapshot>, log: Option<&LogSink>) -> Rc<Self> {
        let mut upstreams = Upstreams::default();
        upstreams.sync(&snapshot);
        let metrics_on = snapshot.settings.metrics;
        let mut metrics = WorkerMetrics::default();
        metrics.align(&snapshot);
        let canceller = Canceller::new();
        let cancel = canceller.handle();
        Rc::new(WorkerCtx {
            id,
            port: port.to_string().into_bytes().into_boxed_slice(),
            snapshot: RefCell::new(Rc::new(snapshot)),
            upstreams: RefCell::new(upstreams),
            metrics: RefCell::new(metrics),
            log: log.map(WorkerLog::new),
            metrics_on,
            draining: Cell::new(false),
            active: Cell::new(0),
            canceller: RefCell::new(Some(canceller)),
            cancel,
        })
    }

    pub fn snapshot(&self) -> Rc<Arc<Snapshot>> {
        self.snapshot.borrow().clone()
    }

    /// Swaps in a new snapshot. Requests in flight keep the one they started with.
    pub fn install(&self, snap: Arc<Snapshot>) {
        self.upstreams.borrow_mut().sync(&snap);
        self.metrics.borrow_mut().align(&snap);
        *self.snapshot.borrow_mut() = Rc::new(snap);
    }

    /// Records a finished request (metrics).
    #[inline]
    pub fn record(&self, s: &Sample) {
        if self.metrics_on {
            self.metrics.borrow_mut().record(s);
        }
    }

    /// A copy of this worker's metrics and passive health, for a scrape.
    pub fn report(&self) -> WorkerReport {
        self.upstreams
            .borrow_mut()
            .readmit(std::time::Instant::now());
        let ups = self.upstreams.borrow();
        WorkerReport {
            worker: self.id,
            active_connections: self.active.get(),
            idle_upstream_connections: ups.idle_count(),
            metrics: self.metrics.borrow().clone(),
            endpoints: ups
                .endpoint_health()
                .map(|(u, a, h)| (u.into(), a, h.ejected()))
                .collect(),
            access_log_dropped: self.log.as_ref().map_or(0, WorkerLog::dropped),
        }
    }

    /// Waits that must end when the worker drains (idle keep-alive reads, accept) use this.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Starts draining: active requests finish with `Connection: close`; idle reads and the
    /// accept loop are cancelled at once.
    pub fn start_drain(&self) {
        self.draining.set(true);
        if let Some(c) = self.canceller.borrow_mut().take() {
            drop(c.cancel());
        }
    }
}

/// Counts a connection as active for as long as it lives.
pub struct ActiveGuard(Rc<WorkerCtx>);

impl ActiveGuard {
    pub fn new(ctx: Rc<WorkerCtx>) -> Self {
        ctx.active.set(ctx.active.get() + 1);
        ActiveGuard(ctx)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.set(self.0.active.get() - 1);
    }
}
