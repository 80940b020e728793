//! Incremental compiles against full ones: random seeded edits must give the same lookups as a
//! fresh compile of the same model, keep ids stable and share what did not change.

use std::collections::BTreeMap;
use std::sync::Arc;

use fastrand::Rng;

use super::super::{compile, Compiler, Route, Snapshot, RENUMBER_MIN};
use crate::model::{ChangeSet, Endpoint, Location, Model, Options, Settings, Upstream};

const HOSTS: [&str; 8] = [
    "a.com", "b.com", "c.com", "d.com", "e.com", "f.com", "big", "*",
];
const UPSTREAMS: usize = 10;
const PATHS: [&str; 16] = [
    "/.*",
    ".*",
    "/a/.*",
    "/a/b",
    "/a/[0-9]+",
    "/api/v1/.*",
    "/api/v1/users",
    "(?i)/A/.*",
    "/a/b/c/.*",
    r".*\.png",
    "/static/.*",
    "/static/img/.*",
    "/c/d",
    "/x/[a-z]+/y",
    "/a.*",
    "/b/.*",
];
const PROBES: [&str; 14] = [
    "/",
    "/a/b",
    "/a/12",
    "/a/b/c/d",
    "/A/x",
    "/api/v1/users",
    "/api/v1/x",
    "/x.png",
    "/static/a",
    "/static/img/b.png",
    "/c/d",
    "/x/abc/y",
    "/b/",
    "",
];

fn settings() -> Arc<Settings> {
    Arc::new(Settings::default())
}

fn upstream(rng: &mut Rng) -> Upstream {
    let count = rng.usize(0..3);
    let endpoints = (0..count).map(|i| {
        let addr = ([127, 0, 0, 1], 9000 + rng.u16(0..4)).into();
        let ep = Endpoint {
            addr,
            weight: rng.u32(1..3),
        };
        (i.to_string(), ep)
    });
    let endpoints = endpoints.collect();
    let options = Options {
        retries: rng.bool().then_some(0),
        ..Default::default()
    };
    Upstream {
        endpoints,
        options,
        discovery: None,
    }
}

fn location(rng: &mut Rng) -> Location {
    let options = Options {
        max_body: (rng.u8(0..4) == 0).then_some(1024),
        ..Default::default()
    };
    Location {
        path: PATHS[rng.usize(..PATHS.len())].into(),
        upstream: format!("u{}", rng.usize(..UPSTREAMS + 2)),
        options,
    }
}

/// One random edit of `m`, recorded in `changes`. `big` gets enough locations for a prefilter.
fn edit(rng: &mut Rng, m: &mut Model, changes: &mut ChangeSet) {
    let host = HOSTS[rng.usize(..HOSTS.len())];
    let names = if host == "big" { 40 } else { 6 };
    match rng.u8(0..10) {
        0..=4 => {
            let name = format!("l{}", rng.usize(..names));
            let loc = location(rng);
            m.hosts
                .entry(host.into())
                .or_default()
                .locations
                .insert(name, loc);
            changes.hosts.insert(host.into());
        }
        5 | 6 => {
            if let Some(h) = m.hosts.get_mut(host) {
                h.locations.remove(&format!("l{}", rng.usize(..names)));
                changes.hosts.insert(host.into());
            }
        }
        7 => {
            m.hosts.remove(host);
            changes.hosts.insert(host.into());
        }
        _ => {
            let name = format!("u{}", rng.usize(..UPSTREAMS));
            match rng.bool() {
                true => m.upstreams.insert(name.clone(), upstream(rng)),
                false => m.upstreams.remove(&name),
            };
            changes.upstreams.insert(name);
        }
    }
}

/// Everything a request would get from a route, by name rather than by id.
fn describe(s: &Snapshot, r: &Route) -> String {
    let u = s.upstream(r.upstream.unwrap());
    format!(
        "{}/{} -> {} defined={} {:?} {:?} route-options={:?}",
        r.host, r.location, u.name, u.defined, u.endpoints, u.options, r.options
    )
}

fn answers(s: &Snapshot) -> Vec<String> {
    let hosts = HOSTS
        .iter()
        .chain(&["A.COM:80", "unknown.org", "", "example.com"]);
    let lookups = hosts.flat_map(|h| PROBES.iter().map(move |p| (*h, *p)));
    let mut out: Vec<String> = lookups
        .map(|(h, p)| match s.lookup(h.as_bytes(), p.as_bytes()) {
            Some(r) => format!("{h}{p} => {}", describe(s, r)),
            None => format!("{h}{p} => -"),
        })
        .collect();
    let mut routes: Vec<String> = s.routes().map(|r| describe(s, r)).collect();
    routes.sort();
    out.extend(routes);
    out
}

