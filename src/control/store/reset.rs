//! A full read replaces the raw view and rebuilds the model in one pass; last good values carry
//! over by key (a merge with the old view, both sorted), and unchanged values are not parsed
//! again.

use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap};
use std::iter::Peekable;

use rustc_hash::FxHashMap;

use super::key::{self, Serving, Target};
use super::{judge, Entry, Kv, Store};
use crate::model::{ChangeSet, Endpoint, Host, Location, Model};

/// One key of a read, judged: its entry and, if its names are good, its target.
type Row = (String, Entry, Option<Target>);

/// A location's path, upstream and options: the winning key and its value, by `Field`.
type Fields<'a> = [Option<(&'a str, &'a Serving)>; 3];

/// The old view's entries, taken by lookups that come in key order.
struct Old(Peekable<btree_map::IntoIter<String, Entry>>);

impl Old {
    fn take(&mut self, key: &str) -> Option<Entry> {
        while self.0.next_if(|(k, _)| k.as_str() < key).is_some() {}
        self.0.next_if(|(k, _)| k == key).map(|(_, e)| e)
    }
}

impl Store {
    /// Replaces the raw view with a full read at `revision`: the prefix plus every directory
    /// `dirs_to_read` named. Keys must be unique (a duplicate's later copies are ignored). A key
    /// rejected now keeps its last good value if it still exists. Returns
    /// `ChangeSet::everything()`, which `take_changes` also reports.
    pub fn reset(&mut self, mut kvs: Vec<Kv>, revision: i64) -> ChangeSet {
        // etcd returns keys sorted, so this is a linear check; then old entries are a merge.
        kvs.sort_by(|a, b| a.0.cmp(&b.0));
        kvs.dedup_by(|later, first| later.0 == first.0);
        let (mut old_prefix, mut old_rest) = self.split_old();
        let mut old_rejected = std::mem::take(&mut self.rejected);
        let mut rows: Vec<Row> = Vec::with_capacity(kvs.len());
        let mut later = Vec::new();
        let mut dirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (k, value, rev) in kvs {
            let Some(target) = key::prefix_target(&self.prefix, &k) else {
                later.push((k, value, rev));
                continue;
            };
            let (old, old_rej) = (old_prefix.take(&k), old_rejected.remove(&k));
            let (entry, rejected) = judge(&self.prefix, &target, value, rev, old, old_rej);
            if let (Ok(Target::UpstreamDiscovery { upstream }), Some(Serving::Discovery(d))) =
                (&target, &entry.serving)
            {
                dirs.entry(d.clone()).or_default().insert(upstream.clone());
            }
            if let Some(r) = rejected {
                self.rejected.insert(k.clone(), r);
            }
            rows.push((k, entry, target.ok()));
        }
        // The read covered the directories `dirs_to_read` named, which are exactly these.
        self.covered = dirs.keys().cloned().collect();
        self.dirs = dirs;
        for (k, value, rev) in later {
            let Some(target) = key::discovered_target(&self.covered, &k) else {
                continue;
            };
            let (old, old_rej) = (old_rest.take(&k), old_rejected.remove(&k));
            let (entry, rejected) = judge(&self.prefix, &target, value, rev, old, old_rej);
            if let Some(r) = rejected {
                self.rejected.insert(k.clone(), r);
            }
            rows.push((k, entry, target.ok()));
        }
        self.build_model(&rows);
        self.raw = rows.into_iter().map(|(k, e, _)| (k, e)).collect();
        self.revision = revision;
        self.cache_full = true;
        self.changes = ChangeSet::everything();
        ChangeSet::everything()
    }

    /// The old view in two sorted parts: the prefix's keys, and the directories' keys.
    fn split_old(&mut self) -> (Old, Old) {
        let mut rest = std::mem::take(&mut self.raw);
        let mut inside = rest.split_off(&format!("{}/", self.prefix));
        // `0` is the byte after `/`: everything from here on is outside the prefix again.
        let mut after = inside.split_off(&format!("{}0", self.prefix));
        rest.append(&mut after);
        let old = |m: BTreeMap<String, Entry>| Old(m.into_iter().peekable());
        (old(inside), old(rest))
    }

