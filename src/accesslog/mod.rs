//! Access logs, written without blocking a worker: each worker formats its lines into its own
//! buffer and hands full buffers (or, every 200 ms, partial ones) to one writer thread over a
//! bounded channel. When the writer falls behind, a worker drops the buffer instead of waiting,
//! and counts the lines it dropped (`vane_access_log_dropped_lines_total`).
//!
//! `line.rs` formats one line (JSON or combined); `clock.rs` caches the timestamp text per
//! second; `worker.rs` is the per-worker buffer; `writer.rs` the thread that writes.

mod clock;
mod line;
mod worker;
mod writer;

pub use line::RequestInfo;
pub use worker::WorkerLog;
pub use writer::{spawn_writer, LogSink};
