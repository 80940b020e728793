//! A seeded, randomized run against a real etcd: puts, deletes, etcd restarts (vane
//! disconnected) and compactions (also while vane is frozen, so its resumed watch meets them).
//! At the end the long-running vane must route every probe exactly like a vane that just did
//! one fresh full read. `VANE_SEED=N` replays a run.

mod common;

use common::etcd::*;
use common::*;

const HOSTS: &[&str] = &["h0.example", "h1.example", "h2.example"];
const LOCATIONS: &[&str] = &["l0", "l1", "l2"];
const PATHS: &[&str] = &["/.*", "/a.*", "/b", "/(a|b)/.*"];
/// u3 never gets endpoints (its locations answer 503); u4 never exists at all.
const UPSTREAMS: &[&str] = &["u0", "u1", "u2", "u3", "u4"];
const PROBES: &[&str] = &["/", "/a1", "/b", "/a/x", "/c"];

/// Every (host, path) probe's answer: a body names the upstream, `<code>` otherwise.
fn probe_all(vane: &Vane) -> Vec<String> {
    let mut out = Vec::new();
    for h in HOSTS.iter().chain(&["unknown.example"]) {
        for p in PROBES {
            out.push(format!("{h}{p} -> {}", body_or_status(vane, h, p)));
        }
    }
    out
}

#[test]
fn random_changes_disconnects_and_compactions_end_in_the_fresh_read_state() {
    let seed: u64 = std::env::var("VANE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_301);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut etcd = Etcd::start();
    // Two servers per upstream, answering with the upstream's name: a body names the
    // upstream whichever endpoint the balancer picks.
    let servers: Vec<[Upstream; 2]> = ["u0", "u1", "u2"]
        .iter()
        .map(|b| [Upstream::ok(b), Upstream::ok(b)])
        .collect();
    let endpoint_url = |u: usize, id: usize| format!("http://{}", servers[u][id].addr);
    for u in 0..3 {
        etcd.put(
            &format!("/vulcand/upstreams/u{u}/endpoints/0"),
            &endpoint_url(u, 0),
        );
    }
    let state = TempDir::new("state");
    let endpoint = etcd.endpoint();
    let mut running = VaneEtcd::new(&endpoint, &state.0);
    running.workers = 1;
    let vane = running.start();

    let mut restarts = 0;
    for step in 0..80 {
        let (h, l) = (rng.choice(HOSTS).unwrap(), rng.choice(LOCATIONS).unwrap());
        let loc = format!("/vulcand/hosts/{h}/locations/{l}");
        match rng.u32(0..100) {
            0..=29 => {
                etcd.put(&format!("{loc}/path"), rng.choice(PATHS).unwrap());
            }
            30..=54 => {
                etcd.put(&format!("{loc}/upstream"), rng.choice(UPSTREAMS).unwrap());
            }
            55..=69 => {
                let (u, id) = (rng.usize(0..3), rng.usize(0..2));
                etcd.put(
                    &format!("/vulcand/upstreams/u{u}/endpoints/{id}"),
                    &endpoint_url(u, id),
                );
            }
            70..=79 => {
                let (u, id) = (rng.usize(0..3), rng.usize(0..2));
                etcd.del(&format!("/vulcand/upstreams/u{u}/endpoints/{id}"));
            }
            80..=87 => {
                let field = rng.choice(["path", "upstream"]).unwrap();
                etcd.del(&format!("{loc}/{field}"));
            }
            88..=93 => etcd.compact(etcd.revision()),
            _ if restarts < 3 => {
                // vane cut off: frozen while etcd restarts, takes writes and compacts.
                restarts += 1;
                vane.signal(libc::SIGSTOP);
                etcd.restart();
                etcd.wait_healthy();
                etcd.put(&format!("{loc}/upstream"), rng.choice(UPSTREAMS).unwrap());
                if rng.bool() {
                    etcd.compact(etcd.revision());
                }
                vane.signal(libc::SIGCONT);
            }
            _ => {
                etcd.put(&format!("{loc}/path"), "/.*");
            }
        }
        if step % 20 == 19 {
            // Now and then, let vane catch up mid-run too.
            wait_revision(&vane, &state.0, etcd.revision());
        }
    }
    let last = etcd.revision();
    wait_revision(&vane, &state.0, last);

    let fresh_state = TempDir::new("fresh");
    let mut fresh = VaneEtcd::new(&endpoint, &fresh_state.0);
    fresh.workers = 1;
    let fresh = fresh.start();
    wait_revision(&fresh, &fresh_state.0, last);
    assert_eq!(
        probe_all(&vane),
        probe_all(&fresh),
        "seed {seed}: the running vane differs from a fresh read; log:\n{}",
        vane.log()
    );
    assert_eq!(status(&state.0).unwrap()["revision"].as_i64(), Some(last));
}
