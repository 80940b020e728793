//! Active health-check verdicts as the workers see them: the control plane's checker publishes
//! a whole table (`WorkerMsg::Health`) whenever a verdict changes; workers apply it to their
//! `Upstreams` and re-apply it after each snapshot swap.

use std::net::SocketAddr;

use rustc_hash::{FxHashMap, FxHashSet};

/// Endpoints (by upstream name and address) that active checks found down. Everything not
/// listed is up, so an upstream without checks is never affected.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ActiveHealth {
    /// Increases with each table the checker publishes.
    pub version: u64,
    down: FxHashMap<Box<str>, FxHashSet<SocketAddr>>,
    count: usize,
}

impl ActiveHealth {
    pub fn new(version: u64, down: impl IntoIterator<Item = (Box<str>, SocketAddr)>) -> Self {
        let mut map: FxHashMap<Box<str>, FxHashSet<SocketAddr>> = FxHashMap::default();
        for (u, a) in down {
            map.entry(u).or_default().insert(a);
        }
        let count = map.values().map(FxHashSet::len).sum();
        ActiveHealth {
            version,
            down: map,
            count,
        }
    }

    pub fn is_down(&self, upstream: &str, addr: SocketAddr) -> bool {
        self.down.get(upstream).is_some_and(|s| s.contains(&addr))
    }

    pub fn down_count(&self) -> usize {
        self.count
    }
}
