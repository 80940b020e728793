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
        Ok(self)
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
}
