use std::collections::BTreeSet;

use super::*;
use crate::model::etcd_keys::MAX_VALUE;
use crate::model::Endpoint;

const P: &str = "/vulcand";

fn full(key: &str) -> String {
    if key.starts_with('/') {
        key.to_string()
    } else {
        format!("{P}/{key}")
    }
}

fn put_bytes(s: &mut Store, key: &str, value: &[u8], rev: i64) {
    s.apply(Event {
        key: full(key),
        value: Some(value.to_vec()),
        mod_revision: rev,
    });
}

fn put(s: &mut Store, key: &str, value: &str, rev: i64) {
    put_bytes(s, key, value.as_bytes(), rev);
}

fn del(s: &mut Store, key: &str, rev: i64) {
    s.apply(Event {
        key: full(key),
        value: None,
        mod_revision: rev,
    });
}

fn ep(addr: &str) -> Endpoint {
    Endpoint {
        addr: addr.parse().unwrap(),
        weight: 1,
    }
}

/// The issue's seed commands.
fn seed() -> Store {
    let mut s = Store::new(P);
    put(
        &mut s,
        "upstreams/example-v1/endpoints/1",
        "http://127.0.0.1:8086",
        2,
    );
    put(
        &mut s,
        "upstreams/example-v1/endpoints/2",
        "http://127.0.0.1:8087",
        3,
    );
    put(&mut s, "hosts/example.com/locations/home/path", "/.*", 4);
    put(
        &mut s,
        "hosts/example.com/locations/home/upstream",
        "example-v1",
        5,
    );
    s
}

/// What a fresh store makes of this store's raw view: the incremental model must equal it.
fn fresh(s: &Store) -> Store {
    let mut f = Store::new(P);
    f.reset(s.kvs(), s.revision());
    f
}

fn rejection(s: &Store, key: &str) -> Option<Rejection> {
    s.rejections().into_iter().find(|r| r.key == full(key))
}

#[test]
fn the_seed_layout_builds_the_model_and_switches_blue_green() {
    let mut s = seed();
    let m = s.model();
    assert_eq!(
        m.upstreams["example-v1"].endpoints["1"],
        ep("127.0.0.1:8086")
    );
    assert_eq!(m.upstreams["example-v1"].endpoints.len(), 2);
    let home = &m.hosts["example.com"].locations["home"];
    assert_eq!(
        (home.path.as_str(), home.upstream.as_str()),
        ("/.*", "example-v1")
    );
    assert_eq!(s.revision(), 5);
    assert!(s.take_changes().hosts.contains("example.com"));

    // Blue-green: the location names an upstream that does not exist yet (503), then it does.
    put(
        &mut s,
        "hosts/example.com/locations/home/upstream",
        "example-v2",
        6,
    );
    assert_eq!(
        s.model().hosts["example.com"].locations["home"].upstream,
        "example-v2"
    );
    assert!(!s.model().upstreams.contains_key("example-v2"));
    put(
        &mut s,
        "upstreams/example-v2/endpoints/1",
        "http://127.0.0.1:8088",
        7,
    );
    let c = s.take_changes();
    assert!(!c.all);
    assert_eq!(c.hosts, BTreeSet::from(["example.com".to_string()]));
    assert_eq!(c.upstreams, BTreeSet::from(["example-v2".to_string()]));
    assert!(s.take_changes().is_empty());
    assert_eq!(s.model(), fresh(&s).model());
    assert!(s.rejections().is_empty());
}

