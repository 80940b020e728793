//! Route writes: each request body is checked with the model's own validators, then turned into
//! one etcd transaction on vulcand's key layout (`model::etcd_keys`). A bad value answers 400
//! naming the key it would have been written to; with routes from a file every write is 409.
//! The node applies a write through its normal watch, like any other etcd write.

use serde::Deserialize;
use serde_json::{json, Value};

use super::etcd::{Op, Outcome, Plan, Range, Writer};
use super::http::{Request, Response};
use super::{upstreams, wait, ApiError, RouteSourceInfo, Shared};
use crate::model::etcd_keys::{location_dir, upstream_dir, EtcdKey};
use crate::model::{
    normalize_host, parse_endpoint_url, validate_name, validate_path, validate_weight, Options,
};
use crate::router::check_path_pattern;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LocationBody {
    pub path: String,
    pub upstream: String,
    pub options: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpstreamBody {
    pub options: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointBody {
    pub url: String,
    pub weight: Option<u32>,
}

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
    let (host, dir) = location_keys(writer(s)?.prefix(), host, location)?;
    let plan = Plan {
        probe: Range::Dir(dir.clone()),
        ops: vec![Op::Delete(Range::Dir(dir))],
    };
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
    let prefix = writer(s)?.prefix();
    let dir = upstream_dir(prefix, checked_name(name, &upstream_dir(prefix, name))?);
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
    let plan = Plan {
        probe: Range::Dir(dir.clone()),
        ops: vec![Op::Delete(Range::Dir(dir))],
    };
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
    let key = endpoint_key(writer(s)?.prefix(), upstream, id)?;
    let plan = Plan {
        probe: Range::Key(key.clone()),
        ops: vec![Op::Delete(Range::Key(key))],
    };
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

fn checked_name<'a>(name: &'a str, key: &str) -> Result<&'a str, ApiError> {
    validate_name(name).map_err(|m| ApiError::bad_key(key, m))?;
    Ok(name)
}

/// The normalized host and the location's key directory, both names checked.
pub(super) fn location_keys(
    prefix: &str,
    raw_host: &str,
    location: &str,
) -> Result<(String, String), ApiError> {
    let raw_dir = location_dir(prefix, raw_host, location);
    let host = normalize_host(raw_host)
        .ok_or_else(|| ApiError::bad_key(&raw_dir, format!("`{raw_host}` is not a host name")))?;
    checked_name(location, &raw_dir)?;
    let dir = location_dir(prefix, &host, location);
    Ok((host, dir))
}

/// An options document checked as the etcd source will check it, in its compact form.
fn options_value(v: &Value, key: &str) -> Result<String, ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_key(key, "options must be a JSON object"));
    }
    let text = v.to_string();
    Options::from_json(&text).map_err(|m| ApiError::bad_key(key, m))?;
    Ok(text)
}

/// path + upstream (+ options) in one transaction; without `options`, the options key goes.
pub(super) fn plan_location(
    prefix: &str,
    raw_host: &str,
    location: &str,
    b: &LocationBody,
) -> Result<Plan, ApiError> {
    let (host, dir) = location_keys(prefix, raw_host, location)?;
    let (host, location) = (host.as_str(), location);
    let path_key = EtcdKey::LocationPath { host, location }.to_key(prefix);
    validate_path(&b.path)
        .and_then(|()| check_path_pattern(&b.path))
        .map_err(|m| ApiError::bad_key(&path_key, m))?;
    let up_key = EtcdKey::LocationUpstream { host, location }.to_key(prefix);
    let upstream = checked_name(b.upstream.trim(), &up_key)?;
    let opt_key = EtcdKey::LocationOptions { host, location }.to_key(prefix);
    let options = match &b.options {
        Some(o) => Op::Put(opt_key.clone(), options_value(o, &opt_key)?),
        None => Op::Delete(Range::Key(opt_key)),
    };
    Ok(Plan {
        probe: Range::Dir(dir),
        ops: vec![
            Op::Put(path_key, b.path.clone()),
            Op::Put(up_key, upstream.to_string()),
            options,
        ],
    })
}

/// An upstream exists while any of its keys does: creating one without endpoints writes its
/// options key (`{}` when none are given).
pub(super) fn plan_upstream(prefix: &str, name: &str, b: &UpstreamBody) -> Result<Plan, ApiError> {
    let key = EtcdKey::UpstreamOptions { upstream: name }.to_key(prefix);
    checked_name(name, &key)?;
    let value = match &b.options {
        Some(o) => options_value(o, &key)?,
        None => "{}".to_string(),
    };
    Ok(Plan {
        probe: Range::Dir(upstream_dir(prefix, name)),
        ops: vec![Op::Put(key, value)],
    })
}

fn endpoint_key(prefix: &str, upstream: &str, id: &str) -> Result<String, ApiError> {
    let key = EtcdKey::Endpoint { upstream, id }.to_key(prefix);
    checked_name(upstream, &key)?;
    checked_name(id, &key)?;
    Ok(key)
}

