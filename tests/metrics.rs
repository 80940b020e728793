//! Metrics from the real `vane`: after a known load, the scraped Prometheus text (merged over
//! both workers) counts exactly what was sent, per location, status class and endpoint.

mod common;

use std::collections::HashMap;
use std::io::Write;

use common::admin::Admin;
use common::*;

/// `name{labels}` → value, for every sample line.
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line has a value");
            let v = value.parse().unwrap_or_else(|_| panic!("bad value in {l}"));
            (series.to_string(), v)
        })
        .collect()
}

fn value(m: &HashMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("no series {series}; have:\n{:#?}", m.keys()))
}

#[test]
fn counts_match_the_load_sent() {
    let up = Upstream::ok("hello");
    let failing = Upstream::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
        true
    });
    let routes = format!(
        "[upstreams.up.endpoints]\n1 = \"http://{}\"\n\
         [upstreams.bad.endpoints]\n1 = \"http://{}\"\n\
         [upstreams.bad.options]\noutlier = {{ consecutive = 0 }}\n\n\
         [hosts.\"example.com\".locations.home]\npath = \"/app/.*\"\nupstream = \"up\"\n\
         [hosts.\"example.com\".locations.broken]\npath = \"/broken\"\nupstream = \"bad\"\n",
        up.addr, failing.addr
    );
    let admin = Admin::file(&routes);
    let addr = admin.vane.addr;
    for i in 0..50 {
        assert_eq!(get(addr, "example.com", &format!("/app/{i}")).status, 200);
    }
    for _ in 0..7 {
        assert_eq!(get(addr, "nowhere.example", "/").status, 404);
    }
    for _ in 0..3 {
        assert_eq!(get(addr, "example.com", "/broken").status, 500);
    }

    let (status, text) = admin.text("/metrics");
    assert_eq!(status, 200);
    let m = parse(&text);
    let home = "host=\"example.com\",location=\"home\"";
    let broken = "host=\"example.com\",location=\"broken\"";
    assert_eq!(
        value(&m, &format!("vane_requests_total{{{home},code=\"2xx\"}}")),
        50.0
    );
    assert_eq!(
        value(&m, &format!("vane_requests_total{{{home},code=\"5xx\"}}")),
        0.0
    );
    assert_eq!(
        value(&m, &format!("vane_requests_total{{{broken},code=\"5xx\"}}")),
        3.0
    );
    assert_eq!(value(&m, "vane_unrouted_requests_total{code=\"4xx\"}"), 7.0);

    // The latency histogram: cumulative buckets ending at the count.
    let count = value(
        &m,
        &format!("vane_request_duration_seconds_count{{{home}}}"),
    );
    assert_eq!(count, 50.0);
    assert_eq!(
        value(
            &m,
            &format!("vane_request_duration_seconds_bucket{{{home},le=\"+Inf\"}}")
        ),
        50.0
    );
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter(|(k, _)| {
            k.starts_with(&format!("vane_request_duration_seconds_bucket{{{home},le="))
        })
        .filter(|(k, _)| !k.contains("+Inf"))
        .map(|(k, v)| {
            let le = k.rsplit("le=\"").next().unwrap().trim_end_matches("\"}");
            (le.parse::<f64>().unwrap(), *v)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert!(buckets.len() >= 10);
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative: {buckets:?}"
    );
    assert!(value(&m, &format!("vane_request_duration_seconds_sum{{{home}}}")) > 0.0);

    let ep = format!("upstream=\"up\",endpoint=\"{}\"", up.addr);
    assert_eq!(
        value(&m, &format!("vane_endpoint_requests_total{{{ep}}}")),
        50.0
    );
    assert_eq!(
        value(&m, &format!("vane_endpoint_failures_total{{{ep}}}")),
        0.0
    );
    let reused = value(
        &m,
        &format!("vane_endpoint_connections_total{{{ep},reused=\"true\"}}"),
    );
    let fresh = value(
        &m,
        &format!("vane_endpoint_connections_total{{{ep},reused=\"false\"}}"),
    );
    assert_eq!(reused + fresh, 50.0);
    assert!(reused > 0.0, "the pool is reused");
    let bad_ep = format!("upstream=\"bad\",endpoint=\"{}\"", failing.addr);
    assert_eq!(
        value(&m, &format!("vane_endpoint_failures_total{{{bad_ep}}}")),
        3.0
    );
    assert_eq!(up.requests().len(), 50, "what the upstream saw agrees");
    assert!(value(&m, "vane_bytes_received_total") > 0.0);
    assert!(value(&m, "vane_bytes_sent_total") > 0.0);
    for w in 0..2 {
        assert!(m.contains_key(&format!("vane_connections_active{{worker=\"{w}\"}}")));
    }

    // More load: counters only grow, by exactly what was sent.
    for i in 0..10 {
        assert_eq!(get(addr, "example.com", &format!("/app/{i}")).status, 200);
    }
    let m = parse(&admin.text("/metrics").1);
    assert_eq!(
        value(&m, &format!("vane_requests_total{{{home},code=\"2xx\"}}")),
        60.0
    );
}
