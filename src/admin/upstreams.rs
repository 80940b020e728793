//! `GET /v1/upstreams`, `GET /v1/upstreams/{u}`, `GET /v1/upstreams/{u}/endpoints`, from the
//! snapshot the workers were last sent.

use serde_json::{json, Value};

use super::hosts::snapshot;
use super::http::Response;
use super::options_json::options_json;
use super::{ApiError, Shared};
use crate::router::{EndpointRoute, Snapshot, UpstreamRoute};

pub(super) fn list(s: &Shared) -> Result<Response, ApiError> {
    let snap = snapshot(s)?;
    let users = users(&snap);
    let mut ups: Vec<(&UpstreamRoute, usize)> = snap
        .upstreams
        .iter()
        .enumerate()
        .filter(|(_, u)| u.defined)
        .map(|(i, u)| (&**u, users[i].len()))
        .collect();
    ups.sort_unstable_by(|a, b| a.0.name.cmp(&b.0.name));
    let list: Vec<Value> = ups
        .into_iter()
        .map(|(u, n)| {
            json!({
                "name": &*u.name,
                "endpoints": u.endpoints.len(),
                "locations": n,
                "options": options_json(&u.options),
            })
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({ "revision": snap.revision, "upstreams": list }),
    ))
}

pub(super) fn one(s: &Shared, name: &str) -> Result<Response, ApiError> {
    let snap = snapshot(s)?;
    let (i, u) = find(&snap, name)?;
    let used_by: Vec<Value> = users(&snap)
        .swap_remove(i)
        .into_iter()
        .map(|(h, l)| json!({ "host": h, "location": l }))
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "revision": snap.revision,
            "name": &*u.name,
            "options": options_json(&u.options),
            "endpoints": endpoints_json(u),
            "locations": used_by,
        }),
    ))
}

pub(super) fn endpoints(s: &Shared, name: &str) -> Result<Response, ApiError> {
    let snap = snapshot(s)?;
    let (_, u) = find(&snap, name)?;
    Ok(Response::json(
        200,
        &json!({ "revision": snap.revision, "upstream": &*u.name, "endpoints": endpoints_json(u) }),
    ))
}

fn find<'s>(snap: &'s Snapshot, name: &str) -> Result<(usize, &'s UpstreamRoute), ApiError> {
    snap.upstreams
        .iter()
        .enumerate()
        .find(|(_, u)| u.defined && &*u.name == name)
        .map(|(i, u)| (i, &**u))
        .ok_or_else(|| ApiError::not_found(format!("no upstream `{name}`")))
}

/// By upstream index: the (host, location) pairs that send traffic to it, sorted.
pub(super) fn users(snap: &Snapshot) -> Vec<Vec<(String, String)>> {
    let mut by: Vec<Vec<(String, String)>> = vec![Vec::new(); snap.upstreams.len()];
    for r in snap.routes() {
        if let Some(slot) = r.upstream.and_then(|i| by.get_mut(i as usize)) {
            slot.push((r.host.to_string(), r.location.to_string()));
        }
    }
    for v in &mut by {
        v.sort_unstable();
    }
    by
}

fn endpoints_json(u: &UpstreamRoute) -> Vec<Value> {
    let checked = u.options.health_check.is_some();
    u.endpoints
        .iter()
        .map(|e| endpoint_json(e, checked))
        .collect()
}

/// An endpoint. `health.active_checks`: whether the upstream's options ask for active checks.
fn endpoint_json(e: &EndpointRoute, checked: bool) -> Value {
    json!({
        "id": &*e.id,
        "url": format!("http://{}", e.addr),
        "weight": e.weight,
        "health": { "active_checks": checked },
    })
}
