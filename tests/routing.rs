//! Routing through the real binary: host matching, location precedence and full-match
//! semantics, the statuses for a missing route or upstream, and weighted round robin.

// The harness re-exports helpers this file does not use.
mod common;

use std::fmt::Write as _;
use std::io::{BufReader, Write};

use common::*;

/// An upstream whose every response body is `name`, so a test sees which location answered.
fn named(name: &str) -> Upstream {
    let name = name.to_string();
    Upstream::start(move |_, s| {
        // One write: `write!` would send several small segments and meet Nagle's delay.
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
            name.len()
        );
        let _ = s.write_all(resp.as_bytes());
        true
    })
}

/// A Vane whose locations `(host, location, path)` each proxy to their own upstream, which
/// answers with the location's name.
struct Fleet {
    vane: Vane,
    _upstreams: Vec<Upstream>,
}

fn fleet(locations: &[(&str, &str, &str)]) -> Fleet {
    let mut routes = String::new();
    let mut upstreams = Vec::new();
    for (i, (host, location, path)) in locations.iter().enumerate() {
        let up = named(location);
        let _ = write!(
            routes,
            "[upstreams.u{i}.endpoints]\n1 = \"http://{}\"\n\n\
             [hosts.\"{host}\".locations.{location}]\npath = '{path}'\nupstream = \"u{i}\"\n\n",
            up.addr
        );
        upstreams.push(up);
    }
    Fleet {
        vane: Vane::start(&routes),
        _upstreams: upstreams,
    }
}

/// The body of a 200 (the location's name), else the status as text.
fn hit(vane: &Vane, host: &str, path: &str) -> String {
    let r = get(vane.addr, host, path);
    if r.status == 200 {
        r.text()
    } else {
        r.status.to_string()
    }
}

