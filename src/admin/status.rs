//! `GET /v1/status`: version, uptime, where the routes come from and how fresh they are, what
//! each worker serves, and the keys etcd holds that Vane refuses.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::http::Response;
use super::{unix_ms, RouteSourceInfo, Shared};
use crate::model::parse_toml;
use crate::worker::WorkerLink;

pub(super) fn get(s: &Shared) -> Response {
    let snap = s.snapshot();
    let (generation, revision, ready) = snap
        .as_ref()
        .map_or((0, 0, false), |s| (s.generation, s.revision, s.ready));
    let (source, rejections) = source(s);
    let counts = snap.as_ref().map(|snap| {
        let locations: usize = snap
            .host_names()
            .filter_map(|h| snap.host_locations(h).map(Iterator::count))
            .sum();
        let upstreams = snap.upstreams.iter().filter(|u| u.defined).count();
        json!({ "hosts": snap.host_names().count(), "locations": locations, "upstreams": upstreams })
    });
    let v = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_unix_ms": s.started_unix_ms,
        "uptime_s": s.started.elapsed().as_secs_f64(),
        "healthy": s.ctx.node.healthy(),
        "draining": s.ctx.node.draining(),
        "config": {
            "ready": ready,
            "generation": generation,
            "revision": revision,
            "routes": counts,
        },
        "source": source,
        "workers": workers(&s.ctx.links),
        "rejections": rejections,
    });
    Response::json(200, &v)
}

pub(super) fn workers(links: &[WorkerLink]) -> Value {
    let w: Vec<Value> = links
        .iter()
        .enumerate()
        .map(|(id, l)| {
            let st = &l.status;
            json!({
                "id": id,
                "driver": st.driver.get().copied(),
                "generation": st.generation.load(Ordering::Acquire),
                "revision": st.revision.load(Ordering::Acquire),
                "connections": st.connections.load(Ordering::Relaxed),
                "exited": st.exited.load(Ordering::Acquire),
            })
        })
        .collect();
    Value::Array(w)
}

/// The source's report, and the rejected keys (etcd only: a bad file is rejected whole).
fn source(s: &Shared) -> (Value, Value) {
    match &s.ctx.source {
        RouteSourceInfo::File(path) => (file(s, path.as_deref()), json!([])),
        RouteSourceInfo::Etcd { status, .. } => {
            let doc = status.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let now = unix_ms(SystemTime::now());
            let age = |t: u64| now.saturating_sub(t) as f64 / 1e3;
            let v = json!({
                "kind": "etcd",
                "endpoints": doc.etcd.endpoints,
                "prefix": doc.etcd.prefix,
                "serving": doc.source,
                "from_cache": doc.source == crate::control::etcd::RouteSource::Cache,
                "connected": doc.etcd.connected,
                "endpoint": doc.etcd.endpoint,
                "last_error": doc.etcd.last_error,
                "reconnects": doc.etcd.reconnects,
                "revision": doc.revision,
                "generation": doc.generation,
                "last_event_age_s": doc.last_event_unix_ms.map(age),
                "publish_latency_us": doc.publish,
            });
            let rejections = serde_json::to_value(&doc.rejections).unwrap_or_default();
            (v, rejections)
        }
    }
}

/// The file's path and modification time, and whether its current content parses: when it
/// does not, the node is still serving the last good version. The verdict is kept per
/// (mtime, length), so a large file is parsed again only after it changed.
fn file(s: &Shared, path: Option<&std::path::Path>) -> Value {
    let Some(path) = path else {
        return json!({ "kind": "embedded" });
    };
    let meta = std::fs::metadata(path).ok();
    let stamp = meta.as_ref().map(|m| (m.modified().ok(), m.len()));
    let modified = stamp.and_then(|(t, _)| t).map(unix_ms);
    let mut cache = s.file_check.lock().unwrap_or_else(|p| p.into_inner());
    let errors = match cache.as_ref() {
        Some((st, errs)) if stamp.is_some() && *st == stamp => errs.clone(),
        _ => {
            let errs = check_file(path);
            *cache = Some((stamp, errs.clone()));
            errs
        }
    };
    json!({
        "kind": "file",
        "path": path.display().to_string(),
        "modified_unix_ms": modified,
        "valid": errors.is_empty(),
        "errors": errors,
    })
}

fn check_file(path: &std::path::Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => match parse_toml(&text) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        },
        Err(e) => vec![format!("cannot read: {e}")],
    }
}