/// key, a good value, a bad value, a word the error must contain.
const BAD_VALUES: &[(&str, &str, &str, &str)] = &[
    (
        "hosts/example.com/locations/home/path",
        "/a.*",
        "/(",
        "bad path regex",
    ),
    (
        "hosts/example.com/locations/home/path",
        "/a.*",
        "",
        "path regex is empty",
    ),
    (
        "hosts/example.com/locations/home/upstream",
        "example-v1",
        "no way",
        "not a valid name",
    ),
    (
        "hosts/example.com/locations/home/options",
        r#"{"retries":1}"#,
        r#"{"bogus":1}"#,
        "bad options JSON",
    ),
    (
        "upstreams/example-v1/endpoints/1",
        "http://127.0.0.1:9",
        "nope",
        "not an endpoint URL",
    ),
    (
        "upstreams/example-v1/endpoints/1",
        "http://127.0.0.1:9",
        "http://example.com:80",
        "IP address",
    ),
    (
        "upstreams/example-v1/endpoints/1",
        r#"{"url":"http://127.0.0.1:9","weight":2}"#,
        r#"{"url":"#,
        "bad endpoint JSON",
    ),
    (
        "upstreams/example-v1/endpoints/1",
        "http://127.0.0.1:9",
        r#"{"url":"http://127.0.0.1:9","weight":0}"#,
        "weight 0",
    ),
    (
        "upstreams/example-v1/options",
        r#"{"lb":"round_robin"}"#,
        "{",
        "bad options JSON",
    ),
    (
        "upstreams/example-v1/options",
        r#"{"retries":0}"#,
        r#"{"retries":5}"#,
        "retries must be",
    ),
    (
        "upstreams/example-v1/discovery",
        "/services/web",
        "services",
        "not a key directory",
    ),
    (
        "upstreams/example-v1/discovery",
        "/services/web",
        "/vulcand/hosts",
        "overlaps the key prefix",
    ),
];

#[test]
fn each_bad_value_rejects_its_key_alone_and_the_last_good_value_keeps_serving() {
    let mut rows: Vec<(&str, &str, Vec<u8>, &str)> = BAD_VALUES
        .iter()
        .map(|(k, good, bad, word)| (*k, *good, bad.as_bytes().to_vec(), *word))
        .collect();
    let path = "hosts/example.com/locations/home/path";
    rows.push((path, "/a", vec![b'/', 0xff, 0xfe], "not UTF-8"));
    let huge = format!("/{}", "a".repeat(MAX_VALUE));
    rows.push((path, "/a", huge.into_bytes(), "more than the limit"));
    for (key, good, bad, word) in rows {
        let mut s = seed();
        put(&mut s, key, good, 10);
        put(
            &mut s,
            "upstreams/other/endpoints/1",
            "http://127.0.0.1:1",
            11,
        );
        let serving = s.model().clone();
        put_bytes(&mut s, key, &bad, 12);
        // Another key applies normally after the bad one.
        put(
            &mut s,
            "upstreams/other/endpoints/2",
            "http://127.0.0.1:2",
            13,
        );
        let r = rejection(&s, key).unwrap_or_else(|| panic!("{key} = {bad:?} not rejected"));
        assert_eq!(r.revision, 12, "{key}");
        assert!(r.error.contains(word), "{key}: {}", r.error);
        assert!(
            !r.error.contains(key),
            "the error repeats the key: {}",
            r.error
        );
        let mut expected = serving.clone();
        let other = expected.upstreams.get_mut("other").unwrap();
        other.endpoints.insert("2".into(), ep("127.0.0.1:2"));
        assert_eq!(
            s.model(),
            &expected,
            "{key}: the last good value must keep serving"
        );
        assert_eq!(s.rejections().len(), 1);
        // The raw view holds the bad value; what serves is the good one.
        let raw = s.kvs().into_iter().find(|kv| kv.0 == full(key)).unwrap();
        assert_eq!(raw.1, bad);
        let served = s
            .serving_kvs()
            .into_iter()
            .find(|kv| kv.0 == full(key))
            .unwrap();
        assert_eq!((served.1.as_slice(), served.2), (good.as_bytes(), 10));
        // A good value clears the rejection.
        put(&mut s, key, good, 14);
        assert!(s.rejections().is_empty(), "{key}");
        // A bad value again, then a delete: the rejection goes with the key.
        put_bytes(&mut s, key, &bad, 15);
        assert!(rejection(&s, key).is_some());
        del(&mut s, key, 16);
        assert!(s.rejections().is_empty(), "{key}");
        assert_eq!(s.model(), fresh(&s).model(), "{key}");
    }
}

