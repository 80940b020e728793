//! Host name → host entry, for the one lookup every request makes, split into shards so that a
//! config change that touches one host copies one shard, not the whole index.
//!
//! Each shard is an open-addressing table of 16-byte slots (the full hash and an `Arc` to the
//! entry, whose name is compared only when the hashes agree). The top byte of the hash picks the
//! shard; an unchanged shard is the same `Arc` in the old and the new snapshot. A shard is built
//! once and never grows, so a client's Host header can only probe it, never degrade it.

use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::FxHasher;

use super::bytes;

/// Fixed, so a shard's number depends on the name alone. With 100k hosts a shard holds ~400,
/// and one change copies ~16 KiB of slots; with a few hosts the empty shards share one `Arc`.
pub(crate) const SHARDS: usize = 256;

/// `(name, Some(entry))` inserts or replaces the entry of that name; `(name, None)` removes it.
pub(crate) type Change<T> = (Box<[u8]>, Option<Arc<T>>);

/// An entry that knows its own (normalized) name.
pub(crate) trait Named {
    fn name(&self) -> &[u8];
}

pub(crate) struct HostIndex<T> {
    shards: Box<[Shard<T>; SHARDS]>,
}

/// Power-of-two length, at most half full (linear probing stays short); never empty.
type Shard<T> = Arc<[Slot<T>]>;

struct Slot<T> {
    hash: u64,
    /// `None` marks an empty slot.
    entry: Option<Arc<T>>,
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Slot {
            hash: self.hash,
            entry: self.entry.clone(),
        }
    }
}

impl<T> Clone for HostIndex<T> {
    /// Shares every shard: 256 reference counts, whatever the number of hosts.
    fn clone(&self) -> Self {
        HostIndex {
            shards: self.shards.clone(),
        }
    }
}

impl<T: Named> HostIndex<T> {
    /// Entries must have distinct names (of a duplicate, one is never found).
    pub fn new(entries: Vec<Arc<T>>) -> HostIndex<T> {
        let mut buckets: Vec<Vec<(u64, Arc<T>)>> = (0..SHARDS).map(|_| Vec::new()).collect();
        for e in entries {
            let h = hash(e.name());
            buckets[shard_of(h)].push((h, e));
        }
        let empty = empty_shard();
        let shards: Vec<Shard<T>> = buckets
            .into_iter()
            .map(|b| {
                if b.is_empty() {
                    empty.clone()
                } else {
                    build(b)
                }
            })
            .collect();
        HostIndex {
            shards: boxed_array(shards),
        }
    }

    /// A new index with `changes` applied (names distinct). Only the shards they fall in are
    /// rebuilt; the others are shared with `self`.
    pub fn with_changes(&self, changes: Vec<Change<T>>) -> HostIndex<T> {
        let mut pending: Vec<Pending<T>> = changes.into_iter().map(Pending::new).collect();
        pending.sort_by_key(|p| p.shard);
        let mut next = self.clone();
        for group in pending.chunk_by(|a, b| a.shard == b.shard) {
            let s = group[0].shard;
            let changed = |name: &[u8]| group.iter().any(|p| bytes::eq(&p.name, name));
            let mut all: Vec<(u64, Arc<T>)> = entries(&self.shards[s])
                .filter(|(_, e)| !changed(e.name()))
                .map(|(h, e)| (h, e.clone()))
                .collect();
            all.extend(
                group
                    .iter()
                    .filter_map(|p| Some((p.hash, p.entry.clone()?))),
            );
            next.shards[s] = if all.is_empty() {
                empty_shard()
            } else {
                build(all)
            };
        }
        next
    }

    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&Arc<T>> {
        let h = hash(name);
        let shard = &self.shards[shard_of(h)];
        let mask = shard.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let slot = &shard[i];
            let entry = slot.entry.as_ref()?;
            if slot.hash == h && bytes::eq(entry.name(), name) {
                return Some(entry);
            }
            i = (i + 1) & mask;
        }
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<T>> {
        self.shards.iter().flat_map(|s| entries(s).map(|(_, e)| e))
    }

