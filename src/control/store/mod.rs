//! The key→entity store of the etcd source: the raw keys Vane reads, each judged alone, and the
//! `Model` they make, maintained incrementally (one event costs the entity it touches, never a
//! rebuild). Pure: no I/O, no clocks, no async. The etcd source feeds it full reads (`reset`) and
//! watch events (`apply`), then compiles what `take_changes` names.
//!
//! Rules (issue 3, item 5):
//! - A bad value (bad regex or URL, non-UTF-8, longer than `MAX_VALUE`, malformed JSON, bad
//!   name in the key or the value) rejects that key alone: a `Rejection { key, revision, error }`
//!   is recorded, the key keeps serving its last good value (or counts as absent if it never had
//!   one), and every other key applies. A later good value or a delete clears the rejection.
//!   Last good values survive a `reset`.
//! - A location missing its path or its upstream is pending: not in the model, not a rejection.
//!   A location naming an upstream that does not exist stays in the model (the data path answers
//!   503). An upstream exists while any of its keys serves; deleting them all removes it.
//! - Two spellings of one host (`Example.com`, `example.com`) setting one field: the greatest
//!   key wins, as in a `ModelBuilder` fed the keys in etcd's (sorted) order.
//! - Discovery: an upstream whose `discovery` is `/services/web` also gets one endpoint per key
//!   `/services/web/<name>` = `ip:port` (id `<name>`, weight 1); its own endpoint of the same id
//!   wins. Keys under a directory no upstream points at are ignored and not kept.
//!
//! Full-read protocol for the source (a directory's keys can only be known by reading it):
//! 1. read the prefix at revision R; `dirs_to_read(&those)` names the directories to read too,
//!    at the same R; `reset(prefix keys + directory keys, R)`;
//! 2. watch the prefix and those directories from R+1; `apply` each event, in revision order,
//!    whole revisions at a time (then `revision() + 1` is a correct resume point);
//! 3. after each drained batch, if `needs_reread()` (a pointer named a directory the store does
//!    not hold, e.g. one added after its keys were written), go back to 1. Directories that lose
//!    their last pointer are dropped at once and need nothing.

mod key;
mod reset;
mod update;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{ChangeSet, Model};
use key::{Serving, Target};

/// One watch event. `value: None` is a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub key: String,
    pub value: Option<Vec<u8>>,
    pub mod_revision: i64,
}

/// A key whose current value is refused: `revision` is the value's mod revision, `error` says
/// what is wrong with it (without repeating the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub key: String,
    pub revision: i64,
    pub error: String,
}

/// A raw key as read/watched: `(key, value, mod_revision)`.
pub type Kv = (String, Vec<u8>, i64);

/// A served value and its mod revision.
pub type Value = (Vec<u8>, i64);

/// What the disk cache must learn since it was last told: everything after a full read, else
/// the keys that changed, each with what it now serves (`None`: nothing).
#[derive(Debug, PartialEq, Eq)]
pub enum CacheDelta {
    Full(Vec<Kv>),
    Changes(Vec<(String, Option<Value>)>),
}

/// The served view as the cache keeps it.
pub type Served = BTreeMap<String, Value>;

impl CacheDelta {
    pub fn apply_to(self, served: &mut Served) {
        match self {
            CacheDelta::Full(kvs) => {
                *served = kvs.into_iter().map(|(k, v, rev)| (k, (v, rev))).collect();
            }
            CacheDelta::Changes(changes) => {
                for (k, now) in changes {
                    match now {
                        Some(v) => served.insert(k, v),
                        None => served.remove(&k),
                    };
                }
            }
        }
    }
}

pub struct Store {
    prefix: String,
    revision: i64,
    raw: BTreeMap<String, Entry>,
    rejected: BTreeMap<String, Rejected>,
    model: Model,
    changes: ChangeSet,
    /// Serving keys per upstream: the upstream exists while its count is above zero.
    upstream_keys: HashMap<String, usize>,
    /// Per normalized host, its other spellings in serving keys, with their key counts.
    spellings: HashMap<String, BTreeMap<String, usize>>,
    /// Discovery directory → the upstreams whose serving pointer names it.
    dirs: BTreeMap<String, BTreeSet<String>>,
    /// The pointed-at directories whose keys the store holds (a subset of `dirs`' keys).
    covered: BTreeSet<String>,
    /// Keys touched since the last `take_cache_delta`; `cache_full` after a reset. Copying
    /// every key for each cache write stalled this thread for milliseconds at 100k locations.
    cache_dirty: BTreeSet<String>,
    cache_full: bool,
}

struct Entry {
    value: Vec<u8>,
    mod_revision: i64,
    /// `None` only while the key is rejected and never had a good value.
    serving: Option<Serving>,
}

struct Rejected {
    revision: i64,
    error: String,
    /// The value behind `Entry::serving`, so the cache can save what is actually served.
    last_good: Option<(Vec<u8>, i64)>,
}

impl Store {
    /// `prefix` is the key prefix without a trailing slash, e.g. `/vulcand`.
    pub fn new(prefix: &str) -> Self {
        Store {
            prefix: prefix.trim_end_matches('/').to_string(),
            revision: 0,
            raw: BTreeMap::new(),
            rejected: BTreeMap::new(),
            model: Model::default(),
            changes: ChangeSet::default(),
            upstream_keys: HashMap::new(),
            spellings: HashMap::new(),
            dirs: BTreeMap::new(),
            covered: BTreeSet::new(),
            cache_dirty: BTreeSet::new(),
            cache_full: true,
        }
    }