#[test]
fn a_bad_first_value_counts_as_absent() {
    let mut s = seed();
    put(
        &mut s,
        "hosts/example.com/locations/api/upstream",
        "example-v1",
        10,
    );
    put(&mut s, "hosts/example.com/locations/api/path", "/api(", 11);
    assert!(!s.model().hosts["example.com"].locations.contains_key("api"));
    assert_eq!(
        rejection(&s, "hosts/example.com/locations/api/path")
            .unwrap()
            .revision,
        11
    );
    put(&mut s, "upstreams/lonely/options", "{", 12);
    assert!(!s.model().upstreams.contains_key("lonely"));
    // Nothing was ever good: nothing serves, nothing goes to the cache.
    let served: Vec<String> = s.serving_kvs().into_iter().map(|kv| kv.0).collect();
    assert!(!served.contains(&full("upstreams/lonely/options")));
    put(&mut s, "hosts/example.com/locations/api/path", "/api.*", 13);
    assert_eq!(
        s.model().hosts["example.com"].locations["api"].path,
        "/api.*"
    );
    assert_eq!(s.rejections().len(), 1);
    assert_eq!(s.model(), fresh(&s).model());
}

#[test]
fn bad_names_in_keys_are_rejected_and_kept_in_the_raw_view() {
    let mut s = seed();
    let before = s.model().clone();
    let keys = [
        "hosts/bad host/locations/l/path",
        "hosts/example.com/locations/bad loc/path",
        "upstreams/bad!/endpoints/1",
        "upstreams/example-v1/endpoints/bad id",
        "upstreams/bad!/discovery",
    ];
    for (i, k) in keys.iter().enumerate() {
        put(&mut s, k, "/x", 10 + i as i64);
        let r = rejection(&s, k).unwrap();
        assert!(r.error.contains("not a"), "{}", r.error);
        assert_eq!(r.revision, 10 + i as i64);
    }
    assert_eq!(s.model(), &before);
    assert_eq!(s.kvs().len(), 4 + keys.len());
    for k in keys {
        del(&mut s, k, 20);
    }
    assert!(s.rejections().is_empty());
    assert_eq!(s.kvs().len(), 4);
}

#[test]
fn a_location_missing_path_or_upstream_is_pending() {
    let mut s = Store::new(P);
    put(&mut s, "hosts/a.com/locations/l/path", "/x", 1);
    put(
        &mut s,
        "hosts/a.com/locations/l/options",
        r#"{"max_body":10}"#,
        2,
    );
    assert!(s.model().hosts.is_empty());
    assert!(s.rejections().is_empty());
    put(&mut s, "hosts/a.com/locations/l/upstream", "u", 3);
    let l = &s.model().hosts["a.com"].locations["l"];
    assert_eq!((l.upstream.as_str(), l.options.max_body), ("u", Some(10)));
    del(&mut s, "hosts/a.com/locations/l/path", 4);
    assert!(s.model().hosts.is_empty(), "an empty host leaves the model");
    assert!(s.take_changes().hosts.contains("a.com"));
    assert_eq!(s.model(), fresh(&s).model());
}

#[test]
fn deleting_an_upstream_leaves_its_locations_pointing_at_nothing() {
    let mut s = seed();
    put(
        &mut s,
        "upstreams/example-v1/options",
        r#"{"retries":0}"#,
        6,
    );
    s.take_changes();
    del(&mut s, "upstreams/example-v1/endpoints/1", 7);
    del(&mut s, "upstreams/example-v1/endpoints/2", 7);
    assert!(
        s.model().upstreams.contains_key("example-v1"),
        "its options still serve"
    );
    del(&mut s, "upstreams/example-v1/options", 8);
    assert!(s.model().upstreams.is_empty());
    let home = &s.model().hosts["example.com"].locations["home"];
    assert_eq!(
        home.upstream, "example-v1",
        "the location stays and answers 503"
    );
    let c = s.take_changes();
    assert_eq!(c.upstreams, BTreeSet::from(["example-v1".to_string()]));
    assert!(c.hosts.is_empty());
    assert_eq!(s.model(), fresh(&s).model());
}

