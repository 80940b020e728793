//! Metrics: each worker counts into its own `WorkerMetrics` (plain integers and hdrhistograms,
//! no atomics, nothing shared between cores); the control side asks every worker for a copy
//! (`collect`), merges the copies (histograms merged before any percentile is taken) and
//! renders them as Prometheus text or as stats for `vanectl top`.
//!
//! Series are keyed by names (host, location, upstream, endpoint address), resolved from the
//! snapshot's stable ids when a series first sees traffic, so they survive config swaps.
//! Never imports `proxy` or `control`.

mod collect;
mod histogram;
mod merged;
pub mod names;
mod prometheus;
mod recorder;

pub use collect::{collect, WorkerReport};
pub use histogram::Latency;
pub use merged::{EndpointStats, LocationStats, Merged, Totals, UpstreamStats, WorkerGauges};
pub use prometheus::label as prometheus_label;
pub use recorder::{Sample, UpstreamError, WorkerMetrics};

/// Status classes `1xx` … `5xx`, as indices 0 … 4.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The class index of a status code; anything outside 100–599 counts as 5xx.
pub fn class_of(status: u16) -> usize {
    match status {
        100..=599 => (status / 100 - 1) as usize,
        _ => 4,
    }
}
