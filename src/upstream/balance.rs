//! Smooth weighted round robin (nginx's algorithm): spreads picks evenly in proportion to
//! weight, without bursts to the heaviest endpoint.

#[derive(Debug, Clone, Default)]
pub struct SmoothWrr {
    current: Vec<i64>,
}

impl SmoothWrr {
    /// Starts from the previous current-weights of endpoints that are kept (`carried[i]`).
    pub fn with_current(current: Vec<i64>) -> Self {
        SmoothWrr { current }
    }

    pub fn current(&self) -> &[i64] {
        &self.current
    }

    /// Plain rotation over `n` endpoints (weights ignored); the first slot holds the cursor.
    pub fn pick_round_robin(&mut self, n: usize) -> usize {
        self.current.resize(n.max(1), 0);
        let i = (self.current[0].rem_euclid(n as i64)) as usize;
        self.current[0] = (i as i64 + 1) % n as i64;
        i
    }

    /// Picks an index among `weights` (all ≥ 1). `weights` must not be empty.
    pub fn pick(&mut self, weights: &[u32]) -> usize {
        if weights.len() == 1 {
            return 0;
        }
        self.current.resize(weights.len(), 0);
        let mut total = 0i64;
        let mut best = 0;
        for (i, &w) in weights.iter().enumerate() {
            self.current[i] += w as i64;
            total += w as i64;
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= total;
        best
    }
}

impl SmoothWrr {
    /// `pick` over the endpoints with `usable[i]` (at least one).
    pub fn pick_among(&mut self, weights: &[u32], usable: &[bool]) -> usize {
        self.current.resize(weights.len(), 0);
        let mut total = 0i64;
        let mut best = None::<usize>;
        for (i, &w) in weights.iter().enumerate().filter(|(i, _)| usable[*i]) {
            self.current[i] += w as i64;
            total += w as i64;
            if best.is_none_or(|b| self.current[i] > self.current[b]) {
                best = Some(i);
            }
        }
        let best = best.unwrap_or(0);
        self.current[best] -= total;
        best
    }

    /// `pick_round_robin` skipping endpoints without `usable[i]` (at least one is).
    pub fn pick_round_robin_among(&mut self, usable: &[bool]) -> usize {
        let n = usable.len();
        for _ in 0..n {
            let i = self.pick_round_robin(n);
            if usable[i] {
                return i;
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_by_weight_smoothly() {
        let mut b = SmoothWrr::default();
        let picks: Vec<usize> = (0..7).map(|_| b.pick(&[5, 1, 1])).collect();
        assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 5);
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
        let mut even = SmoothWrr::default();
        let p: Vec<usize> = (0..4).map(|_| even.pick(&[1, 1])).collect();
        assert_eq!(p, vec![0, 1, 0, 1]);
    }

    #[test]
    fn skips_unusable_endpoints() {
        let mut b = SmoothWrr::default();
        let usable = [true, false, true];
        let picks: Vec<usize> = (0..6).map(|_| b.pick_among(&[1, 5, 1], &usable)).collect();
        assert!(picks.iter().all(|&i| i != 1));
        assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 3);
        let mut rr = SmoothWrr::default();
        let picks: Vec<usize> = (0..4).map(|_| rr.pick_round_robin_among(&usable)).collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
    }
}
