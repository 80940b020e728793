//! Prometheus text exposition (version 0.0.4) of a `Merged` scrape.

use std::fmt::Write;

use super::names::*;
use super::{Latency, Merged, UpstreamError, CLASSES};

/// Histogram bucket bounds, in seconds (and in microseconds for the lookup).
const BUCKETS: [(&str, u64); 16] = [
    ("0.0005", 500),
    ("0.001", 1_000),
    ("0.0025", 2_500),
    ("0.005", 5_000),
    ("0.01", 10_000),
    ("0.025", 25_000),
    ("0.05", 50_000),
    ("0.1", 100_000),
    ("0.25", 250_000),
    ("0.5", 500_000),
    ("1", 1_000_000),
    ("2.5", 2_500_000),
    ("5", 5_000_000),
    ("10", 10_000_000),
    ("30", 30_000_000),
    ("60", 60_000_000),
];

/// Escapes a label value (backslash, double quote, newline).
pub fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Latency) {
    for (le, micros) in BUCKETS {
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"{le}\"}} {}",
            h.count_le(micros)
        );
    }
    let n = h.count();
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {n}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_seconds());
    let _ = writeln!(out, "{name}_count{{{labels}}} {n}");
}

impl Merged {
    /// Appends every worker metric, merged across workers.
    pub fn prometheus(&self, out: &mut String) {
        self.requests(out);
        self.endpoint_series(out);
        self.upstream_series(out);
        self.node_series(out);
    }

    fn requests(&self, out: &mut String) {
        header(
            out,
            REQUESTS,
            "counter",
            "Requests answered, by location and status class.",
        );
        for ((host, loc), s) in &self.locations {
            let l = format!("host=\"{}\",location=\"{}\"", label(host), label(loc));
            for (class, n) in CLASSES.iter().zip(s.by_class) {
                let _ = writeln!(out, "{REQUESTS}{{{l},code=\"{class}\"}} {n}");
            }
        }
        header(
            out,
            UNROUTED,
            "counter",
            "Requests no location answered (404, or refused before routing), by status class.",
        );
        for (class, n) in CLASSES.iter().zip(self.totals.unrouted) {
            let _ = writeln!(out, "{UNROUTED}{{code=\"{class}\"}} {n}");
        }
        header(
            out,
            REQUEST_DURATION,
            "histogram",
            "Time from a complete request head to the end of the response, by location.",
        );
        for ((host, loc), s) in &self.locations {
            let l = format!("host=\"{}\",location=\"{}\"", label(host), label(loc));
            histogram(out, REQUEST_DURATION, &l, &s.latency);
        }
    }

    fn endpoint_series(&self, out: &mut String) {
        let eps = || {
            self.endpoints.iter().map(|((u, e), s)| {
                (
                    format!("upstream=\"{}\",endpoint=\"{}\"", label(u), label(e)),
                    s,
                )
            })
        };
        header(
            out,
            ENDPOINT_REQUESTS,
            "counter",
            "Requests sent to an endpoint.",
        );
        for (l, s) in eps() {
            let _ = writeln!(out, "{ENDPOINT_REQUESTS}{{{l}}} {}", s.requests);
        }
        header(out, ENDPOINT_FAILURES, "counter", "Requests to an endpoint that failed: connect errors, timeouts, resets, malformed answers, 5xx.");
        for (l, s) in eps() {
            let _ = writeln!(out, "{ENDPOINT_FAILURES}{{{l}}} {}", s.failures);
        }
        header(
            out,
            ENDPOINT_CONNECTIONS,
            "counter",
            "Requests by upstream connection: reused from the pool or newly connected.",
        );
        for (l, s) in eps() {
            let _ = writeln!(
                out,
                "{ENDPOINT_CONNECTIONS}{{{l},reused=\"true\"}} {}",
                s.reused
            );
            let _ = writeln!(
                out,
                "{ENDPOINT_CONNECTIONS}{{{l},reused=\"false\"}} {}",
                s.connects
            );
        }
        header(
            out,
            ENDPOINT_EJECTIONS,
            "counter",
            "Passive outlier ejections of an endpoint, summed over workers.",
        );
        for (l, s) in eps() {
            let _ = writeln!(out, "{ENDPOINT_EJECTIONS}{{{l}}} {}", s.ejections);
        }
        header(
            out,
            ENDPOINT_EJECTED,
            "gauge",
            "Workers that have the endpoint ejected right now.",
        );
        for (l, s) in eps() {
            let _ = writeln!(out, "{ENDPOINT_EJECTED}{{{l}}} {}", s.ejected_workers);
        }
        header(
            out,
            ENDPOINT_DURATION,
            "histogram",
            "Request duration through an endpoint.",
        );
        for (l, s) in eps() {
            histogram(out, ENDPOINT_DURATION, &l, &s.latency);
        }
    }

