//! Every worker's metrics added together, by series name.

use std::collections::BTreeMap;

use super::{Latency, UpstreamError, WorkerReport};

#[derive(Clone, Debug, Default)]
pub struct Merged {
    pub workers: Vec<WorkerGauges>,
    /// By (host, location).
    pub locations: BTreeMap<(String, String), LocationStats>,
    /// By (upstream, `ip:port`).
    pub endpoints: BTreeMap<(String, String), EndpointStats>,
    pub upstreams: BTreeMap<String, UpstreamStats>,
    pub totals: Totals,
}

#[derive(Clone, Debug, Default)]
pub struct WorkerGauges {
    pub worker: usize,
    pub active_connections: usize,
    pub idle_upstream_connections: usize,
}

#[derive(Clone, Debug, Default)]
pub struct LocationStats {
    /// Requests by status class, 1xx … 5xx.
    pub by_class: [u64; 5],
    pub latency: Latency,
}

#[derive(Clone, Debug, Default)]
pub struct EndpointStats {
    pub requests: u64,
    pub failures: u64,
    /// Requests sent on a pooled connection / on a new one.
    pub reused: u64,
    pub connects: u64,
    pub ejections: u64,
    /// How many workers have it ejected right now (each worker ejects on its own traffic).
    pub ejected_workers: u32,
    pub latency: Latency,
}

#[derive(Clone, Debug, Default)]
pub struct UpstreamStats {
    /// By `UpstreamError` (connect, reset, timeout, malformed).
    pub errors: [u64; 4],
    pub retries: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Requests no location answered (404, or rejected before routing), by status class.
    pub unrouted: [u64; 5],
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub access_log_dropped: u64,
}

impl LocationStats {
    pub fn requests(&self) -> u64 {
        self.by_class.iter().sum()
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.quantile_ms(q)
    }
}

impl EndpointStats {
    pub fn requests(&self) -> u64 {
        self.requests
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.quantile_ms(q)
    }
}

impl UpstreamStats {
    pub fn error(&self, kind: UpstreamError) -> u64 {
        self.errors[kind as usize]
    }
}

fn add_arrays<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

fn sub_arrays<const N: usize>(a: &[u64; N], b: &[u64; N]) -> [u64; N] {
    std::array::from_fn(|i| a[i].saturating_sub(b[i]))
}

impl Merged {
    pub fn add(&mut self, r: &WorkerReport) {
        self.workers.push(WorkerGauges {
            worker: r.worker,
            active_connections: r.active_connections,
            idle_upstream_connections: r.idle_upstream_connections,
        });
        let m = &r.metrics;
        for l in m.locations() {
            let key = (l.host.to_string(), l.location.to_string());
            let s = self.locations.entry(key).or_default();
            add_arrays(&mut s.by_class, &l.by_class);
            s.latency.merge(&l.latency);
        }
        for u in m.upstreams() {
            let s = self.upstreams.entry(u.name.to_string()).or_default();
            add_arrays(&mut s.errors, &u.errors);
            s.retries += u.retries;
            for e in &u.endpoints {
                let key = (u.name.to_string(), e.addr.to_string());
                let s = self.endpoints.entry(key).or_default();
                s.requests += e.requests;
                s.failures += e.failures;
                s.reused += e.reused;
                s.connects += e.connects;
                s.ejections += e.ejections;
                s.latency.merge(&e.latency);
            }
        }
        for (up, addr, ejected) in &r.endpoints {
            let key = (up.to_string(), addr.to_string());
            self.endpoints.entry(key).or_default().ejected_workers += *ejected as u32;
        }
        let t = &mut self.totals;
        add_arrays(&mut t.unrouted, &m.unrouted);
        t.bytes_in += m.bytes_in;
        t.bytes_out += m.bytes_out;
        t.access_log_dropped += r.access_log_dropped;
    }

    /// Counters and histograms minus `earlier`'s (a previous scrape): what happened in
    /// between. Gauges are this scrape's.
    pub fn since(&self, earlier: &Merged) -> Merged {
        let locations = self
            .locations
            .iter()
            .map(|(k, s)| {
                let d = match earlier.locations.get(k) {
                    Some(e) => LocationStats {
                        by_class: sub_arrays(&s.by_class, &e.by_class),
                        latency: s.latency.since(&e.latency),
                    },
                    None => s.clone(),
                };
                (k.clone(), d)
            })
            .collect();
        let endpoints = self
            .endpoints
            .iter()
            .map(|(k, s)| {
                let d = match earlier.endpoints.get(k) {
                    Some(e) => EndpointStats {
                        requests: s.requests.saturating_sub(e.requests),
                        failures: s.failures.saturating_sub(e.failures),
                        reused: s.reused.saturating_sub(e.reused),
                        connects: s.connects.saturating_sub(e.connects),
                        ejections: s.ejections.saturating_sub(e.ejections),
                        ejected_workers: s.ejected_workers,
                        latency: s.latency.since(&e.latency),
                    },
                    None => s.clone(),
                };
                (k.clone(), d)
            })
            .collect();
        let upstreams = self
            .upstreams
            .iter()
            .map(|(k, s)| {
                let d = match earlier.upstreams.get(k) {
                    Some(e) => UpstreamStats {
                        errors: sub_arrays(&s.errors, &e.errors),
                        retries: s.retries.saturating_sub(e.retries),
                    },
                    None => s.clone(),
                };
                (k.clone(), d)
            })
            .collect();
        let (t, e) = (&self.totals, &earlier.totals);
        Merged {
            workers: self.workers.clone(),
            locations,
            endpoints,
            upstreams,
            totals: Totals {
                unrouted: sub_arrays(&t.unrouted, &e.unrouted),
                bytes_in: t.bytes_in.saturating_sub(e.bytes_in),
                bytes_out: t.bytes_out.saturating_sub(e.bytes_out),
                access_log_dropped: t.access_log_dropped.saturating_sub(e.access_log_dropped),
            },
        }
    }
}
