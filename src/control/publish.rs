use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::model::{ChangeSet, Model, Settings};
use crate::router::{Compiler, Snapshot};
use crate::worker::{park_until_acked, WorkerLink, WorkerMsg};

/// The live snapshot as other control threads follow it (the health checker): `changed()`
/// wakes on each publish; only the newest value is kept, so a slow reader skips ahead.
pub type SnapshotFeed = watch::Receiver<Option<Arc<Snapshot>>>;

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
    live: watch::Sender<Option<Arc<Snapshot>>>,
}

impl Publisher {
    /// `generation` is that of the snapshot the workers started with.
    pub fn new(links: Vec<WorkerLink>, generation: u64) -> Self {
        Publisher {
            links,
            generation,
            compiler: Compiler::new(),
            current: None,
            live: watch::Sender::new(None),
        }
    }

    /// Continues from the compiler that built the workers' first snapshot.
    pub fn with_compiler(mut self, compiler: Compiler, current: Arc<Snapshot>) -> Self {
        self.compiler = compiler;
        self.live.send_replace(Some(current.clone()));
        self.current = Some(current);
        self
    }

    /// Follows every snapshot published from now on, starting with the live one.
    pub fn subscribe(&self) -> SnapshotFeed {
        self.live.subscribe()
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
        park_until_acked(&self.links, snap.generation, ACK_WAIT);
        drop(self.current.replace(snap.clone()));
    }

    pub fn publish(&self, snap: &Arc<Snapshot>) {
        for l in &self.links {
            l.send(WorkerMsg::Snapshot(snap.clone()));
        }
        self.live.send_replace(Some(snap.clone()));
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
