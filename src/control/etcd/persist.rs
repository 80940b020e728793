//! Writes the last applied keys to the state dir on a thread of its own, so a large cache
//! never delays the next publish. The control thread hands over only what changed; this thread
//! keeps the whole served view and writes it. Writes coalesce: deltas that arrive while a write
//! runs are applied together before the next one.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use crate::control::{cache, CacheDelta, Served};

/// Deltas waiting for the writer, oldest first, with the revision of the newest.
type Slot = Mutex<(Vec<CacheDelta>, i64)>;

#[derive(Clone)]
pub(super) struct CacheWriter {
    slot: Arc<(Slot, Condvar)>,
}

impl CacheWriter {
    pub fn spawn(dir: PathBuf) -> std::io::Result<CacheWriter> {
        let w = CacheWriter {
            slot: Arc::new((Mutex::new((Vec::new(), 0)), Condvar::new())),
        };
        let slot = w.slot.clone();
        std::thread::Builder::new()
            .name("vane-cache".into())
            .spawn(move || {
                let mut served = Served::new();
                loop {
                    let (deltas, revision) = next_deltas(&slot);
                    for d in deltas {
                        d.apply_to(&mut served);
                    }
                    let kvs = served.iter().map(|(k, (v, rev))| (k.as_str(), v.as_slice(), *rev));
                    match cache::save(&dir, revision, kvs) {
                        Ok(()) => tracing::debug!(target: "vane::etcd", revision, keys = served.len(), "cache written"),
                        Err(e) => tracing::warn!(target: "vane::etcd", "cannot write the cache to {}: {e}", dir.display()),
                    }
                }
            })?;
        Ok(w)
    }

    /// Queues a write of the view after `delta`, at `revision`.
    pub fn save(&self, revision: i64, delta: CacheDelta) {
        let (lock, cv) = &*self.slot;
        let mut g = lock.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(delta, CacheDelta::Full(_)) {
            g.0.clear();
        }
        g.0.push(delta);
        g.1 = revision;
        cv.notify_one();
    }
}

fn next_deltas(slot: &(Slot, Condvar)) -> (Vec<CacheDelta>, i64) {
    let (lock, cv) = slot;
    let mut g = lock.lock().unwrap_or_else(|p| p.into_inner());
    while g.0.is_empty() {
        g = cv.wait(g).unwrap_or_else(|p| p.into_inner());
    }
    (std::mem::take(&mut g.0), g.1)
}
