use std::sync::atomic::{AtomicBool, Ordering};

/// What the health endpoint answers from.
#[derive(Default)]
pub struct NodeStatus {
    ready: AtomicBool,
    draining: AtomicBool,
}

impl NodeStatus {
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Serving: workers up with a config, and not draining.
    pub fn healthy(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.draining.load(Ordering::Acquire)
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}
