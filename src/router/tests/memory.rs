//! Snapshot memory per location (issue 3: at most 1 KiB), counted by a global allocator that
//! keeps a per-thread balance, so tests running on other threads do not disturb the count.
//! Bytes are as requested; the allocator's own rounding comes on top.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use super::super::{compile, Compiler};
use crate::model::{ChangeSet, Endpoint, Location, Model, Settings, Upstream};

#[path = "synthetic.rs"]
mod synthetic;
use synthetic::model;

struct Counting;

thread_local! {
    static BALANCE: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    let _ = BALANCE.try_with(|b| b.set(b.get() + bytes));
}

// SAFETY: forwards every call to `System` unchanged; the count has no effect on allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Bytes still allocated after `f` returned (on this thread), and what `f` returned.
fn retained<R>(f: impl FnOnce() -> R) -> (isize, R) {
    let before = BALANCE.with(Cell::get);
    let r = f();
    (BALANCE.with(Cell::get) - before, r)
}

#[test]
fn a_snapshot_takes_at_most_1_kib_per_location() {
    for (n, per_host) in [(1_000, 20), (10_000, 20), (10_000, 1)] {
        let m = model(n, per_host);
        let settings = Arc::new(Settings::default());
        let (bytes, snap) = retained(|| compile(&m, settings, 1, 0));
        let per_location = bytes as usize / n;
        println!("{n} locations, {per_host} per host: {per_location} bytes per location");
        assert_eq!(snap.routes().count(), n);
        assert!(
            per_location <= 1024,
            "{n}/{per_host}: {per_location} bytes per location"
        );
    }
}

/// One changed host costs a copy of that host and one shard, not of the table.
#[test]
fn an_incremental_snapshot_shares_all_but_the_change() {
    let mut m = model(10_000, 20);
    let mut c = Compiler::new();
    let settings = Arc::new(Settings::default());
    let first = c.compile(&m, &ChangeSet::everything(), settings.clone(), 1, 0);
    let loc = m.hosts["h7.example.com"].locations["loc140"].clone();
    let host = m.hosts.get_mut("h7.example.com").unwrap();
    host.locations.insert("new".into(), loc);
    let changes = ChangeSet {
        hosts: ["h7.example.com".to_string()].into(),
        ..Default::default()
    };
    let (bytes, second) = retained(|| c.compile(&m, &changes, settings, 2, 0));
    println!("one changed host of 10k locations: {bytes} new bytes");
    assert!(bytes < 64 * 1024, "{bytes} bytes");
    assert_eq!(second.routes().count(), first.routes().count() + 1);
}
