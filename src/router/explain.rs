//! Read-only views of a snapshot for the admin API: a host's locations as compiled (in
//! precedence order, with their configured path regex), and `explain`, which answers "where
//! would this request go, and why" with the same host normalization and the same `find` the
//! data path's `lookup` runs, so the answer cannot drift from what traffic does.

use std::sync::Arc;

use super::lookup::{with_host_key, CompiledLocation, HostRoutes};
use super::pattern::{Matcher, PatternCache};
use super::{Route, Snapshot};

/// How a location's path regex is matched (see `pattern::Matcher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    /// A pure literal: the path must equal it.
    Exact,
    /// A literal then `.*`: the path must start with it.
    Prefix,
    /// Anything else: a regex engine runs (after the literal prefix is checked).
    Regex,
}

impl PatternKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::Exact => "exact",
            PatternKind::Prefix => "prefix",
            PatternKind::Regex => "regex",
        }
    }
}

/// One compiled location.
#[derive(Debug, Clone, Copy)]
pub struct LocationView<'a> {
    pub route: &'a Route,
    /// The path regex as configured.
    pub pattern: &'a str,
    pub kind: PatternKind,
    /// The literal every matching path starts with: precedence ranks by its length.
    pub prefix: &'a [u8],
}

impl<'a> LocationView<'a> {
    fn new(l: &'a CompiledLocation) -> Self {
        let kind = match l.matcher {
            Matcher::Exact(_) => PatternKind::Exact,
            Matcher::Prefix(_) => PatternKind::Prefix,
            Matcher::Regex { .. } => PatternKind::Regex,
        };
        LocationView {
            route: &l.route,
            pattern: &l.pattern,
            kind,
            prefix: l.matcher.prefix(),
        }
    }
}

/// Why a request would (or would not) be routed.
#[derive(Debug)]
pub struct Explanation<'a> {
    /// The Host value as the lookup keys it (port and one trailing dot removed, lowercased);
    /// `None` when it is too long to be any configured name.
    pub host_key: Option<String>,
    /// The host entry that answers (a normalized name, or `*`); `None`: no entry, 404.
    pub host: Option<&'a str>,
    /// The catch-all `*` answers because no host entry has this name.
    pub catch_all: bool,
    /// That host's locations in the order they are tried, each with whether its pattern
    /// matches the path.
    pub candidates: Vec<(LocationView<'a>, bool)>,
    /// What `lookup` returns: the first candidate that matches.
    pub route: Option<&'a Route>,
}

/// Whether `pattern` compiles as a location path the way `compile` builds it (syntax, and the
/// regex size limit): a pattern that does not is skipped by `compile`, so writers check first.
pub fn check_path_pattern(pattern: &str) -> Result<(), String> {
    PatternCache::default().matcher(pattern).map(|_| ())
}

impl Snapshot {
    /// Every host name with locations, `*` included, in no particular order.
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        let hosts = self.hosts.index.iter().chain(&self.hosts.catch_all);
        hosts.map(|h| &*h.name)
    }

    /// The locations of the host with this normalized name (or `*`), in precedence order.
    pub fn host_locations(&self, name: &str) -> Option<impl Iterator<Item = LocationView<'_>>> {
        let host = self.hosts.host(name)?;
        Some(host.locations.iter().map(LocationView::new))
    }

    /// `lookup(host, path)`, explained. Allocates; for the admin API, not the data path.
    pub fn explain(&self, host: &[u8], path: &[u8]) -> Explanation<'_> {
        let key = with_host_key(host, |k| Some(String::from_utf8_lossy(k).into_owned()));
        let named = with_host_key(host, |k| self.hosts.index.get(k));
        let (routes, catch_all): (Option<&Arc<HostRoutes>>, bool) = match named {
            Some(h) => (Some(h), false),
            None => (
                self.hosts.catch_all.as_ref(),
                self.hosts.catch_all.is_some(),
            ),
        };
        let Some(routes) = routes else {
            return Explanation {
                host_key: key,
                host: None,
                catch_all: false,
                candidates: Vec::new(),
                route: None,
            };
        };
        let candidates = routes
            .locations
            .iter()
            .map(|l| (LocationView::new(l), l.matcher.matches(path)))
            .collect();
        Explanation {
            host_key: key,
            host: Some(&routes.name),
            catch_all,
            candidates,
            route: routes.find(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_toml;
    use crate::router::compile;

    fn snap(text: &str) -> Snapshot {
        let c = parse_toml(text).unwrap();
        compile(&c.model, Arc::new(c.settings), 1, 0)
    }

    const ROUTES: &str = r#"
[upstreams.a.endpoints]
1 = "http://127.0.0.1:1"
[hosts."example.com".locations.home]
path = "/.*"
upstream = "a"
[hosts."example.com".locations.api]
path = "/api/.*"
upstream = "a"
[hosts."example.com".locations.items]
path = "/api/v[0-9]+/items"
upstream = "a"
[hosts."*".locations.any]
path = "/.*"
upstream = "a"
"#;

    #[test]
    fn explains_precedence_and_the_winner() {
        let s = snap(ROUTES);
        let e = s.explain(b"Example.COM.:8080", b"/api/v2/items");
        assert_eq!(e.host_key.as_deref(), Some("example.com"));
        assert_eq!((e.host, e.catch_all), (Some("example.com"), false));
        let order: Vec<_> = e
            .candidates
            .iter()
            .map(|(l, m)| (&*l.route.location, l.kind, *m))
            .collect();
        assert_eq!(
            order,
            [
                ("items", PatternKind::Regex, true),
                ("api", PatternKind::Prefix, true),
                ("home", PatternKind::Prefix, true)
            ]
        );
        assert_eq!(e.candidates[0].0.pattern, "/api/v[0-9]+/items");
        assert_eq!(e.candidates[0].0.prefix, b"/api/v");
        assert_eq!(&*e.route.unwrap().location, "items");
        let real = s.lookup(b"Example.COM.:8080", b"/api/v2/items").unwrap();
        assert_eq!(real.id, e.route.unwrap().id);
    }

    #[test]
    fn explains_the_catch_all_and_no_match() {
        let s = snap(ROUTES);
        let e = s.explain(b"other.test", b"/x");
        assert_eq!((e.host, e.catch_all), (Some("*"), true));
        assert_eq!(&*e.route.unwrap().location, "any");
        let none =
            snap(&ROUTES.replace("[hosts.\"*\".locations.any]", "[hosts.\"x\".locations.any]"));
        let e = none.explain(b"other.test", b"/x");
        assert_eq!(
            (e.host, e.catch_all, e.route.is_none()),
            (None, false, true)
        );
        let e = none.explain(b"example.com", b"nope");
        assert!(e.route.is_none() && e.candidates.iter().all(|(_, m)| !m));
    }

    #[test]
    fn lists_hosts_and_locations() {
        let s = snap(ROUTES);
        let mut hosts: Vec<_> = s.host_names().collect();
        hosts.sort_unstable();
        assert_eq!(hosts, ["*", "example.com"]);
        let names: Vec<_> = s
            .host_locations("example.com")
            .unwrap()
            .map(|l| l.route.location.to_string())
            .collect();
        assert_eq!(names, ["items", "api", "home"]);
        assert!(s.host_locations("nope").is_none());
    }

    #[test]
    fn checks_patterns_like_compile() {
        assert!(check_path_pattern("/api/.*").is_ok());
        assert!(check_path_pattern("/(").is_err());
        assert!(check_path_pattern(r"\w{1000}\w{1000}\w{1000}").is_err());
    }
}
