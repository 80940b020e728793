//! `compile`: turns a validated `Model` into an immutable `Snapshot`.
//!
//! Infallible by design: a location whose regex cannot be built (e.g. over the size limit) is
//! skipped with a warning, so one bad location never keeps the rest of a config from applying.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::lookup::{CompiledLocation, HostTable};
use super::pattern::{Matcher, PatternCache};
use super::precedence::Precedence;
use super::{EndpointRoute, Route, Snapshot, UpstreamIdx, UpstreamRoute};
use crate::model::{normalize_host, Endpoint, Host, Location, Model, Settings, Upstream};

/// Compiles the route table. Route ids are dense and follow host name order, then each host's
/// precedence order, so the same model always yields the same ids.
pub fn compile(model: &Model, settings: Arc<Settings>, generation: u64, revision: i64) -> Snapshot {
    let upstreams = upstream_routes(model);
    let upstream_index = model
        .upstreams
        .keys()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as UpstreamIdx));
    let mut compiler = Compiler {
        upstream_index: upstream_index.collect(),
        patterns: PatternCache::default(),
        seen: FxHashSet::default(),
    };
    let hosts = model
        .hosts
        .iter()
        .filter_map(|(name, host)| compiler.host(name, host))
        .collect();
    let hosts = HostTable::new(hosts);
    let location_count = hosts.routes().len();
    Snapshot {
        generation,
        revision,
        settings,
        upstreams,
        location_count,
        hosts,
    }
}

/// Upstreams sorted by name and endpoints by id (the model's maps are already ordered).
fn upstream_routes(model: &Model) -> Vec<UpstreamRoute> {
    let endpoint = |(id, e): (&String, &Endpoint)| EndpointRoute {
        id: id.as_str().into(),
        addr: e.addr,
        weight: e.weight,
    };
    let upstream = |(name, u): (&String, &Upstream)| UpstreamRoute {
        name: name.as_str().into(),
        endpoints: u.endpoints.iter().map(endpoint).collect(),
    };
    model.upstreams.iter().map(upstream).collect()
}

struct Compiler<'m> {
    upstream_index: FxHashMap<&'m str, UpstreamIdx>,
    patterns: PatternCache<'m>,
    /// Normalized host names so far: only a hand-built model can have two keys that normalize
    /// alike, and then the first is kept.
    seen: FxHashSet<String>,
}

/// A location between compiling its pattern and taking its place in the precedence order.
struct Ranked<'m> {
    name: &'m str,
    upstream: &'m str,
    matcher: Matcher,
}

impl Ranked<'_> {
    fn precedence(&self) -> Precedence<'_> {
        Precedence {
            prefix_len: self.matcher.prefix().len(),
            name: self.name,
        }
    }
}

impl<'m> Compiler<'m> {
    /// The host's normalized name and its locations in precedence order.
    fn host(&mut self, raw_name: &str, host: &'m Host) -> Option<(String, Vec<CompiledLocation>)> {
        let Some(name) = normalize_host(raw_name) else {
            tracing::warn!(
                target: "vane::router",
                host = raw_name,
                "skipping host: not a host name"
            );
            return None;
        };
        if !self.seen.insert(name.clone()) {
            tracing::warn!(
                target: "vane::router",
                host = raw_name,
                "skipping host: it normalizes to the same name as another"
            );
            return None;
        }
        let locations = host.locations.iter();
        let mut ranked: Vec<Ranked<'m>> = locations
            .filter_map(|(l, loc)| self.location(&name, l, loc))
            .collect();
        ranked.sort_by(|a, b| a.precedence().cmp(&b.precedence()));
        let locations = ranked
            .into_iter()
            .map(|r| self.compiled(&name, r))
            .collect();
        Some((name, locations))
    }

    fn location(&mut self, host: &str, name: &'m str, loc: &'m Location) -> Option<Ranked<'m>> {
        match self.patterns.matcher(&loc.path) {
            Ok(matcher) => Some(Ranked {
                name,
                upstream: &loc.upstream,
                matcher,
            }),
            Err(error) => {
                tracing::warn!(
                    target: "vane::router",
                    host,
                    location = name,
                    %error,
                    "skipping location: its path regex does not compile"
                );
                None
            }
        }
    }

    /// The route's id is assigned when the table is laid out.
    fn compiled(&self, host: &str, r: Ranked<'m>) -> CompiledLocation {
        let upstream = self.upstream_index.get(r.upstream).copied();
        let route = Route {
            host: host.into(),
            location: r.name.into(),
            id: 0,
            upstream,
        };
        CompiledLocation {
            matcher: r.matcher,
            route,
        }
    }
}
