//! Whole-router cases: `compile` a small model, then `lookup`.

mod incremental;
mod memory;

use std::sync::Arc;

use super::pattern::Matcher;
use super::precedence::Precedence;
use super::{compile, Snapshot};
use crate::model::{Endpoint, Host, Location, Model, Settings, Upstream};

fn model(locations: &[(&str, &str, &str, &str)]) -> Model {
    let mut m = Model::default();
    for up in ["u1", "u2"] {
        let ep = Endpoint {
            addr: "127.0.0.1:9000".parse().unwrap(),
            weight: 1,
        };
        m.upstreams.insert(
            up.into(),
            Upstream {
                endpoints: [("1".to_string(), ep)].into(),
                ..Default::default()
            },
        );
    }
    for &(host, name, path, upstream) in locations {
        let h: &mut Host = m.hosts.entry(host.into()).or_default();
        h.locations.insert(
            name.into(),
            Location {
                path: path.into(),
                upstream: upstream.into(),
                options: Default::default(),
            },
        );
    }
    m
}

fn snap(locations: &[(&str, &str, &str, &str)]) -> Snapshot {
    compile(&model(locations), Arc::new(Settings::default()), 1, 0)
}

/// `host/location` of the route that answers, or `-` for none.
fn at(s: &Snapshot, host: &str, path: &str) -> String {
    s.lookup(host.as_bytes(), path.as_bytes())
        .map_or("-".into(), |r| format!("{}/{}", r.host, r.location))
}

#[test]
fn host_is_normalized_and_falls_back_to_the_catch_all() {
    let s = snap(&[
        ("example.com", "a", "/.*", "u1"),
        ("[::1]", "v6", "/.*", "u1"),
        ("*", "any", "/.*", "u2"),
    ]);
    for host in [
        "example.com",
        "EXAMPLE.Com",
        "example.com:8080",
        "example.com.",
        "Example.com.:80",
    ] {
        assert_eq!(at(&s, host, "/x"), "example.com/a", "{host}");
    }
    assert_eq!(at(&s, "[::1]:80", "/"), "[::1]/v6");
    assert_eq!(at(&s, "other.org", "/"), "*/any");
    assert_eq!(at(&s, "", "/"), "*/any");
    assert_eq!(at(&s, &"x".repeat(300), "/"), "*/any");
    let no_catch_all = snap(&[("example.com", "a", "/.*", "u1")]);
    assert_eq!(at(&no_catch_all, "other.org", "/"), "-");
}

#[test]
fn a_configured_host_does_not_fall_through_to_the_catch_all() {
    let s = snap(&[
        ("example.com", "api", "/api/.*", "u1"),
        ("*", "any", "/.*", "u2"),
    ]);
    assert_eq!(at(&s, "example.com", "/home"), "-");
}

#[test]
fn longer_prefix_wins_whatever_the_name() {
    let s = snap(&[
        ("h", "a-home", "/.*", "u1"),
        ("h", "z-api", "/api/.*", "u2"),
        ("h", "m", "/api/v1/.*", "u1"),
    ]);
    assert_eq!(at(&s, "h", "/api/v1/x"), "h/m");
    assert_eq!(at(&s, "h", "/api/v2"), "h/z-api");
    assert_eq!(at(&s, "h", "/apix"), "h/a-home");
}

#[test]
fn name_breaks_ties_and_exact_ranks_by_its_length() {
    let s = snap(&[
        ("h", "b", "/api/.*", "u1"),
        ("h", "a", "/api/[a-z]+", "u2"),
        ("h", "exact", "/api/", "u1"),
    ]);
    assert_eq!(
        at(&s, "h", "/api/x"),
        "h/a",
        "same prefix `/api/`: name `a` before `b`"
    );
    assert_eq!(at(&s, "h", "/api/1"), "h/b");
    assert_eq!(
        at(&s, "h", "/api/"),
        "h/b",
        "`b` ranks before `exact` and matches too"
    );
}

#[test]
fn the_whole_path_must_match() {
    let s = snap(&[("h", "api", "/api", "u1"), ("h", "re", "/re/[0-9]+", "u1")]);
    assert_eq!(at(&s, "h", "/api"), "h/api");
    assert_eq!(at(&s, "h", "/api/x"), "-");
    assert_eq!(at(&s, "h", "/x/api"), "-");
    assert_eq!(at(&s, "h", "/re/42"), "h/re");
    assert_eq!(at(&s, "h", "/re/42x"), "-");
}

