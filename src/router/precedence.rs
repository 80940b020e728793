//! The order in which the locations of one host are tried. Kept apart from matching so that the
//! rule is explicit and testable on its own, never the accident of a map's key order.

use std::cmp::Ordering;

/// Where a location ranks among the locations of its host; smaller ranks are tried first and the
/// first location whose path regex fully matches the request path wins.
///
/// The rule:
/// 1. **Longer literal prefix first.** The literal prefix is the longest string every match of the
///    path regex must start with (`/api/v1/.*` → `/api/v1/`, `/.*` → `/`, `.*` → empty). A more
///    specific location therefore beats a catch-all such as `/.*`, whatever their names.
/// 2. **Then location name, ascending** (byte order). Names are unique within a host, so the
///    order is total and the same on every node and every reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Precedence<'a> {
    pub prefix_len: usize,
    pub name: &'a str,
}

impl Ord for Precedence<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed on purpose: the longer prefix ranks first.
        other
            .prefix_len
            .cmp(&self.prefix_len)
            .then_with(|| self.name.as_bytes().cmp(other.name.as_bytes()))
    }
}

impl PartialOrd for Precedence<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(prefix_len: usize, name: &str) -> Precedence<'_> {
        Precedence { prefix_len, name }
    }

    #[test]
    fn longer_prefix_ranks_first_whatever_the_name() {
        assert!(p(8, "zzz") < p(1, "aaa"));
        assert!(p(1, "aaa") < p(0, "0"));
    }

    #[test]
    fn name_breaks_ties_in_byte_order() {
        assert!(p(4, "a") < p(4, "b"));
        assert!(p(4, "B") < p(4, "a"));
        assert!(p(4, "api") < p(4, "api2"));
        assert_eq!(p(4, "x").cmp(&p(4, "x")), Ordering::Equal);
    }

    #[test]
    fn sorting_is_deterministic() {
        let mut v = [p(1, "home"), p(0, "any"), p(8, "v1"), p(5, "b"), p(5, "a")];
        v.sort();
        let names: Vec<_> = v.iter().map(|x| x.name).collect();
        assert_eq!(names, ["v1", "a", "b", "home", "any"]);
    }
}
