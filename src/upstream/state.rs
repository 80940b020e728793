use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::SmoothWrr;
use crate::model::Balance;
use crate::router::{Snapshot, UpstreamIdx, UpstreamRoute};

/// One worker's view of every upstream, index-aligned with `Snapshot::upstreams` (whose indices
/// are stable across incremental compiles), generic over the pooled connection type `C`.
pub struct Upstreams<C> {
    /// `Snapshot::id_epoch` this state is aligned with; a new epoch means indices changed.
    epoch: Option<u64>,
    ups: Vec<UpState<C>>,
}

struct UpState<C> {
    /// What this state was built from: an unchanged `Arc` means nothing to do on a swap.
    route: Arc<UpstreamRoute>,
    addrs: Vec<SocketAddr>,
    weights: Vec<u32>,
    wrr: SmoothWrr,
    /// Idle connections per endpoint, aligned with `addrs`.
    idle: Vec<Vec<Idle<C>>>,
}

struct Idle<C> {
    conn: C,
    since: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picked {
    pub endpoint: u32,
    pub addr: SocketAddr,
}

impl<C> Default for Upstreams<C> {
    fn default() -> Self {
        Upstreams {
            epoch: None,
            ups: Vec::new(),
        }
    }
}

impl<C> Upstreams<C> {
    /// Lines up with `snap`. Unchanged upstreams (same `Arc`) are skipped; changed ones are
    /// rebuilt carrying balancer state and pools by endpoint address; endpoints that are gone
    /// have their pooled connections dropped (closed). Costs O(upstreams) pointer compares.
    pub fn sync(&mut self, snap: &Snapshot) {
        if self.epoch != Some(snap.id_epoch) {
            let mut old: FxHashMap<Box<str>, UpState<C>> = self
                .ups
                .drain(..)
                .map(|u| (u.route.name.clone(), u))
                .collect();
            self.ups = snap
                .upstreams
                .iter()
                .map(|r| {
                    let mut u = old.remove(&r.name).unwrap_or_else(|| UpState::new(r));
                    u.rebuild(r);
                    u
                })
                .collect();
            self.epoch = Some(snap.id_epoch);
            return;
        }
        self.ups.truncate(snap.upstreams.len());
        for (i, r) in snap.upstreams.iter().enumerate() {
            match self.ups.get_mut(i) {
                Some(u) if Arc::ptr_eq(&u.route, r) => {}
                Some(u) => u.rebuild(r),
                None => self.ups.push(UpState::new(r)),
            }
        }
    }

    /// Picks an endpoint of upstream `idx`, or `None` when it has none.
    pub fn pick(&mut self, idx: UpstreamIdx, balance: Balance) -> Option<Picked> {
        let up = self.ups.get_mut(idx as usize)?;
        if up.addrs.is_empty() {
            return None;
        }
        let i = match balance {
            Balance::Wrr => up.wrr.pick(&up.weights),
            Balance::RoundRobin => up.wrr.pick_round_robin(up.addrs.len()),
        };
        Some(Picked {
            endpoint: i as u32,
            addr: up.addrs[i],
        })
    }

    /// The most recently pooled connection to the picked endpoint younger than `max_idle`.
    pub fn take_idle(
        &mut self,
        idx: UpstreamIdx,
        p: Picked,
        max_idle: Duration,
        now: Instant,
    ) -> Option<C> {
        let pool = self.pool(idx, p)?;
        while let Some(idle) = pool.pop() {
            if now.duration_since(idle.since) < max_idle {
                return Some(idle.conn);
            }
        }
        None
    }

    /// Pools `conn`; drops it (closing it) when the pool is full or the endpoint is gone.
    pub fn put_idle(
        &mut self,
        idx: UpstreamIdx,
        name: &str,
        p: Picked,
        conn: C,
        max: usize,
        now: Instant,
    ) {
        if self
            .ups
            .get(idx as usize)
            .is_none_or(|u| &*u.route.name != name)
        {
            return;
        }
        if let Some(pool) = self.pool(idx, p) {
            if pool.len() < max {
                pool.push(Idle { conn, since: now });
            }
        }
    }

    fn pool(&mut self, idx: UpstreamIdx, p: Picked) -> Option<&mut Vec<Idle<C>>> {
        let up = self.ups.get_mut(idx as usize)?;
        // The endpoint list may have changed since the pick: confirm by address.
        let i = match up.addrs.get(p.endpoint as usize) {
            Some(a) if *a == p.addr => p.endpoint as usize,
            _ => up.addrs.iter().position(|a| *a == p.addr)?,
        };
        up.idle.get_mut(i)
    }

    /// Closes pooled connections idle for longer than `max_idle`.
    pub fn sweep(&mut self, max_idle: Duration, now: Instant) {
        for pool in self.ups.iter_mut().flat_map(|u| u.idle.iter_mut()) {
            pool.retain(|i| now.duration_since(i.since) < max_idle);
        }
    }

    pub fn idle_count(&self) -> usize {
        self.ups
            .iter()
            .flat_map(|u| u.idle.iter())
            .map(Vec::len)
            .sum()
    }
}

impl<C> UpState<C> {
    fn new(route: &Arc<UpstreamRoute>) -> Self {
        let mut u = UpState {
            route: route.clone(),
            addrs: Vec::new(),
            weights: Vec::new(),
            wrr: SmoothWrr::default(),
            idle: Vec::new(),
        };
        u.rebuild(route);
        u
    }

    /// Lines up with `route`, keeping the balancer position and pooled connections of endpoints
    /// that stay (by address) when it is the same upstream (by name).
    fn rebuild(&mut self, route: &Arc<UpstreamRoute>) {
        let same = self.route.name == route.name;
        let addrs: Vec<SocketAddr> = route.endpoints.iter().map(|e| e.addr).collect();
        let mut current = vec![0; addrs.len()];
        let mut idle: Vec<Vec<Idle<C>>> = addrs.iter().map(|_| Vec::new()).collect();
        for (i, a) in addrs.iter().enumerate().filter(|_| same) {
            if let Some(j) = self.addrs.iter().position(|p| p == a) {
                current[i] = self.wrr.current().get(j).copied().unwrap_or(0);
                idle[i] = std::mem::take(&mut self.idle[j]);
            }
        }
        self.weights = route.endpoints.iter().map(|e| e.weight).collect();
        self.addrs = addrs;
        self.wrr = SmoothWrr::with_current(current);
        self.idle = idle;
        self.route = route.clone();
    }
}