/// Checks each `(host, path, expected)` row; reports every mismatch at once.
fn check(vane: &Vane, rows: &[(&str, &str, &str)]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|&(host, path, want)| {
            let got = hit(vane, host, path);
            (got != want).then(|| format!("Host {host:?} {path}: expected {want}, got {got}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "routing failed:\n  {}",
        failures.join("\n  ")
    );
}

#[test]
fn hosts_match_exactly_ignoring_case_port_and_trailing_dot() {
    let f = fleet(&[
        ("example.com", "exact", "/.*"),
        ("api.example.com", "api_host", "/api/.*"),
        ("*", "catch_all", "/.*"),
    ]);
    check(
        &f.vane,
        &[
            ("example.com", "/", "exact"),
            ("EXAMPLE.com", "/", "exact"),
            ("Example.COM", "/x", "exact"),
            ("example.com:8080", "/", "exact"),
            ("example.com.", "/", "exact"),
            ("Example.Com.:80", "/", "exact"),
            // Exact match only: neither a subdomain nor a parent domain matches.
            ("www.example.com", "/", "catch_all"),
            ("com", "/", "catch_all"),
            ("other.test", "/", "catch_all"),
            ("127.0.0.1", "/", "catch_all"),
            ("api.example.com", "/api/x", "api_host"),
            // A configured host owns its whole path space: no fall-through to `*`.
            ("api.example.com", "/other", "404"),
        ],
    );
}

#[test]
fn no_route_is_404() {
    let f = fleet(&[("example.com", "home", "/home")]);
    check(
        &f.vane,
        &[
            ("example.com", "/home", "home"),
            ("example.com", "/", "404"),
            ("unknown.test", "/home", "404"),
        ],
    );
}

#[test]
fn longest_literal_prefix_wins_whatever_the_location_name() {
    // Names chosen so that name order alone would pick the wrong location.
    let f = fleet(&[
        ("p.test", "a_root", "/.*"),
        ("p.test", "b_api", "/api/.*"),
        ("p.test", "c_api_v1", "/api/v1/.*"),
        ("q.test", "z_api_v1", "/api/v1/.*"),
        ("q.test", "y_api", "/api/.*"),
        ("q.test", "x_root", "/.*"),
    ]);
    check(
        &f.vane,
        &[
            ("p.test", "/", "a_root"),
            ("p.test", "/apix", "a_root"),
            ("p.test", "/api/", "b_api"),
            ("p.test", "/api/v2/x", "b_api"),
            ("p.test", "/api/v1/", "c_api_v1"),
            ("p.test", "/api/v1/users/7", "c_api_v1"),
            ("q.test", "/", "x_root"),
            ("q.test", "/api/x", "y_api"),
            ("q.test", "/api/v1/users/7", "z_api_v1"),
        ],
    );
}

#[test]
fn location_name_breaks_a_tie_between_equal_prefixes() {
    // `/t/[a-z]+` and `/t/.*` share the literal prefix `/t/`: the smaller name is tried first.
    let f = fleet(&[
        ("t.test", "m_letters", "/t/[a-z]+"),
        ("t.test", "n_any", "/t/.*"),
        ("t.test", "a_any", "/u/.*"),
        ("t.test", "b_letters", "/u/[a-z]+"),
    ]);
    check(
        &f.vane,
        &[
            ("t.test", "/t/abc", "m_letters"),
            ("t.test", "/t/123", "n_any"),
            ("t.test", "/u/abc", "a_any"),
            ("t.test", "/u/123", "a_any"),
        ],
    );
}

#[test]
fn a_path_regex_must_match_the_whole_path_and_ignores_the_query() {
    let f = fleet(&[
        ("r.test", "api_exact", "/api"),
        ("r.test", "item", "/item/[0-9]+"),
    ]);
    check(
        &f.vane,
        &[
            ("r.test", "/api", "api_exact"),
            ("r.test", "/api/x", "404"),
            ("r.test", "/apix", "404"),
            ("r.test", "/x/api", "404"),
            ("r.test", "/item/42", "item"),
            ("r.test", "/item/", "404"),
            ("r.test", "/item/42a", "404"),
            ("r.test", "/item/42/x", "404"),
            ("r.test", "/x/item/42", "404"),
            // The query string is not part of the path that is matched.
            ("r.test", "/api?x=1", "api_exact"),
            ("r.test", "/api?next=/api/x", "api_exact"),
            ("r.test", "/item/42?page=2", "item"),
            ("r.test", "/item/?id=42", "404"),
        ],
    );
}

#[test]
fn a_location_without_a_usable_upstream_is_503() {
    let up = named("live");
    let routes = format!(
        "[upstreams.live.endpoints]\n1 = \"http://{}\"\n\n[upstreams.empty.endpoints]\n\n\
         [hosts.\"s.test\".locations.live]\npath = \"/live\"\nupstream = \"live\"\n\n\
         [hosts.\"s.test\".locations.empty]\npath = \"/empty\"\nupstream = \"empty\"\n\n\
         [hosts.\"s.test\".locations.missing]\npath = \"/missing\"\nupstream = \"does-not-exist\"\n",
        up.addr
    );
    let vane = Vane::start(&routes);
    check(
        &vane,
        &[
            ("s.test", "/live", "live"),
            ("s.test", "/empty", "503"),
            ("s.test", "/missing", "503"),
        ],
    );
}

/// The bodies of `n` GETs sent on one keep-alive connection.
fn bodies(vane: &Vane, n: usize) -> Vec<String> {
    let s = client::connect(vane.addr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    (0..n)
        .map(|i| {
            w.write_all(format!("GET /{i} HTTP/1.1\r\nHost: w.test\r\n\r\n").as_bytes())
                .unwrap();
            let resp = client::read_response(&mut r, false).expect("a response");
            assert_eq!(resp.status, 200, "request {i}");
            resp.text()
        })
        .collect()
}

fn weighted(a: &Upstream, wa: u32, b: &Upstream, wb: u32) -> String {
    format!(
        "[upstreams.w.endpoints]\na = {{ url = \"http://{}\", weight = {wa} }}\nb = {{ url = \"http://{}\", weight = {wb} }}\n\n\
         [hosts.\"w.test\".locations.all]\npath = \"/.*\"\nupstream = \"w\"\n",
        a.addr, b.addr
    )
}

// One worker: each worker balances on its own, so exact counts need a single one.
#[test]
fn weighted_round_robin_splits_exactly_by_weight() {
    let (a, b) = (named("a"), named("b"));
    let vane = Vane::start_with(&weighted(&a, 3, &b, 1), 1);
    let got = bodies(&vane, 400);
    let count = |name: &str| got.iter().filter(|g| *g == name).count();
    assert_eq!((count("a"), count("b")), (300, 100));
    assert_eq!((a.request_count(), b.request_count()), (300, 100));
}

#[test]
fn equal_weights_alternate() {
    let (a, b) = (named("a"), named("b"));
    let vane = Vane::start_with(&weighted(&a, 1, &b, 1), 1);
    let got = bodies(&vane, 20);
    assert!(
        got.windows(2).all(|w| w[0] != w[1]),
        "picks must alternate: {got:?}"
    );
    assert_eq!((a.request_count(), b.request_count()), (10, 10));
}
