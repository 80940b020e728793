//! `GET /v1/stats` (what `vanectl top` shows): per-location and per-endpoint request rate,
//! error rate and latency percentiles over the last second. A sampler task scrapes the
//! workers once a second and keeps the last two scrapes; the answer is their difference
//! (`Merged::since`). It samples only while someone asks (a request keeps it going for
//! `KEEP_SAMPLING`), so an idle API costs the workers nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Notify;

use super::http::Response;
use super::metrics::scrape;
use super::{ApiError, Shared};
use crate::control::checks::EndpointCheck;
use crate::metrics::{Merged, CLASSES};

const INTERVAL: Duration = Duration::from_secs(1);
const KEEP_SAMPLING: Duration = Duration::from_secs(30);
/// How long a request waits for a first window after the sampler was idle.
const FIRST_WINDOW: Duration = Duration::from_secs(3);

#[derive(Default)]
pub(super) struct Sampler {
    state: Mutex<State>,
    wake: Notify,
}

/// One scrape and when it was taken.
type Scrape = (Instant, Arc<Merged>);

#[derive(Default)]
struct State {
    previous: Option<Scrape>,
    latest: Option<Scrape>,
    wanted_until: Option<Instant>,
}

impl Sampler {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The two latest scrapes, if they are recent enough to describe "now".
    fn window(&self) -> Option<(Scrape, Scrape)> {
        let st = self.lock();
        let (p, l) = (st.previous.clone()?, st.latest.clone()?);
        (l.0.elapsed() < 2 * INTERVAL).then_some((p, l))
    }
}

/// Runs on the admin runtime for as long as the API does.
pub(super) async fn run_sampler(s: Arc<Shared>) {
    loop {
        let wanted = s
            .stats
            .lock()
            .wanted_until
            .is_some_and(|t| Instant::now() < t);
        if !wanted {
            {
                let mut st = s.stats.lock();
                st.previous = None;
                st.latest = None;
            }
            s.stats.wake.notified().await;
            continue;
        }
        let merged = Arc::new(scrape(&s).await);
        {
            let mut st = s.stats.lock();
            st.previous = st.latest.take();
            st.latest = Some((Instant::now(), merged));
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

pub(super) async fn get(s: &Shared) -> Result<Response, ApiError> {
    {
        let mut st = s.stats.lock();
        st.wanted_until = Some(Instant::now() + KEEP_SAMPLING);
    }
    s.stats.wake.notify_one();
    let deadline = Instant::now() + FIRST_WINDOW;
    let ((t0, earlier), (t1, later)) = loop {
        if let Some(w) = s.stats.window() {
            break w;
        }
        if Instant::now() >= deadline {
            return Err(ApiError::unavailable("the workers did not answer a scrape"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secs = t1.duration_since(t0).as_secs_f64().max(1e-3);
    let d = later.since(&earlier);
    let checks = s.ctx.checks.endpoints();
    Ok(Response::json(200, &stats_json(&d, secs, &checks)))
}

fn rate(n: u64, secs: f64) -> f64 {
    n as f64 / secs
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `d` is what happened during the `secs`-long window.
fn stats_json(d: &Merged, secs: f64, checks: &[EndpointCheck]) -> Value {
    let locations: Vec<Value> = d
        .locations
        .iter()
        .map(|((host, loc), st)| {
            let n = st.requests();
            let by_class: serde_json::Map<String, Value> = CLASSES
                .iter()
                .zip(st.by_class)
                .map(|(c, v)| (c.to_string(), json!(v)))
                .collect();
            json!({
                "host": host,
                "location": loc,
                "requests": n,
                "rate": rate(n, secs),
                "errors": st.by_class[4],
                "error_rate": ratio(st.by_class[4], n),
                "by_class": by_class,
                "p50_ms": st.percentile_ms(0.50),
                "p90_ms": st.percentile_ms(0.90),
                "p99_ms": st.percentile_ms(0.99),
            })
        })
        .collect();
    let endpoints: Vec<Value> = d
        .endpoints
        .iter()
        .map(|((up, addr), st)| {
            let active = checks
                .iter()
                .find(|c| &*c.upstream == up && c.endpoint.to_string() == *addr)
                .map(|c| c.up);
            json!({
                "upstream": up,
                "endpoint": addr,
                "requests": st.requests(),
                "rate": rate(st.requests(), secs),
                "failures": st.failures,
                "error_rate": ratio(st.failures, st.requests()),
                "p50_ms": st.percentile_ms(0.50),
                "p90_ms": st.percentile_ms(0.90),
                "p99_ms": st.percentile_ms(0.99),
                "ejected_workers": st.ejected_workers,
                "active_up": active,
            })
        })
        .collect();
    let unrouted: u64 = d.totals.unrouted.iter().sum();
    json!({
        "window_s": secs,
        "workers": d.workers.len(),
        "locations": locations,
        "endpoints": endpoints,
        "totals": {
            "requests": d.locations.values().map(|l| l.requests()).sum::<u64>() + unrouted,
            "unrouted": unrouted,
            "bytes_in_rate": rate(d.totals.bytes_in, secs),
            "bytes_out_rate": rate(d.totals.bytes_out, secs),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LocationStats;

    #[test]
    fn rates_and_error_rates_over_the_window() {
        let mut d = Merged::default();
        let mut l = LocationStats {
            by_class: [0, 90, 0, 0, 10],
            ..Default::default()
        };
        for ms in 1..=100 {
            l.latency.record(ms * 1000);
        }
        d.locations.insert(("h".into(), "l".into()), l);
        let v = stats_json(&d, 2.0, &[]);
        let loc = &v["locations"][0];
        assert_eq!(loc["requests"], 100);
        assert_eq!(loc["rate"], 50.0);
        assert_eq!(loc["error_rate"], 0.1);
        assert_eq!(loc["by_class"]["5xx"], 10);
        let p50 = loc["p50_ms"].as_f64().unwrap();
        assert!((45.0..=55.0).contains(&p50), "{p50}");
        assert_eq!(v["totals"]["requests"], 100);
    }
}
