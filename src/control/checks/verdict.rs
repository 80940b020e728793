//! The threshold rule: `unhealthy` failed checks in a row mark an endpoint down, `healthy`
//! passed checks in a row mark it up again. A single result never flips a verdict unless its
//! threshold is 1, so one lost packet does not move traffic.

use std::time::SystemTime;

use super::probe::ProbeError;
use super::view::{EndpointCheck, Key};

/// A verdict change, for the log and the workers' table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flip {
    Down(ProbeError),
    Up,
}

impl EndpointCheck {
    /// A new endpoint: up until checks say otherwise.
    pub(super) fn new(key: &Key) -> Self {
        EndpointCheck {
            upstream: key.0.clone(),
            endpoint: key.1,
            up: true,
            consecutive_successes: 0,
            consecutive_failures: 0,
            last_checked: None,
            last_error: None,
            checks_total: 0,
            failures_total: 0,
        }
    }

    /// Counts one check's result against the thresholds; `Some` when the verdict flips.
    pub(super) fn record(
        &mut self,
        result: Result<(), ProbeError>,
        at: SystemTime,
        healthy: u32,
        unhealthy: u32,
    ) -> Option<Flip> {
        self.last_checked = Some(at);
        self.checks_total += 1;
        match result {
            Ok(()) => {
                self.consecutive_failures = 0;
                self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                if !self.up && self.consecutive_successes >= healthy {
                    self.up = true;
                    return Some(Flip::Up);
                }
            }
            Err(e) => {
                self.failures_total += 1;
                self.last_error = Some(e.to_string());
                self.consecutive_successes = 0;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.up && self.consecutive_failures >= unhealthy {
                    self.up = false;
                    return Some(Flip::Down(e));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> EndpointCheck {
        EndpointCheck::new(&("web".into(), "127.0.0.1:80".parse().unwrap()))
    }

    /// Feeds `results` (true = passed) with thresholds healthy 2, unhealthy 3; returns the
    /// flips with the index of the result that caused each.
    fn run(c: &mut EndpointCheck, results: &[bool]) -> Vec<(usize, Flip)> {
        let t = SystemTime::UNIX_EPOCH;
        results
            .iter()
            .enumerate()
            .filter_map(|(i, &ok)| {
                let r = if ok { Ok(()) } else { Err(ProbeError::Timeout) };
                c.record(r, t, 2, 3).map(|f| (i, f))
            })
            .collect()
    }

    #[test]
    fn starts_up_and_goes_down_after_unhealthy_failures_in_a_row() {
        let mut c = check();
        assert!(c.up && c.last_checked.is_none());
        let flips = run(&mut c, &[false, false, true, false, false, false]);
        assert_eq!(
            flips,
            [(5, Flip::Down(ProbeError::Timeout))],
            "a pass resets the streak"
        );
        assert!(!c.up);
        assert_eq!((c.consecutive_failures, c.consecutive_successes), (3, 0));
        assert_eq!((c.checks_total, c.failures_total), (6, 5));
        assert_eq!(c.last_error.as_deref(), Some("timeout"));
    }

    #[test]
    fn comes_back_after_healthy_passes_in_a_row() {
        let mut c = check();
        run(&mut c, &[false, false, false]);
        let flips = run(&mut c, &[true, false, true, true, true]);
        assert_eq!(flips, [(3, Flip::Up)]);
        assert!(c.up);
        assert_eq!((c.consecutive_failures, c.consecutive_successes), (0, 3));
        assert_eq!(
            c.last_error.as_deref(),
            Some("timeout"),
            "kept after recovery"
        );
    }

    #[test]
    fn more_failures_while_down_flip_nothing() {
        let mut c = check();
        let flips = run(&mut c, &[false; 10]);
        assert_eq!(flips.len(), 1);
        assert_eq!(c.consecutive_failures, 10);
        assert!(run(&mut c, &[true; 10]).len() == 1 && c.up);
    }

    #[test]
    fn thresholds_of_one_flip_on_every_change() {
        let mut c = check();
        let t = SystemTime::UNIX_EPOCH;
        let fail = Err(ProbeError::Status(503));
        assert_eq!(
            c.record(fail, t, 1, 1),
            Some(Flip::Down(ProbeError::Status(503)))
        );
        assert_eq!(c.last_error.as_deref(), Some("status 503"));
        assert_eq!(c.record(Ok(()), t, 1, 1), Some(Flip::Up));
        assert_eq!(c.record(Ok(()), t, 1, 1), None);
    }
}
