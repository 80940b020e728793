use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::{ChangeSet, Model, Settings};
use crate::router::{Compiler, Snapshot};
use crate::worker::{WorkerLink, WorkerMsg};

/// How long `publish_and_retire` waits for every worker to acknowledge.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// Compiles whole snapshots off the data path and hands one `Arc` to every worker.
pub struct Publisher {
    links: Vec<WorkerLink>,
    generation: u64,
    /// Kept warm across compiles so ids and unchanged upstreams' `Arc`s stay stable.
    compiler: Compiler,
    /// The live snapshot, held here so the one it replaces is freed on this thread.
    current: Option<Arc<Snapshot>>,
    live: LiveSnapshot,
}

/// The snapshot last sent to the workers, for readers off the control thread (the admin API)
/// that must not wait on the `Publisher`'s lock while it compiles or waits for acks.
#[derive(Clone, Default)]
pub struct LiveSnapshot(Arc<Mutex<Option<Arc<Snapshot>>>>);

impl LiveSnapshot {
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, snap: &Arc<Snapshot>) {
        // The replaced `Arc` is dropped here, on the publishing (control) thread.
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(snap.clone());
    }
}

impl Publisher {
    /// `generation` is that of the snapshot the workers started with.
    pub fn new(links: Vec<WorkerLink>, generation: u64) -> Self {
        Publisher {
            links,
            generation,
            compiler: Compiler::new(),
            current: None,
            live: LiveSnapshot::default(),
        }
    }

    /// Continues from the compiler that built the workers' first snapshot.
    pub fn with_compiler(mut self, compiler: Compiler, current: Arc<Snapshot>) -> Self {
        self.compiler = compiler;
        self.live.set(&current);
        self.current = Some(current);
        self
    }

    /// The snapshot the workers were last sent (whichever source compiled it).
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.live.get()
    }

    /// A handle that reads `current()` without this `Publisher`'s lock.
    pub fn live(&self) -> LiveSnapshot {
        self.live.clone()
    }

    pub fn compile_next(
        &mut self,
        model: &Model,
        settings: Arc<Settings>,
        revision: i64,
    ) -> Arc<Snapshot> {
        self.generation += 1;
        let all = ChangeSet::everything();
        Arc::new(
            self.compiler
                .compile(model, &all, settings, self.generation, revision),
        )
    }

    /// Publishes, waits (bounded) until every worker serves `snap`, then frees the snapshot it
    /// replaced here: freeing a large one costs tens of milliseconds no worker should pay.
    pub fn publish_and_retire(&mut self, snap: &Arc<Snapshot>) {
        self.publish(snap);
        let deadline = Instant::now() + ACK_WAIT;
        let acked = |l: &WorkerLink| {
            l.status.exited.load(Ordering::Acquire)
                || l.status.generation.load(Ordering::Acquire) >= snap.generation
        };
        while !self.links.iter().all(acked) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        drop(self.current.replace(snap.clone()));
    }

    pub fn publish(&self, snap: &Arc<Snapshot>) {
        self.live.set(snap);
        for l in &self.links {
            l.send(WorkerMsg::Snapshot(snap.clone()));
        }
    }

    pub fn drain(&self) {
        for l in &self.links {
            l.send(WorkerMsg::Drain);
        }
    }

    pub fn links(&self) -> &[WorkerLink] {
        &self.links
    }
}
