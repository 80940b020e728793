//! Reconnect delays: exponential from `BASE` to `CAP`, each jittered to 50–100 % of its step so
//! a fleet of nodes that lost etcd together does not come back in lockstep.

use std::time::Duration;

const BASE: Duration = Duration::from_millis(50);
/// Short enough that a node catches up within about a second of etcd coming back.
const CAP: Duration = Duration::from_secs(1);

pub(super) struct Backoff {
    step: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(seed: u64) -> Self {
        Backoff {
            step: BASE,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The next delay; each call doubles the step up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(CAP);
        let half = step / 2;
        half + half.mul_f64(self.rng.f64())
    }

    /// After a success: the next failure waits `BASE` again.
    pub fn reset(&mut self) {
        self.step = BASE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_jittered_and_capped_then_resets() {
        let mut b = Backoff::new(7);
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= BASE / 2 && delays[0] <= BASE, "{delays:?}");
        assert!(delays.iter().all(|d| *d <= CAP), "{delays:?}");
        assert!(delays[9] >= CAP / 2, "{delays:?}");
        b.reset();
        assert!(b.next_delay() <= BASE);
    }
}
