//! `host`, `location`, `upstream` and `endpoint` commands: listings from the node's live
//! routes, writes through the API (which writes etcd).

use serde_json::{json, Value};

use super::args::{EndpointCmd, HostCmd, LocationCmd, UpstreamCmd};
use super::client::encode;
use super::table::Table;
use super::{json_arg, CliError, Ctx};

pub(super) fn host(ctx: &mut Ctx, c: HostCmd) -> Result<(), CliError> {
    let HostCmd::Ls = c;
    let v = ctx.client.get("/v1/hosts")?;
    if ctx.json {
        return ctx.print_json(&v);
    }
    let mut t = Table::new(&["HOST", ">LOCATIONS"]);
    for h in v["hosts"].as_array().into_iter().flatten() {
        t.row(vec![text(&h["name"]), text(&h["locations"])]);
    }
    ctx.print(&t.render())
}

pub(super) fn location(ctx: &mut Ctx, c: LocationCmd) -> Result<(), CliError> {
    match c {
        LocationCmd::Ls { host } => list_locations(ctx, host),
        LocationCmd::Set {
            host,
            location,
            path,
            upstream,
            options,
        } => {
            let mut body = json!({ "path": path, "upstream": upstream });
            if let Some(o) = options {
                body["options"] = json_arg("--options", &o)?;
            }
            let url = location_url(&host, &location);
            let what = format!("location {host}/{location} set: {path} -> {upstream}");
            write(ctx, "PUT", &url, Some(&body), &what)
        }
        LocationCmd::Rm { host, location } => {
            let what = format!("location {host}/{location} removed");
            write(ctx, "DELETE", &location_url(&host, &location), None, &what)
        }
    }
}

fn location_url(host: &str, location: &str) -> String {
    format!("/v1/hosts/{}/locations/{}", encode(host), encode(location))
}

fn list_locations(ctx: &mut Ctx, host: Option<String>) -> Result<(), CliError> {
    let hosts: Vec<String> = match host {
        Some(h) => vec![h],
        None => {
            let v = ctx.client.get("/v1/hosts")?;
            let list = v["hosts"].as_array().cloned().unwrap_or_default();
            list.iter().map(|h| text(&h["name"])).collect()
        }
    };
    let mut docs = Vec::new();
    for h in &hosts {
        docs.push(
            ctx.client
                .get(&format!("/v1/hosts/{}/locations", encode(h)))?,
        );
    }
    if ctx.json {
        return ctx.print_json(&Value::Array(docs));
    }
    let mut t = Table::new(&[
        "HOST", "LOCATION", ">RANK", "PATH", "MATCH", "UPSTREAM", "OPTIONS",
    ]);
    for d in &docs {
        for l in d["locations"].as_array().into_iter().flatten() {
            let mut up = text(&l["upstream"]);
            if l["upstream_defined"] == false {
                up.push_str(" (undefined: 503)");
            }
            t.row(vec![
                text(&d["host"]),
                text(&l["name"]),
                text(&l["rank"]),
                text(&l["path"]),
                text(&l["match"]),
                up,
                options(&l["options"]),
            ]);
        }
    }
    ctx.print(&t.render())
}

pub(super) fn upstream(ctx: &mut Ctx, c: UpstreamCmd) -> Result<(), CliError> {
    match c {
        UpstreamCmd::Ls => {
            let v = ctx.client.get("/v1/upstreams")?;
            if ctx.json {
                return ctx.print_json(&v);
            }
            let mut t = Table::new(&["UPSTREAM", ">ENDPOINTS", ">LOCATIONS", "OPTIONS"]);
            for u in v["upstreams"].as_array().into_iter().flatten() {
                t.row(vec![
                    text(&u["name"]),
                    text(&u["endpoints"]),
                    text(&u["locations"]),
                    options(&u["options"]),
                ]);
            }
            ctx.print(&t.render())
        }
        UpstreamCmd::Add { name, options } => {
            let body = match options {
                Some(o) => json!({ "options": json_arg("--options", &o)? }),
                None => json!({}),
            };
            let url = format!("/v1/upstreams/{}", encode(&name));
            write(
                ctx,
                "PUT",
                &url,
                Some(&body),
                &format!("upstream {name} set"),
            )
        }
        UpstreamCmd::Rm { name } => {
            let url = format!("/v1/upstreams/{}", encode(&name));
            write(
                ctx,
                "DELETE",
                &url,
                None,
                &format!("upstream {name} removed"),
            )
        }
    }
}

pub(super) fn endpoint(ctx: &mut Ctx, c: EndpointCmd) -> Result<(), CliError> {
    match c {
        EndpointCmd::Ls { upstream } => {
            let url = format!("/v1/upstreams/{}/endpoints", encode(&upstream));
            let v = ctx.client.get(&url)?;
            if ctx.json {
                return ctx.print_json(&v);
            }
            let mut t = Table::new(&["ID", "URL", ">WEIGHT", "STATE", "ACTIVE CHECK", "EJECTED"]);
            for e in v["endpoints"].as_array().into_iter().flatten() {
                let h = &e["health"];
                t.row(vec![
                    text(&e["id"]),
                    text(&e["url"]),
                    text(&e["weight"]),
                    text(&h["state"]),
                    active(&h["active"]),
                    format!(
                        "{}/{} workers",
                        text(&h["ejected_workers"]),
                        text(&h["workers"])
                    ),
                ]);
            }
            ctx.print(&t.render())
        }
        EndpointCmd::Add {
            upstream,
            id,
            url,
            weight,
        } => {
            let mut body = json!({ "url": url });
            if let Some(w) = weight {
                body["weight"] = w.into();
            }
            let path = endpoint_url(&upstream, &id);
            let what = format!("endpoint {upstream}/{id} set: {url}");
            write(ctx, "PUT", &path, Some(&body), &what)
        }
        EndpointCmd::Rm { upstream, id } => {
            let what = format!("endpoint {upstream}/{id} removed");
            write(ctx, "DELETE", &endpoint_url(&upstream, &id), None, &what)
        }
    }
}

fn endpoint_url(upstream: &str, id: &str) -> String {
    format!(
        "/v1/upstreams/{}/endpoints/{}",
        encode(upstream),
        encode(id)
    )
}

fn active(a: &Value) -> String {
    if a.is_null() {
        return "-".into();
    }
    let verdict = if a["up"] == true { "up" } else { "down" };
    match a["last_error"].as_str() {
        Some(e) if a["up"] == false => format!("{verdict} ({e})"),
        _ => verdict.into(),
    }
}

/// A write; with `--wait`, fails (exit 1) when the workers do not serve it in time.
pub(super) fn write(
    ctx: &mut Ctx,
    method: &str,
    path: &str,
    body: Option<&Value>,
    what: &str,
) -> Result<(), CliError> {
    let path = match ctx.wait {
        Some(w) => format!("{path}?wait={}ms", w.as_millis()),
        None => path.to_string(),
    };
    let v = ctx.client.json(method, &path, body)?;
    if ctx.json {
        ctx.print_json(&v)?;
    } else {
        ctx.print(&format!("{what} (etcd revision {})", text(&v["revision"])))?;
    }
    if v["served"] == false {
        return Err(CliError::Failed(format!(
            "written at etcd revision {}, but not served by every worker within --wait",
            text(&v["revision"])
        )));
    }
    Ok(())
}

/// A JSON scalar as plain text (strings unquoted; null as `-`).
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn options(v: &Value) -> String {
    match v.as_object() {
        Some(m) if m.is_empty() => "-".into(),
        _ => v.to_string(),
    }
}
