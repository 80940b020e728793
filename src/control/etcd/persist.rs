//! Writes the last applied keys to the state dir on a thread of its own, so a large cache
//! never delays the next publish. Writes coalesce: only the newest pending copy is written.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use crate::control::{cache, Kv};

/// The next write waiting to start: (revision, keys).
type Slot = Mutex<Option<(i64, Vec<Kv>)>>;

#[derive(Clone)]
pub(super) struct CacheWriter {
    slot: Arc<(Slot, Condvar)>,
}

impl CacheWriter {
    pub fn spawn(dir: PathBuf) -> std::io::Result<CacheWriter> {
        let w = CacheWriter {
            slot: Arc::new((Mutex::new(None), Condvar::new())),
        };
        let slot = w.slot.clone();
        std::thread::Builder::new()
            .name("vane-cache".into())
            .spawn(move || loop {
                let (revision, kvs) = {
                    let (lock, cv) = &*slot;
                    let mut g = lock.lock().unwrap_or_else(|p| p.into_inner());
                    loop {
                        if let Some(next) = g.take() {
                            break next;
                        }
                        g = cv.wait(g).unwrap_or_else(|p| p.into_inner());
                    }
                };
                match cache::save(&dir, revision, &kvs) {
                    Ok(()) => tracing::debug!(target: "vane::etcd", revision, keys = kvs.len(), "cache written"),
                    Err(e) => tracing::warn!(target: "vane::etcd", "cannot write the cache to {}: {e}", dir.display()),
                }
            })?;
        Ok(w)
    }

    /// Queues a write, replacing one that has not started yet.
    pub fn save(&self, revision: i64, kvs: Vec<Kv>) {
        let (lock, cv) = &*self.slot;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = Some((revision, kvs));
        cv.notify_one();
    }
}
