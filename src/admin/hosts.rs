//! `GET /v1/hosts`, `GET /v1/hosts/{host}/locations[/{location}]`: what the workers were last
//! sent, so a listing shows what traffic meets, whichever source the routes came from.

use std::sync::Arc;

use serde_json::{json, Value};

use super::http::Response;
use super::options_json::options_json;
use super::{ApiError, Shared};
use crate::model::normalize_host;
use crate::router::{LocationView, Snapshot};

pub(super) fn snapshot(s: &Shared) -> Result<Arc<Snapshot>, ApiError> {
    s.snapshot()
        .ok_or_else(|| ApiError::unavailable("no routes compiled yet"))
}

pub(super) fn list(s: &Shared) -> Result<Response, ApiError> {
    let snap = snapshot(s)?;
    let mut names: Vec<&str> = snap.host_names().collect();
    names.sort_unstable();
    let hosts: Vec<Value> = names
        .iter()
        .map(|h| {
            let n = snap.host_locations(h).map_or(0, Iterator::count);
            json!({ "name": h, "locations": n })
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({ "revision": snap.revision, "hosts": hosts }),
    ))
}

/// The host's name as the routes key it (lowercase, no port, no trailing dot), or 400.
pub(super) fn host_name(raw: &str) -> Result<String, ApiError> {
    normalize_host(raw).ok_or_else(|| ApiError::bad_request(format!("`{raw}` is not a host name")))
}

pub(super) fn locations(s: &Shared, raw_host: &str) -> Result<Response, ApiError> {
    let snap = snapshot(s)?;
    let host = host_name(raw_host)?;
    let locs = snap
        .host_locations(&host)
        .ok_or_else(|| ApiError::not_found(format!("host `{host}` has no locations")))?;
    let list: Vec<Value> = locs
        .enumerate()
        .map(|(i, l)| location_json(&snap, &l, i))
        .collect();
    Ok(Response::json(
        200,
        &json!({ "revision": snap.revision, "host": host, "locations": list }),
    ))
}

pub(super) fn location(s: &Shared, raw_host: &str, name: &str) -> Result<Response, ApiError> {
    let snap = snapshot(s)?;
    let host = host_name(raw_host)?;
    let found = snap
        .host_locations(&host)
        .and_then(|locs| locs.enumerate().find(|(_, l)| &*l.route.location == name));
    let (i, l) = found
        .ok_or_else(|| ApiError::not_found(format!("no location `{name}` on host `{host}`")))?;
    let mut v = location_json(&snap, &l, i);
    v["host"] = host.into();
    v["revision"] = snap.revision.into();
    Ok(Response::json(200, &v))
}

/// One location; `rank` is its place in the order locations are tried (0 first).
pub(super) fn location_json(snap: &Snapshot, l: &LocationView, rank: usize) -> Value {
    let upstream = l.route.upstream.map(|i| snap.upstream(i));
    json!({
        "name": &*l.route.location,
        "path": l.pattern,
        "upstream": upstream.map(|u| &*u.name),
        "upstream_defined": upstream.is_some_and(|u| u.defined),
        "options": l.route.options.as_deref().map(options_json).unwrap_or_else(|| json!({})),
        "match": l.kind.as_str(),
        "literal_prefix": String::from_utf8_lossy(l.prefix),
        "rank": rank,
    })
}
