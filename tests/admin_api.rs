//! The admin API against a real `vane`: with a real etcd (writes go to etcd and reach the
//! routing through the node's own watch) and with routes from a file (writes are 409).

mod common;

use std::time::Duration;

use common::admin::{call, Admin};
use common::etcd::*;
use common::*;
use serde_json::Value;

const TOKEN: &str = "test-token-0123456789abcdef";

fn put(a: &Admin, path: &str, body: &str) -> (u16, Value) {
    a.call("PUT", path, Some(body))
}

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no `{list}` in {v:#}"))
        .iter()
        .map(|x| x[field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn etcd_writes_reach_the_routing_and_reads_show_them() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (a, b) = (Upstream::ok("a"), Upstream::ok("b"));
    let api = Admin::etcd(&etcd.endpoint(), &state.0, "");
    let vane = &api.vane;

    // An upstream without endpoints, then a location on it: 503 until an endpoint exists.
    let (st, v) = put(
        &api,
        "/v1/upstreams/web?wait=10s",
        r#"{"options":{"lb":"round_robin"}}"#,
    );
    assert_eq!((st, &v["served"]), (201, &Value::Bool(true)), "{v:#}");
    assert_eq!(
        etcd.etcdctl(&[
            "get",
            "--print-value-only",
            "/vulcand/upstreams/web/options"
        ])
        .stdout,
        b"{\"lb\":\"round_robin\"}\n"
    );
    let (st, v) = put(
        &api,
        "/v1/hosts/Example.COM/locations/home?wait=10s",
        r#"{"path": "/.*", "upstream": "web"}"#,
    );
    assert_eq!((st, &v["served"]), (201, &Value::Bool(true)), "{v:#}");
    assert_eq!(get(vane.addr, "example.com", "/").status, 503);
    let (st, v) = put(
        &api,
        "/v1/upstreams/web/endpoints/a?wait=10s",
        &format!(r#"{{"url": "http://{}"}}"#, a.addr),
    );
    assert_eq!((st, &v["served"]), (201, &Value::Bool(true)), "{v:#}");
    assert_eq!(body_or_status(vane, "example.com", "/"), "a");
    let rev = v["revision"].as_i64().unwrap();
    assert_eq!(
        String::from_utf8_lossy(
            &etcd
                .etcdctl(&[
                    "get",
                    "--print-value-only",
                    "/vulcand/upstreams/web/endpoints/a"
                ])
                .stdout
        )
        .trim(),
        format!("http://{}", a.addr)
    );

    // Reads.
    let s = api.ok("/v1/status");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["uptime_s"].as_f64().unwrap() > 0.0, "{s:#}");
    assert_eq!(s["source"]["kind"], "etcd", "{s:#}");
    assert_eq!(s["source"]["connected"], true, "{s:#}");
    assert_eq!(s["source"]["serving"], "etcd", "{s:#}");
    assert_eq!(s["source"]["from_cache"], false, "{s:#}");
    assert_eq!(s["source"]["prefix"], "/vulcand", "{s:#}");
    assert!(s["source"]["revision"].as_i64() >= Some(rev), "{s:#}");
    assert!(s["source"]["last_event_age_s"].as_f64().is_some(), "{s:#}");
    let workers = s["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{s:#}");
    for w in workers {
        assert!(w["revision"].as_i64() >= Some(rev), "{s:#}");
        assert!(
            w["driver"].is_string() && w["connections"].is_u64(),
            "{s:#}"
        );
    }
    assert_eq!(s["rejections"], serde_json::json!([]));
    assert_eq!(
        names(&api.ok("/v1/hosts"), "hosts", "name"),
        ["example.com"]
    );
    let locs = api.ok("/v1/hosts/example.com/locations");
    assert_eq!(locs["locations"][0]["path"], "/.*");
    assert_eq!(locs["locations"][0]["upstream"], "web");
    let ups = api.ok("/v1/upstreams");
    assert_eq!(names(&ups, "upstreams", "name"), ["web"]);
    assert_eq!(ups["upstreams"][0]["options"]["lb"], "round_robin");
    let one = api.ok("/v1/upstreams/web");
    assert_eq!(one["locations"][0]["host"], "example.com", "{one:#}");
    assert_eq!(one["endpoints"][0]["id"], "a", "{one:#}");
    let home = api.ok("/v1/hosts/example.com/locations/home");
    assert_eq!(
        (&home["upstream"], &home["rank"]),
        (&"web".into(), &0.into()),
        "{home:#}"
    );
    let eps = api.ok("/v1/upstreams/web/endpoints");
    assert_eq!(eps["endpoints"][0]["url"], format!("http://{}", a.addr));
    assert_eq!(eps["endpoints"][0]["health"]["state"], "up", "{eps:#}");
    assert_eq!(eps["endpoints"][0]["health"]["workers"], 2, "{eps:#}");

    // A second endpoint with a weight, then the first one removed: traffic follows.
    let (st, _) = put(
        &api,
        "/v1/upstreams/web/endpoints/b?wait=10s",
        &format!(r#"{{"url": "http://{}", "weight": 3}}"#, b.addr),
    );
    assert_eq!(st, 201);
    assert_eq!(
        api.ok("/v1/upstreams/web/endpoints")["endpoints"][1]["weight"],
        3
    );
    let (st, v) = api.call("DELETE", "/v1/upstreams/web/endpoints/a?wait=10s", None);
    assert_eq!((st, &v["served"]), (200, &Value::Bool(true)), "{v:#}");
    assert!((0..6).all(|_| body_or_status(vane, "example.com", "/") == "b"));
    assert_eq!(
        api.call("DELETE", "/v1/upstreams/web/endpoints/a", None).0,
        404
    );

    // Replacing a location (200, not 201); an upstream in use cannot be deleted.
    let (st, _) = put(
        &api,
        "/v1/hosts/example.com/locations/home?wait=10s",
        r#"{"path": "/only", "upstream": "web", "options": {"retries": 0}}"#,
    );
    assert_eq!(st, 200);
    assert_eq!(get(vane.addr, "example.com", "/").status, 404);
    assert_eq!(body_or_status(vane, "example.com", "/only"), "b");
    let (st, v) = api.call("DELETE", "/v1/upstreams/web", None);
    assert_eq!(st, 409, "{v:#}");
    assert!(
        v["error"].as_str().unwrap().contains("example.com/home"),
        "{v:#}"
    );
    let (st, _) = api.call(
        "DELETE",
        "/v1/hosts/example.com/locations/home?wait=10s",
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(get(vane.addr, "example.com", "/only").status, 404);
    assert_eq!(api.get("/v1/hosts/example.com/locations").0, 404);
    let (st, v) = api.call("DELETE", "/v1/upstreams/web?wait=10s", None);
    assert_eq!(st, 200, "{v:#}");
    assert_eq!(api.get("/v1/upstreams/web").0, 404);
    assert!(etcd
        .etcdctl(&["get", "--prefix", "/vulcand/upstreams/web"])
        .stdout
        .is_empty());
}

#[test]
fn bad_input_answers_400_naming_the_key_and_writes_nothing() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let api = Admin::etcd(&etcd.endpoint(), &state.0, "");
    let cases = [
        (
            "/v1/hosts/h.test/locations/l",
            r#"{"path": "/(", "upstream": "u"}"#,
            Some("/vulcand/hosts/h.test/locations/l/path"),
        ),
        (
            "/v1/hosts/h.test/locations/l",
            r#"{"path": "/", "upstream": "no spaces"}"#,
            Some("/vulcand/hosts/h.test/locations/l/upstream"),
        ),
        (
            "/v1/hosts/h.test/locations/l",
            r#"{"path": "/", "upstream": "u", "options": {"retries": 7}}"#,
            Some("/vulcand/hosts/h.test/locations/l/options"),
        ),
        (
            "/v1/hosts/bad%20host/locations/l",
            r#"{"path": "/", "upstream": "u"}"#,
            Some("/vulcand/hosts/bad host/locations/l"),
        ),
        (
            "/v1/upstreams/u/endpoints/1",
            r#"{"url": "http://example.com:80"}"#,
            Some("/vulcand/upstreams/u/endpoints/1"),
        ),
        (
            "/v1/upstreams/u/endpoints/1",
            r#"{"url": "http://127.0.0.1:1", "weight": 0}"#,
            Some("/vulcand/upstreams/u/endpoints/1"),
        ),
        (
            "/v1/upstreams/u",
            r#"{"options": {"bogus": 1}}"#,
            Some("/vulcand/upstreams/u/options"),
        ),
        ("/v1/hosts/h.test/locations/l", r#"{"path": "/"}"#, None),
        ("/v1/hosts/h.test/locations/l", "not json", None),
        (
            "/v1/upstreams/u/endpoints/1",
            r#"{"url": "http://127.0.0.1:1", "extra": 1}"#,
            None,
        ),
    ];
    for (path, body, key) in cases {
        let (st, v) = put(&api, path, body);
        assert_eq!(st, 400, "PUT {path} {body}: {v:#}");
        assert!(v["error"].is_string(), "{v:#}");
        if let Some(k) = key {
            assert_eq!(v["key"], k, "PUT {path} {body}: {v:#}");
            assert!(v["error"].as_str().unwrap().contains(k), "{v:#}");
        }
    }
    assert!(
        etcd.etcdctl(&["get", "--prefix", "/vulcand"])
            .stdout
            .is_empty(),
        "a refused write reached etcd"
    );
    let (st, v) = api.get("/v1/route");
    assert_eq!(st, 400, "{v:#}");
    assert_eq!(api.call("POST", "/v1/status", None).0, 405);
    assert_eq!(api.get("/v1/nothing").0, 404);
    assert_eq!(api.get("/v1/hosts/nope.test/locations").0, 404);
    assert_eq!(api.get("/v1/upstreams/nope").0, 404);
    let big = format!(r#"{{"path": "/{}", "upstream": "u"}}"#, "a".repeat(70_000));
    assert_eq!(put(&api, "/v1/hosts/h.test/locations/l", &big).0, 413);
    // Still serving after all that.
    assert_eq!(api.get("/v1/status").0, 200);
}

#[test]
fn deploy_switch_and_rollback_move_traffic() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (v1, v2) = (Upstream::ok("v1"), Upstream::ok("v2"));
    etcd.put(
        "/vulcand/upstreams/v1/endpoints/1",
        &format!("http://{}", v1.addr),
    );
    etcd.put(
        "/vulcand/upstreams/v2/endpoints/1",
        &format!("http://{}", v2.addr),
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/path", "/.*");
    etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "v1");
    let api = Admin::etcd(&etcd.endpoint(), &state.0, "");
    let vane = &api.vane;
    assert!(eventually(Duration::from_secs(10), || body_or_status(
        vane,
        "example.com",
        "/"
    ) == "v1"));

    let home = "/v1/hosts/example.com/locations/home";
    let (st, v) = api.call("POST", &format!("{home}/rollback"), None);
    assert_eq!(st, 404, "no deploy yet: {v:#}");
    let (st, v) = api.call(
        "POST",
        &format!("{home}/deploy"),
        Some(r#"{"upstream": "v3"}"#),
    );
    assert_eq!(st, 409, "unknown upstream: {v:#}");
    let (st, v) = api.call(
        "POST",
        &format!("{home}/deploy?wait=10s"),
        Some(r#"{"upstream": "v2"}"#),
    );
    assert_eq!(st, 200, "{v:#}");
    assert_eq!(
        (&v["from"], &v["to"], &v["served"]),
        (&"v1".into(), &"v2".into(), &Value::Bool(true)),
        "{v:#}"
    );
    assert!((0..5).all(|_| body_or_status(vane, "example.com", "/") == "v2"));
    let record = etcd.etcdctl(&[
        "get",
        "--print-value-only",
        "/vulcand/vane/deploys/example.com/home",
    ]);
    let record: Value = serde_json::from_slice(&record.stdout).expect("deploy record");
    assert_eq!(
        (&record["from"], &record["to"]),
        (&"v1".into(), &"v2".into())
    );
    assert_eq!(
        api.call(
            "POST",
            &format!("{home}/deploy"),
            Some(r#"{"upstream": "v2"}"#)
        )
        .0,
        409
    );

    let (st, v) = api.call("POST", &format!("{home}/rollback?wait=10s"), None);
    assert_eq!(st, 200, "{v:#}");
    assert_eq!((&v["to"], &v["served"]), (&"v1".into(), &Value::Bool(true)));
    assert!((0..5).all(|_| body_or_status(vane, "example.com", "/") == "v1"));
    assert_eq!(
        api.call("POST", &format!("{home}/rollback"), None).0,
        404,
        "the record is gone"
    );

    // Someone else moved the location after a switch: no rollback over their change.
    api.call(
        "POST",
        &format!("{home}/deploy"),
        Some(r#"{"upstream": "v2"}"#),
    );
    etcd.put("/vulcand/hosts/example.com/locations/home/upstream", "v1");
    let (st, v) = api.call("POST", &format!("{home}/rollback"), None);
    assert_eq!(st, 409, "{v:#}");
}

#[test]
fn status_shows_rejected_keys_and_metrics_show_the_node() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let up = Upstream::ok("up");
    etcd.put(
        "/vulcand/upstreams/u/endpoints/1",
        &format!("http://{}", up.addr),
    );
    etcd.put("/vulcand/hosts/*/locations/all/path", "/.*");
    etcd.put("/vulcand/hosts/*/locations/all/upstream", "u");
    let bad = etcd.put("/vulcand/upstreams/u/endpoints/2", "not a url");
    let api = Admin::etcd(&etcd.endpoint(), &state.0, "");
    let ok = eventually(Duration::from_secs(10), || {
        api.ok("/v1/status")["rejections"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    });
    assert!(ok, "{:#}", api.ok("/v1/status"));
    let r = &api.ok("/v1/status")["rejections"][0];
    assert_eq!(r["key"], "/vulcand/upstreams/u/endpoints/2");
    assert_eq!(r["revision"], bad);
    assert!(
        r["error"].as_str().unwrap().contains("not an endpoint URL"),
        "{r:#}"
    );

    for _ in 0..5 {
        assert_eq!(body_or_status(&api.vane, "any.test", "/x"), "up");
    }
    let (st, m) = api.text("/metrics");
    assert_eq!(st, 200);
    for line in [
        "vane_build_info{version=",
        "vane_config_ready 1",
        "vane_etcd_connected 1",
        "vane_etcd_rejected_keys 1",
        "vane_requests_total{host=\"*\",location=\"all\",code=\"2xx\"} 5",
        "vane_worker_config_generation{worker=\"1\"}",
    ] {
        assert!(m.contains(line), "no `{line}` in:\n{m}");
    }
}

#[test]
fn file_mode_reads_work_writes_are_409_and_route_tests_explain() {
    let up = Upstream::ok("up");
    let routes = format!(
        "[upstreams.u.endpoints]\n1 = \"http://{}\"\n\
         [hosts.\"example.com\".locations.home]\npath = \"/.*\"\nupstream = \"u\"\n\
         [hosts.\"example.com\".locations.api]\npath = \"/api/v[0-9]+/.*\"\nupstream = \"u\"\n\
         [hosts.\"*\".locations.all]\npath = \"/.*\"\nupstream = \"u\"\n",
        up.addr
    );
    let api = Admin::file(&routes);
    let s = api.ok("/v1/status");
    assert_eq!(s["source"]["kind"], "file", "{s:#}");
    assert_eq!(s["source"]["valid"], true, "{s:#}");
    assert_eq!(s["config"]["routes"]["locations"], 3, "{s:#}");
    for (method, path, body) in [
        (
            "PUT",
            "/v1/hosts/example.com/locations/x",
            r#"{"path": "/", "upstream": "u"}"#,
        ),
        ("DELETE", "/v1/hosts/example.com/locations/home", ""),
        ("PUT", "/v1/upstreams/u2", "{}"),
        (
            "PUT",
            "/v1/upstreams/u/endpoints/2",
            r#"{"url": "http://127.0.0.1:1"}"#,
        ),
        (
            "POST",
            "/v1/hosts/example.com/locations/home/deploy",
            r#"{"upstream": "u"}"#,
        ),
    ] {
        let (st, v) = api.call(method, path, Some(body));
        assert_eq!(st, 409, "{method} {path}: {v:#}");
        assert!(
            v["error"].as_str().unwrap().contains("config file"),
            "{v:#}"
        );
    }

    let r = api.ok("/v1/route?host=EXAMPLE.com.:8080&path=/api/v2/items%3Fq%3D1");
    assert_eq!(r["host_key"], "example.com", "{r:#}");
    assert_eq!(
        (&r["host"], &r["catch_all"]),
        (&"example.com".into(), &Value::Bool(false))
    );
    assert_eq!(
        r["request"]["path"], "/api/v2/items",
        "the query is not routed on: {r:#}"
    );
    let order: Vec<_> = names(&r, "candidates", "location");
    assert_eq!(order, ["api", "home"], "{r:#}");
    assert_eq!(r["candidates"][0]["match"], "regex");
    assert_eq!(r["candidates"][0]["literal_prefix"], "/api/v");
    assert_eq!(r["candidates"][0]["chosen"], true);
    assert_eq!(
        (
            &r["candidates"][1]["matches"],
            &r["candidates"][1]["chosen"]
        ),
        (&Value::Bool(true), &Value::Bool(false))
    );
    assert_eq!(r["route"]["location"], "api");
    assert_eq!(r["route"]["upstream"], "u");
    let c = api.ok("/v1/route?host=other.test&path=/");
    assert_eq!(
        (&c["host"], &c["catch_all"], &c["route"]["location"]),
        (&"*".into(), &Value::Bool(true), &"all".into())
    );

    // Traffic shows up in /v1/stats (a one-second window) and in /metrics.
    let load = Load::start(api.vane.addr, "example.com", 1);
    let seen = eventually(Duration::from_secs(10), || {
        let (st, v) = api.get("/v1/stats");
        st == 200
            && v["locations"].as_array().into_iter().flatten().any(|l| {
                l["location"] == "home"
                    && l["rate"].as_f64() > Some(0.0)
                    && l["p99_ms"].as_f64() > Some(0.0)
            })
    });
    let answers = load.finish();
    assert!(seen, "{:#}", api.get("/v1/stats").1);
    assert!(!answers.is_empty());
    let (_, m) = api.text("/metrics");
    assert!(
        m.contains("vane_requests_total{host=\"example.com\",location=\"home\",code=\"2xx\"}"),
        "{m}"
    );
    assert!(
        !m.contains("vane_etcd_connected"),
        "no etcd gauges in file mode"
    );

    // A broken edit of the file: status says so, the last good routes keep serving.
    api.vane.rewrite(&format!("{routes}\nbogus = 1\n"));
    let s = api.ok("/v1/status");
    assert_eq!(s["source"]["valid"], false, "{s:#}");
    let err = s["source"]["errors"][0].as_str().unwrap_or_default();
    assert!(err.contains("bogus"), "{s:#}");
    assert_eq!(body_or_status(&api.vane, "example.com", "/"), "up");
}

#[test]
fn a_public_admin_listener_needs_a_token_and_the_token_is_checked() {
    let dir = TempDir::new("admin-token");
    let config = dir.0.join("vane.toml");
    let text = Vane::config_text(loopback(free_port()), loopback(free_port()), "");
    std::fs::write(&config, &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vane"))
        .arg("--config")
        .arg(&config)
        .args(["--admin", &format!("0.0.0.0:{}", free_port())])
        .env_remove("VANE_ADMIN_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not a loopback address") && err.contains("token"),
        "{err}"
    );

    let api = Admin::spawn("", &[], Some(TOKEN), true);
    assert_eq!(api.get("/v1/status").0, 200);
    for token in [None, Some("wrong-token-0123456789abcdef"), Some("")] {
        let (st, v) = call(api.addr, "GET", "/v1/status", None, token);
        assert_eq!(st, 401, "{token:?}: {v:#}");
        assert!(v["error"].is_string());
    }
    assert_eq!(call(api.addr, "GET", "/metrics", None, None).0, 401);
}
