//! Router benches: `lookup` (a host among 100k; a path among 1k/10k locations of one host),
//! full `compile` and `incremental` compiles (one host or one upstream changed) at 1k / 10k /
//! 100k locations. Short measurement times: the whole run takes about two minutes on a shared
//! 2-core machine. Memory per location and drop costs: `benches/compile.rs`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use vane::model::{ChangeSet, Endpoint, Host, Location, Model, Settings, Upstream};
use vane::router::{compile, Compiler, Snapshot};

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
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
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
    // What the control plane pays after a reconnect: `ChangeSet::all` on a compiler that has
    // compiled this model before (ids looked up, regexes reused).
    let mut m = own_upstreams(100_000, MIXED_PER_HOST);
    let mut compiler = Compiler::new();
    g.bench_function("full_again/100000", |b| {
        let everything = |_: &mut Model, _| ChangeSet::everything();
        b.iter_custom(|iters| time_edits(iters, &mut compiler, &mut m, everything))
    });
    g.finish();
}

/// Like `mixed`, but each host has its own upstream of two endpoints (`app-{host}`): the shape
/// where one upstream change is one host's business.
fn own_upstreams(n: usize, per_host: usize) -> Model {
    let mut m = Model::default();
    for i in 0..n {
        let host = i / per_host;
        let path = match i % per_host {
            0 => "/.*".to_string(),
            _ if i % 33 == 0 => format!("/api{}/v[0-9]+/item/[a-z]+", i % 50),
            _ => format!("/svc{i}/.*"),
        };
        let loc = Location {
            path,
            upstream: format!("app-{host}"),
            options: Default::default(),
        };
        let h: &mut Host = m.hosts.entry(format!("h{host}.example.com")).or_default();
        h.locations.insert(format!("loc{i}"), loc);
        let endpoints = (0..2u8).map(|e| {
            let addr = ([10, 0, (host % 250) as u8, e], 8080).into();
            (e.to_string(), Endpoint { addr, weight: 1 })
        });
        let up = Upstream {
            endpoints: endpoints.collect(),
            ..Default::default()
        };
        m.upstreams.entry(format!("app-{host}")).or_insert(up);
    }
    m
}

fn settings() -> Arc<Settings> {
    Arc::new(Settings::default())
}

/// Times `compiler.compile` alone over `iters` edits made by `edit` (which returns what changed).
/// Outside the timing: the model edit, and dropping each snapshot once the next one exists (as
/// the control plane does after the workers moved on), so a compile never frees the snapshot
/// before it.
fn time_edits(
    iters: u64,
    compiler: &mut Compiler,
    m: &mut Model,
    mut edit: impl FnMut(&mut Model, u64) -> ChangeSet,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut prev = compiler.compile(m, &ChangeSet::default(), settings(), 0, 0);
    for i in 0..iters {
        let changes = edit(m, i);
        let start = Instant::now();
        let snap = compiler.compile(m, &changes, settings(), i, 0);
        total += start.elapsed();
        drop(black_box(std::mem::replace(&mut prev, snap)));
    }
    total
}

/// Adds or removes location `extra` in one host (a different host each time).
fn edit_host(m: &mut Model, i: u64, hosts: usize) -> ChangeSet {
    let name = format!("h{}.example.com", (i as usize * 7919) % hosts);
    let host = m.hosts.get_mut(&name).unwrap();
    if host.locations.remove("extra").is_none() {
        let loc = Location {
            path: format!("/extra{i}/.*"),
            upstream: "app-0".into(),
            options: Default::default(),
        };
        host.locations.insert("extra".into(), loc);
    }
    ChangeSet {
        hosts: [name].into(),
        ..Default::default()
    }
}

/// Changes the weight of one upstream's first endpoint (a different upstream each time).
fn edit_upstream(m: &mut Model, i: u64, upstreams: usize) -> ChangeSet {
    let name = format!("app-{}", (i as usize * 7919) % upstreams);
    let up = m.upstreams.get_mut(&name).unwrap();
    let ep = up.endpoints.values_mut().next().unwrap();
    ep.weight = ep.weight % 5 + 1;
    ChangeSet {
        upstreams: [name].into(),
        ..Default::default()
    }
}

fn bench_incremental(c: &mut Criterion) {
    let mut g = c.benchmark_group("incremental");
    g.measurement_time(Duration::from_millis(1500))
        .warm_up_time(Duration::from_millis(300));
    let shapes = [
        (1_000, MIXED_PER_HOST),
        (10_000, MIXED_PER_HOST),
        (100_000, MIXED_PER_HOST),
        // 100k hosts of one location, each with its own upstream: the most upstreams.
        (100_000, 1),
        // One host of 10k locations: a change rebuilds all of them and the host's prefilter.
        (10_000, 10_000),
    ];
    for (n, per_host) in shapes {
        let hosts = n / per_host;
        let mut m = own_upstreams(n, per_host);
        let mut compiler = Compiler::new();
        drop(compiler.compile(&m, &ChangeSet::everything(), settings(), 0, 0));
        let suffix = match per_host {
            1 => "_of_100k_hosts",
            MIXED_PER_HOST => "",
            _ => "_all_in_one_host",
        };
        let id = BenchmarkId::new(format!("one_host{suffix}"), n);
        g.bench_function(id, |b| {
            let edit = |m: &mut Model, i| edit_host(m, i, hosts);
            b.iter_custom(|iters| time_edits(iters, &mut compiler, &mut m, edit))
        });
        let id = BenchmarkId::new(format!("one_upstream{suffix}"), n);
        g.bench_function(id, |b| {
            let edit = |m: &mut Model, i| edit_upstream(m, i, hosts);
            b.iter_custom(|iters| time_edits(iters, &mut compiler, &mut m, edit))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_lookup, bench_compile, bench_incremental);
criterion_main!(benches);
