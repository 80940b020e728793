//! Request bodies → etcd transactions, checked with the model's own validators before anything
//! is written: a bad value is a 400 naming the key it would have been written to. Keys are
//! vulcand's layout under the prefix (`model::etcd_keys`); host names are written normalized.

use serde::Deserialize;
use serde_json::{json, Value};

use super::etcd::{Op, Plan, Range};
use super::ApiError;
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

/// Every key of a location.
pub(super) fn plan_delete_location(
    prefix: &str,
    raw_host: &str,
    location: &str,
) -> Result<(String, Plan), ApiError> {
    let (host, dir) = location_keys(prefix, raw_host, location)?;
    Ok((host, delete_dir(dir)))
}

/// Every key of an upstream: endpoints, options, discovery.
pub(super) fn plan_delete_upstream(prefix: &str, name: &str) -> Result<Plan, ApiError> {
    checked_name(name, &upstream_dir(prefix, name))?;
    Ok(delete_dir(upstream_dir(prefix, name)))
}

pub(super) fn plan_delete_endpoint(
    prefix: &str,
    upstream: &str,
    id: &str,
) -> Result<Plan, ApiError> {
    let key = endpoint_key(prefix, upstream, id)?;
    Ok(Plan {
        probe: Range::Key(key.clone()),
        ops: vec![Op::Delete(Range::Key(key))],
    })
}

fn delete_dir(dir: String) -> Plan {
    Plan {
        probe: Range::Dir(dir.clone()),
        ops: vec![Op::Delete(Range::Dir(dir))],
    }
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
        let del = plan_delete_upstream("/v", "u").unwrap();
        assert_eq!(del.ops, [Op::Delete(Range::Dir("/v/upstreams/u".into()))]);
        let (host, del) = plan_delete_location("/v", "Example.com", "l").unwrap();
        assert_eq!(host, "example.com");
        assert_eq!(
            del.probe,
            Range::Dir("/v/hosts/example.com/locations/l".into())
        );
        assert!(plan_delete_endpoint("/v", "u", "a/b").is_err());
    }
}
