//! What one key of the store is (the entity it feeds) and what its value means, each judged
//! alone with the model's validators: a bad name or a bad value is an error for that key only.

use std::collections::BTreeSet;

use crate::model::etcd_keys::{
    discovered_endpoint_url, parse_discovery_dir, parse_endpoint_value, parse_key, EtcdKey,
    MAX_VALUE,
};
use crate::model::{
    normalize_host, parse_endpoint_url, validate_name, validate_path, validate_weight, Endpoint,
    Options,
};

/// The entity a key feeds, with its names validated (hosts normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Endpoint {
        upstream: String,
        id: String,
    },
    UpstreamOptions {
        upstream: String,
    },
    UpstreamDiscovery {
        upstream: String,
    },
    /// `host` is normalized; `spelling` is the key's own spelling when it differs
    /// (`Example.com`): the greatest key wins when two spellings set one field.
    Location {
        host: String,
        spelling: Option<String>,
        location: String,
        field: Field,
    },
    /// `<dir>/<name>` under a discovery directory some upstream points at.
    Discovered {
        dir: String,
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Path = 0,
    Upstream = 1,
    Options = 2,
}

pub(super) const FIELDS: [Field; 3] = [Field::Path, Field::Upstream, Field::Options];

impl Field {
    pub(super) fn segment(self) -> &'static str {
        match self {
            Field::Path => "path",
            Field::Upstream => "upstream",
            Field::Options => "options",
        }
    }
}

/// The value a key contributes to the model: its current value if good, else its last good one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Serving {
    Endpoint(Endpoint),
    Options(Box<Options>),
    Discovery(String),
    Path(String),
    Upstream(String),
}

impl Serving {
    pub(super) fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Serving::Endpoint(e) => Some(e),
            _ => None,
        }
    }

    pub(super) fn options(&self) -> Option<&Options> {
        match self {
            Serving::Options(o) => Some(o),
            _ => None,
        }
    }

    pub(super) fn dir(&self) -> Option<&str> {
        match self {
            Serving::Discovery(d) => Some(d),
            _ => None,
        }
    }

    pub(super) fn text(&self) -> Option<&String> {
        match self {
            Serving::Path(s) | Serving::Upstream(s) => Some(s),
            _ => None,
        }
    }
}

/// A key under the prefix: `None` if Vane does not read it, `Err` if it names a bad entity.
pub(super) fn prefix_target(prefix: &str, key: &str) -> Option<Result<Target, String>> {
    Some(match parse_key(prefix, key)? {
        EtcdKey::Endpoint { upstream, id } => validate_name(upstream)
            .and_then(|()| validate_name(id))
            .map(|()| Target::Endpoint {
                upstream: upstream.into(),
                id: id.into(),
            }),
        EtcdKey::UpstreamOptions { upstream } => {
            validate_name(upstream).map(|()| Target::UpstreamOptions {
                upstream: upstream.into(),
            })
        }
        EtcdKey::UpstreamDiscovery { upstream } => {
            validate_name(upstream).map(|()| Target::UpstreamDiscovery {
                upstream: upstream.into(),
            })
        }
        EtcdKey::LocationPath { host, location } => location_target(host, location, Field::Path),
        EtcdKey::LocationUpstream { host, location } => {
            location_target(host, location, Field::Upstream)
        }
        EtcdKey::LocationOptions { host, location } => {
            location_target(host, location, Field::Options)
        }
    })
}

fn location_target(host: &str, location: &str, field: Field) -> Result<Target, String> {
    let norm = normalize_host(host).ok_or_else(|| format!("`{host}` is not a host name"))?;
    validate_name(location)?;
    Ok(Target::Location {
        spelling: (norm != host).then(|| host.to_string()),
        host: norm,
        location: location.into(),
        field,
    })
}

/// A key directly under a discovery directory the store holds; `None` otherwise (ignored).
pub(super) fn discovered_target(
    covered: &BTreeSet<String>,
    key: &str,
) -> Option<Result<Target, String>> {
    let (dir, name) = key.rsplit_once('/')?;
    if !covered.contains(dir) {
        return None;
    }
    Some(validate_name(name).map(|()| Target::Discovered {
        dir: dir.into(),
        name: name.into(),
    }))
}

/// Judges one value for one target. The error says what is wrong, never which key (the
/// rejection carries the key).
pub(super) fn parse_value(prefix: &str, target: &Target, bytes: &[u8]) -> Result<Serving, String> {
    if bytes.len() > MAX_VALUE {
        return Err(format!(
            "value is {} bytes, more than the limit of {MAX_VALUE}",
            bytes.len()
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "value is not UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        )
    })?;
    match target {
        Target::Endpoint { .. } => {
            let (url, weight) = parse_endpoint_value(text)?;
            let addr = parse_endpoint_url(&url)?;
            validate_weight(weight)?;
            Ok(Serving::Endpoint(Endpoint { addr, weight }))
        }
        Target::UpstreamOptions { .. }
        | Target::Location {
            field: Field::Options,
            ..
        } => Options::from_json(text).map(|o| Serving::Options(Box::new(o))),
        Target::UpstreamDiscovery { .. } => discovery_dir(prefix, text).map(Serving::Discovery),
        Target::Location {
            field: Field::Path, ..
        } => validate_path(text).map(|()| Serving::Path(text.into())),
        Target::Location {
            field: Field::Upstream,
            ..
        } => {
            let name = text.trim();
            validate_name(name).map(|()| Serving::Upstream(name.into()))
        }
        Target::Discovered { .. } => {
            let addr = parse_endpoint_url(&discovered_endpoint_url(text))?;
            Ok(Serving::Endpoint(Endpoint { addr, weight: 1 }))
        }
    }
}

/// A discovery directory must lie outside the prefix (and not contain it): a key then has one
/// meaning only, and listing a directory never walks the route keys.
fn discovery_dir(prefix: &str, text: &str) -> Result<String, String> {
    let dir = parse_discovery_dir(text)?;
    let inside = |outer: &str, inner: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|r| r.starts_with('/'))
    };
    let overlaps = if prefix.is_empty() {
        // The whole keyspace is the route layout: only its two top directories are taken.
        inside("/hosts", &dir) || inside("/upstreams", &dir)
    } else {
        inside(prefix, &dir) || inside(&dir, prefix)
    };
    if overlaps {
        return Err(format!(
            "discovery directory `{dir}` overlaps the key prefix `{prefix}`"
        ));
    }
    Ok(dir)
}

pub(super) fn endpoint_key(prefix: &str, upstream: &str, id: &str) -> String {
    format!("{prefix}/upstreams/{upstream}/endpoints/{id}")
}

pub(super) fn upstream_key(prefix: &str, upstream: &str, leaf: &str) -> String {
    format!("{prefix}/upstreams/{upstream}/{leaf}")
}

pub(super) fn location_key(prefix: &str, raw_host: &str, location: &str, field: Field) -> String {
    format!(
        "{prefix}/hosts/{raw_host}/locations/{location}/{}",
        field.segment()
    )
}
