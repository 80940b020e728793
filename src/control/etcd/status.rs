//! What the etcd source reports: where the running routes came from, the connection, the
//! revision, every rejected key (with its error and revision) and each worker's
//! acknowledgement. Kept in memory for the admin API and written atomically to
//! `<state_dir>/status.json` after each change.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::worker::WorkerLink;

/// Where the routes being served came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteSource {
    /// Nothing yet: every request answers 503 and health is not ready.
    None,
    /// The last applied keys, read from the state dir because etcd could not be reached.
    Cache,
    Etcd,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusDoc {
    pub source: RouteSource,
    pub etcd: ConnectionDoc,
    /// The etcd revision the model reflects.
    pub revision: i64,
    /// The generation of the last snapshot published to the workers.
    pub generation: u64,
    pub rejections: Vec<RejectionDoc>,
    pub workers: Vec<WorkerDoc>,
    pub publish: LatencyDoc,
    pub updated_unix_ms: u64,
    /// When the last full read or watch batch was applied (staleness, for the admin API).
    pub last_event_unix_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionDoc {
    pub endpoints: Vec<String>,
    pub prefix: String,
    pub connected: bool,
    /// The member currently (or last) used.
    pub endpoint: Option<String>,
    pub last_error: Option<String>,
    pub reconnects: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionDoc {
    pub key: String,
    pub revision: i64,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerDoc {
    pub id: usize,
    /// The generation and etcd revision of the snapshot this worker acknowledged.
    pub generation: u64,
    pub revision: i64,
}

/// Watch event received → every worker acknowledged the snapshot, over recent publishes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencyDoc {
    pub count: u64,
    pub last_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl StatusDoc {
    pub fn new(endpoints: Vec<String>, prefix: String) -> Self {
        StatusDoc {
            source: RouteSource::None,
            etcd: ConnectionDoc {
                endpoints,
                prefix,
                connected: false,
                endpoint: None,
                last_error: None,
                reconnects: 0,
            },
            revision: 0,
            generation: 0,
            rejections: Vec::new(),
            workers: Vec::new(),
            publish: LatencyDoc::default(),
            updated_unix_ms: 0,
            last_event_unix_ms: None,
        }
    }

    /// Refreshes the workers' acknowledgements and the time stamp.
    pub fn refresh(&mut self, links: &[WorkerLink]) {
        self.workers = links
            .iter()
            .enumerate()
            .map(|(id, l)| WorkerDoc {
                id,
                generation: l.status.generation.load(Ordering::Acquire),
                revision: l.status.revision.load(Ordering::Acquire),
            })
            .collect();
        self.updated_unix_ms = unix_ms();
    }

    /// Records that etcd just delivered something (a full read or a watch batch).
    pub fn event_seen(&mut self) {
        self.last_event_unix_ms = Some(unix_ms());
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn status_path(state_dir: &Path) -> PathBuf {
    state_dir.join("status.json")
}

/// Writes `doc` to `<state_dir>/status.json` through a temp file and a rename, so a reader
/// never sees half a document.
pub fn write_status(state_dir: &Path, doc: &StatusDoc) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
    let tmp = state_dir.join("status.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, status_path(state_dir))
}

/// Recent latencies in microseconds, with percentiles computed on demand.
pub(super) struct Latencies {
    recent: Vec<u64>,
    next: usize,
    count: u64,
    max: u64,
}

const RECENT: usize = 1024;

impl Latencies {
    pub fn new() -> Self {
        Latencies {
            recent: Vec::with_capacity(RECENT),
            next: 0,
            count: 0,
            max: 0,
        }
    }

    pub fn record(&mut self, us: u64) {
        if self.recent.len() < RECENT {
            self.recent.push(us);
        } else {
            self.recent[self.next] = us;
        }
        self.next = (self.next + 1) % RECENT;
        self.count += 1;
        self.max = self.max.max(us);
    }

    pub fn doc(&self, last: u64) -> LatencyDoc {
        let mut v = self.recent.clone();
        v.sort_unstable();
        let pct = |p: f64| {
            v.get(((v.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(0)
        };
        LatencyDoc {
            count: self.count,
            last_us: last,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            max_us: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_recent_samples() {
        let mut l = Latencies::new();
        for us in 1..=100 {
            l.record(us);
        }
        let d = l.doc(100);
        assert_eq!((d.count, d.p50_us, d.p99_us, d.max_us), (100, 50, 99, 100));
        for _ in 0..RECENT {
            l.record(7);
        }
        assert_eq!(l.doc(7).p99_us, 7);
        assert_eq!(l.doc(7).max_us, 100);
    }
}
