//! The compiled route table and the lookup that runs on every request. Lookup never allocates:
//! the Host header is normalized in place, or lowercased into a stack buffer when it must be.

use super::host_index::HostIndex;
use super::pattern::Matcher;
use super::prefilter::Prefilter;
use super::Route;
use crate::model::CATCH_ALL_HOST;

/// Longest Host header value looked up. Configured names are at most 253 bytes, so anything
/// longer (after the port is removed) cannot match and goes to the catch-all host.
const MAX_HOST: usize = 256;

/// Up to this many locations a host is scanned in order (inlined prefix compares, ~2 ns each);
/// past it, an aho-corasick prefilter. Building one costs ~20 µs even for a handful of prefixes,
/// which for many small hosts would dominate compile time (10k hosts of 10: ~200 ms).
const LINEAR_MAX: usize = 16;

pub(crate) struct HostTable {
    /// Every host's locations, host after host, each run in precedence order. A location's
    /// position is its route id, and its `Route` sits next to its matcher: one miss fewer.
    locations: Box<[CompiledLocation]>,
    /// By host number; the catch-all, if any, is the last and is not in `index`.
    hosts: Box<[HostRoutes]>,
    index: HostIndex,
    catch_all: Option<u32>,
}

/// The locations of one host: `locations[start..start + len]`.
struct HostRoutes {
    start: u32,
    len: u32,
    /// Present when the host has more than `LINEAR_MAX` locations.
    prefilter: Option<Box<Prefilter>>,
}

pub(crate) struct CompiledLocation {
    pub matcher: Matcher,
    pub route: Route,
}

impl HostTable {
    /// `hosts`: normalized, distinct names (`*` is the catch-all) with their locations in
    /// precedence order. Route ids are assigned here, in that order.
    pub fn new(hosts: Vec<(String, Vec<CompiledLocation>)>) -> HostTable {
        let (mut any, mut named): (Vec<_>, Vec<_>) =
            hosts.into_iter().partition(|(n, _)| n == CATCH_ALL_HOST);
        let names: Vec<&[u8]> = named.iter().map(|(n, _)| n.as_bytes()).collect();
        let index = HostIndex::new(&names);
        let catch_all = any.first().map(|_| named.len() as u32);
        named.append(&mut any);
        let mut locations = Vec::with_capacity(named.iter().map(|(_, l)| l.len()).sum());
        let hosts = named
            .into_iter()
            .map(|(_, locs)| HostRoutes::new(&mut locations, locs))
            .collect();
        HostTable {
            locations: locations.into(),
            hosts,
            index,
            catch_all,
        }
    }

    /// Every route, by id.
    pub fn routes(&self) -> impl ExactSizeIterator<Item = &Route> {
        self.locations.iter().map(|l| &l.route)
    }

    /// The route for a raw Host header value and a raw path (no query string). A request for a
    /// configured host never falls through to the catch-all: the host owns its whole path space.
    #[inline]
    pub fn lookup(&self, host: &[u8], path: &[u8]) -> Option<&Route> {
        let n = match with_host_key(host, |key| self.index.get(key)) {
            Some(n) => n,
            None => self.catch_all?,
        };
        let host = self.hosts.get(n as usize)?;
        let locs = self
            .locations
            .get(host.start as usize..(host.start + host.len) as usize)?;
        let i = match &host.prefilter {
            Some(pre) => pre.find(path, |i| {
                locs[i as usize].matcher.matches_after_prefix(path)
            })? as usize,
            None => locs.iter().position(|l| l.matcher.matches(path))?,
        };
        Some(&locs[i].route)
    }
}

impl HostRoutes {
    /// Appends a host's locations (in precedence order) to `all`, numbering their routes.
    fn new(all: &mut Vec<CompiledLocation>, locs: Vec<CompiledLocation>) -> HostRoutes {
        let prefilter = (locs.len() > LINEAR_MAX)
            .then(|| build_prefilter(&locs))
            .flatten()
            .map(Box::new);
        let start = all.len() as u32;
        for mut l in locs {
            l.route.id = all.len() as u32;
            all.push(l);
        }
        HostRoutes {
            start,
            len: all.len() as u32 - start,
            prefilter,
        }
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
fn with_host_key<R>(raw: &[u8], f: impl FnOnce(&[u8]) -> Option<R>) -> Option<R> {
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
