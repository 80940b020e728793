//! `top`: a refreshing table of per-location and per-endpoint request rates, error rates and
//! latency percentiles (the API's `/v1/stats`, one-second windows). On a terminal the screen
//! is redrawn in place; otherwise (and with `--json`) each refresh is appended.

use std::io::IsTerminal;
use std::time::Instant;

use serde_json::Value;

use super::args::TopArgs;
use super::routes::text;
use super::table::{ms, percent, Table};
use super::{CliError, Ctx};
use crate::model::parse_duration;

pub(super) fn top(ctx: &mut Ctx, a: TopArgs) -> Result<(), CliError> {
    let interval =
        parse_duration(&a.interval).map_err(|e| CliError::Usage(format!("--interval: {e}")))?;
    let redraw = !ctx.json && std::io::stdout().is_terminal();
    let mut n = 0u64;
    loop {
        let started = Instant::now();
        let v = ctx.client.get("/v1/stats")?;
        if ctx.json {
            ctx.print(&v.to_string())?;
        } else {
            let screen = render(&v, a.rows);
            let clear = if redraw { "\x1b[2J\x1b[H" } else { "" };
            ctx.print(&format!("{clear}{screen}"))?;
        }
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            return Ok(());
        }
        std::thread::sleep(interval.saturating_sub(started.elapsed()));
    }
}

fn by_rate(v: &Value) -> Vec<Value> {
    let mut rows = v.as_array().cloned().unwrap_or_default();
    rows.sort_by(|a, b| {
        let r = |x: &Value| x["rate"].as_f64().unwrap_or(0.0);
        r(b).total_cmp(&r(a))
    });
    rows
}

fn render(v: &Value, rows: usize) -> String {
    let t = &v["totals"];
    let mut out = format!(
        "vane top: {:.0} req/s ({} unrouted) over the last {:.1}s, {} worker(s)\n\n",
        t["requests"].as_f64().unwrap_or(0.0) / v["window_s"].as_f64().unwrap_or(1.0),
        text(&t["unrouted"]),
        v["window_s"].as_f64().unwrap_or(0.0),
        text(&v["workers"])
    );
    let mut locs = Table::new(&["HOST", "LOCATION", ">REQ/S", ">5XX", ">P50", ">P90", ">P99"]);
    for l in by_rate(&v["locations"]).iter().take(rows) {
        locs.row(vec![
            text(&l["host"]),
            text(&l["location"]),
            format!("{:.1}", l["rate"].as_f64().unwrap_or(0.0)),
            percent(l["error_rate"].as_f64().unwrap_or(0.0)),
            ms(l["p50_ms"].as_f64().unwrap_or(0.0)),
            ms(l["p90_ms"].as_f64().unwrap_or(0.0)),
            ms(l["p99_ms"].as_f64().unwrap_or(0.0)),
        ]);
    }
    out.push_str(&locs.render());
    out.push('\n');
    let mut eps = Table::new(&[
        "UPSTREAM", "ENDPOINT", ">REQ/S", ">ERRORS", ">P50", ">P99", ">EJECTED", "ACTIVE",
    ]);
    for e in by_rate(&v["endpoints"]).iter().take(rows) {
        let active = match e["active_up"].as_bool() {
            Some(true) => "up",
            Some(false) => "DOWN",
            None => "-",
        };
        eps.row(vec![
            text(&e["upstream"]),
            text(&e["endpoint"]),
            format!("{:.1}", e["rate"].as_f64().unwrap_or(0.0)),
            percent(e["error_rate"].as_f64().unwrap_or(0.0)),
            ms(e["p50_ms"].as_f64().unwrap_or(0.0)),
            ms(e["p99_ms"].as_f64().unwrap_or(0.0)),
            text(&e["ejected_workers"]),
            active.into(),
        ]);
    }
    out.push_str(&eps.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_busiest_first() {
        let v = serde_json::json!({
            "window_s": 1.0, "workers": 2,
            "totals": {"requests": 30, "unrouted": 0},
            "locations": [
                {"host": "h", "location": "quiet", "rate": 1.0, "error_rate": 0.0, "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0},
                {"host": "h", "location": "busy", "rate": 29.0, "error_rate": 0.5, "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0}
            ],
            "endpoints": [
                {"upstream": "u", "endpoint": "127.0.0.1:1", "rate": 30.0, "error_rate": 0.0, "p50_ms": 1.0, "p99_ms": 2.0, "ejected_workers": 0, "active_up": false}
            ]
        });
        let s = render(&v, 10);
        let busy = s.find("busy").unwrap();
        assert!(busy < s.find("quiet").unwrap(), "{s}");
        assert!(
            s.contains("50.0%") && s.contains("DOWN") && s.contains("30 req/s"),
            "{s}"
        );
        assert_eq!(render(&v, 1).matches("quiet").count(), 0);
    }
}
