//! etcd failures under a running `vane --etcd`: killed, frozen (SIGSTOP), restarted, and
//! compacted past vane's watch while vane could not see it. Vane keeps serving the last routes
//! throughout and converges once etcd answers again.

mod common;

use std::time::{Duration, Instant};

use common::etcd::*;
use common::*;

const LIMIT: Duration = Duration::from_secs(20);

/// example.com → upstream `name` (endpoint `up`); returns the revision of the last write.
fn route(etcd: &Etcd, name: &str, up: &Upstream) -> i64 {
    etcd.put(
        &format!("/vulcand/upstreams/{name}/endpoints/1"),
        &format!("http://{}", up.addr),
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/path", "/.*");
    etcd.put("/vulcand/hosts/example.com/locations/home/upstream", name)
}

fn serves(vane: &Vane, body: &str) -> bool {
    body_or_status(vane, "example.com", "/") == body
}

/// Requests for `d` (at least 20), every one of which must get `body`.
fn keeps_serving(vane: &Vane, body: &str, d: Duration) {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < d || n < 20 {
        assert_eq!(
            body_or_status(vane, "example.com", "/"),
            body,
            "request {n}; log:\n{}",
            vane.log()
        );
        n += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn etcd_killed_then_restarted_a_new_put_applies() {
    let mut etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    route(&etcd, "a", &a);
    etcd.put(
        "/vulcand/upstreams/b/endpoints/1",
        &format!("http://{}", b.addr),
    );
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert!(serves(&vane, "A"));

    etcd.kill();
    keeps_serving(&vane, "A", Duration::from_secs(2));
    wait_status(&vane, &state.0, "disconnected", |s| {
        s["etcd"]["connected"] == false
    });
    assert_eq!(
        vane.health_status(),
        Some(200),
        "etcd down mid-run keeps the node ready"
    );

    etcd.restart();
    etcd.wait_healthy();
    let rev = etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "b");
    let t = Instant::now();
    assert!(
        eventually(LIMIT, || serves(&vane, "B")),
        "the put after the restart never applied ({}); log:\n{}",
        since(t),
        vane.log()
    );
    wait_revision(&vane, &state.0, rev);
    assert_eq!(status(&state.0).unwrap()["etcd"]["connected"], true);
}

#[test]
fn etcd_frozen_then_thawed_vane_catches_up() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    route(&etcd, "a", &a);
    etcd.put(
        "/vulcand/upstreams/b/endpoints/1",
        &format!("http://{}", b.addr),
    );
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert!(serves(&vane, "A"));

    etcd.freeze();
    // Long enough for vane's liveness probe (5 s idle + 3 s) to give up on the frozen member.
    keeps_serving(&vane, "A", Duration::from_secs(10));
    etcd.thaw();
    let rev = etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "b");
    assert!(
        eventually(LIMIT, || serves(&vane, "B")),
        "no catch-up after SIGCONT; log:\n{}",
        vane.log()
    );
    wait_revision(&vane, &state.0, rev);
}

/// Vane is frozen while etcd restarts and compacts past vane's watch position; on thawing,
/// its resumed watch is refused as compacted, and it must re-read and converge.
#[test]
fn compaction_while_disconnected_forces_a_re_read() {
    let mut etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    route(&etcd, "a", &a);
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert!(serves(&vane, "A"));

    vane.signal(libc::SIGSTOP);
    etcd.restart();
    etcd.wait_healthy();
    etcd.put(
        "/vulcand/upstreams/b/endpoints/1",
        &format!("http://{}", b.addr),
    );
    for i in 0..10 {
        etcd.put("/unrelated/noise", &i.to_string());
    }
    etcd.del("/vulcand/upstreams/a/endpoints/1");
    let rev = etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "b");
    etcd.compact(rev);
    vane.signal(libc::SIGCONT);

    wait_revision(&vane, &state.0, rev);
    assert!(serves(&vane, "B"), "{}", vane.log());
    assert!(
        vane.log().contains("compacted"),
        "the resumed watch should have met the compaction; log:\n{}",
        vane.log()
    );
    // And it keeps following after the re-read.
    let rev = etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "a");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(
        body_or_status(&vane, "example.com", "/"),
        "<503>",
        "upstream a has no endpoint left"
    );
}
