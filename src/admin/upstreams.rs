//! `GET /v1/upstreams`, `GET /v1/upstreams/{u}`, `GET /v1/upstreams/{u}/endpoints`, from the
//! snapshot the workers were last sent.

use serde_json::{json, Value};

use super::hosts::snapshot;
use super::http::Response;
use super::metrics::scrape;
use super::options_json::options_json;
use super::{unix_ms, ApiError, Shared};
use crate::control::checks::EndpointCheck;
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

/// With each endpoint's health: the active checker's verdict (when the upstream has
/// `health_check` options) and how many workers have it passively ejected right now.
pub(super) async fn endpoints(s: &Shared, name: &str) -> Result<Response, ApiError> {
    let snap = snapshot(s)?;
    let (_, u) = find(&snap, name)?;
    let passive = passive(s, name).await;
    let checks = s.ctx.checks.endpoints();
    let list: Vec<Value> = u
        .endpoints
        .iter()
        .map(|e| {
            let active = checks
                .iter()
                .find(|c| &*c.upstream == name && c.endpoint == e.addr);
            let ejected = passive.iter().find(|(a, _)| *a == e.addr).map(|(_, n)| *n);
            let mut v = endpoint_json(e, u.options.health_check.is_some());
            v["health"] = health_json(active, ejected, s.ctx.links.len());
            v
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({ "revision": snap.revision, "upstream": &*u.name, "endpoints": list }),
    ))
}

/// `(address, workers that eject it now)` for the endpoints of `upstream`, from a scrape.
async fn passive(s: &Shared, upstream: &str) -> Vec<(std::net::SocketAddr, u32)> {
    let merged = scrape(s).await;
    merged
        .endpoints
        .iter()
        .filter(|((u, _), _)| u == upstream)
        .filter_map(|((_, a), st)| Some((a.parse().ok()?, st.ejected_workers)))
        .collect()
}

/// `state`: "down" if the active checks say so, else "ejected" if every worker ejects it,
/// "degraded" if some do, else "up".
fn health_json(active: Option<&EndpointCheck>, ejected: Option<u32>, workers: usize) -> Value {
    let ejected = ejected.unwrap_or(0);
    let state = match active {
        Some(c) if !c.up => "down",
        _ if workers > 0 && ejected as usize >= workers => "ejected",
        _ if ejected > 0 => "degraded",
        _ => "up",
    };
    json!({
        "state": state,
        "active": active.map(|c| json!({
            "up": c.up,
            "consecutive_successes": c.consecutive_successes,
            "consecutive_failures": c.consecutive_failures,
            "last_checked_unix_ms": c.last_checked.map(unix_ms),
            "last_error": c.last_error,
            "checks": c.checks_total,
            "failures": c.failures_total,
        })),
        "ejected_workers": ejected,
        "workers": workers,
    })
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

/// An endpoint. `active_checks`: whether the upstream's options ask for active checks.
fn endpoint_json(e: &EndpointRoute, checked: bool) -> Value {
    json!({
        "id": &*e.id,
        "url": format!("http://{}", e.addr),
        "weight": e.weight,
        "active_checks": checked,
    })
}
