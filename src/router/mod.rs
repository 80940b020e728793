//! The router: `compile(&Model) -> Snapshot` and `Snapshot::lookup(host, path)`.
//!
//! Pure: no I/O, no clocks; imports only `model`. A snapshot is immutable; the control plane
//! builds a new one per config change and the workers swap to it between requests.
//!
//! `compile` classifies each path regex (`classify`, `pattern`), orders each host's locations
//! (`precedence`) and lays them out for `lookup`: a host index (`host_index`), then a linear
//! scan or, for hosts with many locations, an anchored aho-corasick prefilter (`prefilter`).

mod bytes;
mod classify;
mod compile;
mod host_index;
mod lookup;
mod pattern;
mod precedence;
mod prefilter;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::model::Settings;

pub use compile::compile;

/// Index of an upstream in `Snapshot::upstreams`.
pub type UpstreamIdx = u32;

/// An immutable, compiled route table plus the settings that apply with it.
pub struct Snapshot {
    /// Increases by one with each snapshot the control plane publishes.
    pub generation: u64,
    /// The config source's version this snapshot reflects (etcd revision; 0 for a file).
    pub revision: i64,
    pub settings: Arc<Settings>,
    pub upstreams: Vec<UpstreamRoute>,
    /// Number of locations, for sizing per-location state.
    pub location_count: usize,
    hosts: lookup::HostTable,
}

/// The result of a lookup: which location matched and where it sends traffic.
#[derive(Debug)]
pub struct Route {
    pub host: Box<str>,
    pub location: Box<str>,
    /// Dense id of this location within the snapshot (0..location_count), for per-location state.
    pub id: u32,
    /// `None`: the location names an upstream that does not exist (the request gets 503).
    pub upstream: Option<UpstreamIdx>,
}

impl Snapshot {
    /// The route for a request: `host` is the raw Host header value (any case, with or without
    /// a port), `path` the raw request path without the query string. Never allocates.
    ///
    /// The host is matched exactly after normalization; if no host matches, the catch-all host
    /// `*` answers, if configured. Within the host, locations are tried in the order documented
    /// on `precedence::Precedence` (longest literal prefix first, then name) and the first whose
    /// path regex matches the *whole* path wins. `None`: nothing matched (404).
    #[inline]
    pub fn lookup(&self, host: &[u8], path: &[u8]) -> Option<&Route> {
        self.hosts.lookup(host, path)
    }

    /// The upstream a route points at. `idx` must come from a `Route` of this snapshot (those
    /// are always in range); any other value panics.
    pub fn upstream(&self, idx: UpstreamIdx) -> &UpstreamRoute {
        &self.upstreams[idx as usize]
    }

    /// Every route, in id order (`0..location_count`).
    pub fn routes(&self) -> impl ExactSizeIterator<Item = &Route> {
        self.hosts.routes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRoute {
    /// Stable across snapshots: per-worker balancer state is keyed by it.
    pub name: Box<str>,
    /// Sorted by endpoint id; empty means 503.
    pub endpoints: Vec<EndpointRoute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRoute {
    pub id: Box<str>,
    /// Stable across snapshots: per-worker connection pools are keyed by it.
    pub addr: SocketAddr,
    pub weight: u32,
}
