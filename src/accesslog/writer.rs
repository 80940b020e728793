//! The thread that writes access log batches to standard output or a file (opened for
//! appending, so `logrotate`'s copytruncate works).

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::model::{AccessLogSettings, LogFormat};

/// Batches queued at most: 256 × 32 KiB. Beyond that workers drop lines rather than wait.
const QUEUE: usize = 256;

pub struct Batch {
    pub bytes: Vec<u8>,
    pub lines: u64,
}

/// What workers need to reach the writer; cloned into each worker.
#[derive(Clone)]
pub struct LogSink {
    pub(super) format: LogFormat,
    pub(super) tx: Sender<Batch>,
    pub(super) spare: Receiver<Vec<u8>>,
    /// Batches handed over and not yet written (counted by the worker before it sends).
    pub(super) pending: Arc<AtomicU64>,
}

impl LogSink {
    /// Waits (bounded) until everything handed over is written: before the process exits.
    pub fn wait_written(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.pending.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Opens the log and starts the `vane-access-log` thread.
pub fn spawn_writer(s: &AccessLogSettings) -> std::io::Result<LogSink> {
    let mut out: Box<dyn Write + Send> = match &s.path {
        Some(p) => Box::new(OpenOptions::new().create(true).append(true).open(p)?),
        None => Box::new(std::io::stdout()),
    };
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(QUEUE);
    let (spare_tx, spare) = crossbeam_channel::bounded(QUEUE);
    let pending = Arc::new(AtomicU64::new(0));
    let sink = LogSink {
        format: s.format,
        tx,
        spare,
        pending: pending.clone(),
    };
    std::thread::Builder::new()
        .name("vane-access-log".into())
        .spawn(move || {
            for mut batch in rx {
                if let Err(e) = out.write_all(&batch.bytes).and_then(|_| out.flush()) {
                    tracing::error!(target: "vane::access_log", "cannot write the access log: {e}");
                }
                pending.fetch_sub(1, Ordering::AcqRel);
                batch.bytes.clear();
                let _ = spare_tx.try_send(batch.bytes);
            }
        })?;
    Ok(sink)
}
