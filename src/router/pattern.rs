//! A location's path regex, compiled for matching raw request paths (bytes, not percent-decoded).
//!
//! A path regex must match the whole path. Most patterns in practice are a literal (`/login`) or
//! a literal then `.*` (`/api/.*`); those are recognised from the regex's HIR and matched with
//! plain byte comparisons. Only the rest run a regex engine.

use std::sync::Arc;

use regex::bytes::Regex;
use rustc_hash::FxHashMap;

use super::bytes;
use super::classify::classify;

/// How one location's path regex is matched.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// A pure literal: the path must equal it.
    Exact(Arc<[u8]>),
    /// A literal followed by `.*`: the path must start with it. In a regex `.` stops at `\n`
    /// (and at invalid UTF-8), but request paths never contain a newline, so any suffix matches.
    Prefix(Arc<[u8]>),
    /// Anything else. `prefix` is the literal every match starts with, checked first because it
    /// is cheaper than the engine; `re` is anchored at both ends.
    Regex { prefix: Arc<[u8]>, re: Arc<Regex> },
}

impl Matcher {
    /// The longest literal that every matching path starts with; it decides precedence.
    pub fn prefix(&self) -> &[u8] {
        match self {
            Matcher::Exact(lit) | Matcher::Prefix(lit) => lit,
            Matcher::Regex { prefix, .. } => prefix,
        }
    }

    #[inline]
    pub fn matches(&self, path: &[u8]) -> bool {
        match self {
            Matcher::Exact(lit) => bytes::eq(path, lit),
            Matcher::Prefix(lit) => bytes::starts_with(path, lit),
            Matcher::Regex { prefix, re } => bytes::starts_with(path, prefix) && re.is_match(path),
        }
    }

    /// `matches` for a path already known to start with `prefix()` (the prefilter checked it):
    /// the literal forms then need no byte compare at all.
    #[inline]
    pub fn matches_after_prefix(&self, path: &[u8]) -> bool {
        match self {
            Matcher::Exact(lit) => path.len() == lit.len(),
            Matcher::Prefix(_) => true,
            Matcher::Regex { re, .. } => re.is_match(path),
        }
    }
}

/// Matchers by pattern, kept by the `Compiler` across compiles so that recompiling a changed
/// host does not rebuild the regexes of its unchanged locations. Only patterns that need the
/// parser are kept (regexes, their errors, literals in regex syntax): plain literals are cheaper
/// to rebuild than to look up, and keeping all 100k `/svcN/.*` would double the control plane's
/// memory. Within one compile, a regex shared by many locations is built once and shared.
#[derive(Default)]
pub(crate) struct PatternCache {
    parsed: FxHashMap<Box<str>, Result<Matcher, String>>,
    /// During a full compile: the entries from before it, moved to `parsed` when used again and
    /// dropped at its end, so patterns no longer in the model do not pile up.
    previous: FxHashMap<Box<str>, Result<Matcher, String>>,
}

impl PatternCache {
    /// The matcher for `pattern`, or why its regex could not be built (e.g. the size limit).
    pub fn matcher(&mut self, pattern: &str) -> Result<Matcher, String> {
        if let Some(m) = plain_literal(pattern) {
            return Ok(m);
        }
        if let Some(m) = self.parsed.get(pattern) {
            return m.clone();
        }
        let m = match self.previous.remove(pattern) {
            Some(m) => m,
            None => classify(pattern),
        };
        self.parsed.insert(pattern.into(), m.clone());
        m
    }

    pub fn begin_full(&mut self) {
        self.previous = std::mem::take(&mut self.parsed);
    }

    pub fn end_full(&mut self) {
        self.previous = FxHashMap::default();
    }

    /// Between full compiles the cache only grows; past `limit` entries it starts over (a
    /// later change then rebuilds the regexes it needs).
    pub fn limit(&mut self, limit: usize) {
        if self.parsed.len() > limit {
            self.parsed = FxHashMap::default();
        }
    }
}

/// Bytes that are special outside a character class. `#` only starts a comment in `x` mode, and
/// `-&~` only act inside classes; both need one of these bytes first.
const SPECIAL: &[u8] = b"\\.+*?()|[]{}^$";

/// Fast path for the common shapes, skipping the regex parser (it dominates compile time for
/// 100k locations): a pattern with no special byte is a literal, optionally followed by `.*`.
fn plain_literal(pattern: &str) -> Option<Matcher> {
    let plain = |s: &str| !s.bytes().any(|b| SPECIAL.contains(&b));
    match pattern.strip_suffix(".*") {
        Some(lit) if plain(lit) => Some(Matcher::Prefix(lit.as_bytes().into())),
        _ => plain(pattern).then(|| Matcher::Exact(pattern.as_bytes().into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str) -> Matcher {
        PatternCache::default().matcher(p).unwrap()
    }

    #[test]
    fn the_fast_path_agrees_with_the_parser() {
        for p in ["/api", "/a b", "/a-b/.*", "/caf\u{e9}/.*", ".*", "/~x&y/.*"] {
            let fast = format!("{:?}", plain_literal(p).unwrap());
            let parsed = format!("{:?}", classify(p).unwrap());
            assert_eq!(fast, parsed, "{p}");
        }
        assert!(plain_literal("/a.b").is_none() && plain_literal("/a/.+").is_none());
    }

    #[test]
    fn literal_forms_match_without_an_engine() {
        assert!(m("/api").matches(b"/api") && !m("/api").matches(b"/api/x"));
        assert!(m("/api/.*").matches(b"/api/") && m("/api/.*").matches(b"/api/x/y"));
        assert!(!m("/api/.*").matches(b"/api"));
        assert!(m("/api/.*").matches_after_prefix(b"/api/x"));
        assert!(!m("/api").matches_after_prefix(b"/api/x"));
    }

    #[test]
    fn regex_matches_the_whole_path() {
        let r = m("/api/v[0-9]+/item/[a-z]+");
        assert!(r.matches(b"/api/v12/item/abc"));
        assert!(!r.matches(b"/api/v12/item/abc/"));
        assert!(!r.matches(b"/x/api/v12/item/abc"));
        let alt = m("/a|/ab");
        assert!(alt.matches(b"/ab"), "full match must try every alternative");
    }

    #[test]
    fn x_mode_comment_does_not_swallow_the_anchor() {
        let r = m("(?x) /a [0-9]+ # digits");
        assert!(r.matches(b"/a12"));
        assert!(!r.matches(b"/a12x"));
    }

    #[test]
    fn too_big_a_regex_is_an_error_not_a_panic() {
        let mut cache = PatternCache::default();
        assert!(cache.matcher(r"\w{1000}\w{1000}\w{1000}").is_err());
    }
}
