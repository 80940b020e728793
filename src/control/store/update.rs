//! Incremental model maintenance: when one key's serving value changes, recompute only the
//! entity it feeds (one location, one endpoint id, one upstream's options, or the endpoints a
//! discovery pointer brings), reading the other keys of that entity from the raw view.

use super::key::{self, Serving, Target, FIELDS};
use super::Store;
use crate::model::{Endpoint, Location, Upstream};

impl Store {
    /// `key`'s serving value changed from `old` to what `raw` now holds.
    pub(super) fn serving_changed(&mut self, key: &str, target: &Target, old: Option<Serving>) {
        let was = old.is_some();
        let now = self.serving(key).is_some();
        match target {
            Target::Endpoint { upstream, id } => {
                self.count_upstream_key(upstream, was, now);
                self.refresh_endpoint(upstream, id);
            }
            Target::UpstreamOptions { upstream } => {
                self.count_upstream_key(upstream, was, now);
                self.refresh_upstream_meta(upstream);
            }
            Target::UpstreamDiscovery { upstream } => {
                self.count_upstream_key(upstream, was, now);
                let old_dir = old.as_ref().and_then(Serving::dir).map(str::to_string);
                self.repoint(upstream, old_dir);
            }
            Target::Location {
                host,
                spelling,
                location,
                ..
            } => {
                if let Some(raw_host) = spelling {
                    self.count_spelling(host, raw_host, was, now);
                }
                self.refresh_location(host, location);
            }
            Target::Discovered { dir, name } => {
                let upstreams: Vec<String> =
                    self.dirs.get(dir).into_iter().flatten().cloned().collect();
                for u in upstreams {
                    self.refresh_endpoint(&u, name);
                }
            }
        }
    }

    pub(super) fn serving(&self, key: &str) -> Option<&Serving> {
        self.raw.get(key).and_then(|e| e.serving.as_ref())
    }

    fn count_upstream_key(&mut self, upstream: &str, was: bool, now: bool) {
        match (was, now) {
            (false, true) => *self.upstream_keys.entry(upstream.to_string()).or_insert(0) += 1,
            (true, false) => {
                if let Some(n) = self.upstream_keys.get_mut(upstream) {
                    *n -= 1;
                    if *n == 0 {
                        self.upstream_keys.remove(upstream);
                    }
                }
            }
            _ => {}
        }
    }

    fn count_spelling(&mut self, host: &str, raw_host: &str, was: bool, now: bool) {
        match (was, now) {
            (false, true) => {
                let s = self.spellings.entry(host.to_string()).or_default();
                *s.entry(raw_host.to_string()).or_insert(0) += 1;
            }
            (true, false) => {
                let Some(s) = self.spellings.get_mut(host) else {
                    return;
                };
                if let Some(n) = s.get_mut(raw_host) {
                    *n -= 1;
                    if *n == 0 {
                        s.remove(raw_host);
                    }
                }
                if s.is_empty() {
                    self.spellings.remove(host);
                }
            }
            _ => {}
        }
    }

    /// The upstream's model entry, created (whole) if it now exists, removed if it no longer does.
    fn upstream_model(&mut self, upstream: &str) -> Option<&mut Upstream> {
        self.changes.upstreams.insert(upstream.to_string());
        if !self.upstream_keys.contains_key(upstream) {
            self.model.upstreams.remove(upstream);
            return None;
        }
        if !self.model.upstreams.contains_key(upstream) {
            let whole = self.build_upstream(upstream);
            self.model.upstreams.insert(upstream.to_string(), whole);
        }
        self.model.upstreams.get_mut(upstream)
    }

    /// One upstream from its keys alone (used when it comes into existence).
    fn build_upstream(&self, upstream: &str) -> Upstream {
        let mut up = Upstream {
            options: self.upstream_options(upstream),
            discovery: self.pointer(upstream).map(str::to_string),
            ..Upstream::default()
        };
        let from = key::endpoint_key(&self.prefix, upstream, "");
        for (k, e) in self.raw.range(from.clone()..) {
            let Some(id) = k.strip_prefix(&from) else {
                break;
            };
            if let Some(ep) = e.serving.as_ref().and_then(Serving::endpoint) {
                up.endpoints.insert(id.to_string(), ep.clone());
            }
        }
        if let Some(dir) = up.discovery.clone() {
            for (name, ep) in self.dir_endpoints(&dir) {
                up.endpoints.entry(name).or_insert(ep);
            }
        }
        up
    }

    fn upstream_options(&self, upstream: &str) -> crate::model::Options {
        let k = key::upstream_key(&self.prefix, upstream, "options");
        let o = self.serving(&k).and_then(Serving::options);
        o.cloned().unwrap_or_default()
    }

    /// The directory the upstream's serving discovery pointer names.
    pub(super) fn pointer(&self, upstream: &str) -> Option<&str> {
        let k = key::upstream_key(&self.prefix, upstream, "discovery");
        self.serving(&k).and_then(Serving::dir)
    }

