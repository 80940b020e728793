//! The checker loop: follows the live snapshot, runs one check loop per endpoint, counts
//! results against the thresholds, and sends the workers a new down-table when a verdict
//! changes. Records are keyed by (upstream name, address), so they survive snapshot swaps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::probe::{probe, ProbeError};
use super::targets::{changes, wanted, Changes};
use super::verdict::Flip;
use super::view::{CheckView, EndpointCheck, Key};
use crate::control::SnapshotFeed;
use crate::model::HealthCheckOptions;
use crate::upstream::ActiveHealth;
use crate::worker::{WorkerLink, WorkerMsg};

/// One check's result, from an endpoint's check loop.
struct Outcome {
    key: Key,
    /// Which check loop sent it: results of a replaced loop are ignored.
    serial: u64,
    result: Result<(), ProbeError>,
    at: SystemTime,
}

struct Target {
    opts: Arc<HealthCheckOptions>,
    serial: u64,
    task: JoinHandle<()>,
    check: EndpointCheck,
}

pub(super) struct Checker {
    feed: SnapshotFeed,
    links: Vec<WorkerLink>,
    view: CheckView,
    targets: BTreeMap<Key, Target>,
    tx: mpsc::UnboundedSender<Outcome>,
    rx: mpsc::UnboundedReceiver<Outcome>,
    serial: u64,
    /// Of the last table sent to the workers.
    version: u64,
}

impl Checker {
    pub fn new(feed: SnapshotFeed, links: Vec<WorkerLink>, view: CheckView) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Checker {
            feed,
            links,
            view,
            targets: BTreeMap::new(),
            tx,
            rx,
            serial: 0,
            version: 0,
        }
    }

    pub async fn run(mut self) {
        let mut following = true;
        self.follow();
        loop {
            tokio::select! {
                changed = self.feed.changed(), if following => match changed {
                    Ok(()) => self.follow(),
                    // The publisher is gone (the process is exiting): keep the last verdicts.
                    Err(_) => following = false,
                },
                Some(first) = self.rx.recv() => {
                    // Everything already queued is counted before one table goes out.
                    let mut flipped = self.count(first);
                    while let Ok(next) = self.rx.try_recv() {
                        flipped |= self.count(next);
                    }
                    if flipped {
                        self.send_table();
                    }
                }
            }
        }
    }

    /// Lines the check loops up with the live snapshot.
    fn follow(&mut self) {
        // Clone the `Arc` out: holding the borrow would block the publisher's next send.
        let snap = self.feed.borrow_and_update().clone();
        let wanted = snap.as_deref().map(wanted).unwrap_or_default();
        drop(snap);
        let running = self.targets.iter().map(|(k, t)| (k, &*t.opts));
        let Changes {
            start,
            restart,
            stop,
        } = changes(running, wanted);
        let mut table_changed = false;
        for key in stop {
            if let Some(t) = self.targets.remove(&key) {
                t.task.abort();
                self.view.remove(&key);
                table_changed |= !t.check.up;
            }
        }
        for (key, opts) in restart {
            if let Some(t) = self.targets.remove(&key) {
                t.task.abort();
                self.spawn(key, opts, t.check);
            }
        }
        for (key, opts) in start {
            let check = EndpointCheck::new(&key);
            self.spawn(key, opts, check);
        }
        if table_changed {
            self.send_table();
        }
    }

    fn spawn(&mut self, key: Key, opts: Arc<HealthCheckOptions>, check: EndpointCheck) {
        self.serial += 1;
        self.view.set(&check);
        let task = tokio::spawn(check_loop(
            key.clone(),
            self.serial,
            opts.clone(),
            self.tx.clone(),
        ));
        let t = Target {
            opts,
            serial: self.serial,
            task,
            check,
        };
        self.targets.insert(key, t);
    }

    /// Counts one result; true if it flipped the endpoint's verdict.
    fn count(&mut self, o: Outcome) -> bool {
        let Some(t) = self.targets.get_mut(&o.key) else {
            return false;
        };
        if t.serial != o.serial {
            return false;
        }
        let flip = t
            .check
            .record(o.result, o.at, t.opts.healthy, t.opts.unhealthy);
        self.view.set(&t.check);
        let (upstream, endpoint) = (&*o.key.0, o.key.1);
        match flip {
            None => return false,
            Some(Flip::Down(reason)) => {
                tracing::warn!(target: "vane::health", upstream, %endpoint, %reason, failures = t.check.consecutive_failures, "endpoint down")
            }
            Some(Flip::Up) => {
                tracing::info!(target: "vane::health", upstream, %endpoint, reason = "checks passed", successes = t.check.consecutive_successes, "endpoint up")
            }
        }
        true
    }

    /// Sends every worker the whole table of endpoints that are down.
    fn send_table(&mut self) {
        self.version += 1;
        let down = self
            .targets
            .iter()
            .filter(|(_, t)| !t.check.up)
            .map(|(k, _)| k.clone());
        let table = Arc::new(ActiveHealth::new(self.version, down));
        for l in &self.links {
            l.send(WorkerMsg::Health(table.clone()));
        }
        self.view.set_version(self.version);
        tracing::debug!(target: "vane::health", version = self.version, down = table.down_count(), "health table sent to the workers");
    }
}

/// Checks one endpoint at once, then every `interval` (measured from check start; the
/// timeout is at most the interval, so checks never overlap).
async fn check_loop(
    key: Key,
    serial: u64,
    opts: Arc<HealthCheckOptions>,
    tx: mpsc::UnboundedSender<Outcome>,
) {
    let mut tick = tokio::time::interval(opts.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = probe(key.1, &opts.path, opts.timeout).await;
        let o = Outcome {
            key: key.clone(),
            serial,
            result,
            at: SystemTime::now(),
        };
        if tx.send(o).is_err() {
            return;
        }
    }
}
