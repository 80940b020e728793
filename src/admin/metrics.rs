//! `GET /metrics`: the workers' series (`metrics::collect`, merged before any percentile) plus
//! the node's own gauges: build, uptime, the config being served, the etcd source's state and
//! the active health checker's verdicts. Prometheus text format 0.0.4.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::http::Response;
use super::{unix_ms, RouteSourceInfo, Shared};
use crate::metrics::names::*;
use crate::metrics::{collect, prometheus_label as label, Merged};

/// A worker that does not answer a scrape within this is left out of it.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(500);

/// Every worker's metrics, merged; the wait for the workers runs off the admin runtime.
pub(super) async fn scrape(s: &Shared) -> Merged {
    let links = s.ctx.links.clone();
    tokio::task::spawn_blocking(move || collect(&links, SCRAPE_TIMEOUT))
        .await
        .unwrap_or_default()
}

pub(super) async fn get(s: &Shared) -> Response {
    let merged = scrape(s).await;
    let mut out = String::with_capacity(16 * 1024);
    merged.prometheus(&mut out);
    node(s, &mut out);
    Response {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: out.into_bytes(),
        headers: Vec::new(),
    }
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn counter(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

fn node(s: &Shared, out: &mut String) {
    gauge(out, BUILD_INFO, "Always 1; the version is a label.");
    let _ = writeln!(
        out,
        "{BUILD_INFO}{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    gauge(out, UPTIME, "Seconds since the admin API started.");
    let _ = writeln!(out, "{UPTIME} {}", s.started.elapsed().as_secs_f64());
    let snap = s.snapshot();
    let (ready, generation, revision) = snap
        .as_ref()
        .map_or((false, 0, 0), |s| (s.ready, s.generation, s.revision));
    gauge(out, CONFIG_READY, "1 once a real config is being served.");
    let _ = writeln!(out, "{CONFIG_READY} {}", u8::from(ready));
    gauge(
        out,
        CONFIG_GENERATION,
        "Generation of the snapshot last sent to the workers.",
    );
    let _ = writeln!(out, "{CONFIG_GENERATION} {generation}");
    gauge(
        out,
        CONFIG_REVISION,
        "Source revision (etcd) of that snapshot; 0 for a file.",
    );
    let _ = writeln!(out, "{CONFIG_REVISION} {revision}");
    gauge(
        out,
        WORKER_GENERATION,
        "Generation each worker acknowledged.",
    );
    for (i, l) in s.ctx.links.iter().enumerate() {
        let g = l.status.generation.load(Ordering::Acquire);
        let _ = writeln!(out, "{WORKER_GENERATION}{{worker=\"{i}\"}} {g}");
    }
    etcd(s, out);
    checks(s, out);
}

fn etcd(s: &Shared, out: &mut String) {
    let RouteSourceInfo::Etcd { status, .. } = &s.ctx.source else {
        return;
    };
    let doc = status.lock().unwrap_or_else(|p| p.into_inner()).clone();
    gauge(out, ETCD_CONNECTED, "1 while the etcd source is connected.");
    let _ = writeln!(out, "{ETCD_CONNECTED} {}", u8::from(doc.etcd.connected));
    gauge(
        out,
        ETCD_FROM_CACHE,
        "1 while routes come from the on-disk cache.",
    );
    let cached = doc.source == crate::control::etcd::RouteSource::Cache;
    let _ = writeln!(out, "{ETCD_FROM_CACHE} {}", u8::from(cached));
    gauge(
        out,
        ETCD_REJECTED_KEYS,
        "etcd keys whose current value is refused.",
    );
    let _ = writeln!(out, "{ETCD_REJECTED_KEYS} {}", doc.rejections.len());
    if let Some(t) = doc.last_event_unix_ms {
        gauge(
            out,
            ETCD_LAST_EVENT_AGE,
            "Seconds since etcd last delivered a change.",
        );
        let age = unix_ms(SystemTime::now()).saturating_sub(t) as f64 / 1e3;
        let _ = writeln!(out, "{ETCD_LAST_EVENT_AGE} {age}");
    }
}

fn checks(s: &Shared, out: &mut String) {
    let eps = s.ctx.checks.endpoints();
    let l = |c: &crate::control::checks::EndpointCheck| {
        format!(
            "upstream=\"{}\",endpoint=\"{}\"",
            label(&c.upstream),
            c.endpoint
        )
    };
    gauge(
        out,
        ENDPOINT_ACTIVE_UP,
        "Active health check verdict: 1 up, 0 down.",
    );
    for c in &eps {
        let _ = writeln!(out, "{ENDPOINT_ACTIVE_UP}{{{}}} {}", l(c), u8::from(c.up));
    }
    counter(out, ENDPOINT_CHECKS, "Active health checks run.");
    for c in &eps {
        let _ = writeln!(out, "{ENDPOINT_CHECKS}{{{}}} {}", l(c), c.checks_total);
    }
    counter(
        out,
        ENDPOINT_CHECK_FAILURES,
        "Active health checks that failed.",
    );
    for c in &eps {
        let _ = writeln!(
            out,
            "{ENDPOINT_CHECK_FAILURES}{{{}}} {}",
            l(c),
            c.failures_total
        );
    }
}