    /// The endpoint `id` of `upstream`: its own key, else its discovery directory's key.
    fn endpoint_of(&self, upstream: &str, id: &str) -> Option<Endpoint> {
        let own = self.serving(&key::endpoint_key(&self.prefix, upstream, id));
        if let Some(ep) = own.and_then(Serving::endpoint) {
            return Some(ep.clone());
        }
        let dir = self.pointer(upstream)?;
        let found = self.serving(&format!("{dir}/{id}"));
        found.and_then(Serving::endpoint).cloned()
    }

    fn refresh_endpoint(&mut self, upstream: &str, id: &str) {
        let ep = self.endpoint_of(upstream, id);
        let Some(up) = self.upstream_model(upstream) else {
            return;
        };
        match ep {
            Some(ep) => up.endpoints.insert(id.to_string(), ep),
            None => up.endpoints.remove(id),
        };
    }

    fn refresh_upstream_meta(&mut self, upstream: &str) {
        let options = self.upstream_options(upstream);
        let discovery = self.pointer(upstream).map(str::to_string);
        let Some(up) = self.upstream_model(upstream) else {
            return;
        };
        up.options = options;
        up.discovery = discovery;
    }

    /// The upstream's pointer moved from `old_dir` to its serving value: swap the endpoints the
    /// directories bring, and drop a directory nobody points at any more.
    fn repoint(&mut self, upstream: &str, old_dir: Option<String>) {
        self.refresh_upstream_meta(upstream);
        let new_dir = self.pointer(upstream).map(str::to_string);
        if old_dir == new_dir {
            return;
        }
        if let Some(d) = old_dir {
            if let Some(set) = self.dirs.get_mut(&d) {
                set.remove(upstream);
            }
            for (name, _) in self.dir_endpoints(&d) {
                self.refresh_endpoint(upstream, &name);
            }
            if self.dirs.get(&d).is_some_and(|s| s.is_empty()) {
                self.dirs.remove(&d);
                self.drop_dir(&d);
            }
        }
        if let Some(d) = new_dir {
            let set = self.dirs.entry(d.clone()).or_default();
            set.insert(upstream.to_string());
            for (name, _) in self.dir_endpoints(&d) {
                self.refresh_endpoint(upstream, &name);
            }
        }
    }

    /// The serving entries the store holds under `dir` (none unless it is covered).
    pub(super) fn dir_endpoints(&self, dir: &str) -> Vec<(String, Endpoint)> {
        let from = format!("{dir}/");
        let mut out = Vec::new();
        for (k, e) in self.raw.range(from.clone()..) {
            let Some(name) = k.strip_prefix(&from) else {
                break;
            };
            if name.contains('/') {
                continue; // an entry of a nested directory
            }
            if let Some(ep) = e.serving.as_ref().and_then(Serving::endpoint) {
                out.push((name.to_string(), ep.clone()));
            }
        }
        out
    }

    /// Forgets a directory's keys: unwatched from now on, they would go stale.
    fn drop_dir(&mut self, dir: &str) {
        if !self.covered.remove(dir) {
            return;
        }
        let from = format!("{dir}/");
        let keys: Vec<String> = self
            .raw
            .range(from.clone()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&from))
            .filter(|k| !k[from.len()..].contains('/'))
            .cloned()
            .collect();
        for k in keys {
            self.raw.remove(&k);
            self.rejected.remove(&k);
            self.cache_dirty.insert(k);
        }
    }

    /// Recomputes one location from its keys under every spelling of its host.
    fn refresh_location(&mut self, host: &str, location: &str) {
        let next = self.location_of(host, location);
        self.changes.hosts.insert(host.to_string());
        let hosts = &mut self.model.hosts;
        match next {
            Some(loc) => {
                let h = hosts.entry(host.to_string()).or_default();
                h.locations.insert(location.to_string(), loc);
            }
            None => {
                let Some(h) = hosts.get_mut(host) else { return };
                h.locations.remove(location);
                if h.locations.is_empty() {
                    hosts.remove(host);
                }
            }
        }
    }

    fn location_of(&self, host: &str, location: &str) -> Option<Location> {
        let others = self.spellings.get(host).into_iter().flat_map(|m| m.keys());
        let spellings: Vec<&str> = std::iter::once(host)
            .chain(others.map(String::as_str))
            .collect();
        let mut best: [Option<(String, &Serving)>; 3] = [None, None, None];
        for field in FIELDS {
            for raw_host in &spellings {
                let k = key::location_key(&self.prefix, raw_host, location, field);
                let slot = &mut best[field as usize];
                if slot.as_ref().is_some_and(|(b, _)| *b >= k) {
                    continue;
                }
                if let Some(s) = self.serving(&k) {
                    *slot = Some((k, s));
                }
            }
        }
        let [path, upstream, options] = best.map(|b| b.map(|(_, s)| s));
        Some(Location {
            path: path.and_then(Serving::text)?.clone(),
            upstream: upstream.and_then(Serving::text)?.clone(),
            options: options
                .and_then(Serving::options)
                .cloned()
                .unwrap_or_default(),
        })
    }
}
