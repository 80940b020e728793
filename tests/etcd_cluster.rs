//! Several nodes: three vane processes on one etcd converge to the same revision; with a
//! 3-member etcd cluster, losing the member a vane talks to (killed, or frozen like a
//! partition) does not stop it from following changes.

mod common;

use std::time::Duration;

use common::etcd::*;
use common::*;

const HOME: &str = "/vulcand/hosts/example.com/locations/home";

#[test]
fn three_vanes_on_one_etcd_converge_to_the_same_revision() {
    let etcd = Etcd::start();
    let ups: Vec<Upstream> = ["u0", "u1", "u2", "u3", "u4"]
        .into_iter()
        .map(Upstream::ok)
        .collect();
    let states: Vec<TempDir> = (0..3).map(|_| TempDir::new("state")).collect();
    etcd.put(&format!("{HOME}/path"), "/.*");
    let endpoint = etcd.endpoint();
    let vanes: Vec<Vane> = states
        .iter()
        .map(|s| {
            let mut o = VaneEtcd::new(&endpoint, &s.0);
            o.workers = 1;
            o.start()
        })
        .collect();
    let mut last = 0;
    for round in 0..4 {
        for (i, u) in ups.iter().enumerate() {
            etcd.put(
                &format!("/vulcand/upstreams/u{i}/endpoints/1"),
                &format!("http://{}", u.addr),
            );
        }
        last = etcd.put(
            &format!("{HOME}/upstream"),
            &format!("u{}", round % ups.len()),
        );
    }
    for (v, s) in vanes.iter().zip(&states) {
        wait_revision(v, &s.0, last);
        assert_eq!(status(&s.0).unwrap()["revision"].as_i64(), Some(last));
        assert_eq!(body_or_status(v, "example.com", "/"), "u3");
    }
}

/// The member this vane is connected to, per its status.json.
fn current_member(cluster: &Cluster, vane: &Vane, state: &TempDir) -> usize {
    wait_status(vane, &state.0, "connected", |s| {
        s["etcd"]["connected"] == true
    });
    let ep = status(&state.0).unwrap()["etcd"]["endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    cluster
        .members
        .iter()
        .position(|m| m.endpoint() == ep)
        .expect("a member")
}

#[test]
fn a_three_member_cluster_losing_members_does_not_stop_vane() {
    let mut cluster = Cluster::start(3);
    let state = TempDir::new("state");
    let (a, b, c) = (Upstream::ok("A"), Upstream::ok("B"), Upstream::ok("C"));
    for (name, up) in [("a", &a), ("b", &b), ("c", &c)] {
        cluster.put(
            &format!("/vulcand/upstreams/{name}/endpoints/1"),
            &format!("http://{}", up.addr),
        );
    }
    cluster.put(&format!("{HOME}/path"), "/.*");
    cluster.put(&format!("{HOME}/upstream"), "a");
    let endpoints = cluster.endpoints();
    let vane = VaneEtcd::new(&endpoints, &state.0).start();
    assert_eq!(body_or_status(&vane, "example.com", "/"), "A");

    // Kill the member vane watches through; a write through the others still arrives.
    let first = current_member(&cluster, &vane, &state);
    cluster.members[first].kill();
    let rev = cluster.put(&format!("{HOME}/upstream"), "b");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(body_or_status(&vane, "example.com", "/"), "B");

    // Bring it back, then freeze the member vane now uses (a partition: nothing answers, no
    // connection is refused): vane notices and moves on.
    cluster.members[first].restart();
    cluster.members[first].wait_healthy();
    let second = current_member(&cluster, &vane, &state);
    assert_ne!(second, first);
    cluster.members[second].freeze();
    let others: Vec<String> = cluster
        .members
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != second)
        .map(|(_, m)| m.endpoint())
        .collect();
    // The remaining two keep a quorum (a new leader if the frozen one led).
    let mut rev = 0;
    let wrote = eventually(Duration::from_secs(20), || {
        let out = etcdctl(
            &others.join(","),
            &["put", "-w", "json", "--", &format!("{HOME}/upstream"), "c"],
            None,
        );
        if out.status.success() {
            rev = revision_of(&out);
        }
        out.status.success()
    });
    assert!(wrote, "the two live members took no write");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(
        body_or_status(&vane, "example.com", "/"),
        "C",
        "{}",
        vane.log()
    );
    cluster.members[second].thaw();
}
