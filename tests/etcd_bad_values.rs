//! Bad values in etcd never take a node down: each rejects its own key alone (named with its
//! revision in the log and in status.json), the last good version of its entity keeps serving,
//! and every other key still applies.

mod common;

use std::path::Path;

use common::etcd::*;
use common::*;

const HOME: &str = "/vulcand/hosts/example.com/locations/home";

/// example.com/ → upstream `up` (endpoint 1 = A); /b → upstream `bup` (= B).
fn base(etcd: &Etcd, a: &Upstream, b: &Upstream) -> i64 {
    etcd.put(
        "/vulcand/upstreams/up/endpoints/1",
        &format!("http://{}", a.addr),
    );
    etcd.put(
        "/vulcand/upstreams/bup/endpoints/1",
        &format!("http://{}", b.addr),
    );
    etcd.put(&format!("{HOME}/path"), "/.*");
    etcd.put(&format!("{HOME}/upstream"), "up");
    etcd.put("/vulcand/hosts/example.com/locations/b/path", "/b");
    etcd.put("/vulcand/hosts/example.com/locations/b/upstream", "bup")
}

/// status.json's rejections as (key, revision, error).
fn rejections(state: &Path) -> Vec<(String, i64, String)> {
    let s = status(state).unwrap_or_default();
    s["rejections"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let key = r["key"].as_str().unwrap_or_default().to_string();
                    let error = r["error"].as_str().unwrap_or_default().to_string();
                    (key, r["revision"].as_i64().unwrap_or(0), error)
                })
                .collect()
        })
        .unwrap_or_default()
}

enum Value<'a> {
    Text(&'a str),
    Bytes(Vec<u8>),
}