fn ids(s: &Snapshot) -> BTreeMap<(String, String), u32> {
    let by_name = s
        .routes()
        .map(|r| ((r.host.to_string(), r.location.to_string()), r.id));
    by_name.collect()
}

fn upstream_indices(s: &Snapshot) -> BTreeMap<String, usize> {
    let by_name = s
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, u)| (u.name.to_string(), i));
    by_name.collect()
}

/// The invariants between two consecutive snapshots of one compiler.
fn check_stable(prev: &Snapshot, next: &Snapshot) {
    assert_eq!(prev.id_epoch, next.id_epoch);
    let (old, new) = (ids(prev), ids(next));
    for (key, id) in &new {
        assert!((*id as usize) < next.location_count);
        if let Some(old_id) = old.get(key) {
            assert_eq!(old_id, id, "{key:?} kept its id");
        } else {
            assert!(
                *id as usize >= prev.location_count,
                "{key:?} got a fresh id"
            );
        }
    }
    let mut unique: Vec<u32> = new.values().copied().collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), new.len());
    let (old, new) = (upstream_indices(prev), upstream_indices(next));
    assert!(
        old.iter().all(|(name, i)| new.get(name) == Some(i)),
        "indices kept"
    );
    for (a, b) in prev.upstreams.iter().zip(&next.upstreams) {
        assert_eq!(
            Arc::ptr_eq(a, b),
            a == b,
            "{}: shared iff unchanged",
            a.name
        );
    }
}

#[test]
fn random_edits_compile_like_a_full_compile() {
    for seed in 0..12 {
        let mut rng = Rng::with_seed(seed);
        let mut model = Model::default();
        let mut compiler = Compiler::new();
        let mut prev = compiler.compile(&model, &ChangeSet::everything(), settings(), 1, 0);
        for generation in 2..120 {
            let mut changes = ChangeSet::default();
            for _ in 0..rng.usize(1..4) {
                edit(&mut rng, &mut model, &mut changes);
            }
            changes.all = rng.u8(0..20) == 0;
            let before: Vec<_> = HOSTS.map(|h| compiler.host_routes(h).cloned()).into();
            let next = compiler.compile(&model, &changes, settings(), generation, 0);
            let fresh = compile(&model, settings(), generation, 0);
            assert_eq!(
                answers(&next),
                answers(&fresh),
                "seed {seed} generation {generation}"
            );
            check_stable(&prev, &next);
            for (h, old) in HOSTS.iter().zip(before) {
                let now = compiler.host_routes(h);
                let shared = matches!((&old, now), (Some(a), Some(b)) if Arc::ptr_eq(a, b));
                if !changes.all && !changes.hosts.contains(*h) {
                    assert_eq!(shared, old.is_some(), "{h} unchanged: shared");
                }
            }
            prev = next;
        }
    }
}

fn one(host: &str, location: &str, path: &str, upstream: &str) -> Model {
    let mut m = Model::default();
    let loc = Location {
        path: path.into(),
        upstream: upstream.into(),
        options: Options::default(),
    };
    m.hosts
        .entry(host.into())
        .or_default()
        .locations
        .insert(location.into(), loc);
    m
}

fn with_upstream(mut m: Model, name: &str) -> Model {
    let ep = Endpoint {
        addr: ([127, 0, 0, 1], 9000).into(),
        weight: 1,
    };
    let u = Upstream {
        endpoints: [("1".to_string(), ep)].into(),
        ..Default::default()
    };
    m.upstreams.insert(name.into(), u);
    m
}

fn upstreams_changed(name: &str) -> ChangeSet {
    ChangeSet {
        upstreams: [name.to_string()].into(),
        ..Default::default()
    }
}

