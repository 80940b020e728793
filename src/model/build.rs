use std::collections::BTreeMap;

use super::{
    normalize_host, parse_endpoint_url, Endpoint, Host, KeyError, Location, Model, Options,
    Upstream,
};

/// Longest accepted location path regex, in bytes: bounds compile time and memory per location.
pub const MAX_PATH_REGEX: usize = 4096;

/// Builds a `Model` one key at a time, the way both sources deliver it; each setter validates its
/// own value and names the key when it refuses it, so one bad key never spoils the others.
#[derive(Default)]
pub struct ModelBuilder {
    upstreams: BTreeMap<String, Upstream>,
    locations: BTreeMap<(String, String), Partial>,
}

#[derive(Default)]
struct Partial {
    path: Option<String>,
    upstream: Option<String>,
    options: Options,
    key: String,
}

impl ModelBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an upstream, so that one without endpoints still exists (and answers 503).
    pub fn add_upstream(&mut self, name: &str, key: &str) -> Result<(), KeyError> {
        check_name(name, key)?;
        self.upstreams.entry(name.to_string()).or_default();
        Ok(())
    }

    pub fn set_endpoint(
        &mut self,
        upstream: &str,
        id: &str,
        url: &str,
        weight: u32,
        key: &str,
    ) -> Result<(), KeyError> {
        check_name(upstream, key)?;
        check_name(id, key)?;
        let addr = parse_endpoint_url(url).map_err(|m| KeyError::new(key, m))?;
        validate_weight(weight).map_err(|m| KeyError::new(key, m))?;
        let up = self.upstreams.entry(upstream.to_string()).or_default();
        up.endpoints
            .insert(id.to_string(), Endpoint { addr, weight });
        Ok(())
    }

    pub fn set_location_path(
        &mut self,
        host: &str,
        location: &str,
        path: &str,
        key: &str,
    ) -> Result<(), KeyError> {
        validate_path(path).map_err(|m| KeyError::new(key, m))?;
        let slot = self.slot(host, location, key)?;
        slot.path = Some(path.to_string());
        Ok(())
    }

    pub fn set_location_upstream(
        &mut self,
        host: &str,
        location: &str,
        upstream: &str,
        key: &str,
    ) -> Result<(), KeyError> {
        let upstream = upstream.trim();
        check_name(upstream, key)?;
        check_name(location, key)?;
        let slot = self.slot(host, location, key)?;
        slot.upstream = Some(upstream.to_string());
        Ok(())
    }

    pub fn set_upstream_options(
        &mut self,
        upstream: &str,
        json: &str,
        key: &str,
    ) -> Result<(), KeyError> {
        check_name(upstream, key)?;
        let o = Options::from_json(json).map_err(|m| KeyError::new(key, m))?;
        self.upstreams
            .entry(upstream.to_string())
            .or_default()
            .options = o;
        Ok(())
    }

    pub fn set_upstream_discovery(
        &mut self,
        upstream: &str,
        dir: &str,
        key: &str,
    ) -> Result<(), KeyError> {
        check_name(upstream, key)?;
        let dir = super::etcd_keys::parse_discovery_dir(dir).map_err(|m| KeyError::new(key, m))?;
        self.upstreams
            .entry(upstream.to_string())
            .or_default()
            .discovery = Some(dir);
        Ok(())
    }

    pub fn set_location_options(
        &mut self,
        host: &str,
        location: &str,
        json: &str,
        key: &str,
    ) -> Result<(), KeyError> {
        let o = Options::from_json(json).map_err(|m| KeyError::new(key, m))?;
        self.slot(host, location, key)?.options = o;
        Ok(())
    }

    /// Sets options already parsed (the TOML source parses them from a table).
    pub fn set_location_options_parsed(
        &mut self,
        host: &str,
        location: &str,
        o: Options,
        key: &str,
    ) -> Result<(), KeyError> {
        self.slot(host, location, key)?.options = o.check().map_err(|m| KeyError::new(key, m))?;
        Ok(())
    }

    pub fn set_upstream_options_parsed(
        &mut self,
        upstream: &str,
        o: Options,
        key: &str,
    ) -> Result<(), KeyError> {
        check_name(upstream, key)?;
        self.upstreams
            .entry(upstream.to_string())
            .or_default()
            .options = o.check().map_err(|m| KeyError::new(key, m))?;
        Ok(())
    }

    /// The model, plus one error per location that is missing its path or its upstream.
    /// A location naming an upstream that does not exist is kept: it answers 503 until it does.
    pub fn finish(self) -> (Model, Vec<KeyError>) {
        let mut model = Model {
            hosts: BTreeMap::new(),
            upstreams: self.upstreams,
        };
        let mut errors = Vec::new();
        for ((host, name), p) in self.locations {
            match (p.path, p.upstream) {
                (Some(path), Some(upstream)) => {
                    let h: &mut Host = model.hosts.entry(host).or_default();
                    h.locations.insert(
                        name,
                        Location {
                            path,
                            upstream,
                            options: p.options,
                        },
                    );
                }
                (path, _) => {
                    let missing = if path.is_none() { "path" } else { "upstream" };
                    errors.push(KeyError::new(p.key, format!("location has no {missing}")));
                }
            }
        }
        (model, errors)
    }

    fn slot(&mut self, host: &str, location: &str, key: &str) -> Result<&mut Partial, KeyError> {
        let host = normalize_host(host)
            .ok_or_else(|| KeyError::new(key, format!("`{host}` is not a host name")))?;
        check_name(location, key)?;
        let slot = self
            .locations
            .entry((host, location.to_string()))
            .or_default();
        if slot.key.is_empty() {
            slot.key = location_key(key);
        }
        Ok(slot)
    }
}

