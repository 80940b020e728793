//! Per-upstream and per-location options (etcd `.../options` JSON, or `options = {..}` in TOML).
//! Precedence: location options, then upstream options, then the node's settings.

use std::time::Duration;

use serde::Deserialize;

use super::parse_duration;

/// Longest accepted options value, in bytes.
pub const MAX_OPTIONS: usize = 16 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub timeouts: TimeoutOptions,
    /// Retries of an idempotent request whose reused connection failed before any response
    /// byte: 0 or 1.
    pub retries: Option<u32>,
    /// Request body limit in bytes (0 = unlimited).
    pub max_body: Option<u64>,
    /// Upstream only: `"wrr"` (smooth weighted round robin, the default) or `"round_robin"`.
    pub lb: Option<Balance>,
    /// Upstream only.
    #[serde(default)]
    pub pool: PoolOptions,
    /// Upstream only: active health checks (off unless set).
    pub health_check: Option<HealthCheckOptions>,
    /// Upstream only: passive outlier ejection (on by default, see `OutlierOptions`).
    #[serde(default)]
    pub outlier: OutlierOptions,
}

/// Active checks: the control plane sends `GET path` to every endpoint each `interval`; an
/// endpoint is marked down after `unhealthy` failures in a row and up after `healthy` successes.
/// A 2xx or 3xx answer within `timeout` is a success.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckOptions {
    #[serde(default = "default_check_path")]
    pub path: String,
    #[serde(default = "default_check_interval", deserialize_with = "duration_req")]
    pub interval: Duration,
    #[serde(default = "default_check_timeout", deserialize_with = "duration_req")]
    pub timeout: Duration,
    #[serde(default = "default_healthy")]
    pub healthy: u32,
    #[serde(default = "default_unhealthy")]
    pub unhealthy: u32,
}

fn default_check_path() -> String {
    "/".into()
}
fn default_check_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_check_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_healthy() -> u32 {
    2
}
fn default_unhealthy() -> u32 {
    3
}

/// Passive ejection, per worker: after `consecutive` connect errors or 5xx answers in a row an
/// endpoint gets no traffic for `base_ejection`, doubled at each further ejection up to
/// `max_ejection`. Never more than half of an upstream's endpoints are ejected at once.
/// `consecutive = 0` turns it off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierOptions {
    pub consecutive: Option<u32>,
    #[serde(default, deserialize_with = "duration")]
    pub base_ejection: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub max_ejection: Option<Duration>,
}

impl OutlierOptions {
    pub const DEFAULT_CONSECUTIVE: u32 = 5;
    pub const DEFAULT_BASE: Duration = Duration::from_secs(1);
    pub const DEFAULT_MAX: Duration = Duration::from_secs(30);
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutOptions {
    #[serde(default, deserialize_with = "duration")]
    pub connect: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub response_header: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub body_idle: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolOptions {
    pub max_idle: Option<usize>,
    #[serde(default, deserialize_with = "duration")]
    pub idle_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    #[default]
    Wrr,
    /// Plain rotation; weights are ignored.
    RoundRobin,
}

fn duration_req<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl Options {
    /// Parses an options JSON document and checks its ranges.
    pub fn from_json(text: &str) -> Result<Options, String> {
        if text.len() > MAX_OPTIONS {
            return Err(format!("options are longer than {MAX_OPTIONS} bytes"));
        }
        let o: Options =
            serde_json::from_str(text).map_err(|e| format!("bad options JSON: {e}"))?;
        o.check()
    }

    pub fn check(self) -> Result<Options, String> {
        if self.retries.is_some_and(|r| r > 1) {
            return Err("retries must be 0 or 1".into());
        }
        if self.pool.max_idle.is_some_and(|n| n > 100_000) {
            return Err("pool.max_idle must be at most 100000".into());
        }
        if let Some(h) = &self.health_check {
            h.check()?;
        }
        if let (Some(b), Some(m)) = (self.outlier.base_ejection, self.outlier.max_ejection) {
            if m < b {
                return Err("outlier.max_ejection must not be below outlier.base_ejection".into());
            }
        }
        Ok(self)
    }
}

impl HealthCheckOptions {
    fn check(&self) -> Result<(), String> {
        if !self.path.starts_with('/') || self.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(
                "health_check.path must start with / and hold no spaces or controls".into(),
            );
        }
        if self.interval < Duration::from_millis(100) {
            return Err("health_check.interval must be at least 100ms".into());
        }
        if self.timeout.is_zero() || self.timeout > self.interval {
            return Err("health_check.timeout must be above 0 and at most the interval".into());
        }
        if !(1..=100).contains(&self.healthy) || !(1..=100).contains(&self.unhealthy) {
            return Err("health_check.healthy and .unhealthy must be 1 to 100".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let o = Options::from_json(
            r#"{"timeouts":{"connect":"2s"},"retries":0,"lb":"round_robin","pool":{"max_idle":8}}"#,
        )
        .unwrap();
        assert_eq!(o.timeouts.connect, Some(Duration::from_secs(2)));
        assert_eq!(o.lb, Some(Balance::RoundRobin));
        assert_eq!(o.pool.max_idle, Some(8));
        assert!(Options::from_json(r#"{"bogus":1}"#).is_err());
        assert!(Options::from_json(r#"{"retries":5}"#).is_err());
        assert!(Options::from_json(r#"{"timeouts":{"connect":"soon"}}"#).is_err());
        assert!(Options::from_json("{").is_err());
    }

    #[test]
    fn health_check_ranges() {
        let o = Options::from_json(
            r#"{"health_check":{"path":"/health","interval":"200ms","timeout":"100ms","unhealthy":2}}"#,
        )
        .unwrap();
        let hc = o.health_check.unwrap();
        assert_eq!(hc.interval, Duration::from_millis(200));
        assert_eq!((hc.healthy, hc.unhealthy), (2, 2));
        for bad in [
            r#"{"health_check":{"path":"health"}}"#,
            r#"{"health_check":{"path":"/a b"}}"#,
            r#"{"health_check":{"interval":"50ms","timeout":"10ms"}}"#,
            r#"{"health_check":{"interval":"1s","timeout":"2s"}}"#,
            r#"{"health_check":{"unhealthy":0}}"#,
            r#"{"health_check":{"healthy":101}}"#,
            r#"{"health_check":{"bogus":1}}"#,
        ] {
            assert!(Options::from_json(bad).is_err(), "{bad}");
        }
    }
}
