use std::sync::Arc;

use crate::model::{Model, Settings};
use crate::router::{compile, Snapshot};
use crate::worker::{WorkerLink, WorkerMsg};

/// Compiles whole snapshots off the data path and hands one `Arc` to every worker.
pub struct Publisher {
    links: Vec<WorkerLink>,
    generation: u64,
}

impl Publisher {
    /// `generation` is that of the snapshot the workers started with.
    pub fn new(links: Vec<WorkerLink>, generation: u64) -> Self {
        Publisher { links, generation }
    }

    pub fn compile_next(
        &mut self,
        model: &Model,
        settings: Arc<Settings>,
        revision: i64,
    ) -> Arc<Snapshot> {
        self.generation += 1;
        Arc::new(compile(model, settings, self.generation, revision))
    }

    pub fn publish(&self, snap: &Arc<Snapshot>) {
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
