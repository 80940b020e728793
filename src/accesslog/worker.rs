//! One worker's side of the access log: lines go into a local buffer; a full buffer (or the
//! periodic flush) is handed to the writer thread with `try_send`, so the worker never waits.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::clock::Clock;
use super::line::{write_line, RequestInfo};
use super::writer::{Batch, LogSink};
use crate::metrics::Sample;
use crate::model::LogFormat;

/// A buffer is handed over once it holds this much.
const BATCH_BYTES: usize = 32 * 1024;

pub struct WorkerLog {
    format: LogFormat,
    buf: RefCell<Vec<u8>>,
    lines: Cell<u64>,
    clock: RefCell<Clock>,
    tx: Sender<Batch>,
    /// Emptied buffers coming back from the writer, so batches are not reallocated.
    spare: Receiver<Vec<u8>>,
    dropped: Cell<u64>,
    pending: Arc<AtomicU64>,
}

impl WorkerLog {
    pub fn new(sink: &LogSink) -> WorkerLog {
        WorkerLog {
            format: sink.format,
            buf: RefCell::new(Vec::with_capacity(BATCH_BYTES + 1024)),
            lines: Cell::new(0),
            clock: RefCell::new(Clock::default()),
            tx: sink.tx.clone(),
            spare: sink.spare.clone(),
            dropped: Cell::new(0),
            pending: sink.pending.clone(),
        }
    }

    pub fn write(&self, remote: &[u8], req: &RequestInfo, s: &Sample) {
        let mut buf = self.buf.borrow_mut();
        write_line(
            &mut buf,
            self.format,
            &mut self.clock.borrow_mut(),
            remote,
            req,
            s,
        );
        self.lines.set(self.lines.get() + 1);
        if buf.len() >= BATCH_BYTES {
            self.hand_over(&mut buf);
        }
    }

    /// Hands over whatever is buffered (the periodic flush and the worker's exit).
    pub fn flush(&self) {
        let mut buf = self.buf.borrow_mut();
        if !buf.is_empty() {
            self.hand_over(&mut buf);
        }
    }

    /// Lines dropped so far because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    fn hand_over(&self, buf: &mut Vec<u8>) {
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES + 1024));
        let batch = Batch {
            bytes: std::mem::replace(buf, next),
            lines: self.lines.replace(0),
        };
        // Once per batch, not per line: the only shared write on the worker's side.
        self.pending.fetch_add(1, Ordering::AcqRel);
        if let Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) = self.tx.try_send(batch)
        {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.dropped.set(self.dropped.get() + b.lines);
        }
    }
}
