//! The etcd control loop, on the `vane-etcd` thread's own current-thread tokio runtime:
//! connect to one member → read the prefix and each discovery directory at one revision R →
//! reset the store → publish → watch from R+1 → apply each batch of events → publish. After an
//! error it resumes every watcher from its own next revision on the next member, after a
//! jittered backoff; a compacted watch or a changed set of discovery directories re-reads.
//! Whatever happens to etcd, the workers keep serving the last published snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_client::Client;

use super::apply::Applier;
use super::backoff::Backoff;
use super::client::{connect, read_all};
use super::persist::CacheWriter;
use super::settings_file::SettingsFile;
use super::status::{RouteSource, StatusDoc};
use super::watch::{End, Target, Watch};
use super::EtcdSourceConfig;
use crate::control::cache;
use crate::control::store::Store;
use crate::model::{ChangeSet, EtcdSettings};

/// The loop wakes this often while idle: settings file, cache, reaping, status.
const TICK: Duration = Duration::from_millis(250);
/// At most one cache write per this interval (a burst of changes costs one write).
const CACHE_EVERY: Duration = Duration::from_secs(1);
/// status.json is rewritten after each change and at least this often.
const STATUS_EVERY: Duration = Duration::from_secs(5);
/// While etcd stays unreachable, say so at most this often.
const NAG_EVERY: Duration = Duration::from_secs(30);

mod report;

enum Ended {
    Compacted(i64),
    DirsChanged,
    Failed(String),
}

pub(super) struct Source {
    etcd: EtcdSettings,
    store: Store,
    applier: Applier,
    status: Arc<Mutex<StatusDoc>>,
    /// The prefix first, then each discovery directory not already covered.
    targets: Vec<Target>,
    backoff: Backoff,
    next_endpoint: usize,
    source: RouteSource,
    cache_tried: bool,
    /// Changes applied to the store and not yet published.
    pending: ChangeSet,
    settings_file: Option<SettingsFile>,
    cache: Option<CacheWriter>,
    cache_due: Option<Instant>,
    last_cache_save: Option<Instant>,
    last_status: Instant,
    last_nag: Option<Instant>,
    /// Rejected keys already logged, with the revision logged.
    logged: BTreeMap<String, i64>,
}

impl Source {
    pub fn new(
        c: EtcdSourceConfig,
        status: Arc<Mutex<StatusDoc>>,
        cache: Option<CacheWriter>,
    ) -> Self {
        let etcd = c.settings.etcd.clone();
        let settings_file = c
            .config_file
            .map(|p| SettingsFile::new(p, (*c.settings).clone()));
        Source {
            store: Store::new(&etcd.prefix),
            applier: Applier::new(c.publisher, c.settings, c.node, c.generation),
            status,
            targets: Vec::new(),
            backoff: Backoff::new(fastrand::u64(..)),
            // Nodes spread over the members instead of all starting with the first.
            next_endpoint: fastrand::usize(..etcd.endpoints.len().max(1)),
            source: RouteSource::None,
            cache_tried: false,
            pending: ChangeSet::default(),
            settings_file,
            cache,
            cache_due: None,
            last_cache_save: None,
            last_status: Instant::now(),
            last_nag: None,
            logged: BTreeMap::new(),
            etcd,
        }
    }

    pub async fn run(mut self) {
        self.write_status();
        let mut failures = 0;
        loop {
            let endpoint = self.etcd.endpoints[self.next_endpoint].clone();
            let err = self.session(&endpoint).await;
            self.disconnected(&endpoint, &err);
            failures += 1;
            // Every member failed once and nothing is served yet: fall back to the cache.
            if self.source == RouteSource::None
                && !self.cache_tried
                && failures >= self.etcd.endpoints.len()
            {
                self.cache_tried = true;
                self.load_cache().await;
            }
            self.next_endpoint = (self.next_endpoint + 1) % self.etcd.endpoints.len();
            let delay = self.backoff.next_delay();
            self.pause(delay).await;
        }
    }

