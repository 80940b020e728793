//! A location's path regex, compiled for matching raw request paths (bytes, not percent-decoded).
//!
//! A path regex must match the whole path. Most patterns in practice are a literal (`/login`) or
//! a literal then `.*` (`/api/.*`); those are recognised from the regex's HIR and matched with
//! plain byte comparisons. Only the rest run a regex engine.

use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use rustc_hash::FxHashMap;

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
            Matcher::Exact(lit) => path == &**lit,
            Matcher::Prefix(lit) => path.starts_with(lit),
            Matcher::Regex { prefix, re } => path.starts_with(prefix) && re.is_match(path),
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

/// Builds matchers for one `compile` run. Many hosts share a pattern (`/.*`, a common API
/// layout), so each distinct pattern is classified and compiled once, and its matcher (literal
/// and regex alike) is shared: a hot `/` literal is one allocation, not one per location.
#[derive(Default)]
pub(crate) struct PatternCache<'m> {
    compiled: FxHashMap<&'m str, Result<Matcher, String>>,
}

impl<'m> PatternCache<'m> {
    /// The matcher for `pattern`, or why its regex could not be built (e.g. the size limit).
    pub fn matcher(&mut self, pattern: &'m str) -> Result<Matcher, String> {
        let build = || plain_literal(pattern).map_or_else(|| classify(pattern), Ok);
        self.compiled.entry(pattern).or_insert_with(build).clone()
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

fn classify(pattern: &str) -> Result<Matcher, String> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    if let Some(m) = literal_form(&hir) {
        return Ok(m);
    }
    let re = anchored_regex(pattern, &hir).map_err(|e| e.to_string())?;
    Ok(Matcher::Regex {
        prefix: literal_prefix(&hir).into(),
        re: Arc::new(re),
    })
}

/// `Exact`/`Prefix` if the HIR is a literal, optionally followed by "any string"; a leading `^`
/// and trailing `$` are ignored because matching is anchored anyway.
fn literal_form(hir: &Hir) -> Option<Matcher> {
    let mut parts = top_level_parts(hir);
    while let [first, rest @ ..] = parts {
        if !matches!(first.kind(), HirKind::Look(Look::Start)) {
            break;
        }
        parts = rest;
    }
    while let [rest @ .., last] = parts {
        if !matches!(last.kind(), HirKind::Look(Look::End)) {
            break;
        }
        parts = rest;
    }
    match parts {
        [] => Some(Matcher::Exact(Arc::default())),
        [one] if is_any_string(one) => Some(Matcher::Prefix(Arc::default())),
        [one] => literal(one).map(|l| Matcher::Exact(l.into())),
        [lit, any] if is_any_string(any) => literal(lit).map(|l| Matcher::Prefix(l.into())),
        _ => None,
    }
}

fn top_level_parts(hir: &Hir) -> &[Hir] {
    match hir.kind() {
        HirKind::Capture(cap) => top_level_parts(&cap.sub),
        HirKind::Concat(subs) => subs,
        HirKind::Empty => &[],
        _ => std::slice::from_ref(hir),
    }
}

fn literal(hir: &Hir) -> Option<&[u8]> {
    match hir.kind() {
        HirKind::Literal(lit) => Some(&lit.0),
        _ => None,
    }
}

/// `.*`, `(?s).*` or their byte forms: any run of anything but possibly `\n`.
fn is_any_string(hir: &Hir) -> bool {
    let HirKind::Repetition(rep) = hir.kind() else {
        return false;
    };
    if rep.min != 0 || rep.max.is_some() {
        return false;
    }
    match rep.sub.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            let mut rest = c.clone();
            rest.negate();
            rest.ranges()
                .iter()
                .all(|r| r.start() == '\n' && r.end() == '\n')
        }
        HirKind::Class(Class::Bytes(c)) => {
            let mut rest = c.clone();
            rest.negate();
            rest.ranges()
                .iter()
                .all(|r| r.start() == b'\n' && r.end() == b'\n')
        }
        _ => false,
    }
}

/// The longest string every match must start with: the common prefix of the regex's possible
/// prefix literals. The extractor's limits only ever make it shorter, never wrong.
fn literal_prefix(hir: &Hir) -> Vec<u8> {
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    seq.longest_common_prefix().unwrap_or_default().to_vec()
}

/// The pattern anchored at both ends. The group scopes the pattern's own flags; but in `x` mode
/// a `#` comment would swallow the closing `)$`, so patterns with a `#` are wrapped in their
/// HIR's printed form instead, which is equivalent and has no comments.
fn anchored_regex(pattern: &str, hir: &Hir) -> Result<Regex, regex::Error> {
    let inner = if pattern.contains('#') {
        hir.to_string()
    } else {
        pattern.to_string()
    };
    RegexBuilder::new(&format!("^(?:{inner})$")).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str) -> Matcher {
        PatternCache::default().matcher(p).unwrap()
    }

    fn kind(p: &str) -> (&'static str, Vec<u8>) {
        match m(p) {
            Matcher::Exact(l) => ("exact", l.to_vec()),
            Matcher::Prefix(l) => ("prefix", l.to_vec()),
            Matcher::Regex { prefix, .. } => ("regex", prefix.to_vec()),
        }
    }

    #[test]
    fn classifies_literal_shapes() {
        assert_eq!(kind("/api"), ("exact", b"/api".to_vec()));
        assert_eq!(kind("/api/v1/.*"), ("prefix", b"/api/v1/".to_vec()));
        assert_eq!(kind("/.*"), ("prefix", b"/".to_vec()));
        assert_eq!(kind(".*"), ("prefix", b"".to_vec()));
        assert_eq!(kind(r"^/a\.b/.*$"), ("prefix", b"/a.b/".to_vec()));
        assert_eq!(kind(r"(/x-y/(?s:.*))"), ("prefix", b"/x-y/".to_vec()));
        assert_eq!(
            kind(r"(?x) /api/ .* # comment"),
            ("prefix", b"/api/".to_vec())
        );
    }

    #[test]
    fn regex_prefix_is_the_common_literal() {
        assert_eq!(
            kind("/api/v[0-9]+/item/[a-z]+"),
            ("regex", b"/api/v".to_vec())
        );
        assert_eq!(kind("/search.+"), ("regex", b"/search".to_vec()));
        assert_eq!(kind("/(foo|far)/.*"), ("regex", b"/f".to_vec()));
        assert_eq!(kind("(?i)/api/.*"), ("regex", b"/".to_vec()));
        assert_eq!(kind("/a/.*/b"), ("regex", b"/a/".to_vec()));
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
        assert!(PatternCache::default()
            .matcher(r"\w{1000}\w{1000}\w{1000}")
            .is_err());
    }
}
