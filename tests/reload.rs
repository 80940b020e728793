//! Hot reload of the config file: valid edits apply live (per request, also on open keep-alive
//! connections, with no failed request while they flip), invalid ones are rejected key by key
//! and the last good routes keep serving.

mod common;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client::{connect, read_response};
use common::*;

const RELOAD_LIMIT: Duration = Duration::from_secs(10);

/// `example.com` → upstream `up` with one endpoint at `addr`.
fn routes(addr: SocketAddr) -> String {
    format!(
        "[upstreams.up.endpoints]\n1 = \"http://{addr}\"\n\n\
         [hosts.\"example.com\".locations.home]\npath = \"/.*\"\nupstream = \"up\"\n"
    )
}

/// The body of `GET /` on a new connection; panics unless it is a 200.
fn body(addr: SocketAddr) -> String {
    let r = get(addr, "example.com", "/");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// How many times the log says a config file edit was applied.
fn applied(vane: &Vane) -> usize {
    vane.log().matches("config file applied").count()
}

#[test]
fn a_valid_edit_moves_traffic_to_the_new_upstream() {
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    let vane = Vane::start(&routes(a.addr));
    assert_eq!(body(vane.addr), "A");
    vane.rewrite(&routes(b.addr));
    assert!(
        eventually(RELOAD_LIMIT, || body(vane.addr) == "B"),
        "traffic never moved to B; log:\n{}",
        vane.log()
    );
    // And it stays there.
    let before = a.request_count();
    for _ in 0..20 {
        assert_eq!(body(vane.addr), "B");
    }
    assert_eq!(a.request_count(), before);
    let seen: Vec<Seen> = b.requests();
    assert!(seen.iter().all(|s| s.request_line() == "GET / HTTP/1.1"));
}

/// Each row: a config that must be rejected (it would route to B if it were applied) and the key
/// the log must name.
fn invalid_edits(b: SocketAddr) -> Vec<(&'static str, String, &'static str)> {
    let good = routes(b);
    vec![
        (
            "bad regex",
            good.replace("path = \"/.*\"", "path = \"/(\""),
            "hosts.\"example.com\".locations.home.path",
        ),
        (
            "unknown key",
            format!("[timeouts]\nbogus = \"1s\"\n\n{good}"),
            "timeouts.bogus",
        ),
        (
            "bad endpoint URL",
            good.replace(&format!("http://{b}"), "http://example.com:80"),
            "upstreams.up.endpoints.1",
        ),
    ]
}

#[test]
fn an_invalid_edit_is_rejected_and_the_last_good_routes_keep_serving() {
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    let vane = Vane::start(&routes(a.addr));
    assert_eq!(body(vane.addr), "A");
    for (name, text, key) in invalid_edits(b.addr) {
        let rejections = vane.log().matches("rejected").count();
        vane.rewrite(&text);
        assert!(
            eventually(RELOAD_LIMIT, || {
                vane.log().matches("rejected").count() > rejections
            }),
            "{name}: no rejection logged; log:\n{}",
            vane.log()
        );
        let log = vane.log();
        assert!(
            log.contains(key),
            "{name}: the log does not name {key}:\n{log}"
        );
        // For 2 s, every request still goes to A.
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            assert_eq!(body(vane.addr), "A", "{name} was (partly) applied");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(b.request_count(), 0);
    assert_eq!(applied(&vane), 0, "log:\n{}", vane.log());
    // The watcher still applies the next good edit.
    vane.rewrite(&routes(b.addr));
    assert!(
        eventually(RELOAD_LIMIT, || body(vane.addr) == "B"),
        "a good edit after bad ones was not applied; log:\n{}",
        vane.log()
    );
}

/// One keep-alive client connection.
struct KeepAlive {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl KeepAlive {
    fn open(addr: SocketAddr) -> KeepAlive {
        let w = connect(addr);
        let r = BufReader::new(w.try_clone().unwrap());
        KeepAlive { w, r }
    }

    /// `GET /` on this connection; `None` if the connection closed without a response.
    fn get(&mut self) -> Option<Response> {
        self.w
            .write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .ok()?;
        let r = read_response(&mut self.r, false)?;
        assert!(r
            .header("connection")
            .is_none_or(|v| !v.eq_ignore_ascii_case("close")));
        Some(r)
    }
}

#[test]
fn an_open_keep_alive_connection_sees_the_new_route_on_its_next_request() {
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    let vane = Vane::start(&routes(a.addr));
    let mut conn = KeepAlive::open(vane.addr);
    assert_eq!(conn.get().expect("first response").text(), "A");
    vane.rewrite(&routes(b.addr));
    // Wait until the reload is applied (new connections see B) ...
    assert!(
        eventually(RELOAD_LIMIT, || body(vane.addr) == "B"),
        "log:\n{}",
        vane.log()
    );
    // ... and the open connection must see it too (with 2 workers, the check above may have been
    // served by the other one: poll, bounded).
    let mut last = String::new();
    let moved = eventually(RELOAD_LIMIT, || {
        let r = conn.get().expect("the keep-alive connection was closed");
        assert_eq!(r.status, 200);
        last = r.text();
        last == "B"
    });
    assert!(moved, "the open connection still routes to {last}");
}

const LOAD_MIN_REQUESTS: usize = 300;
/// A bound on each client loop, whatever happens to the flips.
const LOAD_MAX_REQUESTS: usize = 20_000;
const FLIPS: usize = 10;

/// Runs requests until `done` and at least `LOAD_MIN_REQUESTS`; returns (requests, failures).
fn load(addr: SocketAddr, keep_alive: bool, done: Arc<AtomicBool>) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut conn = keep_alive.then(|| KeepAlive::open(addr));
    let mut n = 0;
    while n < LOAD_MAX_REQUESTS && (n < LOAD_MIN_REQUESTS || !done.load(Ordering::SeqCst)) {
        n += 1;
        let r = match &mut conn {
            Some(c) => c.get(),
            None => client::raw(
                addr,
                b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
            ),
        };
        match r {
            Some(r) if r.status / 100 == 2 && (r.text() == "A" || r.text() == "B") => {}
            Some(r) => failures.push(format!("request {n}: {} {:?}", r.status, r.text())),
            None => {
                failures.push(format!("request {n}: no response"));
                if keep_alive {
                    conn = Some(KeepAlive::open(addr));
                }
            }
        }
    }
    (n, failures)
}

#[test]
fn no_request_fails_while_the_config_flips_under_load() {
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    let vane = Vane::start(&routes(a.addr));
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = [true, false]
        .into_iter()
        .map(|keep_alive| {
            let (addr, done) = (vane.addr, done.clone());
            std::thread::spawn(move || load(addr, keep_alive, done))
        })
        .collect();
    for i in 0..FLIPS {
        let target = if i % 2 == 0 { b.addr } else { a.addr };
        vane.rewrite(&routes(target));
        assert!(
            eventually(RELOAD_LIMIT, || applied(&vane) > i),
            "flip {i} was not applied; log:\n{}",
            vane.log()
        );
    }
    done.store(true, Ordering::SeqCst);
    for (c, keep_alive) in clients.into_iter().zip([true, false]) {
        let (n, failures) = c.join().unwrap();
        assert!(
            failures.is_empty(),
            "keep_alive={keep_alive}: {} of {n} requests failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(10)]
        );
    }
    assert!(a.request_count() > 0 && b.request_count() > 0);
}
