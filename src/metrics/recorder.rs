//! One worker's counters. Indexed by the snapshot's stable ids (a `Vec` index per request, no
//! hashing); each series carries its names so a report needs no snapshot to be read.

use std::net::SocketAddr;

use rustc_hash::FxHashMap;

use super::{class_of, Latency};
use crate::router::{Route, Snapshot, UpstreamIdx};

/// Upstream failures by kind, as indices into `UpstreamSlot::errors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    Connect = 0,
    /// Reset or closed before a complete response.
    Reset = 1,
    Timeout = 2,
    Malformed = 3,
}

impl UpstreamError {
    pub const LABELS: [&'static str; 4] = ["connect", "reset", "timeout", "malformed"];
}

/// What one request did, recorded once it is over.
#[derive(Debug, Default)]
pub struct Sample<'a> {
    /// `None`: no location matched (or the request never got that far).
    pub route: Option<&'a Route>,
    pub upstream: Option<(UpstreamIdx, &'a str)>,
    pub endpoint: Option<SocketAddr>,
    /// The status the client got (499 when it went away first).
    pub status: u16,
    pub error: Option<UpstreamError>,
    /// `Some(reused)` when an upstream connection carried the request.
    pub reused: Option<bool>,
    pub retried: bool,
    pub micros: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

#[derive(Clone, Debug)]
pub struct LocationSlot {
    pub host: Box<str>,
    pub location: Box<str>,
    pub by_class: [u64; 5],
    pub latency: Latency,
}

#[derive(Clone, Debug)]
pub struct UpstreamSlot {
    pub name: Box<str>,
    pub errors: [u64; 4],
    pub retries: u64,
    pub endpoints: Vec<EndpointSlot>,
}

#[derive(Clone, Debug)]
pub struct EndpointSlot {
    pub addr: SocketAddr,
    pub requests: u64,
    /// Connect errors, timeouts, resets, malformed answers and 5xx.
    pub failures: u64,
    pub reused: u64,
    pub connects: u64,
    pub ejections: u64,
    pub latency: Latency,
}

#[derive(Clone, Debug, Default)]
pub struct WorkerMetrics {
    epoch: Option<u64>,
    /// By `Route::id`.
    locations: Vec<Option<Box<LocationSlot>>>,
    /// By `UpstreamIdx`.
    upstreams: Vec<Option<Box<UpstreamSlot>>>,
    /// Series whose ids a renumbering (new id epoch) invalidated, re-attached by name when
    /// their location or upstream is seen again, so counters never go backwards.
    retired_locations: FxHashMap<(Box<str>, Box<str>), Box<LocationSlot>>,
    retired_upstreams: FxHashMap<Box<str>, Box<UpstreamSlot>>,
    pub unrouted: [u64; 5],
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl WorkerMetrics {
    /// Called with each new snapshot: ids keep their meaning within an id epoch only.
    pub fn align(&mut self, snap: &Snapshot) {
        if self.epoch == Some(snap.id_epoch) {
            return;
        }
        if self.epoch.is_some() {
            for s in self.locations.drain(..).flatten() {
                self.retired_locations
                    .insert((s.host.clone(), s.location.clone()), s);
            }
            for s in self.upstreams.drain(..).flatten() {
                self.retired_upstreams.insert(s.name.clone(), s);
            }
        }
        self.epoch = Some(snap.id_epoch);
    }

    #[inline]
    pub fn record(&mut self, s: &Sample) {
        let class = class_of(s.status);
        match s.route {
            Some(r) => {
                let slot = self.location(r);
                slot.by_class[class] += 1;
                slot.latency.record(s.micros);
            }
            None => self.unrouted[class] += 1,
        }
        self.bytes_in += s.bytes_in;
        self.bytes_out += s.bytes_out;
        let Some((idx, name)) = s.upstream else {
            return;
        };
        let up = self.upstream(idx, name);
        if let Some(e) = s.error {
            up.errors[e as usize] += 1;
        }
        up.retries += s.retried as u64;
        if let Some(addr) = s.endpoint {
            let ep = up.endpoint(addr);
            ep.requests += 1;
            ep.failures += (s.error.is_some() || s.status >= 500) as u64;
            match s.reused {
                Some(true) => ep.reused += 1,
                Some(false) => ep.connects += 1,
                None => {}
            }
            ep.latency.record(s.micros);
        }
    }

    /// Counts a failed attempt that was then retried elsewhere (the request's own outcome is
    /// recorded by `record`).
    pub fn failed_attempt(
        &mut self,
        idx: UpstreamIdx,
        name: &str,
        addr: SocketAddr,
        e: UpstreamError,
    ) {
        let up = self.upstream(idx, name);
        up.errors[e as usize] += 1;
        let ep = up.endpoint(addr);
        ep.requests += 1;
        ep.failures += 1;
    }

    /// Counts a passive ejection of `addr`.
    pub fn ejected(&mut self, idx: UpstreamIdx, name: &str, addr: SocketAddr) {
        self.upstream(idx, name).endpoint(addr).ejections += 1;
    }

    pub fn locations(&self) -> impl Iterator<Item = &LocationSlot> {
        let live = self.locations.iter().flatten().map(|b| &**b);
        live.chain(self.retired_locations.values().map(|b| &**b))
    }

    pub fn upstreams(&self) -> impl Iterator<Item = &UpstreamSlot> {
        let live = self.upstreams.iter().flatten().map(|b| &**b);
        live.chain(self.retired_upstreams.values().map(|b| &**b))
    }

    fn location(&mut self, r: &Route) -> &mut LocationSlot {
        let i = r.id as usize;
        if self.locations.len() <= i {
            self.locations.resize_with(i + 1, || None);
        }
        let retired = &mut self.retired_locations;
        self.locations[i].get_or_insert_with(|| {
            let key = (r.host.clone(), r.location.clone());
            retired.remove(&key).unwrap_or_else(|| {
                Box::new(LocationSlot {
                    host: key.0,
                    location: key.1,
                    by_class: [0; 5],
                    latency: Latency::default(),
                })
            })
        })
    }

    fn upstream(&mut self, idx: UpstreamIdx, name: &str) -> &mut UpstreamSlot {
        let i = idx as usize;
        if self.upstreams.len() <= i {
            self.upstreams.resize_with(i + 1, || None);
        }
        let retired = &mut self.retired_upstreams;
        self.upstreams[i].get_or_insert_with(|| {
            retired.remove(name).unwrap_or_else(|| {
                Box::new(UpstreamSlot {
                    name: name.into(),
                    errors: [0; 4],
                    retries: 0,
                    endpoints: Vec::new(),
                })
            })
        })
    }
}

impl UpstreamSlot {
    fn endpoint(&mut self, addr: SocketAddr) -> &mut EndpointSlot {
        let i = match self.endpoints.iter().position(|e| e.addr == addr) {
            Some(i) => i,
            None => {
                self.endpoints.push(EndpointSlot {
                    addr,
                    requests: 0,
                    failures: 0,
                    reused: 0,
                    connects: 0,
                    ejections: 0,
                    latency: Latency::default(),
                });
                self.endpoints.len() - 1
            }
        };
        &mut self.endpoints[i]
    }
}