/// The key that names a whole location: its path/upstream key without the last segment.
fn location_key(key: &str) -> String {
    match key.rfind(['/', '.']) {
        Some(i) => key[..i].to_string(),
        None => key.to_string(),
    }
}

fn check_name(name: &str, key: &str) -> Result<(), KeyError> {
    validate_name(name).map_err(|m| KeyError::new(key, m))
}

/// A name of an upstream, endpoint or location: 1..=255 of letters, digits, `- _ . : @`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid name (use letters, digits, - _ . : @)"
        ))
    }
}

/// An endpoint's weight for smooth weighted round robin.
pub fn validate_weight(weight: u32) -> Result<(), String> {
    if weight == 0 || weight > 10_000 {
        return Err(format!("weight {weight} is out of range 1..=10000"));
    }
    Ok(())
}

/// A location's path regex: non-empty, at most `MAX_PATH_REGEX` bytes, valid syntax.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("path regex is empty".into());
    }
    if path.len() > MAX_PATH_REGEX {
        return Err(format!("path regex is longer than {MAX_PATH_REGEX} bytes"));
    }
    regex_syntax::Parser::new()
        .parse(path)
        .map(|_| ())
        .map_err(|e| format!("bad path regex: {}", one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_reports_by_key() {
        let mut b = ModelBuilder::new();
        b.set_endpoint("u1", "1", "http://127.0.0.1:9000", 1, "k1")
            .unwrap();
        assert_eq!(
            b.set_endpoint("u1", "2", "nope", 1, "k2").unwrap_err().key,
            "k2"
        );
        b.set_location_path(
            "Example.com",
            "home",
            "/.*",
            "hosts/example.com/locations/home/path",
        )
        .unwrap();
        b.set_location_upstream(
            "example.com",
            "home",
            "u1",
            "hosts/example.com/locations/home/upstream",
        )
        .unwrap();
        assert_eq!(
            b.set_location_path("example.com", "bad", "/(", "kbad")
                .unwrap_err()
                .key,
            "kbad"
        );
        b.set_location_upstream(
            "example.com",
            "half",
            "u1",
            "hosts/example.com/locations/half/upstream",
        )
        .unwrap();
        let (m, errs) = b.finish();
        assert_eq!(m.hosts["example.com"].locations["home"].upstream, "u1");
        assert_eq!(m.upstreams["u1"].endpoints.len(), 1);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "hosts/example.com/locations/half");
    }
}
