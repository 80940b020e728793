//! The etcd key layout (vulcand's, v3 API), relative to a prefix such as `/vulcand`:
//!
//! ```text
//! <prefix>/upstreams/<u>/endpoints/<id>          = http://ip:port | {"url": "...", "weight": N}
//! <prefix>/upstreams/<u>/options                 = JSON (see `Options`)
//! <prefix>/upstreams/<u>/discovery               = /services/web   (a registrator directory)
//! <prefix>/hosts/<h>/locations/<l>/path          = a regex on the request path
//! <prefix>/hosts/<h>/locations/<l>/upstream      = <u>
//! <prefix>/hosts/<h>/locations/<l>/options       = JSON (see `Options`)
//! <discovery dir>/<host>:<container>:<port>      = ip:port          (becomes an endpoint of <u>)
//! ```

use serde::Deserialize;

/// Longest accepted value of any key, in bytes.
pub const MAX_VALUE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdKey<'a> {
    Endpoint { upstream: &'a str, id: &'a str },
    UpstreamOptions { upstream: &'a str },
    UpstreamDiscovery { upstream: &'a str },
    LocationPath { host: &'a str, location: &'a str },
    LocationUpstream { host: &'a str, location: &'a str },
    LocationOptions { host: &'a str, location: &'a str },
}

/// Parses `key` under `prefix` (no trailing slash). `None`: not a key Vane reads (ignored).
pub fn parse_key<'a>(prefix: &str, key: &'a str) -> Option<EtcdKey<'a>> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["upstreams", u, "endpoints", id] => Some(EtcdKey::Endpoint { upstream: u, id }),
        ["upstreams", u, "options"] => Some(EtcdKey::UpstreamOptions { upstream: u }),
        ["upstreams", u, "discovery"] => Some(EtcdKey::UpstreamDiscovery { upstream: u }),
        ["hosts", h, "locations", l, "path"] => Some(EtcdKey::LocationPath {
            host: h,
            location: l,
        }),
        ["hosts", h, "locations", l, "upstream"] => Some(EtcdKey::LocationUpstream {
            host: h,
            location: l,
        }),
        ["hosts", h, "locations", l, "options"] => Some(EtcdKey::LocationOptions {
            host: h,
            location: l,
        }),
        _ => None,
    }
}

impl EtcdKey<'_> {
    /// The key under `prefix` (no trailing slash): the inverse of `parse_key`.
    pub fn to_key(&self, prefix: &str) -> String {
        match self {
            EtcdKey::Endpoint { upstream, id } => {
                format!("{}/endpoints/{id}", upstream_dir(prefix, upstream))
            }
            EtcdKey::UpstreamOptions { upstream } => {
                format!("{}/options", upstream_dir(prefix, upstream))
            }
            EtcdKey::UpstreamDiscovery { upstream } => {
                format!("{}/discovery", upstream_dir(prefix, upstream))
            }
            EtcdKey::LocationPath { host, location } => {
                format!("{}/path", location_dir(prefix, host, location))
            }
            EtcdKey::LocationUpstream { host, location } => {
                format!("{}/upstream", location_dir(prefix, host, location))
            }
            EtcdKey::LocationOptions { host, location } => {
                format!("{}/options", location_dir(prefix, host, location))
            }
        }
    }
}

/// `<prefix>/upstreams/<u>`: every key of one upstream is below it.
pub fn upstream_dir(prefix: &str, upstream: &str) -> String {
    format!("{prefix}/upstreams/{upstream}")
}

/// `<prefix>/hosts/<h>/locations/<l>`: every key of one location is below it.
pub fn location_dir(prefix: &str, host: &str, location: &str) -> String {
    format!("{prefix}/hosts/{host}/locations/{location}")
}

/// An endpoint value: a URL, or JSON `{"url": "http://ip:port", "weight": N}`.
pub fn parse_endpoint_value(value: &str) -> Result<(String, u32), String> {
    let v = value.trim();
    if !v.starts_with('{') {
        return Ok((v.to_string(), 1));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Json {
        url: String,
        #[serde(default = "one")]
        weight: u32,
    }
    fn one() -> u32 {
        1
    }
    let j: Json = serde_json::from_str(v).map_err(|e| format!("bad endpoint JSON: {e}"))?;
    Ok((j.url, j.weight))
}

/// A registrator value `ip:port` as an endpoint URL.
pub fn discovered_endpoint_url(value: &str) -> String {
    format!("http://{}", value.trim())
}

/// A discovery directory must be an absolute key path, without a trailing slash.
pub fn parse_discovery_dir(value: &str) -> Result<String, String> {
    let v = value.trim().trim_end_matches('/');
    if !v.starts_with('/') || v.len() < 2 || v.contains("//") {
        return Err(format!(
            "`{v}` is not a key directory such as /services/web"
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_keys() {
        let p = "/vulcand";
        assert_eq!(
            parse_key(p, "/vulcand/upstreams/example-v1/endpoints/1"),
            Some(EtcdKey::Endpoint {
                upstream: "example-v1",
                id: "1"
            })
        );
        assert_eq!(
            parse_key(p, "/vulcand/hosts/example.com/locations/home/path"),
            Some(EtcdKey::LocationPath {
                host: "example.com",
                location: "home"
            })
        );
        assert_eq!(
            parse_key(p, "/vulcand/hosts/example.com/locations/home/bogus"),
            None
        );
        assert_eq!(parse_key(p, "/vulcandx/upstreams/u/options"), None);
        assert_eq!(parse_endpoint_value("http://127.0.0.1:1").unwrap().1, 1);
        assert_eq!(
            parse_endpoint_value(r#"{"url":"http://127.0.0.1:1","weight":3}"#)
                .unwrap()
                .1,
            3
        );
        assert!(parse_endpoint_value(r#"{"url":1}"#).is_err());
        assert_eq!(
            parse_discovery_dir("/services/web/").unwrap(),
            "/services/web"
        );
        assert!(parse_discovery_dir("services").is_err());
    }

    #[test]
    fn keys_round_trip() {
        let keys = [
            "/v/upstreams/u/endpoints/1",
            "/v/upstreams/u/options",
            "/v/upstreams/u/discovery",
            "/v/hosts/example.com/locations/home/path",
            "/v/hosts/*/locations/home/upstream",
            "/v/hosts/h/locations/l/options",
        ];
        for k in keys {
            assert_eq!(parse_key("/v", k).unwrap().to_key("/v"), k);
        }
        let k = EtcdKey::Endpoint {
            upstream: "u",
            id: "1",
        };
        assert_eq!(k.to_key(""), "/upstreams/u/endpoints/1");
    }
}
