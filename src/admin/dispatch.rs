//! Token check, then method + path → handler. Every path segment is percent-decoded; a
//! trailing slash is ignored. An unknown path is 404, a known one with another method 405.

use super::http::{percent_decode, Request, Response};
use super::{
    deploy, hosts, metrics, route_test, stats, status, upstreams, writes, ApiError, Shared,
};

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Status,
    Hosts,
    Locations(String),
    Location(String, String),
    Deploy(String, String),
    Rollback(String, String),
    Upstreams,
    Upstream(String),
    Endpoints(String),
    Endpoint(String, String),
    Route,
    Stats,
    Metrics,
}

impl Target {
    fn parse(path: &str) -> Result<Option<Target>, ApiError> {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let segs = path
            .split('/')
            .skip(1)
            .map(percent_decode)
            .collect::<Result<Vec<_>, _>>()?;
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let own = |x: &str| x.to_string();
        Ok(Some(match s.as_slice() {
            ["v1", "status"] => Target::Status,
            ["v1", "hosts"] => Target::Hosts,
            ["v1", "hosts", h, "locations"] => Target::Locations(own(h)),
            ["v1", "hosts", h, "locations", l] => Target::Location(own(h), own(l)),
            ["v1", "hosts", h, "locations", l, "deploy"] => Target::Deploy(own(h), own(l)),
            ["v1", "hosts", h, "locations", l, "rollback"] => Target::Rollback(own(h), own(l)),
            ["v1", "upstreams"] => Target::Upstreams,
            ["v1", "upstreams", u] => Target::Upstream(own(u)),
            ["v1", "upstreams", u, "endpoints"] => Target::Endpoints(own(u)),
            ["v1", "upstreams", u, "endpoints", id] => Target::Endpoint(own(u), own(id)),
            ["v1", "route"] => Target::Route,
            ["v1", "stats"] => Target::Stats,
            ["metrics"] => Target::Metrics,
            _ => return Ok(None),
        }))
    }

    fn methods(&self) -> &'static [&'static str] {
        match self {
            Target::Location(..) | Target::Upstream(_) => &["GET", "PUT", "DELETE"],
            Target::Endpoint(..) => &["PUT", "DELETE"],
            Target::Deploy(..) | Target::Rollback(..) => &["POST"],
            _ => &["GET"],
        }
    }
}

pub(super) async fn handle(req: &Request, s: &Shared) -> Response {
    if let Some(t) = &s.token {
        if !t.accepts(req.authorization.as_deref()) {
            return Response::error(&ApiError::new(401, "missing or wrong bearer token"));
        }
    }
    let target = match Target::parse(&req.path) {
        Ok(Some(t)) => t,
        Ok(None) => return Response::error(&ApiError::not_found("no such endpoint")),
        Err(e) => return Response::error(&e),
    };
    let allowed = target.methods();
    if !allowed.contains(&req.method.as_str()) {
        let e = ApiError::new(405, format!("use {}", allowed.join(" or ")));
        let mut r = Response::error(&e);
        r.headers.push(format!("allow: {}", allowed.join(", ")));
        return r;
    }
    match run(req, s, target).await {
        Ok(r) => r,
        Err(e) => Response::error(&e),
    }
}

async fn run(req: &Request, s: &Shared, target: Target) -> Result<Response, ApiError> {
    let m = req.method.as_str();
    match (m, target) {
        (_, Target::Status) => Ok(status::get(s)),
        (_, Target::Hosts) => hosts::list(s),
        (_, Target::Locations(h)) => hosts::locations(s, &h),
        ("GET", Target::Location(h, l)) => hosts::location(s, &h, &l),
        ("PUT", Target::Location(h, l)) => writes::put_location(req, s, &h, &l).await,
        (_, Target::Location(h, l)) => writes::delete_location(req, s, &h, &l).await,
        (_, Target::Deploy(h, l)) => deploy::switch(req, s, &h, &l).await,
        (_, Target::Rollback(h, l)) => deploy::rollback(req, s, &h, &l).await,
        (_, Target::Upstreams) => upstreams::list(s),
        ("GET", Target::Upstream(u)) => upstreams::one(s, &u),
        ("PUT", Target::Upstream(u)) => writes::put_upstream(req, s, &u).await,
        (_, Target::Upstream(u)) => writes::delete_upstream(req, s, &u).await,
        (_, Target::Endpoints(u)) => upstreams::endpoints(s, &u).await,
        ("PUT", Target::Endpoint(u, id)) => writes::put_endpoint(req, s, &u, &id).await,
        (_, Target::Endpoint(u, id)) => writes::delete_endpoint(req, s, &u, &id).await,
        (_, Target::Route) => route_test::get(req, s),
        (_, Target::Stats) => stats::get(s).await,
        (_, Target::Metrics) => Ok(metrics::get(s).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        let t = |p: &str| Target::parse(p).unwrap();
        assert_eq!(t("/v1/status/"), Some(Target::Status));
        assert_eq!(
            t("/v1/hosts/%2A/locations/all"),
            Some(Target::Location("*".into(), "all".into()))
        );
        assert_eq!(
            t("/v1/upstreams/u/endpoints/1"),
            Some(Target::Endpoint("u".into(), "1".into()))
        );
        assert_eq!(t("/v1/nope"), None);
        assert_eq!(t("/"), None);
        assert_eq!(
            t("/v1/hosts//locations"),
            Some(Target::Locations(String::new()))
        );
        assert!(Target::parse("/v1/hosts/%zz").is_err());
    }
}
