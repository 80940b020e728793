//! Classifies a path regex from its HIR (regex_syntax): a literal, a literal then `.*`, or a
//! real regex with the literal prefix every match starts with. Only the last needs an engine.

use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use super::pattern::Matcher;

/// The matcher for a pattern, or why it cannot be built (a parse error, or the regex size limit).
pub(crate) fn classify(pattern: &str) -> Result<Matcher, String> {
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

    fn kind(p: &str) -> (&'static str, Vec<u8>) {
        match classify(p).unwrap() {
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
}
