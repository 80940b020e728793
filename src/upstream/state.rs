use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::SmoothWrr;
use crate::router::{Snapshot, UpstreamIdx};

/// One worker's view of every upstream in the current snapshot, index-aligned with
/// `Snapshot::upstreams`, generic over the pooled connection type `C`.
pub struct Upstreams<C> {
    generation: u64,
    ups: Vec<UpState>,
    /// Pools by endpoint address: an address is what a pooled connection is good for.
    pools: FxHashMap<SocketAddr, Vec<Idle<C>>>,
}

struct UpState {
    name: Box<str>,
    weights: Vec<u32>,
    addrs: Vec<SocketAddr>,
    wrr: SmoothWrr,
}

struct Idle<C> {
    conn: C,
    since: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picked {
    pub addr: SocketAddr,
}

impl<C> Default for Upstreams<C> {
    fn default() -> Self {
        Upstreams {
            generation: 0,
            ups: Vec::new(),
            pools: FxHashMap::default(),
        }
    }
}

impl<C> Upstreams<C> {
    /// Lines up with `snap`, carrying balancer state by upstream name and pools by address.
    /// Pools of addresses no longer in any upstream are dropped, which closes their connections.
    pub fn sync(&mut self, snap: &Snapshot) {
        let mut old: FxHashMap<Box<str>, UpState> =
            self.ups.drain(..).map(|u| (u.name.clone(), u)).collect();
        self.ups =
            snap.upstreams
                .iter()
                .map(|u| {
                    let addrs: Vec<SocketAddr> = u.endpoints.iter().map(|e| e.addr).collect();
                    let weights = u.endpoints.iter().map(|e| e.weight).collect();
                    let wrr = match old.remove(&u.name) {
                        Some(prev) => SmoothWrr::with_current(
                            addrs
                                .iter()
                                .map(|a| {
                                    prev.addrs.iter().position(|p| p == a).map_or(0, |i| {
                                        prev.wrr.current().get(i).copied().unwrap_or(0)
                                    })
                                })
                                .collect(),
                        ),
                        None => SmoothWrr::default(),
                    };
                    UpState {
                        name: u.name.clone(),
                        weights,
                        addrs,
                        wrr,
                    }
                })
                .collect();
        let live: rustc_hash::FxHashSet<SocketAddr> = self
            .ups
            .iter()
            .flat_map(|u| u.addrs.iter().copied())
            .collect();
        self.pools.retain(|addr, _| live.contains(addr));
        for addr in live {
            self.pools.entry(addr).or_default();
        }
        self.generation = snap.generation;
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Picks an endpoint of upstream `idx`, or `None` when it has none.
    pub fn pick(&mut self, idx: UpstreamIdx) -> Option<Picked> {
        let up = self.ups.get_mut(idx as usize)?;
        if up.addrs.is_empty() {
            return None;
        }
        let i = up.wrr.pick(&up.weights);
        Some(Picked { addr: up.addrs[i] })
    }

    /// The most recently pooled connection to `addr` that is younger than `max_idle`.
    pub fn take_idle(&mut self, addr: SocketAddr, max_idle: Duration, now: Instant) -> Option<C> {
        let pool = self.pools.get_mut(&addr)?;
        while let Some(idle) = pool.pop() {
            if now.duration_since(idle.since) < max_idle {
                return Some(idle.conn);
            }
        }
        None
    }

    /// Pools `conn`; drops it (closing it) when the pool is full or `addr` is not live anymore
    /// (every live address has a pool entry, made by `sync`).
    pub fn put_idle(&mut self, addr: SocketAddr, conn: C, max: usize, now: Instant) {
        let Some(pool) = self.pools.get_mut(&addr) else {
            return;
        };
        if pool.len() < max {
            pool.push(Idle { conn, since: now });
        }
    }

    /// Closes pooled connections idle for longer than `max_idle`.
    pub fn sweep(&mut self, max_idle: Duration, now: Instant) {
        for pool in self.pools.values_mut() {
            pool.retain(|i| now.duration_since(i.since) < max_idle);
        }
    }

    pub fn idle_count(&self) -> usize {
        self.pools.values().map(Vec::len).sum()
    }
}
