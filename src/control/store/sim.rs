//! A seeded, deterministic reconcile simulation (in the manner of sozu's `udp_simulation.rs`):
//! a simulated etcd (key map, revision counter, compaction point, change log) and a simulated
//! source (full read, filtered watch, disconnects, resumes, progress notifications) drive a
//! `Store` through thousands of random steps. At the end the store must hold exactly what a
//! fresh store makes of a fresh full read, and every model difference along the way must have
//! been named by `take_changes`.
//!
//! Only valid values are written: with a bad value standing, the last-good rule makes a fresh
//! read differ on purpose (the unit tests cover bad values).

use std::collections::{BTreeMap, BTreeSet};

use super::{Event, Kv, Served, Store};
use crate::model::etcd_keys::parse_key;
use crate::model::Model;

const P: &str = "/vulcand";
const HOSTS: &[&str] = &["a.com", "b.com", "A.com", "a.com.", "*"];
const LOCATIONS: &[&str] = &["l0", "l1", "l2"];
const UPSTREAMS: &[&str] = &["u0", "u1", "u2", "u3"];
const ENDPOINT_IDS: &[&str] = &["1", "2", "x1"];
const DIRS: &[&str] = &["/sd/web", "/sd/api", "/sd/web/inner"];
const NAMES: &[&str] = &["x1", "x2", "x3"];

#[derive(Default)]
struct Etcd {
    kv: BTreeMap<String, (Vec<u8>, i64)>,
    rev: i64,
    /// A watch may start at `compacted + 1` or later.
    compacted: i64,
    log: Vec<Event>,
}

impl Etcd {
    /// One transaction: every change gets the same new revision.
    fn txn(&mut self, changes: Vec<(String, Option<Vec<u8>>)>) {
        let changes: Vec<_> = changes
            .into_iter()
            .filter(|(k, v)| v.is_some() || self.kv.contains_key(k))
            .collect();
        if changes.is_empty() {
            return;
        }
        self.rev += 1;
        for (key, value) in changes {
            match &value {
                Some(v) => self.kv.insert(key.clone(), (v.clone(), self.rev)),
                None => self.kv.remove(&key),
            };
            let mod_revision = self.rev;
            self.log.push(Event {
                key,
                value,
                mod_revision,
            });
        }
    }

    fn range(&self, prefix: &str) -> Vec<Kv> {
        let from = prefix.to_string();
        self.kv
            .range(from..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (v, r))| (k.clone(), v.clone(), *r))
            .collect()
    }
}

/// How often each path was taken, so a run that stopped exercising one fails loudly.
#[derive(Debug, Default)]
struct Stats {
    resumes: usize,
    compacted_rereads: usize,
    discovery_rereads: usize,
    max_discovered: usize,
}

/// The source's side: what it watches and how far it got.
struct Watch {
    connected: bool,
    /// Index into the log of the next event to deliver.
    pos: usize,
    dirs: BTreeSet<String>,
}

/// The source's full read: the prefix, then the directories it points at, at one revision.
fn full_read(store: &mut Store, etcd: &Etcd) -> Watch {
    let prefix_kvs = etcd.range(&format!("{P}/"));
    let dirs = store.dirs_to_read(&prefix_kvs);
    let mut kvs = prefix_kvs;
    for d in &dirs {
        kvs.extend(etcd.range(&format!("{d}/")));
    }
    store.reset(kvs, etcd.rev);
    assert_eq!(store.discovery_dirs(), dirs);
    watch_from(etcd, etcd.rev + 1, dirs)
}

fn watch_from(etcd: &Etcd, rev: i64, dirs: BTreeSet<String>) -> Watch {
    Watch {
        connected: true,
        pos: etcd.log.partition_point(|e| e.mod_revision < rev),
        dirs,
    }
}

fn watched(w: &Watch, key: &str) -> bool {
    key.starts_with(&format!("{P}/"))
        || w.dirs.iter().any(|d| {
            key.strip_prefix(d.as_str())
                .is_some_and(|r| r.starts_with('/'))
        })
}

/// Delivers up to `revisions` whole revisions; then a progress notification if caught up.
fn deliver(store: &mut Store, etcd: &Etcd, w: &mut Watch, revisions: usize) {
    for _ in 0..revisions {
        let Some(first) = etcd.log.get(w.pos) else {
            break;
        };
        let rev = first.mod_revision;
        while let Some(ev) = etcd.log.get(w.pos).filter(|e| e.mod_revision == rev) {
            if watched(w, &ev.key) {
                store.apply(ev.clone());
            }
            w.pos += 1;
        }
    }
    if w.pos == etcd.log.len() {
        store.set_revision(etcd.rev);
    }
}

