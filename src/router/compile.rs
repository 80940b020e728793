//! `Compiler`: turns a validated `Model` into an immutable `Snapshot`, rebuilding only what a
//! `ChangeSet` names and sharing the rest with the previous snapshot (rules in `mod.rs`).
//!
//! Infallible by design: a location whose regex cannot be built (e.g. over the size limit) is
//! skipped with a warning, so one bad location never keeps the rest of a config from applying.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::host_index::HostIndex;
use super::locations::{Ids, Parts};
use super::lookup::HostTable;
use super::pattern::PatternCache;
use super::upstreams::UpstreamTable;
use super::Snapshot;
use crate::model::{normalize_host, ChangeSet, Model, Settings, CATCH_ALL_HOST};

/// Removed ids are reclaimed (by a renumbering) only when they outnumber live ones and this.
pub const RENUMBER_MIN: usize = 4096;

/// Epoch 0 is `Snapshot::not_ready`'s.
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// Compiles snapshots, keeping what the next compile shares or numbers by: the current host
/// table, the upstream table, route ids and parsed regexes. One per config source, on the
/// control thread.
pub struct Compiler {
    epoch: u64,
    hosts: HostTable,
    upstreams: UpstreamTable,
    ids: Ids,
    patterns: PatternCache,
    /// False until the first compile: there is nothing to be incremental over.
    compiled: bool,
    /// The model's host keys were not all normalized at the last full compile (only a
    /// hand-built model does that). Which of two keys that normalize alike wins is then decided
    /// by the whole model, so every compile is a full one.
    raw_keys: bool,
}

/// Compiles `model` from scratch: a fresh `Compiler` (so a new `id_epoch`), everything rebuilt.
pub fn compile(model: &Model, settings: Arc<Settings>, generation: u64, revision: i64) -> Snapshot {
    let everything = ChangeSet::everything();
    Compiler::new().compile(model, &everything, settings, generation, revision)
}

impl Default for Compiler {
    fn default() -> Self {
        Compiler::new()
    }
}

impl Compiler {
    pub fn new() -> Compiler {
        Compiler {
            epoch: EPOCHS.fetch_add(1, Ordering::Relaxed),
            hosts: HostTable::default(),
            upstreams: UpstreamTable::default(),
            ids: Ids::default(),
            patterns: PatternCache::default(),
            compiled: false,
            raw_keys: false,
        }
    }

    /// The snapshot of `model`, which must be the whole current model; `changes` says which
    /// hosts and upstreams differ from the model of the previous compile. `changes.all` (or the
    /// first compile) rebuilds everything; otherwise the cost is that of the changed entities.
    pub fn compile(
        &mut self,
        model: &Model,
        changes: &ChangeSet,
        settings: Arc<Settings>,
        generation: u64,
        revision: i64,
    ) -> Snapshot {
        let raw = |h: &String| normalize_host(h).is_some_and(|n| n != *h);
        let mut full = changes.all || !self.compiled || self.raw_keys;
        full |= changes.hosts.iter().any(raw);
        if self.mostly_removed() {
            self.renumber();
            full = true;
        }
        if full {
            self.full(model);
        } else {
            self.incremental(model, changes);
        }
        self.compiled = true;
        Snapshot {
            generation,
            revision,
            settings,
            upstreams: self.upstreams.routes(),
            location_count: self.ids.bound(),
            id_epoch: self.epoch,
            ready: true,
            hosts: self.hosts.clone(),
        }
    }

    fn parts(&mut self) -> Parts<'_> {
        Parts {
            patterns: &mut self.patterns,
            upstreams: &mut self.upstreams,
            ids: &mut self.ids,
        }
    }

    fn incremental(&mut self, model: &Model, changes: &ChangeSet) {
        for name in &changes.upstreams {
            self.upstreams.set(name, model.upstreams.get(name));
        }
        let mut index_changes = Vec::new();
        for name in changes.hosts.iter().filter(|h| normalize_host(h).is_some()) {
            let prev = self.hosts.host(name).cloned();
            let mut parts = self.parts();
            let new = model
                .hosts
                .get(name)
                .map(|h| Arc::new(parts.host(name, h, prev.as_deref())));
            if let Some(prev) = &prev {
                parts.release(prev);
            }
            match name.as_str() {
                CATCH_ALL_HOST => self.hosts.catch_all = new,
                _ => index_changes.push((name.as_bytes().into(), new)),
            }
        }
        if !index_changes.is_empty() {
            self.hosts.index = self.hosts.index.with_changes(index_changes);
        }
        self.patterns.limit(2 * self.ids.live() + 1024);
    }

    /// Rebuilds every host and upstream, keeping the ids of those that existed before.
    fn full(&mut self, model: &Model) {
        self.patterns.begin_full();
        self.upstreams.set_all(model.upstreams.iter());
        self.upstreams.clear_refs();
        self.ids.clear_live();
        self.raw_keys = false;
        let old = std::mem::take(&mut self.hosts);
        let mut seen = FxHashSet::default();
        let mut named = Vec::with_capacity(model.hosts.len());
        for (raw, host) in &model.hosts {
            let Some(name) = normalize_host(raw) else {
                tracing::warn!(
                    target: "vane::router",
                    host = raw,
                    "skipping host: not a host name"
                );
                continue;
            };
            self.raw_keys |= name != *raw;
            if !seen.insert(name.clone()) {
                tracing::warn!(
                    target: "vane::router",
                    host = raw,
                    "skipping host: it normalizes to the same name as another"
                );
                continue;
            }
            let prev = old.host(&name).map(Arc::as_ref);
            let routes = Arc::new(self.parts().host(&name, host, prev));
            match name.as_str() {
                CATCH_ALL_HOST => self.hosts.catch_all = Some(routes),
                _ => named.push(routes),
            }
        }
        self.hosts.index = HostIndex::new(named);
        self.patterns.end_full();
    }

    /// Whether removed ids outnumber live ones (and `RENUMBER_MIN`), for routes or upstreams.
    fn mostly_removed(&self) -> bool {
        let ids = &self.ids;
        ids.garbage() > ids.live().max(RENUMBER_MIN) || self.upstreams.mostly_garbage(RENUMBER_MIN)
    }

    /// Forgets every id: the next (full) compile numbers from zero in a new epoch.
    fn renumber(&mut self) {
        tracing::info!(
            target: "vane::router",
            removed_ids = self.ids.garbage(),
            "renumbering routes and upstreams: per-id state must be re-keyed"
        );
        self.epoch = EPOCHS.fetch_add(1, Ordering::Relaxed);
        self.hosts = HostTable::default();
        self.upstreams = UpstreamTable::default();
        self.ids = Ids::default();
    }

    /// The routes of a host as currently compiled (for tests).
    #[cfg(test)]
    pub(crate) fn host_routes(&self, name: &str) -> Option<&Arc<super::lookup::HostRoutes>> {
        self.hosts.host(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiler_can_move_to_the_control_thread() {
        fn send<T: Send>() {}
        send::<Compiler>();
    }
}
