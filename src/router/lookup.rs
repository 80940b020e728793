//! The compiled route table and the lookup that runs on every request. Lookup never allocates:
//! the Host header is normalized in place, or lowercased into a stack buffer when it must be.
//! Hosts are `Arc`s in a sharded index, so snapshots share the hosts they have in common.

use std::sync::Arc;

use super::host_index::{HostIndex, Named};
use super::pattern::Matcher;
use super::prefilter::Prefilter;
use super::Route;

/// Longest Host header value looked up. Configured names are at most 253 bytes, so anything
/// longer (after the port is removed) cannot match and goes to the catch-all host.
const MAX_HOST: usize = 256;

/// Up to this many locations a host is scanned in order (inlined prefix compares, ~2 ns each);
/// past it, an aho-corasick prefilter. Building one costs ~20 µs even for a handful of prefixes,
/// which for many small hosts would dominate compile time (10k hosts of 10: ~200 ms).
const LINEAR_MAX: usize = 16;

/// Every host's routes. Cloning shares everything: a new snapshot starts as a clone of the
/// previous table and replaces only the hosts that changed.
#[derive(Clone, Default)]
pub(crate) struct HostTable {
    pub index: HostIndex<HostRoutes>,
    /// The `*` host; not in `index`.
    pub catch_all: Option<Arc<HostRoutes>>,
}

/// One host's locations, in precedence order, with their routes next to their matchers.
pub(crate) struct HostRoutes {
    /// Normalized (`model::normalize_host`), or `*`.
    pub name: Box<str>,
    pub locations: Box<[CompiledLocation]>,
    /// Present when the host has more than `LINEAR_MAX` locations.
    prefilter: Option<Box<Prefilter>>,
}

pub(crate) struct CompiledLocation {
    pub matcher: Matcher,
    pub route: Route,
    /// The path regex as configured, for the admin API (`Snapshot::explain`); never read by
    /// `lookup`.
    pub pattern: Box<str>,
}

impl Named for HostRoutes {
    fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }
}

impl HostTable {
    /// Every route, host by host in no particular order.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        let hosts = self.index.iter().chain(&self.catch_all);
        hosts.flat_map(|h| h.locations.iter().map(|l| &l.route))
    }

    /// The routes of the host with this exact (normalized) name, `*` included.
    pub fn host(&self, name: &str) -> Option<&Arc<HostRoutes>> {
        match name {
            crate::model::CATCH_ALL_HOST => self.catch_all.as_ref(),
            _ => self.index.get(name.as_bytes()),
        }
    }

    /// The route for a raw Host header value and a raw path (no query string). A request for a
    /// configured host never falls through to the catch-all: the host owns its whole path space.
    #[inline]
    pub fn lookup(&self, host: &[u8], path: &[u8]) -> Option<&Route> {
        let routes = match with_host_key(host, |key| self.index.get(key)) {
            Some(h) => h,
            None => self.catch_all.as_ref()?,
        };
        routes.find(path)
    }
}

impl HostRoutes {
    /// `locations` in precedence order, their route ids already assigned.
    pub fn new(name: Box<str>, locations: Vec<CompiledLocation>) -> HostRoutes {
        let prefilter = (locations.len() > LINEAR_MAX)
            .then(|| build_prefilter(&locations))
            .flatten()
            .map(Box::new);
        HostRoutes {
            name,
            locations: locations.into(),
            prefilter,
        }
    }

    #[inline]
    pub(super) fn find(&self, path: &[u8]) -> Option<&Route> {
        let locs = &self.locations;
        let i = match &self.prefilter {
            Some(pre) => pre.find(path, |i| {
                locs[i as usize].matcher.matches_after_prefix(path)
            })? as usize,
            None => locs.iter().position(|l| l.matcher.matches(path))?,
        };
        Some(&locs[i].route)
    }
}

/// Falls back to the linear scan (still correct, only slower) if the automaton cannot be built.
fn build_prefilter(locations: &[CompiledLocation]) -> Option<Prefilter> {
    let prefixes: Vec<&[u8]> = locations.iter().map(|l| l.matcher.prefix()).collect();
    let built = Prefilter::build(&prefixes);
    if let Err(error) = &built {
        tracing::warn!(
            target: "vane::router",
            %error,
            "no prefilter for a host: scanning its locations"
        );
    }
    built.ok()
}

/// Host header → table key, the byte-level twin of `model::normalize_host`: surrounding
/// whitespace, the port and one trailing dot removed, ASCII-lowercased; `f` gets the key.
/// Clients mostly send lower case, so the copy into a stack buffer is made only when needed.
/// `None` when the name is too long to be a configured one.
#[inline]
pub(super) fn with_host_key<R>(raw: &[u8], f: impl FnOnce(&[u8]) -> Option<R>) -> Option<R> {
    let name = strip_port(raw.trim_ascii());
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.len() > MAX_HOST {
        return None;
    }
    if !name.iter().any(u8::is_ascii_uppercase) {
        return f(name);
    }
    let mut buf = [0u8; MAX_HOST];
    let key = &mut buf[..name.len()];
    key.copy_from_slice(name);
    key.make_ascii_lowercase();
    f(key)
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`; a bare IPv6 literal is left alone.
fn strip_port(raw: &[u8]) -> &[u8] {
    if raw.first() == Some(&b'[') {
        return match raw.iter().position(|&b| b == b']') {
            Some(end) => &raw[..=end],
            None => raw,
        };
    }
    match raw.iter().rposition(|&b| b == b':') {
        Some(i) if !raw[..i].contains(&b':') => &raw[..i],
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Option<String> {
        with_host_key(raw.as_bytes(), |key| {
            Some(String::from_utf8(key.to_vec()).unwrap())
        })
    }

    #[test]
    fn normalizes_like_the_model() {
        for raw in [
            "Example.COM",
            "example.com.",
            "example.com:8080",
            "EXAMPLE.com.:80",
            " example.com ",
        ] {
            assert_eq!(norm(raw).as_deref(), Some("example.com"), "{raw}");
        }
        assert_eq!(norm("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(norm("[::1]").as_deref(), Some("[::1]"));
        assert_eq!(norm("::1").as_deref(), Some("::1"));
        assert_eq!(norm("").as_deref(), Some(""));
        assert_eq!(norm(&"a".repeat(MAX_HOST + 1)), None);
        for raw in ["Example.COM:1", "[::1]:80", "a.b.", "::1"] {
            assert_eq!(norm(raw), crate::model::normalize_host(raw), "{raw}");
        }
    }
}
