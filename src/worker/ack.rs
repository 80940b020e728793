//! How the control side learns that every worker serves a snapshot, and when.
//!
//! A worker stamps the instant it swapped and wakes the thread waiting for acknowledgements.
//! The stamp, not the waiter's own wake-up, is what "every worker serves it" means: on a busy
//! machine the waiter may run milliseconds after the last worker swapped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::{WorkerLink, WorkerStatus};

/// The waiting thread re-checks at least this often, in case a wake-up was missed (a worker
/// that found the waiter's slot locked does not wait for it).
const RECHECK: Duration = Duration::from_millis(1);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// An instant as nanoseconds since the process's epoch, storable in an atomic.
#[derive(Default)]
pub struct Stamp(AtomicU64);

impl Stamp {
    pub fn set_now(&self) {
        let ns = epoch().elapsed().as_nanos() as u64;
        self.0.store(ns, Ordering::Release);
    }

    pub fn get(&self) -> Instant {
        epoch() + Duration::from_nanos(self.0.load(Ordering::Acquire))
    }
}

/// The thread to wake when a worker acknowledges; one control thread waits at a time.
#[derive(Default)]
pub struct AckWaiter(Mutex<Option<Thread>>);

impl AckWaiter {
    /// Called by the worker after it swapped; never blocks it.
    pub fn notify(&self) {
        if let Ok(slot) = self.0.try_lock() {
            if let Some(t) = slot.as_ref() {
                t.unpark();
            }
        }
    }

    fn set(&self, t: Option<Thread>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
}

/// When every running worker serves `generation`: the last one to swap (its index in `links`)
/// and the instant it did.
pub fn acked_at(links: &[WorkerLink], generation: u64) -> Option<(usize, Instant)> {
    let mut last: Option<(usize, Instant)> = None;
    for (i, s) in links.iter().map(|l| &*l.status).enumerate() {
        if exited(s) {
            continue;
        }
        if s.generation.load(Ordering::Acquire) < generation {
            return None;
        }
        let at = s.swapped_at.get();
        if last.is_none_or(|(_, t)| at > t) {
            last = Some((i, at));
        }
    }
    Some(last.unwrap_or_else(|| (0, Instant::now())))
}

/// Blocks this thread until every running worker serves `generation` or `max` has passed;
/// returns `acked_at`.
pub fn park_until_acked(
    links: &[WorkerLink],
    generation: u64,
    max: Duration,
) -> Option<(usize, Instant)> {
    let deadline = Instant::now() + max;
    for l in links {
        l.status.waiter.set(Some(std::thread::current()));
    }
    let acked = loop {
        if let Some(at) = acked_at(links, generation) {
            break Some(at);
        }
        let now = Instant::now();
        if now >= deadline {
            break None;
        }
        std::thread::park_timeout((deadline - now).min(RECHECK));
    };
    for l in links {
        l.status.waiter.set(None);
    }
    acked
}

fn exited(s: &WorkerStatus) -> bool {
    s.exited.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Model, Settings};
    use crate::router::compile;
    use crate::worker::Doorbell;

    fn link() -> WorkerLink {
        WorkerLink {
            tx: crossbeam_channel::unbounded().0,
            bell: Doorbell::default(),
            status: Arc::new(WorkerStatus::default()),
        }
    }

    fn snapshot(generation: u64) -> crate::router::Snapshot {
        compile(
            &Model::default(),
            Arc::new(Settings::default()),
            generation,
            7,
        )
    }

    #[test]
    fn the_last_swap_is_when_every_worker_serves() {
        let links = vec![link(), link(), link()];
        let snap = snapshot(2);
        links[0].status.ack(&snap);
        assert!(acked_at(&links, 2).is_none(), "two workers are behind");
        // An exited worker is not waited for.
        links[2].status.exited.store(true, Ordering::Release);
        let late = links[1].status.clone();
        let worker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let snap = snapshot(2);
            late.ack(&snap);
        });
        let (last, at) = park_until_acked(&links, 2, Duration::from_secs(10)).expect("acked");
        assert_eq!(last, 1);
        worker.join().unwrap();
        assert_eq!(at, links[1].status.swapped_at.get());
        assert!(at > links[0].status.swapped_at.get());
        assert_eq!(links[1].status.revision.load(Ordering::Acquire), 7);
        // The waiter's slot is cleared once it returns.
        assert!(links[0].status.waiter.0.lock().unwrap().is_none());
    }

    #[test]
    fn a_worker_that_never_acks_times_out() {
        let links = vec![link()];
        let t = Instant::now();
        assert!(park_until_acked(&links, 1, Duration::from_millis(30)).is_none());
        assert!(t.elapsed() >= Duration::from_millis(30));
    }
}
