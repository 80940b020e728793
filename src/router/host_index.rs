//! Host name → host number, for the one lookup every request makes.
//!
//! An open-addressing table of 16-byte slots over one byte arena of names. With 100k hosts the
//! lookup is bound by cache and TLB misses, so the layout matters more than the hash function:
//! a slot holds a hash tag and where its name lives, and a probe reads a name only when the tags
//! agree. The table is built once from the config and never grows, so a client's Host header
//! can only probe it, never degrade it.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use super::bytes;

pub(crate) struct HostIndex {
    /// Power-of-two length, at most half full (linear probing stays short).
    slots: Box<[Slot]>,
    names: Box<[u8]>,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// High half of the name's hash: rejects most non-matching slots without reading the name.
    tag: u32,
    /// Host number + 1; 0 marks an empty slot.
    host: u32,
    /// The name, in `names`.
    off: u32,
    len: u32,
}

impl HostIndex {
    /// `names[i]` gets host number `i`. Names must be distinct (a duplicate is never found).
    pub fn new(names: &[&[u8]]) -> HostIndex {
        let capacity = (names.len() * 2).next_power_of_two().max(8);
        let mut index = HostIndex {
            slots: vec![Slot::default(); capacity].into(),
            names: names.concat().into(),
        };
        let mut off = 0;
        for (host, name) in names.iter().enumerate() {
            let h = hash(name);
            let slot = Slot {
                tag: (h >> 32) as u32,
                host: host as u32 + 1,
                off: off as u32,
                len: name.len() as u32,
            };
            let mut i = h as usize & index.mask();
            while index.slots[i].host != 0 {
                i = (i + 1) & index.mask();
            }
            index.slots[i] = slot;
            off += name.len();
        }
        index
    }

    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<u32> {
        let h = hash(name);
        let tag = (h >> 32) as u32;
        let mut i = h as usize & self.mask();
        loop {
            let slot = self.slots[i];
            if slot.host == 0 {
                return None;
            }
            if slot.tag == tag && self.name(slot).is_some_and(|n| bytes::eq(n, name)) {
                return Some(slot.host - 1);
            }
            i = (i + 1) & self.mask();
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn name(&self, slot: Slot) -> Option<&[u8]> {
        self.names
            .get(slot.off as usize..slot.off as usize + slot.len as usize)
    }
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

    #[test]
    fn finds_every_name_and_nothing_else() {
        let owned: Vec<String> = (0..1000).map(|i| format!("h{i}.example.com")).collect();
        let names: Vec<&[u8]> = owned.iter().map(|s| s.as_bytes()).collect();
        let index = HostIndex::new(&names);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(index.get(n), Some(i as u32));
        }
        assert_eq!(index.get(b"h1000.example.com"), None);
        assert_eq!(index.get(b"h1.example.co"), None);
        assert_eq!(index.get(b""), None);
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        assert_eq!(HostIndex::new(&[]).get(b"a"), None);
    }
}