    /// One connection to `endpoint`: read if needed, then watch until something fails.
    /// Returns the error that ended it.
    async fn session(&mut self, endpoint: &str) -> String {
        let client = match connect(endpoint).await {
            Ok(c) => c,
            Err(e) => return e,
        };
        let mut need_read = self.source != RouteSource::Etcd || self.targets.is_empty();
        loop {
            if need_read {
                if let Err(e) = self.full_read(&client, endpoint).await {
                    return e;
                }
            }
            let mut watch = match Watch::open(&client, &self.targets).await {
                Ok(w) => w,
                Err(e) => return e,
            };
            if !need_read {
                let from: Vec<i64> = self.targets.iter().map(|t| t.next).collect();
                tracing::info!(target: "vane::etcd", endpoint, ?from, "watch resumed");
                self.backoff.reset();
                self.connected(endpoint);
            }
            need_read = true;
            match self.follow(&mut watch).await {
                Ended::Compacted(rev) => {
                    tracing::info!(target: "vane::etcd", compact_revision = rev, "watch start revision was compacted: re-reading")
                }
                Ended::DirsChanged => {
                    tracing::info!(target: "vane::etcd", "discovery directories changed: re-reading")
                }
                Ended::Failed(e) => return e,
            }
        }
    }

    /// Reads everything at one revision, resets the store to it and publishes.
    async fn full_read(&mut self, client: &Client, endpoint: &str) -> Result<(), String> {
        let t = Instant::now();
        let store = &self.store;
        let read = read_all(client, &self.etcd.prefix, |kvs| store.dirs_to_read(kvs)).await?;
        let (keys, revision) = (read.kvs.len(), read.revision);
        self.store.reset(read.kvs, revision);
        self.pending.merge(self.store.take_changes());
        self.event_seen();
        self.set_targets(self.store.discovery_dirs(), revision + 1);
        let first = self.source != RouteSource::Etcd;
        self.source = RouteSource::Etcd;
        self.backoff.reset();
        tracing::info!(target: "vane::etcd", endpoint, keys, revision, read_ms = t.elapsed().as_secs_f64() * 1e3, "read the routes from etcd");
        self.commit(Instant::now(), first).await;
        // After the publish: status.json never shows a revision the workers do not serve yet.
        self.connected(endpoint);
        Ok(())
    }

    /// Watches the prefix and every discovery directory not inside another watched range.
    fn set_targets(&mut self, dirs: BTreeSet<String>, next: i64) {
        let mut ranges = vec![self.etcd.prefix.clone()];
        for d in &dirs {
            let covered = ranges
                .iter()
                .any(|r| d == r || d.starts_with(&format!("{r}/")));
            if !covered {
                ranges.push(d.clone());
            }
        }
        self.targets = ranges.into_iter().map(|dir| Target { dir, next }).collect();
    }

    /// Applies batches of events until the watch ends.
    async fn follow(&mut self, watch: &mut Watch) -> Ended {
        loop {
            let deadline = self.next_wake();
            match watch.recv(&mut self.targets, deadline).await {
                Ok(Some(mut batch)) => {
                    self.event_seen();
                    let (events, messages) = (batch.events.len(), batch.messages);
                    // Watchers deliver independently: apply the batch in revision order (a
                    // stable sort keeps each key's own order).
                    batch.events.sort_by_key(|e| e.mod_revision);
                    for ev in batch.events {
                        self.store.apply(ev);
                    }
                    self.pending.merge(self.store.take_changes());
                    tracing::trace!(target: "vane::etcd", events, messages, "watch batch");
                    if self.store.needs_reread() {
                        return Ended::DirsChanged;
                    }
                    self.commit(batch.first_at, false).await;
                }
                Ok(None) => {}
                Err(End::Compacted(rev)) => return Ended::Compacted(rev),
                Err(End::Failed(e)) => return Ended::Failed(e),
            }
            self.tick().await;
        }
    }

    fn event_seen(&self) {
        let mut doc = self.status.lock().unwrap_or_else(|p| p.into_inner());
        doc.event_seen();
    }