fn reconnect(store: &mut Store, etcd: &Etcd, stats: &mut Stats) -> Watch {
    if store.revision() >= etcd.compacted && !store.needs_reread() {
        stats.resumes += 1;
        watch_from(etcd, store.revision() + 1, store.discovery_dirs())
    } else {
        stats.compacted_rereads += 1;
        full_read(store, etcd)
    }
}

/// Endpoints the model holds that no own endpoint key explains.
fn discovered_count(m: &Model) -> usize {
    let own = |e: &String| ENDPOINT_IDS.contains(&e.as_str());
    m.upstreams
        .values()
        .flat_map(|u| u.endpoints.keys())
        .filter(|e| !own(e))
        .count()
}

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from[rng.usize(..from.len())]
}

fn location_key(rng: &mut fastrand::Rng, leaf: &str) -> String {
    let (h, l) = (pick(rng, HOSTS), pick(rng, LOCATIONS));
    format!("{P}/hosts/{h}/locations/{l}/{leaf}")
}

/// A random valid write (or, now and then, a key Vane must ignore).
fn random_put(rng: &mut fastrand::Rng) -> Vec<(String, Option<Vec<u8>>)> {
    let n = rng.u8(1..20);
    let u = pick(rng, UPSTREAMS);
    let (k, v) = match rng.u32(0..100) {
        0..=17 => (
            location_key(rng, "path"),
            pick(rng, &["/", "/a.*", "/b/[0-9]+", "/c"]).to_string(),
        ),
        18..=35 => (
            location_key(rng, "upstream"),
            pick(rng, &["u0", "u1", "u2", " u3 ", "u9"]).to_string(),
        ),
        36..=41 => (
            location_key(rng, "options"),
            pick(rng, &["{}", r#"{"max_body":100}"#, r#"{"retries":1}"#]).to_string(),
        ),
        42..=59 => {
            let id = pick(rng, ENDPOINT_IDS);
            let v = if rng.bool() {
                format!("http://10.0.0.{n}:80")
            } else {
                format!(
                    r#"{{"url":"http://10.0.0.{n}:81","weight":{}}}"#,
                    rng.u8(1..5)
                )
            };
            (format!("{P}/upstreams/{u}/endpoints/{id}"), v)
        }
        60..=64 => (
            format!("{P}/upstreams/{u}/options"),
            pick(rng, &[r#"{"lb":"round_robin"}"#, "{}"]).to_string(),
        ),
        65..=71 => {
            let trailing = if rng.bool() { "/" } else { "" };
            (
                format!("{P}/upstreams/{u}/discovery"),
                format!("{}{trailing}", pick(rng, DIRS)),
            )
        }
        72..=91 => (
            format!("{}/{}", pick(rng, DIRS), pick(rng, NAMES)),
            format!("10.1.0.{n}:{}", 8000 + n as u32),
        ),
        92..=95 => {
            // A whole location in one transaction: two events at one revision.
            let (h, l) = (pick(rng, HOSTS), pick(rng, LOCATIONS));
            let base = format!("{P}/hosts/{h}/locations/{l}");
            return vec![
                (format!("{base}/path"), Some(b"/t.*".to_vec())),
                (format!("{base}/upstream"), Some(u.as_bytes().to_vec())),
            ];
        }
        _ => {
            let noise = [
                "/noise/x",
                "/sd/webx/x1",
                "/sd/web/deep/er/x",
                "/vulcand/hosts/a.com/locations/l0/bogus",
            ];
            (pick(rng, &noise).to_string(), format!("10.1.0.{n}:1"))
        }
    };
    vec![(k, Some(v.into_bytes()))]
}

/// A random delete: one existing key, or a whole upstream / host / directory at one revision.
fn random_delete(rng: &mut fastrand::Rng, etcd: &Etcd) -> Vec<(String, Option<Vec<u8>>)> {
    let prefix = match rng.u32(0..10) {
        0..=5 => {
            if etcd.kv.is_empty() {
                return Vec::new();
            }
            let k = etcd.kv.keys().nth(rng.usize(..etcd.kv.len())).cloned();
            return k.map(|k| (k, None)).into_iter().collect();
        }
        6..=7 => format!("{P}/upstreams/{}/", pick(rng, UPSTREAMS)),
        8 => format!("{P}/hosts/{}/", pick(rng, HOSTS)),
        _ => format!("{}/", pick(rng, DIRS)),
    };
    etcd.range(&prefix)
        .into_iter()
        .map(|(k, _, _)| (k, None))
        .collect()
}

/// Every entity that differs between `before` and `after` must be named by the change set.
fn assert_changes_cover(before: &Model, after: &Model, c: &crate::model::ChangeSet, step: usize) {
    if c.all {
        return;
    }
    let hosts: BTreeSet<&String> = before.hosts.keys().chain(after.hosts.keys()).collect();
    for h in hosts {
        if before.hosts.get(h) != after.hosts.get(h) {
            assert!(
                c.hosts.contains(h),
                "step {step}: host {h} changed unreported"
            );
        }
    }
    let ups: BTreeSet<&String> = before
        .upstreams
        .keys()
        .chain(after.upstreams.keys())
        .collect();
    for u in ups {
        if before.upstreams.get(u) != after.upstreams.get(u) {
            assert!(
                c.upstreams.contains(u),
                "step {step}: upstream {u} changed unreported"
            );
        }
    }
}

fn run(seed: u64, steps: usize, stats: &mut Stats) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut etcd = Etcd::default();
    let mut store = Store::new(P);
    let mut w = full_read(&mut store, &etcd);
    let mut compiled = store.model().clone();
    // What a disk cache fed the store's deltas at random moments holds.
    let mut cached = Served::new();
    for step in 0..steps {
        match rng.u32(0..100) {
            0..=44 => etcd.txn(random_put(&mut rng)),
            45..=56 => etcd.txn(random_delete(&mut rng, &etcd)),
            57..=58 => etcd.compacted = rng.i64(etcd.compacted..=etcd.rev),
            59..=61 => w.connected = false,
            62..=66 if !w.connected => w = reconnect(&mut store, &etcd, stats),
            _ if w.connected => {
                deliver(&mut store, &etcd, &mut w, rng.usize(1..6));
                if store.needs_reread() {
                    stats.discovery_rereads += 1;
                    w = full_read(&mut store, &etcd);
                }
            }
            _ => {}
        }
        let c = store.take_changes();
        assert_changes_cover(&compiled, store.model(), &c, step);
        if !c.is_empty() {
            compiled = store.model().clone();
        }
        stats.max_discovered = stats.max_discovered.max(discovered_count(store.model()));
        if rng.u32(0..4) == 0 {
            store.take_cache_delta().apply_to(&mut cached);
        }
    }
    // Catch up, the way the source does after its last event.
    if !w.connected {
        w = reconnect(&mut store, &etcd, stats);
    }
    deliver(&mut store, &etcd, &mut w, usize::MAX);
    if store.needs_reread() {
        full_read(&mut store, &etcd);
    }
    assert_eq!(store.revision(), etcd.rev, "seed {seed}");
    store.take_cache_delta().apply_to(&mut cached);
    let cached: Vec<Kv> = cached.into_iter().map(|(k, (v, r))| (k, v, r)).collect();
    assert_eq!(
        cached,
        store.serving_kvs(),
        "seed {seed}: the cache fed deltas differs from what is served"
    );

    let mut fresh = Store::new(P);
    full_read(&mut fresh, &etcd);
    assert_eq!(
        store.model(),
        fresh.model(),
        "seed {seed}: model differs from a fresh read"
    );
    assert_eq!(
        store.discovery_dirs(),
        fresh.discovery_dirs(),
        "seed {seed}"
    );
    let dirs = fresh.discovery_dirs();
    let relevant: Vec<Kv> = etcd
        .kv
        .iter()
        .filter(|(k, _)| {
            parse_key(P, k).is_some() || k.rsplit_once('/').is_some_and(|(d, _)| dirs.contains(d))
        })
        .map(|(k, (v, r))| (k.clone(), v.clone(), *r))
        .collect();
    assert_eq!(
        store.kvs(),
        relevant,
        "seed {seed}: raw view differs from etcd"
    );
    assert!(
        store.rejections().is_empty(),
        "seed {seed}: {:?}",
        store.rejections()
    );
    assert!(
        !store.model().hosts.is_empty() || !store.model().upstreams.is_empty(),
        "seed {seed}: the run built nothing"
    );
}

#[test]
fn random_histories_end_in_what_a_fresh_read_gives() {
    let mut stats = Stats::default();
    for seed in [1, 2, 3, 7, 42, 1234, 99_999, 0xdead_beef] {
        run(seed, 4000, &mut stats);
    }
    println!("{stats:?}");
    assert!(
        stats.resumes > 10 && stats.compacted_rereads > 10,
        "{stats:?}"
    );
    assert!(
        stats.discovery_rereads > 10 && stats.max_discovered >= 3,
        "{stats:?}"
    );
}