/// A full read the way a source does it: prefix keys, then the directories they point at.
fn full_read(s: &mut Store, etcd: &[(&str, &str)], rev: i64) {
    let all: Vec<Kv> = etcd
        .iter()
        .map(|(k, v)| (full(k), v.as_bytes().to_vec(), rev))
        .collect();
    let prefix_kvs: Vec<Kv> = all
        .iter()
        .filter(|kv| kv.0.starts_with("/vulcand/"))
        .cloned()
        .collect();
    let dirs = s.dirs_to_read(&prefix_kvs);
    let mut kvs = prefix_kvs;
    for d in &dirs {
        let under = format!("{d}/");
        kvs.extend(all.iter().filter(|kv| kv.0.starts_with(&under)).cloned());
    }
    s.reset(kvs, rev);
    assert_eq!(s.discovery_dirs(), dirs);
    assert!(!s.needs_reread());
}

#[test]
fn discovery_endpoints_follow_their_directory() {
    let mut s = seed();
    // Written before any pointer names the directory: ignored, not kept.
    put(&mut s, "/services/web/a", "10.0.0.1:80", 6);
    assert!(s.kvs().iter().all(|kv| !kv.0.starts_with("/services")));
    put(&mut s, "upstreams/web/discovery", "/services/web/", 7);
    assert_eq!(
        s.model().upstreams["web"].discovery.as_deref(),
        Some("/services/web")
    );
    assert!(s.needs_reread(), "the directory's keys were never read");
    let etcd = [
        ("upstreams/web/discovery", "/services/web/"),
        ("/services/web/a", "10.0.0.1:80"),
        ("/services/other/z", "10.0.0.9:80"),
    ];
    full_read(&mut s, &etcd, 8);
    assert_eq!(s.model().upstreams["web"].endpoints["a"], ep("10.0.0.1:80"));
    assert_eq!(s.kvs().len(), 2);
    s.take_changes();

    put(&mut s, "/services/web/b", " 10.0.0.2:81 ", 9);
    assert_eq!(s.model().upstreams["web"].endpoints["b"], ep("10.0.0.2:81"));
    assert_eq!(
        s.take_changes().upstreams,
        BTreeSet::from(["web".to_string()])
    );
    put(&mut s, "/services/other/y", "10.0.0.3:80", 9);
    assert!(
        s.take_changes().is_empty(),
        "an unreferenced directory is ignored"
    );
    del(&mut s, "/services/web/b", 10);
    assert!(!s.model().upstreams["web"].endpoints.contains_key("b"));

    // A bad registration is rejected by key; the last good address keeps serving.
    put(&mut s, "/services/web/a", "10.0.0.1", 11);
    let r = rejection(&s, "/services/web/a").unwrap();
    assert_eq!(r.revision, 11);
    assert_eq!(s.model().upstreams["web"].endpoints["a"], ep("10.0.0.1:80"));
    put(&mut s, "/services/web/bad name", "10.0.0.1:80", 12);
    assert!(rejection(&s, "/services/web/bad name").is_some());

    // The upstream's own endpoint of the same id wins; deleting it uncovers the discovered one.
    put(&mut s, "upstreams/web/endpoints/a", "http://10.9.9.9:1", 13);
    assert_eq!(s.model().upstreams["web"].endpoints["a"], ep("10.9.9.9:1"));
    assert_eq!(s.model(), fresh(&s).model());
    del(&mut s, "upstreams/web/endpoints/a", 14);
    assert_eq!(s.model().upstreams["web"].endpoints["a"], ep("10.0.0.1:80"));

    // Dropping the pointer drops the endpoints, the directory's keys and their rejections.
    del(&mut s, "upstreams/web/discovery", 15);
    assert!(!s.model().upstreams.contains_key("web"));
    assert!(s.discovery_dirs().is_empty());
    assert!(s.kvs().iter().all(|kv| !kv.0.starts_with("/services")));
    assert!(s.rejections().is_empty());
    assert!(!s.needs_reread());
    assert_eq!(s.model(), fresh(&s).model());
}

