//! The per-request policy: each knob comes from the location's options, else the upstream's,
//! else the node's settings. Resolved once per request, after routing.

use std::time::Duration;

use crate::model::{Balance, Options, OutlierOptions, Settings};
use crate::router::{Route, UpstreamRoute};
use crate::upstream::Outlier;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub connect: Duration,
    pub response_header: Duration,
    pub body_idle: Duration,
    /// Retries of an idempotent request whose reused connection failed before any response byte.
    pub retries: u32,
    pub max_body: Option<u64>,
    pub balance: Balance,
    pub pool_max_idle: usize,
    pub pool_idle_timeout: Duration,
    /// Largest response head accepted from the upstream (the request-head limit, reused).
    pub max_head: usize,
    /// Passive ejection (upstream options only).
    pub outlier: Outlier,
}

impl Policy {
    pub fn resolve(route: &Route, up: &UpstreamRoute, s: &Settings) -> Policy {
        let loc = route.options.as_deref();
        let ups = Some(&*up.options);
        // First `Some` among location, upstream.
        fn pick<T: Copy>(
            loc: Option<&Options>,
            up: Option<&Options>,
            f: impl Fn(&Options) -> Option<T>,
        ) -> Option<T> {
            loc.and_then(&f).or_else(|| up.and_then(&f))
        }
        let t = &s.timeouts;
        Policy {
            connect: pick(loc, ups, |o| o.timeouts.connect).unwrap_or(t.connect),
            response_header: pick(loc, ups, |o| o.timeouts.response_header)
                .unwrap_or(t.response_header),
            body_idle: pick(loc, ups, |o| o.timeouts.body_idle).unwrap_or(t.body_idle),
            retries: pick(loc, ups, |o| o.retries).unwrap_or(1),
            max_body: match pick(loc, ups, |o| o.max_body) {
                Some(0) => None,
                Some(n) => Some(n),
                None => s.limits.max_body,
            },
            balance: up.options.lb.unwrap_or_default(),
            pool_max_idle: up
                .options
                .pool
                .max_idle
                .unwrap_or(s.pool.max_idle_per_endpoint),
            pool_idle_timeout: up.options.pool.idle_timeout.unwrap_or(s.pool.idle_timeout),
            max_head: s.limits.max_header_bytes,
            outlier: {
                let o = &up.options.outlier;
                Outlier {
                    consecutive: o.consecutive.unwrap_or(OutlierOptions::DEFAULT_CONSECUTIVE),
                    base: o.base_ejection.unwrap_or(OutlierOptions::DEFAULT_BASE),
                    max: o.max_ejection.unwrap_or(OutlierOptions::DEFAULT_MAX),
                }
            },
        }
    }
}
