//! One endpoint's health as one worker sees it: the active checker's verdict, and passive
//! outlier ejection from this worker's own traffic (consecutive connect errors or 5xx answers).
//! An ejection lasts `base × 2^(ejections so far)`, capped; it ends by itself, and the endpoint
//! is back on probation: one more failure streak ejects it for longer.

use std::time::{Duration, Instant};

/// How ejection is configured for one upstream (resolved from its options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outlier {
    /// Failures in a row that eject; 0 turns ejection off.
    pub consecutive: u32,
    pub base: Duration,
    pub max: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct EndpointHealth {
    /// The active checker marked it down: no traffic, whatever ejection says.
    pub active_down: bool,
    fails: u32,
    /// Set while ejected.
    until: Option<Instant>,
    /// Ejections so far (the back-off exponent); forgotten after `max` of good behaviour.
    ejections: u32,
    last_ejected: Option<Instant>,
}

impl EndpointHealth {
    pub fn ejected(&self) -> bool {
        self.until.is_some()
    }

    pub fn available(&self) -> bool {
        !self.active_down && self.until.is_none()
    }

    pub fn ejections(&self) -> u32 {
        self.ejections
    }

    /// Ends an ejection whose time is up; true if it did.
    pub fn readmit_if_due(&mut self, now: Instant) -> bool {
        match self.until {
            Some(t) if now >= t => {
                self.until = None;
                self.fails = 0;
                true
            }
            _ => false,
        }
    }

    /// A success of an endpoint that was never ejected.
    #[inline]
    pub fn success_plain(&mut self) {
        self.fails = 0;
    }

    pub fn success(&mut self, now: Instant, cfg: &Outlier) {
        self.fails = 0;
        if self.ejections > 0
            && self.until.is_none()
            && self.last_ejected.is_some_and(|t| now >= t + cfg.max * 2)
        {
            self.ejections = 0;
        }
    }

    /// Counts a failure; true when this failure should eject (the caller checks the cap).
    pub fn failure(&mut self, cfg: &Outlier) -> bool {
        if cfg.consecutive == 0 || !self.available() {
            return false;
        }
        self.fails = self.fails.saturating_add(1);
        self.fails >= cfg.consecutive
    }

    /// Ejects now; returns how long for.
    pub fn eject(&mut self, now: Instant, cfg: &Outlier) -> Duration {
        let factor = 1u32.checked_shl(self.ejections.min(16)).unwrap_or(u32::MAX);
        let d = cfg.base.saturating_mul(factor).min(cfg.max);
        self.until = Some(now + d);
        self.last_ejected = Some(now);
        self.ejections = self.ejections.saturating_add(1);
        self.fails = 0;
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: Outlier = Outlier {
        consecutive: 3,
        base: Duration::from_secs(1),
        max: Duration::from_secs(3),
    };

    #[test]
    fn ejects_after_a_streak_and_backs_off() {
        let now = Instant::now();
        let mut h = EndpointHealth::default();
        assert!(!h.failure(&CFG));
        h.success(now, &CFG);
        assert!(!h.failure(&CFG));
        assert!(!h.failure(&CFG));
        assert!(h.failure(&CFG));
        assert_eq!(h.eject(now, &CFG), Duration::from_secs(1));
        assert!(!h.available());
        assert!(!h.failure(&CFG), "no counting while ejected");
        assert!(!h.readmit_if_due(now));
        assert!(h.readmit_if_due(now + Duration::from_secs(1)));
        assert_eq!(h.eject(now, &CFG), Duration::from_secs(2));
        h.readmit_if_due(now + Duration::from_secs(5));
        assert_eq!(h.eject(now, &CFG), Duration::from_secs(3), "capped at max");
        h.readmit_if_due(now + Duration::from_secs(5));
        h.success(now + Duration::from_secs(20), &CFG);
        assert_eq!(h.ejections(), 0, "forgiven after good behaviour");
    }

    #[test]
    fn off_when_consecutive_is_zero() {
        let off = Outlier {
            consecutive: 0,
            ..CFG
        };
        let mut h = EndpointHealth::default();
        assert!((0..100).all(|_| !h.failure(&off)));
    }
}