#[test]
fn a_pointer_moves_between_held_directories_without_a_reread() {
    let mut s = Store::new(P);
    let etcd = [
        ("upstreams/u1/discovery", "/sd/a"),
        ("upstreams/u2/discovery", "/sd/b"),
        ("/sd/a/x", "10.0.0.1:1"),
        ("/sd/b/y", "10.0.0.2:2"),
        ("/sd/b/x", "10.0.0.3:3"),
    ];
    full_read(&mut s, &etcd, 5);
    assert_eq!(s.model().upstreams["u1"].endpoints.len(), 1);
    put(&mut s, "upstreams/u1/discovery", "/sd/b", 6);
    assert!(!s.needs_reread());
    let u1 = &s.model().upstreams["u1"];
    assert_eq!(u1.endpoints["x"], ep("10.0.0.3:3"));
    assert_eq!(u1.endpoints["y"], ep("10.0.0.2:2"));
    assert_eq!(s.discovery_dirs(), BTreeSet::from(["/sd/b".to_string()]));
    assert!(s.kvs().iter().all(|kv| !kv.0.starts_with("/sd/a/")));
    assert_eq!(s.model(), fresh(&s).model());
    // And back: /sd/a was dropped, so it must be read again.
    put(&mut s, "upstreams/u1/discovery", "/sd/a", 7);
    assert!(s.needs_reread());
    assert!(s.model().upstreams["u1"].endpoints.is_empty());
}

#[test]
fn last_good_values_survive_a_reset_and_dirs_to_read_follows_them() {
    let mut s = seed();
    put(&mut s, "upstreams/web/discovery", "/services/web", 6);
    put(&mut s, "hosts/example.com/locations/home/path", "/(", 7);
    put(&mut s, "upstreams/web/discovery", "nodir", 8);
    let etcd = [
        ("upstreams/example-v1/endpoints/1", "http://127.0.0.1:8086"),
        ("hosts/example.com/locations/home/path", "/("),
        ("hosts/example.com/locations/home/upstream", "example-v1"),
        ("upstreams/web/discovery", "nodir"),
        ("/services/web/a", "10.0.0.1:80"),
    ];
    full_read(&mut s, &etcd, 20);
    assert_eq!(s.model().hosts["example.com"].locations["home"].path, "/.*");
    assert_eq!(s.model().upstreams["web"].endpoints["a"], ep("10.0.0.1:80"));
    let keys: Vec<String> = s.rejections().into_iter().map(|r| r.key).collect();
    assert_eq!(
        keys,
        vec![
            full("hosts/example.com/locations/home/path"),
            full("upstreams/web/discovery")
        ]
    );
    assert!(s.rejections().iter().all(|r| r.revision == 20));
    assert!(s.take_changes().all);
    // The cache's view rebuilds the same model on a store that never saw the good values.
    let mut cold = Store::new(P);
    cold.reset(s.serving_kvs(), s.revision());
    assert_eq!(cold.model(), s.model());
    assert!(cold.rejections().is_empty());
    // A re-read without the key: it is gone, last good value and all.
    full_read(&mut s, &etcd[2..3], 21);
    assert!(s.model().hosts.is_empty());
    assert!(s.rejections().is_empty());
}