    /// Publishes the pending changes (or, with `force`, the model as it is).
    async fn commit(&mut self, started: Instant, force: bool) {
        if self.pending.is_empty() && !force {
            self.after_change();
            return;
        }
        let changes = std::mem::take(&mut self.pending);
        let revision = self.store.revision();
        let p = self
            .applier
            .publish(self.store.model(), &changes, revision, started)
            .await;
        tracing::debug!(
            target: "vane::etcd",
            generation = p.generation,
            revision,
            full = changes.all,
            hosts = changes.hosts.len(),
            upstreams = changes.upstreams.len(),
            queued_us = p.queued.as_micros() as u64,
            compile_us = p.compile.as_micros() as u64,
            event_to_acked_us = p.acked.map(|d| d.as_micros() as u64),
            slowest_worker = p.slowest.map(|(w, _)| w),
            slowest_after_send_us = p.slowest.map(|(_, d)| d.as_micros() as u64),
            "published"
        );
        self.after_change();
    }

    fn after_change(&mut self) {
        self.log_rejections();
        if self.source == RouteSource::Etcd {
            self.schedule_cache();
        }
        self.write_status();
    }

    fn next_wake(&self) -> Instant {
        let t = Instant::now() + TICK;
        self.cache_due.map_or(t, |c| c.min(t))
    }

    /// Sleeps `d` while still doing the periodic work (etcd is unreachable meanwhile).
    async fn pause(&mut self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            let now = Instant::now();
            if now >= until {
                return;
            }
            tokio::time::sleep((until - now).min(TICK)).await;
            self.tick().await;
        }
    }

    async fn tick(&mut self) {
        if let Some(s) = self.settings_file.as_mut().and_then(|f| f.poll()) {
            tracing::info!(target: "vane::etcd", "settings changed in the config file: applying");
            self.applier.set_settings(Arc::new(s));
            if self.source != RouteSource::None {
                self.pending.merge(ChangeSet::everything());
                self.commit(Instant::now(), true).await;
            }
        }
        if self.cache_due.is_some_and(|t| Instant::now() >= t) {
            self.save_cache();
        }
        self.applier.reap();
        self.applier.ready_if_acked();
        if self.last_status.elapsed() >= STATUS_EVERY {
            self.write_status();
        }
    }

    fn schedule_cache(&mut self) {
        let due = self
            .last_cache_save
            .map_or(Instant::now(), |t| t + CACHE_EVERY);
        if due <= Instant::now() {
            self.save_cache();
        } else if self.cache_due.is_none() {
            self.cache_due = Some(due);
        }
    }

    fn save_cache(&mut self) {
        self.cache_due = None;
        self.last_cache_save = Some(Instant::now());
        if let Some(c) = &self.cache {
            c.save(self.store.revision(), self.store.take_cache_delta());
        }
    }

    /// etcd unreachable at start: serve the last applied keys, if this node has them.
    async fn load_cache(&mut self) {
        let dir = self.etcd.state_dir.clone();
        match cache::load(&dir) {
            Ok(Some((revision, kvs))) => {
                let keys = kvs.len();
                self.store.reset(kvs, revision);
                self.pending.merge(self.store.take_changes());
                self.source = RouteSource::Cache;
                tracing::warn!(
                    target: "vane::etcd",
                    keys,
                    revision,
                    "etcd is unreachable: serving the routes cached in {} until it answers",
                    dir.display()
                );
                self.commit(Instant::now(), true).await;
            }
            Ok(None) => {
                tracing::warn!(
                    target: "vane::etcd",
                    "etcd is unreachable and {} holds no cache: answering 503, not ready, \
                     until etcd answers",
                    dir.display()
                )
            }
            Err(e) => {
                tracing::error!(
                    target: "vane::etcd",
                    "etcd is unreachable and the cache in {} cannot be read ({e}): answering \
                     503, not ready, until etcd answers",
                    dir.display()
                )
            }
        }
        self.write_status();
    }
}
