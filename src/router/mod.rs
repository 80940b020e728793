//! The router: `Compiler::compile(&Model, &ChangeSet, ..) -> Snapshot` and
//! `Snapshot::lookup(host, path)`.
//!
//! Pure: no I/O, no clocks; imports only `model`. A snapshot is immutable; the control plane
//! builds a new one per config change and the workers swap to it between requests.
//!
//! Compiling classifies each path regex (`classify`, `pattern`), orders each host's locations
//! (`precedence`) and lays them out for `lookup` (`locations`): a sharded host index
//! (`host_index`), then a linear scan or, for hosts with many locations, an anchored
//! aho-corasick prefilter (`prefilter`).
//!
//! # Sharing between snapshots
//! The `Compiler` lives on the control thread across snapshots. A full compile (`ChangeSet::all`,
//! the first one) builds everything; otherwise only the hosts in `ChangeSet::hosts` and the
//! upstreams in `ChangeSet::upstreams` are rebuilt, and the rest is the previous snapshot's,
//! shared through `Arc`s: each host's routes are one `Arc`, the host index is 256 `Arc` shards
//! (one changed host copies one shard), each upstream is one `Arc<UpstreamRoute>`. An upstream
//! that did not change is the *same* `Arc` in both snapshots, after a full compile too, so a
//! worker can skip it with `Arc::ptr_eq`.
//!
//! # Ids
//! Both kinds of id stay with their entity across compiles (incremental and full) of one
//! `Compiler`, so workers can key per-upstream and per-location state by them:
//! - **`UpstreamIdx`**: every upstream name the model defines *or a location names* has one.
//!   New names get fresh indices at the end; nothing shifts. An entry whose upstream is not in
//!   the model (named before it was defined, or deleted: a tombstone) stays in
//!   `Snapshot::upstreams` with `defined: false` and no endpoints, and its locations answer 503,
//!   exactly like an upstream without endpoints. If the name comes back it gets the same index.
//! - **`Route::id`**: belongs to (host, location name) while that location exists. A new
//!   location gets a fresh id; a removed one's id is not handed out again. So ids are sparse and
//!   `Snapshot::location_count` is an upper bound of them, not a count.
//!
//! Removed ids are only reclaimed by a **renumbering**: when removed ids outnumber live ones
//! (and `RENUMBER_MIN`), the next compile is a full one that numbers from zero again and gives
//! the snapshot a new `id_epoch`. Ids of two snapshots mean the same entity only if their
//! `id_epoch`s are equal; a worker that sees the epoch change must re-key its state (by
//! upstream name, by host and location name). Every `Compiler` (so every call of the `compile`
//! shorthand) starts a new epoch.
//!
//! # Dropping old snapshots
//! Whoever drops the last reference to a snapshot frees what no newer snapshot shares: after
//! an incremental compile, the changed hosts and shards (microseconds); after a full compile of
//! 100k locations, all of it (30–90 ms, `benches/compile.rs`). That must not be a worker: the
//! control plane keeps the previous `Arc<Snapshot>` until every worker has acknowledged the
//! next generation, then drops it on the control thread, so a worker's release is only a
//! reference count decrement.

mod bytes;
mod classify;
mod compile;
mod explain;
mod host_index;
mod locations;
mod lookup;
mod pattern;
mod precedence;
mod prefilter;
#[cfg(test)]
mod tests;
mod upstreams;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::model::{Options, Settings};

pub use compile::{compile, Compiler, RENUMBER_MIN};
pub use explain::{check_path_pattern, Explanation, LocationView, PatternKind};

/// Index of an upstream in `Snapshot::upstreams`; stable across snapshots (see "Ids" above).
pub type UpstreamIdx = u32;

/// An immutable, compiled route table plus the settings that apply with it.
pub struct Snapshot {
    /// Increases by one with each snapshot the control plane publishes.
    pub generation: u64,
    /// The config source's version this snapshot reflects (etcd revision; 0 for a file).
    pub revision: i64,
    pub settings: Arc<Settings>,
    /// By `UpstreamIdx`. May hold entries with `defined: false` (named but not in the model, or
    /// deleted): they have no endpoints and answer 503.
    pub upstreams: Vec<Arc<UpstreamRoute>>,
    /// Every `Route::id` is below this: size per-location state by it. Ids are sparse (removed
    /// locations leave gaps), so this is an upper bound, not the number of locations.
    pub location_count: usize,
    /// Ids and upstream indices mean the same entities across snapshots with the same epoch.
    pub id_epoch: u64,
    /// False only for `Snapshot::not_ready`: the node has no config yet and answers 503.
    pub ready: bool,
    hosts: lookup::HostTable,
}

/// The result of a lookup: which location matched and where it sends traffic.
#[derive(Debug)]
pub struct Route {
    pub host: Box<str>,
    pub location: Box<str>,
    /// Stable id of this location, below `Snapshot::location_count`, for per-location state.
    pub id: u32,
    /// Always `Some` from a compile: an upstream that is not in the model has an index too (an
    /// entry with `defined: false` and no endpoints). `None` answers 503 the same way.
    pub upstream: Option<UpstreamIdx>,
    /// The location's own options; `None` when they are all default (most locations), to save
    /// memory. Resolve location, then upstream (`UpstreamRoute::options`), then settings.
    pub options: Option<Arc<Options>>,
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
    /// are always in range); any other value panics. It may be an undefined entry (503).
    pub fn upstream(&self, idx: UpstreamIdx) -> &UpstreamRoute {
        &self.upstreams[idx as usize]
    }

    /// Every route, in no particular order.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.hosts.routes()
    }

    /// The snapshot of a node that has no config yet: `ready: false` and no routes. `lookup`
    /// finds nothing; the proxy answers 503 (not 404) while `!ready`, and health is not ready.
    pub fn not_ready(settings: Arc<Settings>, generation: u64) -> Snapshot {
        Snapshot {
            generation,
            revision: 0,
            settings,
            upstreams: Vec::new(),
            location_count: 0,
            id_epoch: 0,
            ready: false,
            hosts: lookup::HostTable::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRoute {
    /// Stable across snapshots: per-worker balancer state is keyed by it.
    pub name: Box<str>,
    /// Sorted by endpoint id; empty means 503.
    pub endpoints: Vec<EndpointRoute>,
    /// The upstream's options (all default ones share one `Arc`).
    pub options: Arc<Options>,
    /// False when the model has no upstream of this name (a location names it before it is
    /// defined, or it was deleted); `endpoints` is then empty.
    pub defined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRoute {
    pub id: Box<str>,
    /// Stable across snapshots: per-worker connection pools are keyed by it.
    pub addr: SocketAddr,
    pub weight: u32,
}