#[test]
fn host_spellings_resolve_to_the_greatest_key() {
    let mut s = Store::new(P);
    put(&mut s, "hosts/example.com/locations/l/path", "/lower", 1);
    put(&mut s, "hosts/Example.COM/locations/l/path", "/upper", 2);
    put(&mut s, "hosts/Example.COM/locations/l/upstream", "u", 3);
    // `/vulcand/hosts/e...` sorts after `/vulcand/hosts/E...`: the lowercase key wins.
    assert_eq!(s.model().hosts["example.com"].locations["l"].path, "/lower");
    assert_eq!(s.model(), fresh(&s).model());
    del(&mut s, "hosts/example.com/locations/l/path", 4);
    assert_eq!(s.model().hosts["example.com"].locations["l"].path, "/upper");
    put(&mut s, "hosts/example.com.:80/locations/l/path", "/port", 5);
    assert_eq!(s.model().hosts["example.com"].locations["l"].path, "/port");
    assert_eq!(s.model(), fresh(&s).model());
    del(&mut s, "hosts/Example.COM/locations/l/upstream", 6);
    assert!(s.model().hosts.is_empty());
}

#[test]
fn keys_vane_does_not_read_are_ignored() {
    let mut s = Store::new(P);
    for k in [
        "/other/x",
        "/vulcandx/upstreams/u/options",
        "hosts/a.com/locations/l/bogus",
        "hosts/a.com/path",
        "upstreams/u/endpoints/1/extra",
    ] {
        put(&mut s, k, "http://127.0.0.1:1", 3);
    }
    assert!(s.kvs().is_empty());
    assert!(s.take_changes().is_empty());
    assert_eq!(s.revision(), 3, "ignored events still advance the revision");
}

#[test]
fn revisions_only_move_forward_except_by_reset() {
    let mut s = seed();
    s.set_revision(50);
    assert_eq!(s.revision(), 50);
    s.set_revision(40);
    assert_eq!(s.revision(), 50);
    put(&mut s, "upstreams/u/endpoints/1", "http://127.0.0.1:1", 51);
    assert_eq!(s.revision(), 51);
    s.reset(Vec::new(), 30);
    assert_eq!(s.revision(), 30);
    assert!(s.model().hosts.is_empty());
}

/// 100k locations: a full reset, then single events. `cargo test --release --lib store_timing
/// -- --ignored --nocapture` prints the timings.
#[test]
#[ignore]
fn store_timing_at_100k_locations() {
    use std::time::Instant;
    let n = 100_000;
    let mut kvs: Vec<Kv> = Vec::new();
    for i in 0..n {
        let h = format!("{P}/hosts/h{}.example.com/locations/l{i}", i % 1000);
        kvs.push((format!("{h}/path"), format!("/api/{i}/.*").into_bytes(), 1));
        kvs.push((
            format!("{h}/upstream"),
            format!("u{}", i % 500).into_bytes(),
            1,
        ));
    }
    for u in 0..500 {
        for e in 0..4 {
            let k = format!("{P}/upstreams/u{u}/endpoints/{e}");
            kvs.push((k, format!("http://10.0.{}.{e}:80", u % 250).into_bytes(), 1));
        }
    }
    kvs.sort(); // as etcd returns them
    let mut s = Store::new(P);
    let t = Instant::now();
    s.reset(kvs.clone(), 1);
    let first = t.elapsed();
    let t = Instant::now();
    s.reset(kvs, 2);
    let again = t.elapsed();
    let events = 10_000;
    let t = Instant::now();
    for i in 0..events {
        let k = format!("hosts/h{}.example.com/locations/l{i}/upstream", i % 1000);
        put(&mut s, &k, "u-new", 3 + i as i64);
        put(
            &mut s,
            "upstreams/u7/endpoints/9",
            &format!("http://10.1.0.{}:80", i % 200),
            3,
        );
        let c = s.take_changes();
        assert_eq!(c.hosts.len(), 1);
    }
    let per_event = t.elapsed() / (2 * events as u32);
    println!("100k locations: reset {first:?} (re-read {again:?}), apply+take_changes {per_event:?}/event");
    assert_eq!(s.model().hosts.len(), 1000);
}