    /// The discovery directories a full read must include, given the prefix's keys read at the
    /// same revision: each pointer's value if good, else the last good one the store serves.
    /// After `reset`, `discovery_dirs()` equals this set.
    pub fn dirs_to_read(&self, prefix_kvs: &[Kv]) -> BTreeSet<String> {
        let mut dirs = BTreeSet::new();
        for (k, value, _) in prefix_kvs {
            let Some(Ok(target @ Target::UpstreamDiscovery { .. })) =
                key::prefix_target(&self.prefix, k)
            else {
                continue;
            };
            let dir = match key::parse_value(&self.prefix, &target, value) {
                Ok(Serving::Discovery(d)) => Some(d),
                _ => self.serving(k).and_then(Serving::dir).map(str::to_string),
            };
            dirs.extend(dir);
        }
        dirs
    }

    /// The model and its indexes from the rows (in any order). Must agree with the incremental
    /// rules in `update.rs` (the reconcile simulation checks that it does).
    fn build_model(&mut self, rows: &[Row]) {
        let mut model = Model::default();
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut spellings: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
        let mut locations: FxHashMap<(&str, &str), Fields> = FxHashMap::default();
        let mut discovered: FxHashMap<&str, Vec<(&str, &Endpoint)>> = FxHashMap::default();
        for (k, entry, target) in rows {
            let (Some(target), Some(s)) = (target, &entry.serving) else {
                continue;
            };
            let upstream = match target {
                Target::Endpoint { upstream, .. }
                | Target::UpstreamOptions { upstream }
                | Target::UpstreamDiscovery { upstream } => upstream,
                Target::Location {
                    host,
                    spelling,
                    location,
                    field,
                } => {
                    if let Some(raw_host) = spelling {
                        let s = spellings.entry(host.clone()).or_default();
                        *s.entry(raw_host.clone()).or_insert(0) += 1;
                    }
                    let fields = locations.entry((host, location)).or_default();
                    let slot = &mut fields[*field as usize];
                    // Two spellings of the host set this field: the greatest key wins.
                    if slot.is_none_or(|(best, _)| k.as_str() > best) {
                        *slot = Some((k, s));
                    }
                    continue;
                }
                Target::Discovered { dir, name } => {
                    if let Some(ep) = s.endpoint() {
                        discovered.entry(dir).or_default().push((name, ep));
                    }
                    continue;
                }
            };
            *counts.entry(upstream.clone()).or_insert(0) += 1;
            let up = model.upstreams.entry(upstream.clone()).or_default();
            match (target, s) {
                (Target::Endpoint { id, .. }, Serving::Endpoint(ep)) => {
                    up.endpoints.insert(id.clone(), ep.clone());
                }
                (_, Serving::Options(o)) => up.options = (**o).clone(),
                (_, Serving::Discovery(d)) => up.discovery = Some(d.clone()),
                _ => {}
            }
        }
        add_discovered(&mut model, &discovered);
        model.hosts = hosts_of(locations);
        self.model = model;
        self.upstream_keys = counts;
        self.spellings = spellings;
    }
}

/// Adds each upstream's discovered endpoints; its own endpoint of the same id wins.
fn add_discovered(model: &mut Model, discovered: &FxHashMap<&str, Vec<(&str, &Endpoint)>>) {
    for up in model.upstreams.values_mut() {
        let Some(list) = up.discovery.as_deref().and_then(|d| discovered.get(d)) else {
            continue;
        };
        for (name, ep) in list {
            let slot = up.endpoints.entry(name.to_string());
            slot.or_insert_with(|| (*ep).clone());
        }
    }
}

/// The complete locations (path and upstream both set; the others are pending), by host.
fn hosts_of(locations: FxHashMap<(&str, &str), Fields>) -> BTreeMap<String, Host> {
    let mut complete: Vec<(&str, &str, Location)> = Vec::with_capacity(locations.len());
    for ((host, name), [path, upstream, options]) in locations {
        let path = path.and_then(|(_, s)| s.text());
        let upstream = upstream.and_then(|(_, s)| s.text());
        let (Some(path), Some(upstream)) = (path, upstream) else {
            continue;
        };
        let options = options.and_then(|(_, s)| s.options());
        let loc = Location {
            path: path.clone(),
            upstream: upstream.clone(),
            options: options.cloned().unwrap_or_default(),
        };
        complete.push((host, name, loc));
    }
    // Sorted, then bulk-built: far cheaper than 100k inserts in random order.
    complete.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut hosts: Vec<(String, Host)> = Vec::new();
    let mut group: Vec<(String, Location)> = Vec::new();
    let mut rows = complete.into_iter().peekable();
    while let Some((host, name, loc)) = rows.next() {
        group.push((name.to_string(), loc));
        if rows.peek().is_none_or(|next| next.0 != host) {
            let locations = std::mem::take(&mut group).into_iter().collect();
            hosts.push((host.to_string(), Host { locations }));
        }
    }
    hosts.into_iter().collect()
}
