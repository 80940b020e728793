//! Passive outlier ejection, against the real `vane` and real upstreams: an endpoint that
//! answers 5xx is ejected (traffic goes to the others) and re-admitted after its back-off; an
//! endpoint that refuses connections costs no client an error (the connect is retried on
//! another endpoint) and is ejected; never more than half of an upstream is ejected.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

fn respond(s: &mut std::net::TcpStream, status: &str, body: &str) -> bool {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    true
}

fn two_endpoints(a: SocketAddr, b: SocketAddr, outlier: &str) -> String {
    format!(
        "[upstreams.up.endpoints]\na = \"http://{a}\"\nb = \"http://{b}\"\n\
         [upstreams.up.options]\nlb = \"round_robin\"\noutlier = {outlier}\n\n\
         [hosts.\"*\".locations.all]\npath = \"/.*\"\nupstream = \"up\"\n"
    )
}

fn hits(u: &common::upstream::Upstream) -> usize {
    u.seen.lock().unwrap().len()
}

#[test]
fn failing_endpoint_is_ejected_then_readmitted() {
    let good = common::upstream::Upstream::start(|_, s| respond(s, "200 OK", "good"));
    let failing = Arc::new(AtomicBool::new(true));
    let f = failing.clone();
    let bad = common::upstream::Upstream::start(move |_, s| {
        if f.load(Ordering::SeqCst) {
            respond(s, "503 Service Unavailable", "down")
        } else {
            respond(s, "200 OK", "back")
        }
    });
    let vane = Vane::start_with(
        &two_endpoints(
            good.addr,
            bad.addr,
            "{ consecutive = 3, base_ejection = \"1s\", max_ejection = \"5s\" }",
        ),
        1,
    );
    // Round robin sends every other request to `bad` until its third 503 in a row ejects it.
    let statuses: Vec<u16> = (0..40).map(|_| get(vane.addr, "x", "/").status).collect();
    assert_eq!(hits(&bad), 3, "ejected after exactly 3 failures");
    assert_eq!(statuses.iter().filter(|&&s| s == 503).count(), 3);
    assert_eq!(hits(&good), 37);
    assert!(
        vane.log().contains("endpoint ejected"),
        "the ejection is logged:\n{}",
        vane.log()
    );

    // Healthy again: once the 1 s ejection ends, it takes its share again.
    failing.store(false, Ordering::SeqCst);
    let before = hits(&bad);
    let readmitted = eventually(Duration::from_secs(5), || {
        get(vane.addr, "x", "/");
        hits(&bad) > before
    });
    assert!(readmitted, "re-admitted after the back-off");
    let before = (hits(&good), hits(&bad));
    for _ in 0..20 {
        assert_eq!(get(vane.addr, "x", "/").status, 200);
    }
    assert_eq!(hits(&good) - before.0, 10, "even split once re-admitted");
    assert_eq!(hits(&bad) - before.1, 10);
}

#[test]
fn refusing_endpoint_costs_no_errors_and_is_ejected() {
    let good = common::upstream::Upstream::start(|_, s| respond(s, "200 OK", "good"));
    // A port nothing listens on: connections are refused.
    let refused = loopback(free_port());
    let vane = Vane::start_with(
        &two_endpoints(
            good.addr,
            refused,
            "{ consecutive = 2, base_ejection = \"30s\" }",
        ),
        2,
    );
    let load = common::etcd::Load::start(vane.addr, "x", 4);
    std::thread::sleep(Duration::from_millis(500));
    let statuses = load.finish();
    assert!(statuses.len() > 50, "load ran: {}", statuses.len());
    let bad: Vec<&String> = statuses.iter().filter(|s| *s != "good").collect();
    assert!(
        bad.is_empty(),
        "refused connects were retried elsewhere: {bad:?}"
    );
    let log = vane.log();
    let ejections = log
        .lines()
        .filter(|l| l.contains("endpoint ejected") && l.contains(&refused.to_string()))
        .count();
    assert!(ejections >= 1, "refusing endpoint ejected:\n{log}");
}

#[test]
fn never_ejects_more_than_half() {
    let bad1 =
        common::upstream::Upstream::start(|_, s| respond(s, "500 Internal Server Error", "x"));
    let bad2 =
        common::upstream::Upstream::start(|_, s| respond(s, "500 Internal Server Error", "y"));
    let vane = Vane::start_with(
        &two_endpoints(
            bad1.addr,
            bad2.addr,
            "{ consecutive = 1, base_ejection = \"30s\" }",
        ),
        1,
    );
    for _ in 0..20 {
        assert_eq!(
            get(vane.addr, "x", "/").status,
            500,
            "the upstream's own answer"
        );
    }
    // One of the two is ejected; the other keeps getting traffic (never both).
    let (h1, h2) = (hits(&bad1), hits(&bad2));
    assert_eq!(h1 + h2, 20);
    assert!(
        h1.min(h2) <= 1 && h1.max(h2) >= 19,
        "one ejected, one kept: {h1} {h2}"
    );
    assert_eq!(vane.log().matches("endpoint ejected").count(), 1);
}