    /// Whether `self` and `other` share shard `s` (for tests of structural sharing).
    #[cfg(test)]
    pub fn shares_shard(&self, other: &HostIndex<T>, s: usize) -> bool {
        Arc::ptr_eq(&self.shards[s], &other.shards[s])
    }

    #[cfg(test)]
    pub fn shard_of_name(name: &[u8]) -> usize {
        shard_of(hash(name))
    }
}

/// A change with its hash and shard worked out.
struct Pending<T> {
    shard: usize,
    hash: u64,
    name: Box<[u8]>,
    entry: Option<Arc<T>>,
}

impl<T> Pending<T> {
    fn new((name, entry): Change<T>) -> Pending<T> {
        let hash = hash(&name);
        Pending {
            shard: shard_of(hash),
            hash,
            name,
            entry,
        }
    }
}

impl<T: Named> Default for HostIndex<T> {
    fn default() -> Self {
        HostIndex::new(Vec::new())
    }
}

fn entries<T>(shard: &[Slot<T>]) -> impl Iterator<Item = (u64, &Arc<T>)> {
    shard
        .iter()
        .filter_map(|s| s.entry.as_ref().map(|e| (s.hash, e)))
}

fn build<T>(entries: Vec<(u64, Arc<T>)>) -> Shard<T> {
    let capacity = (entries.len() * 2).next_power_of_two();
    let mask = capacity - 1;
    let mut slots: Vec<Slot<T>> = (0..capacity)
        .map(|_| Slot {
            hash: 0,
            entry: None,
        })
        .collect();
    for (hash, e) in entries {
        let mut i = hash as usize & mask;
        while slots[i].entry.is_some() {
            i = (i + 1) & mask;
        }
        slots[i] = Slot {
            hash,
            entry: Some(e),
        };
    }
    slots.into()
}

/// One empty slot: every probe ends at once.
fn empty_shard<T>() -> Shard<T> {
    Arc::new([Slot {
        hash: 0,
        entry: None,
    }])
}

fn boxed_array<T>(shards: Vec<Shard<T>>) -> Box<[Shard<T>; SHARDS]> {
    match shards.into_boxed_slice().try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("exactly SHARDS shards are built"),
    }
}

#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 56) as usize
}

#[inline]
fn hash(name: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(name);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct E(String);

    impl Named for E {
        fn name(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }

    fn index(names: impl Iterator<Item = String>) -> HostIndex<E> {
        HostIndex::new(names.map(|n| Arc::new(E(n))).collect())
    }

    fn found(index: &HostIndex<E>, name: &str) -> bool {
        index.get(name.as_bytes()).is_some_and(|e| e.0 == name)
    }

    #[test]
    fn finds_every_name_and_nothing_else() {
        let index = index((0..1000).map(|i| format!("h{i}.example.com")));
        assert!((0..1000).all(|i| found(&index, &format!("h{i}.example.com"))));
        for missing in ["h1000.example.com", "h1.example.co", ""] {
            assert!(index.get(missing.as_bytes()).is_none(), "{missing}");
        }
        assert_eq!(index.iter().count(), 1000);
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        assert!(HostIndex::<E>::default().get(b"a").is_none());
    }

    #[test]
    fn changes_rebuild_only_their_shards() {
        let old = index((0..1000).map(|i| format!("h{i}")));
        let changes = vec![
            (b"h1".to_vec().into(), None),
            (b"new".to_vec().into(), Some(Arc::new(E("new".into())))),
            (b"h2".to_vec().into(), Some(Arc::new(E("h2".into())))),
            (b"absent".to_vec().into(), None),
        ];
        let new = old.with_changes(changes);
        assert_eq!(new.iter().count(), 1000);
        assert!(!found(&new, "h1") && found(&new, "new") && found(&new, "h2"));
        assert!(
            found(&old, "h1") && !found(&old, "new"),
            "the old index is intact"
        );
        assert!((3..1000).all(|i| found(&new, &format!("h{i}"))));
        let touched =
            ["h1", "new", "h2", "absent"].map(|n| HostIndex::<E>::shard_of_name(n.as_bytes()));
        for s in 0..SHARDS {
            assert_eq!(
                new.shares_shard(&old, s),
                !touched.contains(&s),
                "shard {s}"
            );
        }
    }
}
