//! Active health checks, end to end: real upstream servers answer the checker's `GET /health`
//! and real client traffic through `vane` shows where the workers send requests. An endpoint
//! that fails its checks (503 on /health, stopped, hanging) stops getting traffic within
//! interval × unhealthy and gets it back after `healthy` passing checks; an upstream with no
//! endpoint up answers 503 at once.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::etcd::{body_or_status, plain_log, Etcd, VaneEtcd};
use common::*;

/// Checks every 200 ms; 2 failures mark an endpoint down, 2 passes bring it back.
const CHECK: &str =
    r#"{ path = "/health", interval = "200ms", timeout = "100ms", unhealthy = 2, healthy = 2 }"#;

/// interval × unhealthy is 400 ms (as is interval × healthy for coming back); the rest is slack
/// for a loaded 2-core machine running debug builds.
const VERDICT_LIMIT: Duration = Duration::from_secs(3);

/// A switch an upstream reads on every request.
#[derive(Clone, Default)]
struct Flag(Arc<AtomicBool>);

impl Flag {
    fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }
    fn on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// An upstream whose `/health` answers 503 while `sick` is on and 200 otherwise, and whose
/// other paths answer 200 with `name` as the body. Every response closes its connection, so a
/// stopped upstream leaves no pooled connection behind.
fn named(name: &'static str, sick: Flag) -> impl Fn(&Seen, &mut TcpStream) -> bool {
    move |seen, s| {
        let (status, body) = if seen.request_line().starts_with("GET /health ") {
            if sick.on() {
                ("503 Service Unavailable", "sick")
            } else {
                ("200 OK", "ok")
            }
        } else {
            ("200 OK", name)
        };
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        false
    }
}

fn routes(endpoints: &[SocketAddr]) -> String {
    let mut t = String::from("[upstreams.up.endpoints]\n");
    for (i, a) in endpoints.iter().enumerate() {
        t += &format!("e{i} = \"http://{a}\"\n");
    }
    t + &format!("[upstreams.up.options]\nhealth_check = {CHECK}\n\n[hosts.\"*\".locations.all]\npath = \"/.*\"\nupstream = \"up\"\n")
}

/// What `n` requests got: each 200's body, or `<status>`.
fn answers(vane: &Vane, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| body_or_status(vane, "example.com", "/x"))
        .collect()
}

/// Requests that reached `up` from clients (not the checker's).
fn traffic(up: &Upstream) -> usize {
    up.requests()
        .iter()
        .filter(|s| s.header("user-agent").as_deref() != Some("vane-health-check"))
        .count()
}

/// Polls until `n` requests in a row all satisfy `f`; returns how long that took.
fn until_all(vane: &Vane, n: usize, what: &str, f: impl Fn(&str) -> bool) -> Duration {
    let start = Instant::now();
    let mut last = Vec::new();
    let ok = eventually(VERDICT_LIMIT, || {
        last = answers(vane, n);
        last.iter().all(|a| f(a))
    });
    assert!(
        ok,
        "{what}: still {last:?} after {VERDICT_LIMIT:?}; log:\n{}",
        plain_log(vane)
    );
    start.elapsed()
}

fn start(endpoints: &[SocketAddr]) -> Vane {
    let vane = Vane::spawn(&routes(endpoints), &["--workers", "2"], "info");
    let up = eventually(Duration::from_secs(10), || {
        vane.health_status() == Some(200)
    });
    assert!(up, "vane did not become healthy; log:\n{}", vane.log());
    vane
}

#[test]
fn an_endpoint_failing_its_checks_loses_traffic_and_gets_it_back() {
    let (a_sick, b_sick, c_sick) = (Flag::default(), Flag::default(), Flag::default());
    let a = Upstream::start(named("A", a_sick.clone()));
    let b = Upstream::start(named("B", b_sick));
    let vane = start(&[a.addr, b.addr]);
    let both = eventually(Duration::from_secs(10), || {
        let got = answers(&vane, 20);
        got.contains(&"A".into()) && got.contains(&"B".into())
    });
    assert!(both, "traffic did not reach both endpoints");

    // The checker's request, as the endpoint sees it.
    let probe = a
        .requests()
        .into_iter()
        .find(|s| s.request_line() == "GET /health HTTP/1.1")
        .expect("no check reached A");
    assert_eq!(probe.header("host"), Some(a.addr.to_string()));
    assert_eq!(probe.header("connection").as_deref(), Some("close"));
    assert_eq!(
        probe.header("user-agent").as_deref(),
        Some("vane-health-check")
    );

    a_sick.set(true);
    let took = until_all(&vane, 20, "A marked down", |x| x == "B");
    eprintln!("503 on /health → no traffic to A after {took:?} (interval × unhealthy = 400ms)");
    let before = traffic(&a);
    assert!(answers(&vane, 40).iter().all(|x| x == "B"));

    // A config change (a new endpoint C) keeps A's verdict: A is not reset to up.
    let c = Upstream::start(named("C", c_sick));
    vane.rewrite(&routes(&[a.addr, b.addr, c.addr]));
    let mut seen = Vec::new();
    let with_c = eventually(Duration::from_secs(10), || {
        let got = answers(&vane, 10);
        seen.extend(got.iter().cloned());
        got.contains(&"C".into())
    });
    assert!(with_c, "C never got traffic: {seen:?}");
    assert!(seen.iter().all(|x| x == "B" || x == "C"), "{seen:?}");
    assert_eq!(traffic(&a), before, "A got traffic while down");

    a_sick.set(false);
    let back = eventually(VERDICT_LIMIT, || answers(&vane, 30).contains(&"A".into()));
    assert!(back, "A never got traffic back; log:\n{}", plain_log(&vane));
    let log = plain_log(&vane);
    assert!(
        log.contains("vane::health") && log.contains("endpoint down") && log.contains("status 503"),
        "{log}"
    );
    assert!(log.contains("endpoint up"), "{log}");
}

