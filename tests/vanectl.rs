//! `vanectl` as a script runs it, against a real `vane` (real etcd, or routes from a file):
//! writes reach the routing, `--json` parses, tables print, exit codes mean what they say.

mod common;

use std::time::Duration;

use common::admin::{vanectl, Admin};
use common::etcd::*;
use common::*;

const TOKEN: &str = "vanectl-token-0123456789abcdef";

#[test]
fn a_deploy_from_the_command_line() {
    let etcd = Etcd::start();
    let state = TempDir::new("state");
    let (v1, v2) = (Upstream::ok("v1"), Upstream::ok("v2"));
    let api = Admin::etcd(&etcd.endpoint(), &state.0, "");
    let vane = &api.vane;
    let url = |u: &Upstream| format!("http://{}", u.addr);

    api.vanectl(&["upstream", "add", "v1"]).exits(0);
    api.vanectl(&["upstream", "add", "v2", "--options", r#"{"retries": 0}"#])
        .exits(0);
    api.vanectl(&[
        "endpoint",
        "add",
        "--upstream",
        "v1",
        "--id",
        "1",
        "--url",
        &url(&v1),
    ])
    .exits(0);
    let out = api
        .vanectl(&[
            "endpoint",
            "add",
            "--upstream",
            "v2",
            "--id",
            "1",
            "--url",
            &url(&v2),
            "--weight",
            "2",
        ])
        .exits(0);
    assert!(out.stdout.contains("endpoint v2/1 set"), "{out:#?}");
    api.vanectl(&[
        "location",
        "set",
        "--host",
        "example.com",
        "--location",
        "home",
        "--path",
        "/.*",
        "--upstream",
        "v1",
    ])
    .exits(0);
    // The write waited for the workers: the very next request is routed.
    assert_eq!(body_or_status(vane, "example.com", "/"), "v1");

    let ls = api.vanectl(&["--json", "location", "ls"]).exits(0).json();
    assert_eq!(ls[0]["host"], "example.com", "{ls:#}");
    assert_eq!(ls[0]["locations"][0]["upstream"], "v1", "{ls:#}");
    let table = api
        .vanectl(&["location", "ls", "--host", "example.com"])
        .exits(0);
    assert!(table.stdout.starts_with("HOST"), "{table:#?}");
    assert!(table.stdout.contains("example.com  home"), "{table:#?}");
    let ups = api.vanectl(&["--json", "upstream", "ls"]).exits(0).json();
    assert_eq!(
        ups["upstreams"].as_array().map(Vec::len),
        Some(2),
        "{ups:#}"
    );
    let eps = api
        .vanectl(&["--json", "endpoint", "ls", "--upstream", "v2"])
        .exits(0)
        .json();
    assert_eq!(eps["endpoints"][0]["weight"], 2, "{eps:#}");
    assert!(api
        .vanectl(&["endpoint", "ls", "--upstream", "v2"])
        .exits(0)
        .stdout
        .contains("0/2 workers"));
    let hosts = api.vanectl(&["host", "ls"]).exits(0);
    assert!(hosts.stdout.contains("example.com"), "{hosts:#?}");

    let route = api
        .vanectl(&[
            "--json",
            "route",
            "test",
            "--host",
            "EXAMPLE.com",
            "--path",
            "/a/b",
        ])
        .exits(0)
        .json();
    assert_eq!(
        (&route["host_key"], &route["route"]["upstream"]),
        (&"example.com".into(), &"v1".into()),
        "{route:#}"
    );
    let route = api
        .vanectl(&["route", "test", "--host", "example.com", "--path", "/"])
        .exits(0);
    assert!(
        route.stdout.contains("=>") && route.stdout.contains("upstream v1"),
        "{route:#?}"
    );

    let sw = api
        .vanectl(&[
            "deploy",
            "switch",
            "--host",
            "example.com",
            "--location",
            "home",
            "--to",
            "v2",
        ])
        .exits(0);
    assert!(sw.stdout.contains("now routes to v2"), "{sw:#?}");
    assert!((0..5).all(|_| body_or_status(vane, "example.com", "/") == "v2"));
    api.vanectl(&[
        "deploy",
        "rollback",
        "--host",
        "example.com",
        "--location",
        "home",
    ])
    .exits(0);
    assert!((0..5).all(|_| body_or_status(vane, "example.com", "/") == "v1"));
    // Nothing left to roll back: the API says 404, vanectl exits 1 and says why.
    let again = api
        .vanectl(&[
            "deploy",
            "rollback",
            "--host",
            "example.com",
            "--location",
            "home",
        ])
        .exits(1);
    assert!(again.stderr.contains("no deploy recorded"), "{again:#?}");

    // Bad input is exit 1 with the key named; a missing endpoint is exit 1 too.
    let bad = api
        .vanectl(&[
            "location",
            "set",
            "--host",
            "example.com",
            "--location",
            "x",
            "--path",
            "/(",
            "--upstream",
            "v1",
        ])
        .exits(1);
    assert!(
        bad.stderr
            .contains("/vulcand/hosts/example.com/locations/x/path"),
        "{bad:#?}"
    );
    api.vanectl(&["endpoint", "rm", "--upstream", "v1", "--id", "nope"])
        .exits(1);
    api.vanectl(&["upstream", "rm", "v1"]).exits(1);

    let status = api.vanectl(&["status"]).exits(0);
    assert!(
        status.stdout.contains("routes: etcd") && status.stdout.contains("WORKER"),
        "{status:#?}"
    );
    let status = api.vanectl(&["--json", "status"]).exits(0).json();
    assert_eq!(status["source"]["connected"], true, "{status:#}");

    // Removing, as a script would clean up.
    api.vanectl(&[
        "location",
        "rm",
        "--host",
        "example.com",
        "--location",
        "home",
    ])
    .exits(0);
    assert_eq!(get(vane.addr, "example.com", "/").status, 404);
    api.vanectl(&["endpoint", "rm", "--upstream", "v2", "--id", "1"])
        .exits(0);
    api.vanectl(&["upstream", "rm", "v2"]).exits(0);
}

#[test]
fn top_prints_a_table_of_live_traffic() {
    let up = Upstream::ok("up");
    let api = Admin::file(&catch_all(up.addr));
    let load = Load::start(api.vane.addr, "any.test", 1);
    let top = api
        .vanectl(&["top", "--count", "1", "--interval", "200ms"])
        .exits(0);
    let json = api
        .vanectl(&["--json", "top", "--count", "2", "--interval", "200ms"])
        .exits(0);
    load.finish();
    assert!(
        top.stdout.contains("HOST") && top.stdout.contains("REQ/S"),
        "{top:#?}"
    );
    assert!(
        top.stdout.contains("UPSTREAM") && top.stdout.contains("P99"),
        "{top:#?}"
    );
    assert!(
        top.stdout.contains("  all  "),
        "the catch-all location has traffic: {top:#?}"
    );
    let lines: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per refresh"))
        .collect();
    assert_eq!(lines.len(), 2, "{json:#?}");
    assert!(
        lines
            .iter()
            .any(|v| v["locations"][0]["rate"].as_f64() > Some(0.0)),
        "{json:#?}"
    );
}

#[test]
fn exit_codes_for_scripts() {
    let up = Upstream::ok("up");
    let api = Admin::spawn(&catch_all(up.addr), &[], Some(TOKEN), true);
    let admin = api.url();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Token from the flag (Admin::vanectl) or from the environment; none: 401, exit 1.
    let s = api.vanectl(&["--json", "status"]).exits(0).json();
    assert_eq!(s["source"]["kind"], "file", "{s:#}");
    vanectl(
        &args(&["--admin", &admin, "status"]),
        &[("VANE_ADMIN_TOKEN", TOKEN)],
    )
    .exits(0);
    vanectl(
        &args(&["status"]),
        &[("VANE_ADMIN", &admin), ("VANE_ADMIN_TOKEN", TOKEN)],
    )
    .exits(0);
    let denied = vanectl(&args(&["--admin", &admin, "status"]), &[]).exits(1);
    assert!(denied.stderr.contains("401"), "{denied:#?}");

    // Routes from a file: writes are refused (409), exit 1, saying why.
    let refused = api.vanectl(&["upstream", "add", "x"]).exits(1);
    assert!(refused.stderr.contains("config file"), "{refused:#?}");
    // Usage errors are 2, an unreachable API 3, --help 0 on every level.
    vanectl(
        &args(&["--admin", &admin, "location", "set", "--host", "h"]),
        &[],
    )
    .exits(2);
    vanectl(&args(&["--admin", &admin, "nonsense"]), &[]).exits(2);
    api.vanectl(&[
        "location",
        "set",
        "--host",
        "h",
        "--location",
        "l",
        "--path",
        "/",
        "--upstream",
        "u",
        "--options",
        "{",
    ])
    .exits(2);
    let port = free_port();
    let gone = vanectl(
        &args(&["--admin", &format!("http://127.0.0.1:{port}"), "status"]),
        &[],
    )
    .exits(3);
    assert!(gone.stderr.contains("cannot reach"), "{gone:#?}");
    for help in [
        &["--help"][..],
        &["location", "--help"],
        &["location", "set", "--help"],
        &["deploy", "switch", "--help"],
        &["top", "--help"],
    ] {
        let h = vanectl(&args(help), &[]).exits(0);
        assert!(h.stdout.contains("Usage"), "{help:?}: {h:#?}");
    }
    // The node kept serving through all of it.
    assert!(eventually(Duration::from_secs(5), || body_or_status(
        &api.vane, "x", "/"
    ) == "up"));
}
