//! Route writes: a request body is checked and planned (`plan.rs`), then applied as one etcd
//! transaction; with routes from a file every write is 409. The node applies a write through
//! its normal watch, like any other etcd write.

use serde::Deserialize;
use serde_json::{json, Value};

use super::etcd::{Outcome, Plan, Writer};
use super::http::{Request, Response};
use super::plan::{
    plan_delete_endpoint, plan_delete_location, plan_delete_upstream, plan_endpoint, plan_location,
    plan_upstream, UpstreamBody,
};
use super::{upstreams, wait, ApiError, RouteSourceInfo, Shared};

/// The etcd writer, or 409 when routes come from the config file.
pub(super) fn writer(s: &Shared) -> Result<&Writer, ApiError> {
    match (&s.etcd, &s.ctx.source) {
        (Some(w), _) => Ok(w),
        (None, RouteSourceInfo::File(Some(p))) => Err(ApiError::conflict(format!(
            "routes come from the config file {}: edit it (it applies live), or run Vane with \
             etcd to change routes through the API",
            p.display()
        ))),
        (None, _) => Err(ApiError::conflict(
            "routes come from the embedded config file: run Vane with --config or etcd to \
             change routes",
        )),
    }
}

pub(super) fn body<T: for<'de> Deserialize<'de>>(req: &Request) -> Result<T, ApiError> {
    serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

/// The answer to a write: its revision, and with `?wait=`, whether the workers serve it.
pub(super) async fn answer(
    req: &Request,
    s: &Shared,
    status: u16,
    revision: i64,
    extra: Value,
) -> Result<Response, ApiError> {
    let mut v = json!({ "revision": revision });
    if let Some(limit) = wait::requested(req)? {
        v["served"] = wait::until_served(s, revision, limit).await.into();
    }
    if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
        m.extend(x);
    }
    Ok(Response::json(status, &v))
}

async fn write(req: &Request, s: &Shared, plan: Plan, put: bool) -> Result<Response, ApiError> {
    let w = writer(s)?;
    let Outcome { revision, existed } = w.apply(&plan).await?;
    let status = match (put, existed) {
        (true, false) => 201,
        (true, true) | (false, true) => 200,
        (false, false) => return Err(ApiError::not_found("nothing to delete")),
    };
    answer(req, s, status, revision, json!({})).await
}

pub(super) async fn put_location(
    req: &Request,
    s: &Shared,
    host: &str,
    location: &str,
) -> Result<Response, ApiError> {
    let prefix = writer(s)?.prefix();
    let plan = plan_location(prefix, host, location, &body(req)?)?;
    write(req, s, plan, true).await
}

pub(super) async fn delete_location(
    req: &Request,
    s: &Shared,
    host: &str,
    location: &str,
) -> Result<Response, ApiError> {
    let (host, plan) = plan_delete_location(writer(s)?.prefix(), host, location)?;
    write(req, s, plan, false)
        .await
        .map_err(|e| not_found_as(e, format!("no location `{location}` on host `{host}`")))
}

pub(super) async fn put_upstream(
    req: &Request,
    s: &Shared,
    name: &str,
) -> Result<Response, ApiError> {
    let prefix = writer(s)?.prefix();
    let b: UpstreamBody = if req.body.is_empty() {
        UpstreamBody::default()
    } else {
        body(req)?
    };
    write(req, s, plan_upstream(prefix, name, &b)?, true).await
}

/// Refused while a location still sends traffic to it (it would answer 503).
pub(super) async fn delete_upstream(
    req: &Request,
    s: &Shared,
    name: &str,
) -> Result<Response, ApiError> {
    let plan = plan_delete_upstream(writer(s)?.prefix(), name)?;
    if let Some(snap) = s.snapshot() {
        let users = upstreams::users(&snap);
        let mine = snap.upstreams.iter().position(|u| &*u.name == name);
        if let Some(used) = mine.map(|i| &users[i]).filter(|u| !u.is_empty()) {
            let list: Vec<String> = used
                .iter()
                .take(10)
                .map(|(h, l)| format!("{h}/{l}"))
                .collect();
            return Err(ApiError::conflict(format!(
                "upstream `{name}` is used by {} location(s) ({}): delete or switch them first",
                used.len(),
                list.join(", ")
            )));
        }
    }
    write(req, s, plan, false)
        .await
        .map_err(|e| not_found_as(e, format!("no upstream `{name}`")))
}

pub(super) async fn put_endpoint(
    req: &Request,
    s: &Shared,
    upstream: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let prefix = writer(s)?.prefix();
    let plan = plan_endpoint(prefix, upstream, id, &body(req)?)?;
    write(req, s, plan, true).await
}

pub(super) async fn delete_endpoint(
    req: &Request,
    s: &Shared,
    upstream: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let plan = plan_delete_endpoint(writer(s)?.prefix(), upstream, id)?;
    write(req, s, plan, false)
        .await
        .map_err(|e| not_found_as(e, format!("no endpoint `{id}` in upstream `{upstream}`")))
}

fn not_found_as(e: ApiError, message: String) -> ApiError {
    if e.status == 404 {
        ApiError::not_found(message)
    } else {
        e
    }
}
