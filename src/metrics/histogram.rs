//! Request latency in microseconds, as an hdrhistogram with 1 significant digit (values are
//! exact to within 1/16, about 6%): 3 KiB per series per worker, allocated when the series
//! first sees traffic. A sum is kept beside it for Prometheus' `_sum`.

use hdrhistogram::Histogram;

/// Longest latency told apart: 2 minutes; anything slower counts as 2 minutes.
const HIGHEST_MICROS: u64 = 120_000_000;

#[derive(Clone, Debug)]
pub struct Latency {
    hist: Histogram<u64>,
    sum_micros: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            hist: Histogram::new_with_bounds(1, HIGHEST_MICROS, 1)
                .expect("constant histogram bounds are valid"),
            sum_micros: 0,
        }
    }
}

impl Latency {
    #[inline]
    pub fn record(&mut self, micros: u64) {
        self.hist.saturating_record(micros.clamp(1, HIGHEST_MICROS));
        self.sum_micros = self.sum_micros.wrapping_add(micros);
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_micros as f64 / 1e6
    }

    /// Observations at or below `micros`, for a Prometheus `le` bucket.
    pub fn count_le(&self, micros: u64) -> u64 {
        self.hist.count_between(0, micros)
    }

    /// The `q` quantile (0..=1) in milliseconds; 0 with no observations.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.value_at_quantile(q) as f64 / 1e3
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.sum_micros = self.sum_micros.wrapping_add(other.sum_micros);
    }

    /// What was recorded since `earlier` (a previous copy of the same series).
    pub fn since(&self, earlier: &Latency) -> Latency {
        let mut d = self.clone();
        if d.hist.subtract(&earlier.hist).is_err() {
            // Not a prefix of this series (it was reset): the whole series is new.
            return self.clone();
        }
        d.sum_micros = self.sum_micros.wrapping_sub(earlier.sum_micros);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_merge_and_deltas() {
        let mut a = Latency::default();
        for us in 1..=1000 {
            a.record(us);
        }
        let mut b = Latency::default();
        b.record(50_000);
        let snapshot = a.clone();
        a.merge(&b);
        assert_eq!(a.count(), 1001);
        assert!(
            (a.quantile_ms(0.5) - 0.5).abs() < 0.05,
            "{}",
            a.quantile_ms(0.5)
        );
        assert!(a.quantile_ms(1.0) >= 50.0);
        assert_eq!(a.count_le(1000), 1000);
        let d = a.since(&snapshot);
        assert_eq!(d.count(), 1);
        assert!((d.sum_seconds() - 0.05).abs() < 1e-9);
        assert!(
            std::mem::size_of_val(&a) < 256,
            "the counts live on the heap"
        );
    }
}
