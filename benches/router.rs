//! Router benches: `lookup` (a host among 100k; a path among 1k/10k locations of one host) and
//! `compile` at 1k / 10k / 100k locations. Short measurement times: the whole run takes a couple
//! of minutes on a shared 2-core machine.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use vane::model::{Endpoint, Host, Location, Model, Settings, Upstream};
use vane::router::{compile, Snapshot};

const MIXED_PER_HOST: usize = 20;

/// Probes cycle through this many distinct requests, so caches see some spread.
const PROBES: usize = 1024;

fn add(m: &mut Model, host: &str, name: &str, path: &str) {
    let h: &mut Host = m.hosts.entry(host.to_string()).or_default();
    h.locations.insert(
        name.to_string(),
        Location {
            path: path.to_string(),
            upstream: format!("u{}", name.len() % 4),
            options: Default::default(),
        },
    );
}

fn base() -> Model {
    let mut m = Model::default();
    for u in 0..4 {
        let ep = Endpoint {
            addr: "127.0.0.1:9000".parse().unwrap(),
            weight: 1,
        };
        m.upstreams.insert(
            format!("u{u}"),
            Upstream {
                endpoints: [("1".to_string(), ep)].into(),
                ..Default::default()
            },
        );
    }
    m
}

/// `n` hosts with one `/.*` location each.
fn many_hosts(n: usize) -> Model {
    let mut m = base();
    for i in 0..n {
        add(&mut m, &format!("h{i}.example.com"), "home", "/.*");
    }
    m
}

/// One host with `n` locations: `/.*`, then `/svc{i}/.*`, with 3% real regexes drawn from 50
/// distinct patterns (many hosts share a pattern in practice).
fn one_host(n: usize) -> Model {
    let mut m = base();
    add(&mut m, "example.com", "home", "/.*");
    for i in 1..n {
        let path = match i % 33 {
            0 => format!("/api{}/v[0-9]+/item/[a-z]+", i % 50),
            _ => format!("/svc{i}/.*"),
        };
        add(&mut m, "example.com", &format!("loc{i}"), &path);
    }
    m
}

/// `n` locations over hosts of `MIXED_PER_HOST` each: just past the linear-scan limit, so every
/// host builds a prefilter (the costliest shape per location).
fn mixed(n: usize) -> Model {
    let mut m = base();
    for i in 0..n {
        let host = format!("h{}.example.com", i / MIXED_PER_HOST);
        let path = match i % MIXED_PER_HOST {
            0 => "/.*".to_string(),
            _ if i % 33 == 0 => format!("/api{}/v[0-9]+/item/[a-z]+", i % 50),
            _ => format!("/svc{i}/.*"),
        };
        add(&mut m, &host, &format!("loc{i}"), &path);
    }
    m
}

fn snapshot(m: &Model) -> Snapshot {
    compile(m, Arc::new(Settings::default()), 1, 0)
}

fn bench_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let s = snapshot(&many_hosts(100_000));
    let hosts: Vec<String> = (0..PROBES)
        .map(|i| format!("h{}.example.com", (i * 97) % 100_000))
        .collect();
    let mut i = 0;
    g.bench_function("host_among_100k_hosts", |b| {
        b.iter(|| {
            i = (i + 1) % PROBES;
            black_box(s.lookup(black_box(hosts[i].as_bytes()), b"/index.html"))
        })
    });
    for n in [1_000, 10_000] {
        let s = snapshot(&one_host(n));
        let paths: Vec<String> = (0..PROBES)
            .map(|i| format!("/svc{}/some/thing", 1 + (i * 7919) % (n - 1)))
            .collect();
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("path_among_locations", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % PROBES;
                black_box(s.lookup(b"example.com", black_box(paths[i].as_bytes())))
            })
        });
    }
    g.finish();
}

fn bench_compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    // Flat sampling: one compile at 100k takes ~0.1 s, too long for criterion's linear ramp.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for n in [1_000, 10_000, 100_000] {
        for (shape, m) in [
            ("mixed", mixed(n)),
            ("many_hosts", many_hosts(n)),
            ("one_host", one_host(n)),
        ] {
            // Only compile is timed; dropping a snapshot is paid by whoever releases it last.
            g.bench_with_input(BenchmarkId::new(shape, n), &m, |b, m| {
                b.iter_with_large_drop(|| snapshot(m))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_lookup, bench_compile);
criterion_main!(benches);
