use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::outlier::{EndpointHealth, Outlier};
use super::{ActiveHealth, SmoothWrr};
use crate::model::Balance;
use crate::router::{Snapshot, UpstreamIdx, UpstreamRoute};

/// One worker's view of every upstream, index-aligned with `Snapshot::upstreams` (whose indices
/// are stable across incremental compiles), generic over the pooled connection type `C`.
pub struct Upstreams<C> {
    /// `Snapshot::id_epoch` this state is aligned with; a new epoch means indices changed.
    epoch: Option<u64>,
    ups: Vec<UpState<C>>,
    /// The active checker's latest verdicts, re-applied to each rebuilt upstream.
    health: Arc<ActiveHealth>,
}

struct UpState<C> {
    /// What this state was built from: an unchanged `Arc` means nothing to do on a swap.
    route: Arc<UpstreamRoute>,
    addrs: Vec<SocketAddr>,
    weights: Vec<u32>,
    wrr: SmoothWrr,
    /// Idle connections per endpoint, aligned with `addrs`.
    idle: Vec<Vec<Idle<C>>>,
    /// Active verdicts and passive ejection, aligned with `addrs`.
    health: Vec<EndpointHealth>,
    /// Endpoints not `available()`: while 0, picking takes the fast path.
    unavailable: usize,
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
            health: Arc::default(),
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
                    let mut u = old
                        .remove(&r.name)
                        .unwrap_or_else(|| UpState::new(r, &self.health));
                    u.rebuild(r, &self.health);
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
                Some(u) => u.rebuild(r, &self.health),
                None => self.ups.push(UpState::new(r, &self.health)),
            }
        }
    }

    /// Applies the active checker's verdicts to every upstream.
    pub fn set_health(&mut self, health: Arc<ActiveHealth>) {
        for u in &mut self.ups {
            u.apply_active(&health);
        }
        self.health = health;
    }

    /// Picks an available endpoint of upstream `idx`. `None` when it has no endpoint, or when
    /// active checks found every one down (503 at once). Ejected endpoints are skipped unless
    /// every endpoint that is up is ejected.
    pub fn pick(&mut self, idx: UpstreamIdx, balance: Balance) -> Option<Picked> {
        let up = self.ups.get_mut(idx as usize)?;
        if up.addrs.is_empty() {
            return None;
        }
        let i = if up.unavailable == 0 {
            match balance {
                Balance::Wrr => up.wrr.pick(&up.weights),
                Balance::RoundRobin => up.wrr.pick_round_robin(up.addrs.len()),
            }
        } else {
            up.pick_degraded(balance, Instant::now())?
        };
        Some(Picked {
            endpoint: i as u32,
            addr: up.addrs[i],
        })
    }

    /// Another available endpoint than `not`, for retrying a request that never reached
    /// `not` (connect failure). `None` when there is no other.
    pub fn pick_other(
        &mut self,
        idx: UpstreamIdx,
        balance: Balance,
        not: Picked,
    ) -> Option<Picked> {
        for _ in 0..self.ups.get(idx as usize)?.addrs.len() {
            let p = self.pick(idx, balance)?;
            if p.addr != not.addr {
                return Some(p);
            }
        }
        None
    }

    /// Feeds passive outlier detection with the outcome of one exchange with `p`. Returns the
    /// ejection's length when this failure ejected the endpoint.
    pub fn report(
        &mut self,
        idx: UpstreamIdx,
        p: Picked,
        ok: bool,
        cfg: &Outlier,
    ) -> Option<Duration> {
        let up = self.ups.get_mut(idx as usize)?;
        let i = up.position(p)?;
        if ok {
            // Only an endpoint with an ejection history needs the clock (to forgive it).
            if up.health[i].ejections() > 0 {
                up.health[i].success(Instant::now(), cfg);
            } else {
                up.health[i].success_plain();
            }
            return None;
        }
        if !up.health[i].failure(cfg) {
            return None;
        }
        // Never more than half of the endpoints that active checks leave up.
        let up_count = up.health.iter().filter(|h| !h.active_down).count();
        let ejected = up.health.iter().filter(|h| h.ejected()).count();
        if (ejected + 1) * 2 > up_count {
            return None;
        }
        let d = up.health[i].eject(Instant::now(), cfg);
        up.recount();
        Some(d)
    }

    /// Each endpoint's health, for metrics and the admin API: `(upstream, addr, health)`.
    pub fn endpoint_health(&self) -> impl Iterator<Item = (&str, SocketAddr, &EndpointHealth)> {
        self.ups.iter().flat_map(|u| {
            u.addrs
                .iter()
                .zip(&u.health)
                .map(move |(a, h)| (&*u.route.name, *a, h))
        })
    }

    /// Ends ejections whose time is up (also done lazily when picking).
    pub fn readmit(&mut self, now: Instant) {
        for u in self.ups.iter_mut().filter(|u| u.unavailable > 0) {
            if u.health
                .iter_mut()
                .fold(false, |any, h| h.readmit_if_due(now) | any)
            {
                u.recount();
            }
        }
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
        let i = up.position(p)?;
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
    fn new(route: &Arc<UpstreamRoute>, health: &ActiveHealth) -> Self {
        let mut u = UpState {
            route: route.clone(),
            addrs: Vec::new(),
            weights: Vec::new(),
            wrr: SmoothWrr::default(),
            idle: Vec::new(),
            health: Vec::new(),
            unavailable: 0,
        };
        u.rebuild(route, health);
        u
    }

    /// Where `p` is now: the endpoint list may have changed since the pick, so confirm by
    /// address.
    fn position(&self, p: Picked) -> Option<usize> {
        match self.addrs.get(p.endpoint as usize) {
            Some(a) if *a == p.addr => Some(p.endpoint as usize),
            _ => self.addrs.iter().position(|a| *a == p.addr),
        }
    }

    /// Lines up with `route`, keeping the balancer position, pooled connections and health of
    /// endpoints that stay (by address) when it is the same upstream (by name).
    fn rebuild(&mut self, route: &Arc<UpstreamRoute>, active: &ActiveHealth) {
        let same = self.route.name == route.name;
        let addrs: Vec<SocketAddr> = route.endpoints.iter().map(|e| e.addr).collect();
        let mut current = vec![0; addrs.len()];
        let mut idle: Vec<Vec<Idle<C>>> = addrs.iter().map(|_| Vec::new()).collect();
        let mut health = vec![EndpointHealth::default(); addrs.len()];
        for (i, a) in addrs.iter().enumerate().filter(|_| same) {
            if let Some(j) = self.addrs.iter().position(|p| p == a) {
                current[i] = self.wrr.current().get(j).copied().unwrap_or(0);
                idle[i] = std::mem::take(&mut self.idle[j]);
                health[i] = std::mem::take(&mut self.health[j]);
            }
        }
        self.weights = route.endpoints.iter().map(|e| e.weight).collect();
        self.addrs = addrs;
        self.wrr = SmoothWrr::with_current(current);
        self.idle = idle;
        self.health = health;
        self.route = route.clone();
        self.apply_active(active);
    }

    fn apply_active(&mut self, active: &ActiveHealth) {
        let name = &self.route.name;
        for (a, h) in self.addrs.iter().zip(&mut self.health) {
            h.active_down = active.is_down(name, *a);
        }
        self.recount();
    }

    fn recount(&mut self) {
        self.unavailable = self.health.iter().filter(|h| !h.available()).count();
    }

    /// The slow path, taken only while some endpoint is down or ejected.
    fn pick_degraded(&mut self, balance: Balance, now: Instant) -> Option<usize> {
        if self
            .health
            .iter_mut()
            .fold(false, |any, h| h.readmit_if_due(now) | any)
        {
            self.recount();
        }
        let h = &self.health;
        let usable: Vec<bool> = if h.iter().any(EndpointHealth::available) {
            h.iter().map(EndpointHealth::available).collect()
        } else if h.iter().any(|h| !h.active_down) {
            // Everything that is up is ejected: ejection is a preference, not a verdict.
            h.iter().map(|h| !h.active_down).collect()
        } else {
            return None;
        };
        Some(match balance {
            Balance::Wrr => self.wrr.pick_among(&self.weights, &usable),
            Balance::RoundRobin => self.wrr.pick_round_robin_among(&usable),
        })
    }
}