    fn upstream_series(&self, out: &mut String) {
        header(
            out,
            UPSTREAM_ERRORS,
            "counter",
            "Upstream failures by kind.",
        );
        for (u, s) in &self.upstreams {
            for (kind, n) in UpstreamError::LABELS.iter().zip(s.errors) {
                let _ = writeln!(
                    out,
                    "{UPSTREAM_ERRORS}{{upstream=\"{}\",kind=\"{kind}\"}} {n}",
                    label(u)
                );
            }
        }
        header(
            out,
            UPSTREAM_RETRIES,
            "counter",
            "Requests retried on another connection or endpoint.",
        );
        for (u, s) in &self.upstreams {
            let _ = writeln!(
                out,
                "{UPSTREAM_RETRIES}{{upstream=\"{}\"}} {}",
                label(u),
                s.retries
            );
        }
        let (reused, connects) = self
            .endpoints
            .values()
            .fold((0, 0), |(r, c), s| (r + s.reused, c + s.connects));
        header(
            out,
            POOL_REUSE_RATIO,
            "gauge",
            "Share of upstream requests sent on a pooled connection since start.",
        );
        let ratio = if reused + connects == 0 {
            0.0
        } else {
            reused as f64 / (reused + connects) as f64
        };
        let _ = writeln!(out, "{POOL_REUSE_RATIO} {ratio}");
    }

    fn node_series(&self, out: &mut String) {
        header(
            out,
            CONNECTIONS_ACTIVE,
            "gauge",
            "Open client connections, by worker.",
        );
        for w in &self.workers {
            let _ = writeln!(
                out,
                "{CONNECTIONS_ACTIVE}{{worker=\"{}\"}} {}",
                w.worker, w.active_connections
            );
        }
        header(
            out,
            UPSTREAM_IDLE,
            "gauge",
            "Idle pooled upstream connections, by worker.",
        );
        for w in &self.workers {
            let _ = writeln!(
                out,
                "{UPSTREAM_IDLE}{{worker=\"{}\"}} {}",
                w.worker, w.idle_upstream_connections
            );
        }
        let t = &self.totals;
        header(out, BYTES_IN, "counter", "Bytes received from clients.");
        let _ = writeln!(out, "{BYTES_IN} {}", t.bytes_in);
        header(
            out,
            BYTES_OUT,
            "counter",
            "Bytes of responses sent to clients (heads and payload).",
        );
        let _ = writeln!(out, "{BYTES_OUT} {}", t.bytes_out);
        header(
            out,
            ACCESS_LOG_DROPPED,
            "counter",
            "Access log lines dropped because the log writer fell behind.",
        );
        let _ = writeln!(out, "{ACCESS_LOG_DROPPED} {}", t.access_log_dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{LocationStats, WorkerGauges};

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let mut m = Merged::default();
        let mut s = LocationStats::default();
        s.by_class[1] = 3;
        for us in [400, 900, 2_000_000] {
            s.latency.record(us);
        }
        m.locations.insert(("a\"b".into(), "home".into()), s);
        m.workers.push(WorkerGauges {
            worker: 0,
            active_connections: 2,
            idle_upstream_connections: 1,
        });
        let mut out = String::new();
        m.prometheus(&mut out);
        assert!(
            out.contains("vane_requests_total{host=\"a\\\"b\",location=\"home\",code=\"2xx\"} 3\n")
        );
        assert!(out.contains("le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("le=\"0.001\"} 2\n"));
        assert!(out.contains("le=\"2.5\"} 3\n"));
        assert!(out.contains("le=\"+Inf\"} 3\n"));
        assert!(out.contains("vane_connections_active{worker=\"0\"} 2\n"));
        for line in out.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
