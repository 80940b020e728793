//! The issue's seed commands, end to end, against a real etcd and a real `vane --etcd`:
//! `etcdctl put` the vulcand layout, traffic for example.com reaches example-v1's endpoints;
//! one more put (the blue-green switch) moves it to example-v2.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::etcd::*;
use common::*;

const LIMIT: Duration = Duration::from_secs(15);

fn bodies(vane: &Vane, n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|_| body_or_status(vane, "example.com", "/"))
        .collect()
}

fn seed_v1(etcd: &Etcd, a: &Upstream, b: &Upstream) -> i64 {
    etcd.put(
        "/vulcand/upstreams/example-v1/endpoints/1",
        &format!("http://{}", a.addr),
    );
    etcd.put(
        "/vulcand/upstreams/example-v1/endpoints/2",
        &format!("http://{}", b.addr),
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/path", "/.*");
    etcd.put(
        "/vulcand/hosts/example.com/locations/home/upstream",
        "example-v1",
    )
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn seed_keys_written_before_start_then_blue_green_switch() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b, v2) = (
        Upstream::ok("v1-a"),
        Upstream::ok("v1-b"),
        Upstream::ok("v2"),
    );
    let rev = seed_v1(&etcd, &a, &b);
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 10), set(&["v1-a", "v1-b"]), "{}", vane.log());
    let s = status(&state.0).unwrap();
    assert_eq!(s["source"], "etcd", "{s:#}");
    assert_eq!(s["etcd"]["connected"], true, "{s:#}");
    assert_eq!(s["rejections"].as_array().map(Vec::len), Some(0), "{s:#}");
    // Another host is not routed.
    assert_eq!(get(vane.addr, "other.example", "/").status, 404);

    etcd.put(
        "/vulcand/upstreams/example-v2/endpoints/1",
        &format!("http://{}", v2.addr),
    );
    etcd.put(
        "/vulcand/hosts/example.com/locations/home/upstream",
        "example-v2",
    );
    assert!(
        eventually(LIMIT, || body_or_status(&vane, "example.com", "/") == "v2"),
        "the switch never applied; log:\n{}",
        vane.log()
    );
    assert_eq!(bodies(&vane, 10), set(&["v2"]));
}

#[test]
fn seed_keys_written_while_running_are_followed() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b, v2) = (
        Upstream::ok("v1-a"),
        Upstream::ok("v1-b"),
        Upstream::ok("v2"),
    );
    // An empty prefix is a valid (empty) route table: the node is ready and answers 404.
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert_eq!(get(vane.addr, "example.com", "/").status, 404);
    let rev = seed_v1(&etcd, &a, &b);
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 10), set(&["v1-a", "v1-b"]), "{}", vane.log());

    etcd.put(
        "/vulcand/upstreams/example-v2/endpoints/1",
        &format!("http://{}", v2.addr),
    );
    let rev = etcd.put(
        "/vulcand/hosts/example.com/locations/home/upstream",
        "example-v2",
    );
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 10), set(&["v2"]), "{}", vane.log());
    // And back (blue-green is symmetric).
    let rev = etcd.put(
        "/vulcand/hosts/example.com/locations/home/upstream",
        "example-v1",
    );
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 10), set(&["v1-a", "v1-b"]));
    assert!(
        vane.log().contains("published"),
        "debug log has the publish latency"
    );
}

#[test]
fn json_endpoint_values_options_and_discovery_directories() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, d1, d2) = (
        Upstream::ok("own"),
        Upstream::ok("disc-1"),
        Upstream::ok("disc-2"),
    );
    etcd.put(
        "/vulcand/upstreams/web/endpoints/own",
        &format!(r#"{{"url":"http://{}","weight":2}}"#, a.addr),
    );
    etcd.put(
        "/vulcand/upstreams/web/options",
        r#"{"timeouts":{"connect":"2s"},"retries":1}"#,
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/path", "/.*");
    etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "web");
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert_eq!(bodies(&vane, 5), set(&["own"]), "{}", vane.log());
    // A registrator-style directory, pointed at after its keys exist, then changed live.
    etcd.put("/services/web/host1:web:80", &d1.addr.to_string());
    let rev = etcd.put("/vulcand/upstreams/web/discovery", "/services/web");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 12), set(&["own", "disc-1"]), "{}", vane.log());
    let rev = etcd.put("/services/web/host2:web:80", &d2.addr.to_string());
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 16), set(&["own", "disc-1", "disc-2"]));
    let rev = etcd.del("/services/web/host1:web:80");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 12), set(&["own", "disc-2"]));
    let s = status(&state.0).unwrap();
    assert_eq!(s["rejections"].as_array().map(Vec::len), Some(0), "{s:#}");
}

#[test]
fn with_etcd_the_file_supplies_only_the_node_settings() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, other) = (Upstream::ok("A"), Upstream::ok("FILE"));
    etcd.put(
        "/vulcand/upstreams/a/endpoints/1",
        &format!("http://{}", a.addr),
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/path", "/.*");
    etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "a");
    let file_routes = format!(
        "[upstreams.f.endpoints]\n1 = \"http://{}\"\n[hosts.\"example.com\".locations.home]\npath = \"/.*\"\nupstream = \"f\"\n",
        other.addr
    );
    let mut opts = VaneEtcd::new(&etcd.endpoint(), &state.0);
    let settings = format!("[limits]\nmax_body = 10\n\n{file_routes}");
    opts.settings = &settings;
    let vane = opts.start();
    let post = |vane: &Vane| {
        let req = "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
            .to_string()
            + &"x".repeat(100);
        client::raw(vane.addr, req.as_bytes()).map(|r| (r.status, r.text()))
    };
    assert_eq!(
        post(&vane).map(|r| r.0),
        Some(413),
        "the file's body limit applies"
    );
    assert_eq!(
        body_or_status(&vane, "example.com", "/"),
        "A",
        "routes come from etcd"
    );

    // A settings edit applies live; the file's routes stay ignored.
    vane.rewrite(&format!("[limits]\nmax_body = 0\n\n{file_routes}"));
    assert!(
        eventually(LIMIT, || post(&vane) == Some((200, "A".into()))),
        "the settings edit never applied; log:\n{}",
        vane.log()
    );
    assert_eq!(other.request_count(), 0);
    assert!(vane.log().contains("routes in the config file are ignored"));
}
