//! Deploys through etcd under load: a rolling deploy (endpoints added, then removed and shut
//! down) and blue-green switches of a location's upstream, with two client threads sending
//! requests all along. Not one request may fail.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::etcd::*;
use common::*;

const HOME: &str = "/vulcand/hosts/example.com/locations/home";

fn endpoint(etcd: &Etcd, upstream: &str, id: &str, up: &Upstream) -> i64 {
    etcd.put(
        &format!("/vulcand/upstreams/{upstream}/endpoints/{id}"),
        &format!("http://{}", up.addr),
    )
}

fn failures(answers: &[String]) -> Vec<&String> {
    answers.iter().filter(|a| a.starts_with('<')).collect()
}

/// The distinct bodies of `n` requests.
fn bodies(vane: &Vane, n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|_| body_or_status(vane, "example.com", "/"))
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn rolling_deploy_under_load_loses_nothing() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a1, a2, a3, a4) = (
        Upstream::ok("a1"),
        Upstream::ok("a2"),
        Upstream::ok("a3"),
        Upstream::ok("a4"),
    );
    endpoint(&etcd, "app", "1", &a1);
    endpoint(&etcd, "app", "2", &a2);
    etcd.put(&format!("{HOME}/path"), "/.*");
    etcd.put(&format!("{HOME}/upstream"), "app");
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    let load = Load::start(vane.addr, "example.com", 2);

    // Scale out: 3 and 4 join.
    endpoint(&etcd, "app", "3", &a3);
    let rev = endpoint(&etcd, "app", "4", &a4);
    wait_revision(&vane, &state.0, rev);
    assert_eq!(bodies(&vane, 20), set(&["a1", "a2", "a3", "a4"]));
    // Retire 1 and 2: out of etcd first, then their processes stop.
    etcd.del("/vulcand/upstreams/app/endpoints/1");
    let rev = etcd.del("/vulcand/upstreams/app/endpoints/2");
    wait_revision(&vane, &state.0, rev);
    drop(a1);
    drop(a2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(bodies(&vane, 20), set(&["a3", "a4"]));

    let answers = load.finish();
    assert!(
        answers.len() > 50,
        "the load ran ({} requests)",
        answers.len()
    );
    assert_eq!(
        failures(&answers),
        Vec::<&String>::new(),
        "of {} requests; log:\n{}",
        answers.len(),
        vane.log()
    );
}

#[test]
fn blue_green_switches_under_load_lose_nothing() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (b1, b2, g1, g2) = (
        Upstream::ok("blue"),
        Upstream::ok("blue"),
        Upstream::ok("green"),
        Upstream::ok("green"),
    );
    endpoint(&etcd, "blue", "1", &b1);
    endpoint(&etcd, "blue", "2", &b2);
    endpoint(&etcd, "green", "1", &g1);
    endpoint(&etcd, "green", "2", &g2);
    etcd.put(&format!("{HOME}/path"), "/.*");
    etcd.put(&format!("{HOME}/upstream"), "blue");
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    let load = Load::start(vane.addr, "example.com", 2);

    for i in 0..10 {
        let color = if i % 2 == 0 { "green" } else { "blue" };
        let rev = etcd.put(&format!("{HOME}/upstream"), color);
        wait_revision(&vane, &state.0, rev);
        assert_eq!(bodies(&vane, 4), set(&[color]), "switch {i}");
    }

    let answers = load.finish();
    let colors: BTreeSet<&str> = answers.iter().map(String::as_str).collect();
    assert!(
        answers.len() > 50,
        "the load ran ({} requests)",
        answers.len()
    );
    assert_eq!(
        failures(&answers),
        Vec::<&String>::new(),
        "of {} requests; log:\n{}",
        answers.len(),
        vane.log()
    );
    assert_eq!(colors, BTreeSet::from(["blue", "green"]));
}