#[test]
fn a_stopped_endpoint_is_marked_down_and_back_once_restarted() {
    let a = Upstream::start(named("A", Flag::default()));
    let b = Upstream::start(named("B", Flag::default()));
    let a_addr = a.addr;
    let vane = start(&[a.addr, b.addr]);
    let both = eventually(Duration::from_secs(10), || {
        let got = answers(&vane, 20);
        got.contains(&"A".into()) && got.contains(&"B".into())
    });
    assert!(both, "traffic did not reach both endpoints");

    drop(a);
    let took = until_all(&vane, 20, "stopped A marked down", |x| x == "B");
    eprintln!("A stopped → no traffic to A after {took:?} (interval × unhealthy = 400ms)");
    // Clients stop seeing A at once (a refused connect is retried on B and ejects A); the
    // checker's own verdict follows within interval × unhealthy.
    let marked = eventually(VERDICT_LIMIT, || {
        let log = plain_log(&vane);
        log.contains("endpoint down") && log.contains("connect refused")
    });
    assert!(
        marked,
        "the checker never marked A down; log:\n{}",
        plain_log(&vane)
    );

    let mut restarted = None;
    let rebound = eventually(Duration::from_secs(5), || {
        restarted = Upstream::start_on(a_addr, named("A", Flag::default())).ok();
        restarted.is_some()
    });
    assert!(rebound, "could not listen on {a_addr} again");
    let back = eventually(VERDICT_LIMIT, || answers(&vane, 30).contains(&"A".into()));
    assert!(
        back,
        "restarted A never got traffic; log:\n{}",
        plain_log(&vane)
    );
}

/// Endpoints that hang while `hang` is on (accept, read, never answer) and answer 200
/// otherwise.
fn hanging(name: &'static str, hang: Flag) -> impl Fn(&Seen, &mut TcpStream) -> bool {
    move |_, s| {
        while hang.on() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
            name.len()
        );
        false
    }
}

#[test]
fn an_upstream_with_every_endpoint_down_answers_503_at_once() {
    let hang = Flag::default();
    let a = Upstream::start(hanging("A", hang.clone()));
    let b = Upstream::start(hanging("B", hang.clone()));
    // Without checks a request to a hanging endpoint waits this long, then gets a 504.
    let config = format!(
        "[timeouts]\nresponse_header = \"20s\"\n\n{}",
        routes(&[a.addr, b.addr])
    );
    let vane = Vane::spawn(&config, &["--workers", "2"], "info");
    assert!(eventually(Duration::from_secs(10), || vane.health_status()
        == Some(200)));
    let first = body_or_status(&vane, "example.com", "/");
    assert!(first == "A" || first == "B", "{first}");

    hang.set(true);
    let both_down = eventually(VERDICT_LIMIT, || {
        plain_log(&vane).matches("endpoint down").count() == 2
    });
    assert!(
        both_down,
        "checks did not time out; log:\n{}",
        plain_log(&vane)
    );
    assert!(plain_log(&vane).contains("reason=timeout"));
    let before = (traffic(&a), traffic(&b));
    for _ in 0..10 {
        let t = Instant::now();
        let r = get(vane.addr, "example.com", "/x");
        assert_eq!(r.status, 503);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "503 took {:?}",
            t.elapsed()
        );
    }
    assert_eq!(
        (traffic(&a), traffic(&b)),
        before,
        "a request reached an endpoint"
    );

    hang.set(false);
    let back = eventually(VERDICT_LIMIT, || {
        body_or_status(&vane, "example.com", "/") != "<503>"
    });
    assert!(
        back,
        "endpoints never came back; log:\n{}",
        plain_log(&vane)
    );
}

#[test]
fn etcd_options_turn_checks_on_and_off() {
    const HOME: &str = "/vulcand/hosts/example.com/locations/home";
    const OPTIONS: &str = "/vulcand/upstreams/up/options";
    let checks = r#"{"health_check": {"path": "/health", "interval": "200ms", "timeout": "100ms", "unhealthy": 2, "healthy": 2}}"#;
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let sick = Flag::default();
    let a = Upstream::start(named("A", sick.clone()));
    let b = Upstream::start(named("B", Flag::default()));
    sick.set(true);
    etcd.put(
        "/vulcand/upstreams/up/endpoints/a",
        &format!("http://{}", a.addr),
    );
    etcd.put(
        "/vulcand/upstreams/up/endpoints/b",
        &format!("http://{}", b.addr),
    );
    etcd.put(&format!("{HOME}/path"), "/.*");
    etcd.put(&format!("{HOME}/upstream"), "up");
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    let both = eventually(Duration::from_secs(10), || {
        let got = answers(&vane, 20);
        got.contains(&"A".into()) && got.contains(&"B".into())
    });
    assert!(both, "without checks, traffic should reach the sick A too");

    etcd.put(OPTIONS, checks);
    until_all(&vane, 20, "checks from etcd mark A down", |x| x == "B");

    // Without `health_check` A is no longer checked, and so no longer down.
    etcd.put(OPTIONS, r#"{"retries": 0}"#);
    let back = eventually(VERDICT_LIMIT, || answers(&vane, 30).contains(&"A".into()));
    assert!(
        back,
        "A stayed down without checks; log:\n{}",
        plain_log(&vane)
    );
}
