//! The compiled route table and the lookup that runs on every request. Lookup never allocates:
//! the Host header is lowercased into a stack buffer and hashed from there.

use rustc_hash::FxHashMap;

use super::pattern::Matcher;
use super::prefilter::Prefilter;
use super::Route;
use crate::model::CATCH_ALL_HOST;

/// Longest Host header value looked up. Configured names are at most 253 bytes, so anything
/// longer (after the port is removed) cannot match and goes to the catch-all host.
const MAX_HOST: usize = 256;

/// Up to this many locations a host is scanned in order; past it, the prefix scan would cost
/// more than one aho-corasick search.
const LINEAR_MAX: usize = 8;

#[derive(Default)]
pub(crate) struct HostTable {
    /// Indexed by `Route::id`.
    pub routes: Vec<Route>,
    /// Keyed by normalized host name (see `model::normalize_host`).
    hosts: FxHashMap<Box<[u8]>, HostRoutes>,
    catch_all: Option<HostRoutes>,
}

/// The locations of one host.
pub(crate) struct HostRoutes {
    /// In precedence order (see `Precedence`).
    locations: Box<[CompiledLocation]>,
    /// Present when the host has more than `LINEAR_MAX` locations.
    prefilter: Option<Prefilter>,
}

pub(crate) struct CompiledLocation {
    pub matcher: Matcher,
    pub route: u32,
}

impl HostTable {
    /// `name` is normalized; `*` is the catch-all. A later insert of the same name replaces.
    pub fn insert(&mut self, name: &str, host: HostRoutes) {
        if name == CATCH_ALL_HOST {
            self.catch_all = Some(host);
        } else {
            self.hosts.insert(name.as_bytes().into(), host);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        match name {
            CATCH_ALL_HOST => self.catch_all.is_some(),
            _ => self.hosts.contains_key(name.as_bytes()),
        }
    }

    /// The route for a raw Host header value and a raw path (no query string). A request for a
    /// configured host never falls through to the catch-all: the host owns its whole path space.
    #[inline]
    pub fn lookup(&self, host: &[u8], path: &[u8]) -> Option<&Route> {
        let mut buf = [0u8; MAX_HOST];
        let entry = match normalize(host, &mut buf).and_then(|h| self.hosts.get(h)) {
            Some(entry) => entry,
            None => self.catch_all.as_ref()?,
        };
        self.routes.get(entry.find(path)? as usize)
    }
}

impl HostRoutes {
    /// `locations` must be in precedence order.
    pub fn new(locations: Vec<CompiledLocation>) -> HostRoutes {
        let prefilter = (locations.len() > LINEAR_MAX)
            .then(|| build_prefilter(&locations))
            .flatten();
        HostRoutes {
            locations: locations.into(),
            prefilter,
        }
    }

    #[inline]
    fn find(&self, path: &[u8]) -> Option<u32> {
        let locs = &self.locations;
        match &self.prefilter {
            Some(pre) => pre
                .find(path, |i| locs[i as usize].matcher.matches(path))
                .map(|i| locs[i as usize].route),
            None => locs
                .iter()
                .find(|l| l.matcher.matches(path))
                .map(|l| l.route),
        }
    }
}

/// Falls back to the linear scan (still correct, only slower) if the automaton cannot be built.
fn build_prefilter(locations: &[CompiledLocation]) -> Option<Prefilter> {
    let prefixes: Vec<&[u8]> = locations.iter().map(|l| l.matcher.prefix()).collect();
    Prefilter::build(&prefixes)
        .map_err(|e| tracing::warn!(target: "vane::router", error = %e, "no prefilter for a host; scanning its locations"))
        .ok()
}

/// Host header → table key, the byte-level twin of `model::normalize_host`: surrounding
/// whitespace, the port and one trailing dot removed, ASCII-lowercased into `buf`.
/// `None` when it does not fit, and so cannot be a configured name.
#[inline]
fn normalize<'b>(raw: &[u8], buf: &'b mut [u8; MAX_HOST]) -> Option<&'b [u8]> {
    let name = strip_port(raw.trim_ascii());
    let name = name.strip_suffix(b".").unwrap_or(name);
    let out = buf.get_mut(..name.len())?;
    for (o, b) in out.iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
    }
    Some(out)
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
        let mut buf = [0u8; MAX_HOST];
        normalize(raw.as_bytes(), &mut buf).map(|h| String::from_utf8(h.to_vec()).unwrap())
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