#[test]
fn each_bad_value_rejects_only_its_key() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b, c) = (Upstream::ok("A"), Upstream::ok("B"), Upstream::ok("C"));
    base(&etcd, &a, &b);
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert_eq!(body_or_status(&vane, "example.com", "/"), "A");

    let oversized = format!("http://{}/{}", c.addr, "x".repeat(70 * 1024));
    let rows: Vec<(&str, String, Value, &str)> = vec![
        (
            "bad regex",
            format!("{HOME}/path"),
            Value::Text("/(unclosed"),
            "regex",
        ),
        (
            "bad URL",
            "/vulcand/upstreams/up/endpoints/1".into(),
            Value::Text("not a url"),
            "",
        ),
        (
            "bad JSON endpoint",
            "/vulcand/upstreams/up/endpoints/1".into(),
            Value::Text(r#"{"url":"#),
            "JSON",
        ),
        (
            "non-UTF-8",
            "/vulcand/upstreams/up/endpoints/1".into(),
            Value::Bytes(vec![b'h', 0xff, 0xfe]),
            "UTF-8",
        ),
        (
            "oversized",
            "/vulcand/upstreams/up/endpoints/1".into(),
            Value::Bytes(oversized.into_bytes()),
            "limit",
        ),
        (
            "malformed options JSON",
            format!("{HOME}/options"),
            Value::Text("{\"retries\": "),
            "JSON",
        ),
        (
            "unknown option",
            "/vulcand/upstreams/up/options".into(),
            Value::Text(r#"{"bogus":1}"#),
            "bogus",
        ),
        (
            "bad upstream name",
            format!("{HOME}/upstream"),
            Value::Text("no spaces allowed"),
            "name",
        ),
    ];
    for (i, (what, key, value, says)) in rows.into_iter().enumerate() {
        let rev = match value {
            Value::Text(t) => etcd.put(&key, t),
            Value::Bytes(b) => etcd.put_bytes(&key, &b),
        };
        // A good write in the same breath applies: only the bad key is refused.
        let marker = format!("/vulcand/hosts/marker{i}.example/locations/m/path");
        etcd.put(&marker, "/.*");
        let good = etcd.put(
            &format!("/vulcand/hosts/marker{i}.example/locations/m/upstream"),
            "bup",
        );
        wait_revision(&vane, &state.0, good);
        let found = rejections(&state.0);
        assert!(
            found
                .iter()
                .any(|(k, r, e)| *k == key && *r == rev && e.contains(says)),
            "{what}: status.json should name {key} at revision {rev} ({says}); got {found:?}"
        );
        assert_eq!(
            body_or_status(&vane, &format!("marker{i}.example"), "/"),
            "B",
            "{what}: the good key applied"
        );
        assert_eq!(
            body_or_status(&vane, "example.com", "/"),
            "A",
            "{what}: last good version serves"
        );
        assert_eq!(body_or_status(&vane, "example.com", "/b"), "B", "{what}");
        let log = plain_log(&vane);
        assert!(
            log.lines().any(|l| l.contains("rejected key")
                && l.contains(&key)
                && l.contains(&format!("revision={rev}"))),
            "{what}: the log should name {key} and revision {rev}:\n{log}"
        );
        // Repair it: the rejection clears.
        match what {
            "bad regex" => etcd.put(&key, "/.*"),
            "malformed options JSON" | "unknown option" => etcd.del(&key),
            "bad upstream name" => etcd.put(&key, "up"),
            _ => etcd.put(&key, &format!("http://{}", a.addr)),
        };
        let fixed = etcd.put("/vulcand/fixed-marker", &i.to_string());
        wait_revision(&vane, &state.0, fixed);
        let left = rejections(&state.0);
        assert!(
            left.iter().all(|(k, _, _)| *k != key),
            "{what}: still rejected: {left:?}"
        );
    }
    assert_eq!(vane.health_status(), Some(200));
}

#[test]
fn a_location_whose_upstream_does_not_exist_answers_503_until_it_does() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b, later) = (Upstream::ok("A"), Upstream::ok("B"), Upstream::ok("LATER"));
    base(&etcd, &a, &b);
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    let rev = etcd.put(&format!("{HOME}/upstream"), "not-yet");
    wait_revision(&vane, &state.0, rev);
    assert_eq!(body_or_status(&vane, "example.com", "/"), "<503>");
    assert_eq!(body_or_status(&vane, "example.com", "/b"), "B");
    assert!(
        rejections(&state.0).is_empty(),
        "a dangling reference is not a bad value"
    );
    let rev = etcd.put(
        "/vulcand/upstreams/not-yet/endpoints/1",
        &format!("http://{}", later.addr),
    );
    wait_revision(&vane, &state.0, rev);
    assert_eq!(body_or_status(&vane, "example.com", "/"), "LATER");
}

#[test]
fn deleting_an_upstream_in_use_answers_503_without_a_panic() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b) = (Upstream::ok("A"), Upstream::ok("B"));
    base(&etcd, &a, &b);
    etcd.put("/vulcand/upstreams/up/options", r#"{"retries":0}"#);
    let vane = VaneEtcd::new(&etcd.endpoint(), &state.0).start();
    assert_eq!(body_or_status(&vane, "example.com", "/"), "A");
    // `etcdctl del --prefix`: the whole upstream goes at once.
    let out = etcd.etcdctl(&["del", "--prefix", "-w", "json", "/vulcand/upstreams/up/"]);
    let rev = revision_of(&out);
    wait_revision(&vane, &state.0, rev);
    for _ in 0..10 {
        assert_eq!(body_or_status(&vane, "example.com", "/"), "<503>");
    }
    assert_eq!(body_or_status(&vane, "example.com", "/b"), "B");
    assert!(!vane.log().contains("panicked"), "{}", vane.log());
    assert_eq!(vane.health_status(), Some(200));
    // Put back: traffic returns.
    let rev = etcd.put(
        "/vulcand/upstreams/up/endpoints/1",
        &format!("http://{}", a.addr),
    );
    wait_revision(&vane, &state.0, rev);
    assert_eq!(body_or_status(&vane, "example.com", "/"), "A");
}