/// The value is vulcand's plain URL, or JSON when a weight other than 1 is given.
pub(super) fn plan_endpoint(
    prefix: &str,
    upstream: &str,
    id: &str,
    b: &EndpointBody,
) -> Result<Plan, ApiError> {
    let key = endpoint_key(prefix, upstream, id)?;
    let url = b.url.trim();
    parse_endpoint_url(url).map_err(|m| ApiError::bad_key(&key, m))?;
    let weight = b.weight.unwrap_or(1);
    validate_weight(weight).map_err(|m| ApiError::bad_key(&key, m))?;
    let value = if weight == 1 {
        url.to_string()
    } else {
        json!({ "url": url, "weight": weight }).to_string()
    };
    Ok(Plan {
        probe: Range::Key(key.clone()),
        ops: vec![Op::Put(key, value)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(path: &str, upstream: &str, options: Option<Value>) -> LocationBody {
        LocationBody {
            path: path.into(),
            upstream: upstream.into(),
            options,
        }
    }

    #[test]
    fn a_location_is_one_transaction_on_the_vulcand_keys() {
        let p =
            plan_location("/vulcand", "Example.COM", "home", &loc("/.*", " v1 ", None)).unwrap();
        let d = "/vulcand/hosts/example.com/locations/home";
        assert_eq!(p.probe, Range::Dir(d.into()));
        assert_eq!(
            p.ops,
            [
                Op::Put(format!("{d}/path"), "/.*".into()),
                Op::Put(format!("{d}/upstream"), "v1".into()),
                Op::Delete(Range::Key(format!("{d}/options"))),
            ]
        );
        let with =
            plan_location("/v", "h", "l", &loc("/", "u", Some(json!({"retries": 0})))).unwrap();
        assert_eq!(
            with.ops[2],
            Op::Put(
                "/v/hosts/h/locations/l/options".into(),
                r#"{"retries":0}"#.into()
            )
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |r: Result<Plan, ApiError>| r.unwrap_err().key.unwrap();
        assert_eq!(
            key(plan_location("/v", "h", "l", &loc("/(", "u", None))),
            "/v/hosts/h/locations/l/path"
        );
        assert_eq!(
            key(plan_location("/v", "h", "l", &loc("/", "bad name", None))),
            "/v/hosts/h/locations/l/upstream"
        );
        assert_eq!(
            key(plan_location(
                "/v",
                "h",
                "l",
                &loc("/", "u", Some(json!({"retries": 9})))
            )),
            "/v/hosts/h/locations/l/options"
        );
        assert_eq!(
            key(plan_location("/v", "bad host", "l", &loc("/", "u", None))),
            "/v/hosts/bad host/locations/l"
        );
        let ep = |url: &str, weight| EndpointBody {
            url: url.into(),
            weight,
        };
        assert_eq!(
            key(plan_endpoint(
                "/v",
                "u",
                "1",
                &ep("http://example.com:80", None)
            )),
            "/v/upstreams/u/endpoints/1"
        );
        assert_eq!(
            key(plan_endpoint(
                "/v",
                "u",
                "1",
                &ep("http://127.0.0.1:1", Some(0))
            )),
            "/v/upstreams/u/endpoints/1"
        );
        let bad_opts = UpstreamBody {
            options: Some(json!([1])),
        };
        assert_eq!(
            key(plan_upstream("/v", "u", &bad_opts)),
            "/v/upstreams/u/options"
        );
        assert!(
            key(plan_upstream("/v", "u/x", &UpstreamBody::default())).starts_with("/v/upstreams/")
        );
    }

    #[test]
    fn endpoints_and_upstreams() {
        let plain = plan_endpoint(
            "/v",
            "u",
            "1",
            &EndpointBody {
                url: "http://127.0.0.1:9".into(),
                weight: None,
            },
        )
        .unwrap();
        assert_eq!(
            plain.ops,
            [Op::Put(
                "/v/upstreams/u/endpoints/1".into(),
                "http://127.0.0.1:9".into()
            )]
        );
        let weighted = plan_endpoint(
            "/v",
            "u",
            "1",
            &EndpointBody {
                url: "http://127.0.0.1:9".into(),
                weight: Some(3),
            },
        )
        .unwrap();
        let Op::Put(_, v) = &weighted.ops[0] else {
            panic!("{weighted:?}")
        };
        let parsed = crate::model::etcd_keys::parse_endpoint_value(v).unwrap();
        assert_eq!(parsed, ("http://127.0.0.1:9".to_string(), 3));
        let up = plan_upstream("/v", "u", &UpstreamBody::default()).unwrap();
        assert_eq!(
            up.ops,
            [Op::Put("/v/upstreams/u/options".into(), "{}".into())]
        );
        assert_eq!(up.probe, Range::Dir("/v/upstreams/u".into()));
    }
}