#[test]
fn deleted_and_not_yet_defined_upstreams_answer_as_missing() {
    let mut c = Compiler::new();
    let m = one("h", "l", "/.*", "app");
    let s0 = c.compile(&m, &ChangeSet::everything(), settings(), 1, 0);
    let r0 = s0.lookup(b"h", b"/").unwrap();
    let idx = r0.upstream.unwrap();
    assert!(!s0.upstream(idx).defined && s0.upstream(idx).endpoints.is_empty());
    let host_before = c.host_routes("h").unwrap().clone();

    let m = with_upstream(m, "app");
    let s1 = c.compile(&m, &upstreams_changed("app"), settings(), 2, 0);
    let r1 = s1.lookup(b"h", b"/").unwrap();
    assert_eq!((r1.upstream, r1.id), (Some(idx), r0.id));
    assert!(s1.upstream(idx).defined && s1.upstream(idx).endpoints.len() == 1);
    assert!(
        Arc::ptr_eq(&host_before, c.host_routes("h").unwrap()),
        "no host recompile"
    );

    let m = one("h", "l", "/.*", "app");
    let s2 = c.compile(&m, &upstreams_changed("app"), settings(), 3, 0);
    assert_eq!(
        s2.lookup(b"h", b"/").unwrap().upstream,
        Some(idx),
        "a tombstone"
    );
    assert!(!s2.upstream(idx).defined && s2.upstream(idx).endpoints.is_empty());
    assert_eq!(s2.upstreams.len(), 1);
}

#[test]
fn location_options_are_kept_only_when_not_default() {
    let mut m = with_upstream(one("h", "plain", "/.*", "app"), "app");
    let mut loc = m.hosts["h"].locations["plain"].clone();
    loc.options.retries = Some(0);
    loc.path = "/r/.*".into();
    m.hosts
        .get_mut("h")
        .unwrap()
        .locations
        .insert("tuned".into(), loc);
    m.upstreams.get_mut("app").unwrap().options.max_body = Some(7);
    let s = compile(&m, settings(), 1, 0);
    assert!(s.lookup(b"h", b"/x").unwrap().options.is_none());
    let tuned = s.lookup(b"h", b"/r/x").unwrap();
    assert_eq!(tuned.options.as_ref().unwrap().retries, Some(0));
    assert_eq!(
        s.upstream(tuned.upstream.unwrap()).options.max_body,
        Some(7)
    );
}

#[test]
fn not_ready_routes_nothing() {
    let s = Snapshot::not_ready(settings(), 7);
    assert!(!s.ready && s.generation == 7 && s.upstreams.is_empty());
    assert_eq!((s.location_count, s.routes().count()), (0, 0));
    assert!(s.lookup(b"example.com", b"/").is_none());
    assert!(compile(&Model::default(), settings(), 1, 0).ready);
}

#[test]
fn many_removed_ids_start_a_new_epoch() {
    let mut c = Compiler::new();
    let mut m = one("a", "home", "/.*", "u");
    for i in 0..=RENUMBER_MIN {
        let loc = m.hosts["a"].locations["home"].clone();
        m.hosts
            .entry("big".into())
            .or_default()
            .locations
            .insert(format!("l{i}"), loc);
    }
    let s0 = c.compile(&m, &ChangeSet::everything(), settings(), 1, 0);
    m.hosts.remove("big");
    let big = ChangeSet {
        hosts: ["big".to_string()].into(),
        ..Default::default()
    };
    let s1 = c.compile(&m, &big, settings(), 2, 0);
    assert_eq!(s1.id_epoch, s0.id_epoch);
    assert_eq!(
        s1.location_count,
        RENUMBER_MIN + 2,
        "removed ids are not reused yet"
    );
    let s2 = c.compile(&m, &ChangeSet::default(), settings(), 3, 0);
    assert_ne!(s2.id_epoch, s1.id_epoch);
    assert_eq!(s2.location_count, 1);
    assert_eq!(s2.lookup(b"a", b"/").unwrap().id, 0);
}

#[test]
fn an_unnormalized_host_key_makes_every_compile_full() {
    let mut c = Compiler::new();
    let mut m = one("Example.COM", "a", "/.*", "u");
    let s = c.compile(&m, &ChangeSet::everything(), settings(), 1, 0);
    assert!(s.lookup(b"example.com", b"/").is_some());
    m.hosts.insert(
        "example.com".into(),
        one("x", "b", "/b", "u").hosts["x"].clone(),
    );
    let changed = ChangeSet {
        hosts: ["example.com".to_string()].into(),
        ..Default::default()
    };
    let s = c.compile(&m, &changed, settings(), 2, 0);
    let fresh = compile(&m, settings(), 2, 0);
    assert_eq!(answers(&s), answers(&fresh));
}
