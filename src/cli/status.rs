//! `status` and `route test`.

use serde_json::Value;

use super::args::RouteCmd;
use super::client::encode;
use super::routes::text;
use super::table::{age, Table};
use super::{CliError, Ctx};

pub(super) fn status(ctx: &mut Ctx) -> Result<(), CliError> {
    let v = ctx.client.get("/v1/status")?;
    if ctx.json {
        return ctx.print_json(&v);
    }
    let health = match (v["draining"] == true, v["healthy"] == true) {
        (true, _) => "draining",
        (false, true) => "healthy",
        (false, false) => "not ready",
    };
    let mut out = format!(
        "vane {}, up {}, {health}\n",
        text(&v["version"]),
        age(v["uptime_s"].as_f64().unwrap_or(0.0))
    );
    out.push_str(&source_line(&v["source"]));
    let c = &v["config"];
    let r = &c["routes"];
    out.push_str(&format!(
        "config: generation {}, revision {}: {} host(s), {} location(s), {} upstream(s)\n\n",
        text(&c["generation"]),
        text(&c["revision"]),
        text(&r["hosts"]),
        text(&r["locations"]),
        text(&r["upstreams"])
    ));
    let mut t = Table::new(&[
        "WORKER",
        "DRIVER",
        ">GENERATION",
        ">REVISION",
        ">CONNECTIONS",
    ]);
    for w in v["workers"].as_array().into_iter().flatten() {
        let mut id = text(&w["id"]);
        if w["exited"] == true {
            id.push_str(" (exited)");
        }
        t.row(vec![
            id,
            text(&w["driver"]),
            text(&w["generation"]),
            text(&w["revision"]),
            text(&w["connections"]),
        ]);
    }
    out.push_str(&t.render());
    let rejected = v["rejections"].as_array().cloned().unwrap_or_default();
    if !rejected.is_empty() {
        let mut t = Table::new(&["REJECTED KEY", ">REVISION", "ERROR"]);
        for r in &rejected {
            t.row(vec![
                text(&r["key"]),
                text(&r["revision"]),
                text(&r["error"]),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    ctx.print(&out)
}

fn source_line(s: &Value) -> String {
    match s["kind"].as_str() {
        Some("etcd") => {
            let eps: Vec<String> = s["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            let link = if s["connected"] == true {
                "connected".to_string()
            } else {
                format!("NOT connected ({})", text(&s["last_error"]))
            };
            let last = match s["last_event_age_s"].as_f64() {
                Some(a) => format!(", last change {} ago", age(a)),
                None => String::new(),
            };
            let cache = if s["from_cache"] == true {
                ", SERVING FROM CACHE"
            } else {
                ""
            };
            format!(
                "routes: etcd {} prefix {}: {link}, revision {}{last}{cache}\n",
                eps.join(","),
                text(&s["prefix"]),
                text(&s["revision"])
            )
        }
        Some("file") => {
            let valid = if s["valid"] == true {
                String::new()
            } else {
                let errs: Vec<String> = s["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect();
                format!(
                    " (INVALID, still serving the last good version: {})",
                    errs.join("; ")
                )
            };
            format!("routes: file {}{valid}\n", text(&s["path"]))
        }
        _ => "routes: the embedded default config\n".to_string(),
    }
}

pub(super) fn route(ctx: &mut Ctx, c: RouteCmd) -> Result<(), CliError> {
    let RouteCmd::Test { host, path } = c;
    let url = format!("/v1/route?host={}&path={}", encode(&host), encode(&path));
    let v = ctx.client.get(&url)?;
    if ctx.json {
        return ctx.print_json(&v);
    }
    let mut out = format!(
        "request: Host {host}, path {}\n",
        text(&v["request"]["path"])
    );
    let entry = match (v["host"].as_str(), v["catch_all"] == true) {
        (Some(_), true) => "the catch-all `*` (no host entry of that name)".to_string(),
        (Some(h), false) => format!("host entry `{h}`"),
        (None, _) => "no host entry, no catch-all".to_string(),
    };
    out.push_str(&format!(
        "host key: {} -> {entry}\n\n",
        text(&v["host_key"])
    ));
    let mut t = Table::new(&[
        "",
        ">RANK",
        "LOCATION",
        "PATH",
        "MATCH",
        "LITERAL PREFIX",
        "MATCHES",
    ]);
    for c in v["candidates"].as_array().into_iter().flatten() {
        t.row(vec![
            if c["chosen"] == true { "=>" } else { "" }.into(),
            text(&c["rank"]),
            text(&c["location"]),
            text(&c["path"]),
            text(&c["match"]),
            format!("{:?}", text(&c["literal_prefix"])),
            if c["matches"] == true { "yes" } else { "no" }.into(),
        ]);
    }
    if !t.is_empty() {
        out.push_str(&t.render());
        out.push('\n');
    }
    let r = &v["route"];
    if !r.is_null() {
        out.push_str(&format!(
            "location {} -> upstream {} ({} endpoint(s)): ",
            text(&r["location"]),
            text(&r["upstream"]),
            text(&r["endpoints"])
        ));
    }
    out.push_str(&text(&v["verdict"]));
    ctx.print(&out)
}
