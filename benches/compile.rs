//! Snapshot memory per location at 1k / 10k / 100k locations (issue 3: at most 1 KiB), what an
//! incremental snapshot adds, and what dropping an old snapshot costs: counted with a global
//! allocator, printed as a table (no criterion: these are sizes and one-off costs).
//! Bytes are as requested from the allocator; its own rounding comes on top.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vane::model::{ChangeSet, Endpoint, Location, Model, Settings, Upstream};
use vane::router::{compile, Compiler};

struct Counting;

static BALANCE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to `System` unchanged; the count has no effect on allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BALANCE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        BALANCE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BALANCE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn retained<R>(f: impl FnOnce() -> R) -> (isize, R) {
    let before = BALANCE.load(Ordering::Relaxed);
    let r = f();
    (BALANCE.load(Ordering::Relaxed) - before, r)
}

#[path = "../src/router/tests/synthetic.rs"]
mod synthetic;
use synthetic::model;

fn settings() -> Arc<Settings> {
    Arc::new(Settings::default())
}

fn timed<R>(f: impl FnOnce() -> R) -> (Duration, R) {
    let start = Instant::now();
    let r = f();
    (start.elapsed(), r)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A full snapshot's size and drop time; then, on a compiler, what one changed host adds and
/// what dropping the snapshot it replaced costs.
fn measure(n: usize, per_host: usize) {
    let mut m = model(n, per_host);
    let (bytes, snap) = retained(|| compile(&m, settings(), 1, 0));
    let (drop_full, ()) = timed(|| drop(black_box(snap)));
    let mut compiler = Compiler::new();
    let mut prev = compiler.compile(&m, &ChangeSet::everything(), settings(), 1, 0);
    let host = m.hosts.get_mut("h1.example.com").unwrap();
    let loc = host.locations.values().next().unwrap().clone();
    host.locations.insert("extra".into(), loc);
    let changes = ChangeSet {
        hosts: ["h1.example.com".to_string()].into(),
        ..Default::default()
    };
    let (added, next) = retained(|| compiler.compile(&m, &changes, settings(), 2, 0));
    let (drop_replaced, ()) = timed(|| drop(black_box(std::mem::replace(&mut prev, next))));
    println!(
        "{n:>7} locations, {per_host:>2} per host: {:>4} bytes/location ({:.1} MiB); \
         full snapshot dropped in {}; one changed host adds {added} bytes, \
         the snapshot it replaces drops in {}",
        bytes as usize / n,
        bytes as f64 / (1 << 20) as f64,
        ms(drop_full),
        ms(drop_replaced),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a name filter we do not support.
    for n in [1_000, 10_000, 100_000] {
        measure(n, 20);
        measure(n, 1);
    }
}
