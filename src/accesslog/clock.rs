//! Timestamps as log text, recomputed once per second per worker (UTC).

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub struct Clock {
    second: u64,
    /// `2026-11-21T10:00:00`
    iso: String,
    /// `21/Nov/2026:10:00:00 +0000`
    clf: String,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Clock {
    /// Brings the cached texts to now; returns the milliseconds within the second.
    pub fn tick(&mut self) -> u32 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs();
        if secs != self.second || self.iso.is_empty() {
            self.second = secs;
            let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
            let t = secs % 86_400;
            let (h, mi, s) = (t / 3600, t / 60 % 60, t % 60);
            self.iso = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
            let month = MONTHS[(mo - 1) as usize];
            self.clf = format!("{d:02}/{month}/{y:04}:{h:02}:{mi:02}:{s:02} +0000");
        }
        now.subsec_millis()
    }

    pub fn iso(&self) -> &str {
        &self.iso
    }

    pub fn clf(&self) -> &str {
        &self.clf
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let mut c = Clock::default();
        assert!(c.tick() < 1000);
        assert_eq!(c.iso().len(), 19);
        assert!(c.clf().ends_with(" +0000"));
    }
}
