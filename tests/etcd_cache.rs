//! Static stability: the last applied routes are cached in the state dir; a node that starts
//! while etcd is down serves them (and says so), and one with neither etcd nor a cache starts,
//! answers 503 and stays not ready until etcd answers.

mod common;

use std::time::Duration;

use common::etcd::*;
use common::*;

/// The revision of the cache in the state dir, if there is one.
fn cached_revision(state: &TempDir) -> Option<i64> {
    let text = std::fs::read_to_string(state.0.join("etcd-routes.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["revision"].as_i64()
}

#[test]
fn cold_start_from_the_cache_while_etcd_is_down() {
    let mut etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    etcd.put(
        "/vulcand/upstreams/a/endpoints/1",
        &format!("http://{}", a.addr),
    );
    etcd.put(
        "/vulcand/upstreams/b/endpoints/1",
        &format!("http://{}", b.addr),
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/path", "/.*");
    let rev = etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "a");
    let mut vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert_eq!(body_or_status(&vane, "example.com", "/"), "A");
    assert!(
        eventually(Duration::from_secs(10), || cached_revision(&state)
            == Some(rev)),
        "no cache at revision {rev}; log:\n{}",
        vane.log()
    );
    vane.signal(libc::SIGKILL);
    let _ = vane.wait_exit(Duration::from_secs(5));
    etcd.kill();

    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert_eq!(
        body_or_status(&vane, "example.com", "/"),
        "A",
        "{}",
        vane.log()
    );
    assert_eq!(vane.health_status(), Some(200));
    let s = status(&state.0).unwrap();
    assert_eq!(s["source"], "cache", "{s:#}");
    assert_eq!(s["etcd"]["connected"], false, "{s:#}");
    assert_eq!(s["revision"].as_i64(), Some(rev), "{s:#}");
    assert!(
        vane.log().contains("serving the routes cached"),
        "{}",
        vane.log()
    );

    // etcd comes back: vane switches to it and follows new writes.
    etcd.restart();
    etcd.wait_healthy();
    wait_status(&vane, &state.0, "source etcd", |s| s["source"] == "etcd");
    let rev = etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "b");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(body_or_status(&vane, "example.com", "/"), "B");
}

#[test]
fn no_cache_and_no_etcd_answers_503_not_ready_until_etcd_answers() {
    let (client_port, peer_port) = (free_port(), free_port());
    let endpoint = format!("http://127.0.0.1:{client_port}");
    let state = TempDir::new("state");
    let mut opts = VaneEtcd::new(&endpoint, &state.0);
    opts.wait_ready = false;
    let vane = opts.start();
    wait_status(&vane, &state.0, "source none", |s| {
        s["source"] == "none" && s["etcd"]["last_error"].is_string()
    });
    assert_eq!(get(vane.addr, "example.com", "/").status, 503);
    assert_eq!(vane.health_status(), Some(503));
    assert!(vane.log().contains("no cache"), "{}", vane.log());

    // etcd appears on that address: the node reads it and turns ready.
    let up = Upstream::ok("A");
    let etcd = Etcd::start_on(client_port, peer_port);
    etcd.put(
        "/vulcand/upstreams/a/endpoints/1",
        &format!("http://{}", up.addr),
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/path", "/.*");
    let rev = etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "a");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(body_or_status(&vane, "example.com", "/"), "A");
    assert!(eventually(Duration::from_secs(10), || vane.health_status()
        == Some(200)));
    assert_eq!(status(&state.0).unwrap()["source"], "etcd");
}
