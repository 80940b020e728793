//! A config change that does not touch an upstream keeps its pooled connections and its place
//! in the rotation: no reconnect storm on an unrelated write (issue 3, item 4).
mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;

fn routes(up: std::net::SocketAddr, other: std::net::SocketAddr, extra_hosts: usize) -> String {
    let mut t = catch_all(up);
    t.push_str(&format!(
        "\n[upstreams.other.endpoints]\n1 = \"http://{other}\"\n"
    ));
    for i in 0..extra_hosts {
        t.push_str(&format!(
            "\n[hosts.\"extra{i}.example\".locations.x]\npath = \"/.*\"\nupstream = \"other\"\n"
        ));
    }
    t
}

#[test]
fn unrelated_changes_keep_upstream_connections() {
    let (up, other) = (Upstream::ok("ok"), Upstream::ok("other"));
    let vane = Vane::start_with(&routes(up.addr, other.addr, 0), 1);
    for _ in 0..5 {
        assert_eq!(get(vane.addr, "h", "/").status, 200);
    }
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        1,
        "one pooled upstream connection serves all"
    );
    for n in 1..=5 {
        vane.rewrite(&routes(up.addr, other.addr, n));
        let host = format!("extra{}.example", n - 1);
        // Applied once the new host routes to the other upstream (before, "*" answers it).
        assert!(eventually(Duration::from_secs(10), || get(
            vane.addr, &host, "/"
        )
        .text()
            == "other"));
        assert_eq!(get(vane.addr, "h", "/").status, 200);
    }
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        1,
        "five swaps later the same pooled connection still serves"
    );
}
