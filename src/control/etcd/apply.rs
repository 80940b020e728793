//! Compiles the model into a snapshot, publishes it to every worker, waits for their
//! acknowledgements and keeps each replaced snapshot until it is the last reference, so the
//! (possibly large) old route table is freed here on the control thread, never by a worker.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::status::Latencies;
use crate::control::{NodeStatus, Publisher};
use crate::model::{ChangeSet, Model, Settings};
use crate::router::{Compiler, Snapshot};
use crate::worker::{acked_at, park_until_acked, WorkerLink};

/// Longest wait for every worker to acknowledge a snapshot before moving on (a worker that
/// is late still swaps; its old snapshot is freed at a later reap).
const ACK_WAIT: Duration = Duration::from_secs(1);

pub(super) struct Applier {
    publisher: Arc<Mutex<Publisher>>,
    links: Vec<WorkerLink>,
    settings: Arc<Settings>,
    generation: u64,
    /// Keeps what the next compile shares with this one: a change costs what it touches.
    compiler: Compiler,
    node: Arc<NodeStatus>,
    /// Replaced snapshots not yet freed: dropped once nobody else holds them.
    retired: Vec<Arc<Snapshot>>,
    current: Option<Arc<Snapshot>>,
    /// Event received → all workers acked, in µs.
    pub latencies: Latencies,
    pub last_latency_us: u64,
}

/// What one publish cost.
pub(super) struct Published {
    pub generation: u64,
    /// From the triggering event to the start of the compile (draining, applying).
    pub queued: Duration,
    pub compile: Duration,
    /// From the triggering event to the last worker's acknowledgement (None: not all acked
    /// within `ACK_WAIT`).
    pub acked: Option<Duration>,
    /// The worker that swapped last, and how long after the snapshot was sent (all acked).
    pub slowest: Option<(usize, Duration)>,
}

impl Applier {
    /// `generation`: that of the snapshot the workers started with.
    pub fn new(
        publisher: Arc<Mutex<Publisher>>,
        settings: Arc<Settings>,
        node: Arc<NodeStatus>,
        generation: u64,
    ) -> Self {
        let links = match publisher.lock() {
            Ok(p) => p.links().to_vec(),
            Err(p) => p.into_inner().links().to_vec(),
        };
        Applier {
            publisher,
            links,
            settings,
            generation,
            compiler: Compiler::new(),
            node,
            retired: Vec::new(),
            current: None,
            latencies: Latencies::new(),
            last_latency_us: 0,
        }
    }

    pub fn links(&self) -> &[WorkerLink] {
        &self.links
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn set_settings(&mut self, s: Arc<Settings>) {
        self.settings = s;
    }

    /// Compiles and publishes `model` as a real config (health turns ready once every worker
    /// serves it); `started`: when the change that caused it was received.
    pub async fn publish(
        &mut self,
        model: &Model,
        changes: &ChangeSet,
        revision: i64,
        started: Instant,
    ) -> Published {
        self.generation += 1;
        let queued = started.elapsed();
        let t = Instant::now();
        let snap = Arc::new(self.compiler.compile(
            model,
            changes,
            self.settings.clone(),
            self.generation,
            revision,
        ));
        let compile = t.elapsed();
        let sent = Instant::now();
        self.send(&snap);
        if let Some(old) = self.current.replace(snap) {
            self.retired.push(old);
        }
        let last = self.wait_acks(self.generation).await;
        let acked = last.map(|(_, at)| at.saturating_duration_since(started));
        if let Some(d) = acked {
            self.last_latency_us = d.as_micros() as u64;
            self.latencies.record(self.last_latency_us);
            self.node.set_ready();
        }
        self.reap();
        Published {
            generation: self.generation,
            queued,
            compile,
            acked,
            slowest: last.map(|(w, at)| (w, at.saturating_duration_since(sent))),
        }
    }

    fn send(&self, snap: &Arc<Snapshot>) {
        // A panicked holder of the lock cannot have left the links inconsistent.
        let p = self.publisher.lock().unwrap_or_else(|p| p.into_inner());
        p.publish(snap);
    }

    /// Waits until every running worker serves `generation`; returns which one swapped last,
    /// and when. Parks for the first 10 ms (acks usually take tens of µs, and the workers wake
    /// this thread), then yields to the runtime between checks, for up to `ACK_WAIT`.
    async fn wait_acks(&self, generation: u64) -> Option<(usize, Instant)> {
        let start = Instant::now();
        if let Some(last) = park_until_acked(&self.links, generation, Duration::from_millis(10)) {
            return Some(last);
        }
        while start.elapsed() < ACK_WAIT {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if let Some(last) = acked_at(&self.links, generation) {
                return Some(last);
            }
        }
        tracing::warn!(target: "vane::etcd", generation, "a worker has not acknowledged the snapshot within {ACK_WAIT:?}");
        None
    }

    /// Frees replaced snapshots that only this thread still holds (workers swapped and their
    /// last in-flight request on it finished).
    pub fn reap(&mut self) {
        self.retired.retain(|s| Arc::strong_count(s) > 1);
    }

    /// Health turns ready once every running worker serves a real config (a late
    /// acknowledgement is noticed here).
    pub fn ready_if_acked(&self) {
        let acked = self.links.iter().all(|l| {
            l.status.exited.load(Ordering::Acquire)
                || l.status.generation.load(Ordering::Acquire) >= self.generation
        });
        if acked && self.current.is_some() {
            self.node.set_ready();
        }
    }
}
