//! Narrows a host with many locations down to those whose literal prefix starts the request
//! path, in precedence order, with one anchored aho-corasick search instead of a scan.
//!
//! Every prefix that starts a path is itself a prefix of the longest one that does, so the
//! candidates form a chain: the search finds the longest (leftmost-longest, anchored), and each
//! distinct prefix links to the next shorter distinct prefix it starts with. aho-corasick 1.1
//! refuses anchored *overlapping* iteration, and its lower-level overlapping search would also
//! report matches copied along failure links that do not start at 0; the chain needs neither.

use aho_corasick::{
    AhoCorasick, AhoCorasickKind, Anchored, BuildError, Input, MatchKind, StartKind,
};
use rustc_hash::FxHashMap;

const NONE: u32 = u32::MAX;

/// The automaton kind by number of distinct prefixes. A DFA searches about a third faster than
/// a contiguous NFA but builds about twice as slowly: worth it for big hosts (one DFA, many
/// lookups), not for thousands of small ones, where build time would dominate `compile`. Past
/// `DFA_MAX` the DFA's size (~0.3 KB per prefix) costs more in cache misses than it saves.
const DFA_MIN: usize = 100;
const DFA_MAX: usize = 2000;

fn kind(distinct: usize) -> AhoCorasickKind {
    if (DFA_MIN..=DFA_MAX).contains(&distinct) {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    }
}

pub(crate) struct Prefilter {
    /// Over the distinct non-empty prefixes; pattern `i` is `groups[i]`.
    ac: AhoCorasick,
    groups: Box<[Group]>,
    /// The group of locations with an empty prefix (e.g. `.*`), tried last; `NONE` if none.
    root: u32,
    /// Location indices, group by group, each group in precedence order.
    members: Box<[u32]>,
}

struct Group {
    /// The next shorter distinct prefix this one starts with (or `root`).
    parent: u32,
    start: u32,
    end: u32,
}

impl Prefilter {
    /// `prefixes[i]` is the literal prefix of location `i`; locations are in precedence order.
    pub fn build(prefixes: &[&[u8]]) -> Result<Prefilter, BuildError> {
        let (distinct, lists) = group_by_prefix(prefixes);
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Anchored)
            .kind(Some(kind(distinct.len())))
            // A prefilter only serves unanchored searches, and dense states near the root pay
            // off when a search keeps returning there, which an anchored one never does. Both
            // cost build time: 6k hosts × 17 prefixes compiled in ~320 ms with, ~190 ms without.
            .prefilter(false)
            .dense_depth(0)
            .build(&distinct)?;
        let root = distinct.len();
        let root = if lists[root].is_empty() {
            NONE
        } else {
            root as u32
        };
        let mut pre = Prefilter {
            ac,
            groups: Box::default(),
            root,
            members: Box::default(),
        };
        // A prefix's parent: the longest distinct prefix that starts it without being it.
        let parents = distinct
            .iter()
            .map(|p| pre.longest(&p[..p.len() - 1]))
            .collect();
        pre.flatten(parents, lists);
        Ok(pre)
    }

    /// Lays the groups out in one slice; the root group (possibly empty) goes last.
    fn flatten(&mut self, parents: Vec<u32>, lists: Vec<Vec<u32>>) {
        let mut members = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        let mut groups = Vec::with_capacity(lists.len());
        for (g, list) in lists.into_iter().enumerate() {
            let start = members.len() as u32;
            members.extend(list);
            let parent = parents.get(g).copied().unwrap_or(NONE);
            groups.push(Group {
                parent,
                start,
                end: members.len() as u32,
            });
        }
        self.groups = groups.into();
        self.members = members.into();
    }

    /// The first location, in precedence order, among those whose prefix starts `path`, that
    /// `accept` takes.
    #[inline]
    pub fn find(&self, path: &[u8], mut accept: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut g = self.longest(path);
        while let Some(group) = self.groups.get(g as usize) {
            let members = &self.members[group.start as usize..group.end as usize];
            if let Some(&i) = members.iter().find(|&&i| accept(i)) {
                return Some(i);
            }
            g = group.parent;
        }
        None
    }

    /// The group of the longest distinct prefix that starts `path`, else the root.
    #[inline]
    fn longest(&self, path: &[u8]) -> u32 {
        match self.ac.try_find(Input::new(path).anchored(Anchored::Yes)) {
            Ok(Some(m)) => m.pattern().as_u32(),
            _ => self.root,
        }
    }
}

/// The distinct non-empty prefixes, in first-seen order, and the locations of each (in order);
/// the last list, past the distinct ones, holds the locations with an empty prefix.
fn group_by_prefix<'p>(prefixes: &[&'p [u8]]) -> (Vec<&'p [u8]>, Vec<Vec<u32>>) {
    let mut ids: FxHashMap<&[u8], usize> = FxHashMap::default();
    let (mut distinct, mut lists, mut empty) = (Vec::new(), Vec::<Vec<u32>>::new(), Vec::new());
    for (i, &p) in prefixes.iter().enumerate() {
        if p.is_empty() {
            empty.push(i as u32);
            continue;
        }
        let id = *ids.entry(p).or_insert_with(|| {
            distinct.push(p);
            lists.push(Vec::new());
            distinct.len() - 1
        });
        lists[id].push(i as u32);
    }
    lists.push(empty);
    (distinct, lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(prefixes: &[&str], path: &str) -> Vec<u32> {
        let p: Vec<&[u8]> = prefixes.iter().map(|s| s.as_bytes()).collect();
        let pre = Prefilter::build(&p).unwrap();
        let mut seen = Vec::new();
        pre.find(path.as_bytes(), |i| {
            seen.push(i);
            false
        });
        seen
    }

    #[test]
    fn walks_matching_prefixes_longest_first() {
        // Precedence order: longer prefixes first, ties in name order.
        let prefixes = ["/api/v1/", "/api/v2/", "/api/", "/api/", "/a", "/", ""];
        assert_eq!(candidates(&prefixes, "/api/v1/x"), [0, 2, 3, 4, 5, 6]);
        assert_eq!(candidates(&prefixes, "/api/v3"), [2, 3, 4, 5, 6]);
        assert_eq!(candidates(&prefixes, "/b"), [5, 6]);
        assert_eq!(candidates(&prefixes, "x"), [6]);
    }

    #[test]
    fn without_an_empty_prefix_an_unrelated_path_has_no_candidates() {
        assert_eq!(candidates(&["/a/", "/b/"], "/c"), Vec::<u32>::new());
        assert_eq!(candidates(&["/a/", "/b/"], ""), Vec::<u32>::new());
    }

    #[test]
    fn matches_must_start_at_the_beginning() {
        // `/x/api/` contains `/api/` but does not start with it.
        assert_eq!(candidates(&["/api/", "/x"], "/x/api/"), [1]);
    }
}