    /// One watch event, in revision order; the store's revision becomes
    /// `max(revision, mod_revision)`. Keys Vane does not read are ignored.
    pub fn apply(&mut self, ev: Event) {
        self.revision = self.revision.max(ev.mod_revision);
        let target = key::prefix_target(&self.prefix, &ev.key)
            .or_else(|| key::discovered_target(&self.covered, &ev.key));
        let Some(target) = target else { return };
        match ev.value {
            Some(value) => self.put(ev.key, target, value, ev.mod_revision),
            None => self.delete(&ev.key, target),
        }
    }

    /// Hosts and upstreams touched since the last call (`all` after a `reset`).
    pub fn take_changes(&mut self) -> ChangeSet {
        std::mem::take(&mut self.changes)
    }

    /// The current model, always up to date.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The etcd revision the store reflects.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// A progress notification: every event up to `rev` has been delivered. Never goes back.
    pub fn set_revision(&mut self, rev: i64) {
        self.revision = self.revision.max(rev);
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The keys whose current value is refused, in key order.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.rejected
            .iter()
            .map(|(key, r)| Rejection {
                key: key.clone(),
                revision: r.revision,
                error: r.error.clone(),
            })
            .collect()
    }

    /// The directories named by the serving `upstreams/<u>/discovery` values.
    pub fn discovery_dirs(&self) -> BTreeSet<String> {
        self.dirs.keys().cloned().collect()
    }

    /// True when a pointer names a directory whose keys the store does not hold: the source
    /// must do a full read (prefix + `dirs_to_read`) and `reset`.
    pub fn needs_reread(&self) -> bool {
        self.dirs.keys().any(|d| !self.covered.contains(d))
    }

    /// The raw view, in key order: every key Vane reads, with its current value (good or not).
    pub fn kvs(&self) -> Vec<Kv> {
        self.raw
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone(), e.mod_revision))
            .collect()
    }

    /// What is actually served, in key order: a rejected key contributes its last good value,
    /// or nothing. This is what the disk cache should save: `reset` of it on a fresh store
    /// rebuilds exactly this model, rejected-but-serving entities included.
    pub fn serving_kvs(&self) -> Vec<Kv> {
        self.raw
            .keys()
            .filter_map(|k| {
                let (v, rev) = self.serving_value(k)?;
                Some((k.clone(), v, rev))
            })
            .collect()
    }

    /// What changed for the disk cache since the last call.
    pub fn take_cache_delta(&mut self) -> CacheDelta {
        let dirty = std::mem::take(&mut self.cache_dirty);
        if std::mem::replace(&mut self.cache_full, false) {
            return CacheDelta::Full(self.serving_kvs());
        }
        CacheDelta::Changes(
            dirty
                .into_iter()
                .map(|k| {
                    let serving = self.serving_value(&k);
                    (k, serving)
                })
                .collect(),
        )
    }

    /// The value and revision `key` serves: its own, or for a rejected key its last good one.
    fn serving_value(&self, key: &str) -> Option<Value> {
        let e = self.raw.get(key)?;
        match self.rejected.get(key) {
            None => Some((e.value.clone(), e.mod_revision)),
            Some(r) => r.last_good.clone(),
        }
    }

    fn put(&mut self, key: String, target: Result<Target, String>, value: Vec<u8>, rev: i64) {
        self.cache_dirty.insert(key.clone());
        let old = self.raw.remove(&key);
        let old_rejected = self.rejected.remove(&key);
        let old_serving = old.as_ref().and_then(|e| e.serving.clone());
        let (entry, rejected) = judge(&self.prefix, &target, value, rev, old, old_rejected);
        let changed = entry.serving != old_serving;
        self.raw.insert(key.clone(), entry);
        if let Some(r) = rejected {
            self.rejected.insert(key.clone(), r);
        }
        if let (true, Ok(t)) = (changed, &target) {
            self.serving_changed(&key, t, old_serving);
        }
    }

    fn delete(&mut self, key: &str, target: Result<Target, String>) {
        self.cache_dirty.insert(key.to_string());
        self.rejected.remove(key);
        let old = self.raw.remove(key).and_then(|e| e.serving);
        if let (Some(old), Ok(t)) = (old, &target) {
            self.serving_changed(key, t, Some(old));
        }
    }
}

/// The new state of a key that now holds `value`: a good value serves; a bad one is rejected and
/// the key keeps serving its last good value, if it had one.
fn judge(
    prefix: &str,
    target: &Result<Target, String>,
    value: Vec<u8>,
    rev: i64,
    old: Option<Entry>,
    old_rejected: Option<Rejected>,
) -> (Entry, Option<Rejected>) {
    // The same bytes get the same verdict: a re-read of an unchanged key costs no parsing.
    let old = match old {
        Some(o) if o.value == value => {
            let rejected = old_rejected.map(|r| Rejected { revision: rev, ..r });
            let entry = Entry {
                value,
                mod_revision: rev,
                serving: o.serving,
            };
            return (entry, rejected);
        }
        old => old,
    };
    let parsed = match target {
        Ok(t) => key::parse_value(prefix, t, &value),
        Err(e) => Err(e.clone()),
    };
    let (serving, rejected) = match parsed {
        Ok(s) => (Some(s), None),
        Err(error) => {
            let (serving, last_good) = match (old, old_rejected) {
                (old, Some(r)) => (old.and_then(|o| o.serving), r.last_good),
                (Some(o), None) => {
                    let last_good = o.serving.is_some().then_some((o.value, o.mod_revision));
                    (o.serving, last_good)
                }
                (None, None) => (None, None),
            };
            let r = Rejected {
                revision: rev,
                error,
                last_good,
            };
            (serving, Some(r))
        }
    };
    let entry = Entry {
        value,
        mod_revision: rev,
        serving,
    };
    (entry, rejected)
}
