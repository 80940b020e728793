//! `GET /v1/route?host=H&path=P`: which location a request would reach and why, from
//! `Snapshot::explain` (the data path's own host normalization and location order). A query
//! string on `path` is dropped, as the data path drops it before routing.

use serde_json::{json, Value};

use super::hosts::snapshot;
use super::http::{Request, Response};
use super::{ApiError, Shared};

pub(super) fn get(req: &Request, s: &Shared) -> Result<Response, ApiError> {
    let host = req
        .param("host")?
        .ok_or_else(|| ApiError::bad_request("missing query parameter `host`"))?;
    let raw_path = req.param("path")?.unwrap_or_else(|| "/".into());
    let path = raw_path.split('?').next().unwrap_or_default();
    let snap = snapshot(s)?;
    let e = snap.explain(host.as_bytes(), path.as_bytes());
    let mut winner_seen = false;
    let candidates: Vec<Value> = e
        .candidates
        .iter()
        .enumerate()
        .map(|(rank, (l, matches))| {
            let chosen = *matches && !winner_seen;
            winner_seen |= chosen;
            json!({
                "rank": rank,
                "location": &*l.route.location,
                "path": l.pattern,
                "match": l.kind.as_str(),
                "literal_prefix": String::from_utf8_lossy(l.prefix),
                "matches": matches,
                "chosen": chosen,
            })
        })
        .collect();
    let route = e.route.map(|r| {
        let up = r.upstream.map(|i| snap.upstream(i));
        json!({
            "host": &*r.host,
            "location": &*r.location,
            "upstream": up.map(|u| &*u.name),
            "endpoints": up.map_or(0, |u| u.endpoints.len()),
        })
    });
    let verdict = match (&e.route, e.host) {
        _ if !snap.ready => "no config yet: 503",
        (Some(r), _)
            if r.upstream
                .is_some_and(|i| snap.upstream(i).endpoints.is_empty()) =>
        {
            "matched, but the upstream has no endpoints: 503"
        }
        (Some(_), _) => "matched",
        (None, None) => "no host entry and no catch-all `*`: 404",
        (None, Some(_)) => "no location of the host matches the path: 404",
    };
    Ok(Response::json(
        200,
        &json!({
            "revision": snap.revision,
            "request": { "host": host, "path": path },
            "host_key": e.host_key,
            "host": e.host,
            "catch_all": e.catch_all,
            "candidates": candidates,
            "route": route,
            "verdict": verdict,
        }),
    ))
}