#[test]
fn a_real_regex_location() {
    let s = snap(&[
        ("h", "items", "/api/v[0-9]+/item/[a-z]+", "u2"),
        ("h", "home", "/.*", "u1"),
    ]);
    assert_eq!(at(&s, "h", "/api/v12/item/abc"), "h/items");
    assert_eq!(at(&s, "h", "/api/v12/item/ABC"), "h/home");
}

#[test]
fn unknown_upstream_routes_to_an_undefined_entry() {
    let s = snap(&[("h", "a", "/.*", "nope"), ("h", "b", "/b", "u2")]);
    let nope = s.upstream(s.lookup(b"h", b"/x").unwrap().upstream.unwrap());
    assert_eq!(nope.name.as_ref(), "nope");
    assert!(!nope.defined && nope.endpoints.is_empty());
    let b = s.lookup(b"h", b"/b").unwrap();
    assert_eq!(s.upstream(b.upstream.unwrap()).name.as_ref(), "u2");
    assert!(s.upstream(b.upstream.unwrap()).defined);
}

#[test]
fn ids_are_dense_and_upstreams_sorted() {
    let s = snap(&[
        ("b", "x", "/.*", "u2"),
        ("a", "y", "/.*", "u1"),
        ("a", "z", "/z/.*", "u1"),
    ]);
    assert_eq!(s.location_count, 3);
    let mut ids: Vec<_> = s
        .routes()
        .map(|r| (r.id, r.host.as_ref(), r.location.as_ref()))
        .collect();
    ids.sort();
    assert_eq!(ids, [(0, "a", "z"), (1, "a", "y"), (2, "b", "x")]);
    let names: Vec<_> = s.upstreams.iter().map(|u| u.name.as_ref()).collect();
    assert_eq!(names, ["u1", "u2"]);
}

#[test]
fn a_regex_that_does_not_compile_is_skipped() {
    let s = snap(&[
        ("h", "huge", r"/\w{1000}\w{1000}\w{1000}", "u1"),
        ("h", "ok", "/.*", "u1"),
    ]);
    assert_eq!(s.location_count, 1);
    assert_eq!(at(&s, "h", "/x"), "h/ok");
}

/// The matching location by brute force: every location tried, the best by `Precedence`.
fn reference(locs: &[(&str, &str, &str, &str)], path: &str) -> String {
    fn rank<'a>((m, name): &'a (Matcher, &str)) -> Precedence<'a> {
        Precedence {
            prefix_len: m.prefix().len(),
            name,
        }
    }
    let mut cache = super::pattern::PatternCache::default();
    let compiled = locs.iter().map(|l| (cache.matcher(l.2).unwrap(), l.1));
    let matching = compiled.filter(|(m, _)| m.matches(path.as_bytes()));
    let best = matching.min_by(|a, b| rank(a).cmp(&rank(b)));
    best.map_or("-".to_string(), |(_, name)| format!("{}/{name}", locs[0].0))
}

/// Hosts past the linear-scan limit use the prefilter; it must agree with trying every location
/// in precedence order.
#[test]
fn prefilter_agrees_with_a_full_scan() {
    let paths = [
        "/.*",
        ".*",
        "/a/.*",
        "/a/b/.*",
        "/a/b",
        "/a/[0-9]+",
        "/a/b/c/.*",
        "/a.*",
        "/b/.*",
        "(?i)/A/.*",
        "/a/b/c",
        "/c/.*",
        "/c/d",
        "/a/b/c/d/.*",
        "/api/v1/.*",
        "/api/v1/users",
        "/a/[a-z]+/x",
        r".*\.png",
        "/static/.*",
        "/static/img/.*",
    ];
    let names: Vec<String> = (0..paths.len())
        .map(|i| format!("l{:02}", (i * 7) % paths.len()))
        .collect();
    let locs: Vec<_> = paths
        .iter()
        .zip(&names)
        .map(|(p, n)| ("h", n.as_str(), *p, "u1"))
        .collect();
    let many = snap(&locs);
    let probes = [
        "/api/v1/usersX",
        "/c/dd",
        "/a/bc",
        "/a/b/c",
        "/a/b/c/d",
        "/a/b/c/d/e",
        "/a/b",
        "/a/b/",
        "/a/12",
        "/a/x",
        "/a/xy/x",
        "/A/x",
        "/ax",
        "/b/",
        "x",
        "",
        "/",
        "/c/d",
        "/c/e",
        "/api/v1/users",
        "/api/v1/",
        "/api/v2",
        "/static/img/a.png",
        "/static/a.css",
        "/x.png",
        "x.png",
    ];
    for probe in probes {
        assert_eq!(at(&many, "h", probe), reference(&locs, probe), "{probe}");
    }
}

#[test]
fn snapshot_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Snapshot>();
}
