//! Compiles one host: its locations' matchers, their precedence order, their routes (ids kept
//! from the host's previous version), and the host's lookup structure.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::lookup::{CompiledLocation, HostRoutes};
use super::pattern::{Matcher, PatternCache};
use super::precedence::Precedence;
use super::upstreams::UpstreamTable;
use super::Route;
use crate::model::{Host, Location, Options};

/// Route ids: handed out in increasing order and never reused while the numbering lasts.
#[derive(Default)]
pub(crate) struct Ids {
    next: u32,
    /// Ids held by live locations; `next - live` are ids of removed locations.
    live: usize,
}

impl Ids {
    fn fresh(&mut self) -> u32 {
        let id = self.next;
        self.next += 1;
        id
    }

    /// One above the highest id handed out.
    pub fn bound(&self) -> usize {
        self.next as usize
    }

    pub fn live(&self) -> usize {
        self.live
    }

    pub fn garbage(&self) -> usize {
        self.bound() - self.live
    }

    /// For a full compile, which counts every live location again.
    pub fn clear_live(&mut self) {
        self.live = 0;
    }
}

/// What compiling a host reads and updates: state kept across compiles by the `Compiler`.
pub(crate) struct Parts<'c> {
    pub patterns: &'c mut PatternCache,
    pub upstreams: &'c mut UpstreamTable,
    pub ids: &'c mut Ids,
}

/// A location between compiling its pattern and taking its place in the precedence order.
struct Ranked<'m> {
    name: &'m str,
    loc: &'m Location,
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

impl Parts<'_> {
    /// `name` is normalized. A location keeps the id it had in `prev` (same name); a new one
    /// gets a fresh id. `prev` is only read: `release` it if it goes away.
    pub fn host(&mut self, name: &str, host: &Host, prev: Option<&HostRoutes>) -> HostRoutes {
        let locations = host.locations.iter();
        let mut ranked: Vec<Ranked> = locations
            .filter_map(|(l, loc)| self.ranked(name, l, loc))
            .collect();
        ranked.sort_by(|a, b| a.precedence().cmp(&b.precedence()));
        let old_ids = OldIds::new(prev);
        let locations = ranked
            .into_iter()
            .map(|r| self.compiled(name, r, &old_ids))
            .collect();
        HostRoutes::new(name.into(), locations)
    }

    /// Accounts for a host's routes going away (the host was removed or replaced).
    pub fn release(&mut self, prev: &HostRoutes) {
        for l in prev.locations.iter() {
            self.ids.live -= 1;
            if let Some(u) = l.route.upstream {
                self.upstreams.remove_ref(u);
            }
        }
    }

    fn ranked<'m>(&mut self, host: &str, name: &'m str, loc: &'m Location) -> Option<Ranked<'m>> {
        match self.patterns.matcher(&loc.path) {
            Ok(matcher) => Some(Ranked { name, loc, matcher }),
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

    fn compiled(&mut self, host: &str, r: Ranked, old_ids: &OldIds) -> CompiledLocation {
        let upstream = self.upstreams.index_of(&r.loc.upstream);
        self.upstreams.add_ref(upstream);
        self.ids.live += 1;
        let id = old_ids.get(r.name).unwrap_or_else(|| self.ids.fresh());
        let options =
            (r.loc.options != Options::default()).then(|| Arc::new(r.loc.options.clone()));
        let route = Route {
            host: host.into(),
            location: r.name.into(),
            id,
            upstream: Some(upstream),
            options,
        };
        CompiledLocation {
            matcher: r.matcher,
            route,
            pattern: r.loc.path.as_str().into(),
        }
    }
}

/// The ids of a host's previous locations, by location name.
enum OldIds<'p> {
    Few(&'p [CompiledLocation]),
    Many(FxHashMap<&'p str, u32>),
}

impl<'p> OldIds<'p> {
    fn new(prev: Option<&'p HostRoutes>) -> OldIds<'p> {
        let locs = prev.map_or(&[][..], |p| &p.locations);
        if locs.len() <= 16 {
            return OldIds::Few(locs);
        }
        let by_name = locs.iter().map(|l| (&*l.route.location, l.route.id));
        OldIds::Many(by_name.collect())
    }

    fn get(&self, name: &str) -> Option<u32> {
        match self {
            OldIds::Few(locs) => locs
                .iter()
                .find(|l| *l.route.location == *name)
                .map(|l| l.route.id),
            OldIds::Many(map) => map.get(name).copied(),
        }
    }
}
