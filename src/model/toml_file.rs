//! The TOML file format. It mirrors the etcd layout (`upstreams.<u>.endpoints.<id>`,
//! `hosts.<h>.locations.<l>.{path,upstream}`) so both sources fill the same `ModelBuilder`.

use std::net::SocketAddr;
use std::time::Duration;

use toml::{Table, Value};

use super::{
    parse_duration, parse_etcd_endpoint, parse_etcd_prefix, validate_admin_token,
    AccessLogSettings, ConfigError, KeyError, LogFormat, Model, ModelBuilder, Options,
    SchedSettings, Settings, ShutdownSettings, Timeouts,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    pub settings: Settings,
    pub model: Model,
}

/// Parses a whole file. Any bad key rejects the file; every bad key is listed, by its TOML path.
pub fn parse_toml(text: &str) -> Result<FileConfig, ConfigError> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        errors: vec![KeyError::new(
            "(file)",
            e.message().to_string() + &span_note(text, e.span()),
        )],
    })?;
    let mut errs = Vec::new();
    let mut settings = Settings::default();
    let mut builder = ModelBuilder::new();
    for (k, v) in &table {
        match k.as_str() {
            "workers" => match v.as_integer() {
                Some(0) => settings.workers = None,
                Some(n) if (1..=1024).contains(&n) => settings.workers = Some(n as usize),
                _ => errs.push(KeyError::new(
                    "workers",
                    "expected an integer 0..=1024 (0 = one per core)",
                )),
            },
            "listen" => listen(v, &mut settings, &mut errs),
            "timeouts" => timeouts(v, &mut settings, &mut errs),
            "limits" => limits(v, &mut settings, &mut errs),
            "pool" => pool(v, &mut settings, &mut errs),
            "shutdown" => shutdown(v, &mut settings, &mut errs),
            "etcd" => etcd(v, &mut settings, &mut errs),
            "admin" => admin(v, &mut settings, &mut errs),
            "access_log" => access_log(v, &mut settings, &mut errs),
            "metrics" => metrics(v, &mut settings, &mut errs),
            "scheduler" => scheduler(v, &mut settings, &mut errs),
            "upstreams" => upstreams(v, &mut builder, &mut errs),
            "hosts" => hosts(v, &mut builder, &mut errs),
            _ => errs.push(KeyError::new(key(&[k]), "unknown key")),
        }
    }
    let (model, incomplete) = builder.finish();
    errs.extend(incomplete);
    if errs.is_empty() {
        Ok(FileConfig { settings, model })
    } else {
        Err(ConfigError { errors: errs })
    }
}

fn span_note(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(r) => format!(
            " (line {})",
            text[..r.start.min(text.len())].matches('\n').count() + 1
        ),
        None => String::new(),
    }
}

/// Renders a TOML key path, quoting segments that are not bare keys.
fn key(segs: &[&str]) -> String {
    let bare = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    segs.iter()
        .map(|s| {
            if bare(s) {
                s.to_string()
            } else {
                format!("{s:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn table<'a>(v: &'a Value, k: &str, errs: &mut Vec<KeyError>) -> Option<&'a Table> {
    let t = v.as_table();
    if t.is_none() {
        errs.push(KeyError::new(k, "expected a table"));
    }
    t
}

fn listen(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "listen", errs) else {
        return;
    };
    for (k, v) in t {
        let name = key(&["listen", k]);
        let addr = v.as_str().and_then(|a| a.parse::<SocketAddr>().ok());
        match (k.as_str(), addr) {
            ("http", Some(a)) => s.listen.http = a,
            ("health", Some(a)) => s.listen.health = Some(a),
            ("admin", Some(a)) => s.listen.admin = Some(a),
            ("admin", None) if matches!(v.as_str(), Some("" | "off")) => s.listen.admin = None,
            ("admin", None) => errs.push(KeyError::new(name, "expected \"ip:port\" or \"off\"")),
            ("http" | "health", None) => errs.push(KeyError::new(name, "expected \"ip:port\"")),
            _ => errs.push(KeyError::new(name, "unknown key")),
        }
    }
}

fn duration(v: &Value, name: &str, errs: &mut Vec<KeyError>) -> Option<std::time::Duration> {
    let parsed = match v {
        Value::String(s) => parse_duration(s),
        Value::Integer(n) => parse_duration(&n.to_string()),
        _ => Err("expected a duration such as \"5s\" or \"250ms\"".into()),
    };
    parsed.map_err(|m| errs.push(KeyError::new(name, m))).ok()
}

fn timeouts(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    duration_table(
        v,
        "timeouts",
        &mut s.timeouts,
        timeout_slot,
        any_duration,
        errs,
    );
}

fn timeout_slot<'a>(t: &'a mut Timeouts, k: &str) -> Option<&'a mut Duration> {
    match k {
        "connect" => Some(&mut t.connect),
        "response_header" => Some(&mut t.response_header),
        "request_head" => Some(&mut t.request_head),
        "keepalive_idle" => Some(&mut t.keepalive_idle),
        "body_idle" => Some(&mut t.body_idle),
        _ => None,
    }
}

/// A table whose keys are durations: `slot` names each key's field (`None`: unknown key), and
/// `check` may refuse a value.
fn duration_table<T>(
    v: &Value,
    section: &str,
    target: &mut T,
    slot: for<'a> fn(&'a mut T, &str) -> Option<&'a mut Duration>,
    check: fn(Duration) -> Result<(), &'static str>,
    errs: &mut Vec<KeyError>,
) {
    let Some(t) = table(v, section, errs) else {
        return;
    };
    for (k, v) in t {
        let name = key(&[section, k]);
        let Some(field) = slot(target, k) else {
            errs.push(KeyError::new(name, "unknown key"));
            continue;
        };
        match duration(v, &name, errs).map(|d| check(d).map(|()| d)) {
            Some(Ok(d)) => *field = d,
            Some(Err(message)) => errs.push(KeyError::new(name, message)),
            None => {}
        }
    }
}

fn any_duration(_: Duration) -> Result<(), &'static str> {
    Ok(())
}

fn int(
    v: &Value,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    errs: &mut Vec<KeyError>,
) -> Option<i64> {
    match v.as_integer() {
        Some(n) if range.contains(&n) => Some(n),
        _ => {
            errs.push(KeyError::new(
                name,
                format!("expected an integer in {}..={}", range.start(), range.end()),
            ));
            None
        }
    }
}

fn limits(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "limits", errs) else {
        return;
    };
    for (k, v) in t {
        let name = key(&["limits", k]);
        match k.as_str() {
            "max_header_bytes" => {
                if let Some(n) = int(v, &name, 1024..=1 << 20, errs) {
                    s.limits.max_header_bytes = n as usize;
                }
            }
            "max_header_lines" => {
                if let Some(n) = int(v, &name, 8..=1000, errs) {
                    s.limits.max_header_lines = n as usize;
                }
            }
            "max_request_line" => {
                if let Some(n) = int(v, &name, 256..=1 << 20, errs) {
                    s.limits.max_request_line = n as usize;
                }
            }
            "max_body" => {
                if let Some(n) = int(v, &name, 0..=i64::MAX, errs) {
                    s.limits.max_body = (n > 0).then_some(n as u64);
                }
            }
            _ => errs.push(KeyError::new(name, "unknown key")),
        }
    }
}

fn pool(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "pool", errs) else {
        return;
    };
    for (k, v) in t {
        let name = key(&["pool", k]);
        match k.as_str() {
            "max_idle_per_endpoint" => {
                if let Some(n) = int(v, &name, 0..=100_000, errs) {
                    s.pool.max_idle_per_endpoint = n as usize;
                }
            }
            "idle_timeout" => {
                if let Some(d) = duration(v, &name, errs) {
                    s.pool.idle_timeout = d;
                }
            }
            _ => errs.push(KeyError::new(name, "unknown key")),
        }
    }
}

/// `[access_log]`: `path = "-"` (standard output, the default) or a file; `format = "json"`
/// (the default) or `"combined"`; `enabled = false` turns it off. The table's presence turns
/// it on.
fn access_log(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "access_log", errs) else {
        return;
    };
    let mut log = AccessLogSettings {
        path: None,
        format: LogFormat::Json,
    };
    let mut enabled = true;
    for (k, v) in t {
        let name = key(&["access_log", k]);
        match (k.as_str(), v) {
            ("path", Value::String(p)) if p == "-" => log.path = None,
            ("path", Value::String(p)) if !p.is_empty() => log.path = Some(p.into()),
            ("path", _) => errs.push(KeyError::new(name, "expected \"-\" or a file path")),
            ("format", Value::String(f)) if f == "json" => log.format = LogFormat::Json,
            ("format", Value::String(f)) if f == "combined" => log.format = LogFormat::Combined,
            ("format", _) => errs.push(KeyError::new(name, "expected \"json\" or \"combined\"")),
            ("enabled", Value::Boolean(b)) => enabled = *b,
            ("enabled", _) => errs.push(KeyError::new(name, "expected true or false")),
            _ => errs.push(KeyError::new(name, "unknown key")),
        }
    }
    s.access_log = enabled.then_some(log);
}

/// `[metrics] enabled = false` turns request metrics off (for measuring what they cost).
fn metrics(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "metrics", errs) else {
        return;
    };
    for (k, v) in t {
        let name = key(&["metrics", k]);
        match (k.as_str(), v) {
            ("enabled", Value::Boolean(b)) => s.metrics = *b,
            ("enabled", _) => errs.push(KeyError::new(name, "expected true or false")),
            _ => errs.push(KeyError::new(name, "unknown key")),
        }
    }
}

/// `[scheduler] worker_slice = "300us"`, `control_slice = "100us"`.
fn scheduler(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    duration_table(
        v,
        "scheduler",
        &mut s.scheduler,
        sched_slot,
        slice_range,
        errs,
    );
}

fn sched_slot<'a>(t: &'a mut SchedSettings, k: &str) -> Option<&'a mut Duration> {
    match k {
        "worker_slice" => Some(&mut t.worker_slice),
        "control_slice" => Some(&mut t.control_slice),
        _ => None,
    }
}

/// Linux accepts 100 µs..=100 ms for a fair task's slice; 0 keeps its default.
fn slice_range(d: Duration) -> Result<(), &'static str> {
    let ok = d.is_zero() || (Duration::from_micros(100)..=Duration::from_millis(100)).contains(&d);
    ok.then_some(())
        .ok_or("expected 0 (the kernel's default) or 100us..=100ms")
}

fn shutdown(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    duration_table(
        v,
        "shutdown",
        &mut s.shutdown,
        shutdown_slot,
        any_duration,
        errs,
    );
}

fn shutdown_slot<'a>(t: &'a mut ShutdownSettings, k: &str) -> Option<&'a mut Duration> {
    match k {
        "drain_delay" => Some(&mut t.drain_delay),
        "grace" => Some(&mut t.grace),
        _ => None,
    }
}

/// `[etcd]`: `endpoints = ["http://127.0.0.1:2379"]`, `prefix = "/vulcand"`, `state_dir = "..."`.
fn etcd(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "etcd", errs) else {
        return;
    };
    for (k, v) in t {
        let name = key(&["etcd", k]);
        let r = match (k.as_str(), v) {
            ("endpoints", Value::Array(a)) => a
                .iter()
                .map(|e| e.as_str().ok_or("expected strings".to_string()))
                .map(|e| e.and_then(parse_etcd_endpoint))
                .collect::<Result<Vec<_>, _>>()
                .map(|eps| s.etcd.endpoints = eps),
            ("endpoints", _) => Err("expected [\"http://host:port\", ...]".into()),
            ("prefix", Value::String(p)) => parse_etcd_prefix(p).map(|p| s.etcd.prefix = p),
            ("state_dir", Value::String(d)) if !d.is_empty() => {
                s.etcd.state_dir = d.into();
                Ok(())
            }
            ("prefix" | "state_dir", _) => Err("expected a string".into()),
            _ => Err("unknown key".into()),
        };
        if let Err(m) = r {
            errs.push(KeyError::new(name, m));
        }
    }
}

/// `[admin]`: `token = "..."` or `token_file = "/path"` (read at start, not here: no I/O).
fn admin(v: &Value, s: &mut Settings, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "admin", errs) else {
        return;
    };
    for (k, v) in t {
        let name = key(&["admin", k]);
        let r = match (k.as_str(), v) {
            ("token", Value::String(tok)) => {
                validate_admin_token(tok).map(|()| s.admin.token = Some(tok.clone()))
            }
            ("token_file", Value::String(p)) if !p.is_empty() => {
                s.admin.token_file = Some(p.into());
                Ok(())
            }
            ("token" | "token_file", _) => Err("expected a string".into()),
            _ => Err("unknown key".into()),
        };
        if let Err(m) = r {
            errs.push(KeyError::new(name, m));
        }
    }
    if s.admin.token.is_some() && s.admin.token_file.is_some() {
        errs.push(KeyError::new(
            "admin.token_file",
            "set token or token_file, not both",
        ));
    }
}

fn upstreams(v: &Value, b: &mut ModelBuilder, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "upstreams", errs) else {
        return;
    };
    for (u, uv) in t {
        let uname = key(&["upstreams", u]);
        let Some(ut) = table(uv, &uname, errs) else {
            continue;
        };
        if let Err(e) = b.add_upstream(u, &uname) {
            errs.push(e);
            continue;
        }
        for (k, ev) in ut {
            let kname = key(&["upstreams", u, k]);
            if k == "options" {
                let r =
                    options(ev, &kname).and_then(|o| b.set_upstream_options_parsed(u, o, &kname));
                if let Err(e) = r {
                    errs.push(e);
                }
                continue;
            }
            if k != "endpoints" {
                errs.push(KeyError::new(kname, "unknown key"));
                continue;
            }
            let Some(et) = table(ev, &kname, errs) else {
                continue;
            };
            for (id, val) in et {
                let ename = key(&["upstreams", u, "endpoints", id]);
                if let Some((url, weight)) = endpoint_value(val, &ename, errs) {
                    if let Err(e) = b.set_endpoint(u, id, url, weight, &ename) {
                        errs.push(e);
                    }
                }
            }
        }
    }
}

/// `options = { timeouts = { connect = "2s" }, retries = 0, ... }`: the etcd options JSON's shape.
fn options(v: &Value, name: &str) -> Result<Options, KeyError> {
    v.clone()
        .try_into::<Options>()
        .map_err(|e| KeyError::new(name, format!("bad options: {}", e.message())))
}

/// An endpoint is `"http://ip:port"` or `{ url = "http://ip:port", weight = N }`.
fn endpoint_value<'a>(
    v: &'a Value,
    name: &str,
    errs: &mut Vec<KeyError>,
) -> Option<(&'a str, u32)> {
    match v {
        Value::String(s) => Some((s.as_str(), 1)),
        Value::Table(t) => {
            let url = t.get("url").and_then(Value::as_str);
            let weight = match t.get("weight") {
                None => Some(1),
                Some(w) => w.as_integer().and_then(|w| u32::try_from(w).ok()),
            };
            if let Some(bad) = t.keys().find(|k| *k != "url" && *k != "weight") {
                errs.push(KeyError::new(format!("{name}.{bad}"), "unknown key"));
                return None;
            }
            match (url, weight) {
                (Some(u), Some(w)) => Some((u, w)),
                _ => {
                    errs.push(KeyError::new(
                        name,
                        "expected { url = \"http://ip:port\", weight = N }",
                    ));
                    None
                }
            }
        }
        _ => {
            errs.push(KeyError::new(name, "expected \"http://ip:port\""));
            None
        }
    }
}

fn hosts(v: &Value, b: &mut ModelBuilder, errs: &mut Vec<KeyError>) {
    let Some(t) = table(v, "hosts", errs) else {
        return;
    };
    for (h, hv) in t {
        let hname = key(&["hosts", h]);
        let Some(ht) = table(hv, &hname, errs) else {
            continue;
        };
        for (k, lv) in ht {
            if k != "locations" {
                errs.push(KeyError::new(key(&["hosts", h, k]), "unknown key"));
                continue;
            }
            let Some(lt) = table(lv, &key(&["hosts", h, k]), errs) else {
                continue;
            };
            for (l, locv) in lt {
                let lname = key(&["hosts", h, "locations", l]);
                let Some(loc) = table(locv, &lname, errs) else {
                    continue;
                };
                location(b, h, l, loc, errs);
            }
        }
    }
}

fn location(b: &mut ModelBuilder, h: &str, l: &str, loc: &Table, errs: &mut Vec<KeyError>) {
    for (k, v) in loc {
        let name = key(&["hosts", h, "locations", l, k]);
        if k == "options" {
            if let Err(e) =
                options(v, &name).and_then(|o| b.set_location_options_parsed(h, l, o, &name))
            {
                errs.push(e);
            }
            continue;
        }
        let Some(s) = v.as_str() else {
            errs.push(KeyError::new(name, "expected a string"));
            continue;
        };
        let r = match k.as_str() {
            "path" => b.set_location_path(h, l, s, &name),
            "upstream" => b.set_location_upstream(h, l, s, &name),
            _ => Err(KeyError::new(name, "unknown key")),
        };
        if let Err(e) = r {
            errs.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
workers = 2
[listen]
http = "127.0.0.1:8080"
[timeouts]
connect = "1s"
[upstreams.example-v1.endpoints]
1 = "http://127.0.0.1:8086"
2 = { url = "http://127.0.0.1:8087", weight = 3 }
[upstreams.example-v1.options]
retries = 0
timeouts = { connect = "2s" }
[hosts."example.com".locations.home]
path = "/.*"
upstream = "example-v1"
options = { max_body = 1024 }
"#;

    #[test]
    fn parses_the_seed_layout() {
        let c = parse_toml(SEED).unwrap();
        assert_eq!(c.settings.workers, Some(2));
        assert_eq!(
            c.settings.timeouts.connect,
            std::time::Duration::from_secs(1)
        );
        assert_eq!(c.model.upstreams["example-v1"].endpoints["2"].weight, 3);
        assert_eq!(c.model.hosts["example.com"].locations["home"].path, "/.*");
        assert_eq!(
            c.model.hosts["example.com"].locations["home"]
                .options
                .max_body,
            Some(1024)
        );
        assert_eq!(c.model.upstreams["example-v1"].options.retries, Some(0));
    }

    #[test]
    fn names_every_bad_key() {
        let bad = SEED
            .replace("\"/.*\"", "\"/(\"")
            .replace("connect = \"1s\"", "connect = \"1 parsec\"\nbogus = 1");
        let err = parse_toml(&bad).unwrap_err();
        let keys: Vec<_> = err.errors.iter().map(|e| e.key.as_str()).collect();
        assert!(
            keys.contains(&"hosts.\"example.com\".locations.home.path"),
            "{keys:?}"
        );
        assert!(keys.contains(&"timeouts.connect"), "{keys:?}");
        assert!(keys.contains(&"timeouts.bogus"), "{keys:?}");
    }

    #[test]
    fn scheduler_slices_default_and_are_checked_key_by_key() {
        let d = parse_toml("").unwrap().settings.scheduler;
        assert_eq!(d.worker_slice, Duration::from_micros(300));
        assert_eq!(d.control_slice, Duration::from_micros(100));
        let c = parse_toml("[scheduler]\nworker_slice = \"0\"\ncontrol_slice = \"2ms\"\n").unwrap();
        assert_eq!(c.settings.scheduler.worker_slice, Duration::ZERO);
        assert_eq!(c.settings.scheduler.control_slice, Duration::from_millis(2));
        let err =
            parse_toml("[scheduler]\nworker_slice = \"50us\"\ncontrol_slice = \"1s\"\nx = 1\n")
                .unwrap_err();
        let keys: Vec<_> = err.errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "scheduler.control_slice",
                "scheduler.worker_slice",
                "scheduler.x"
            ]
        );
    }

    #[test]
    fn parses_the_etcd_table() {
        let c = parse_toml(
            "[etcd]\nendpoints = [\"http://127.0.0.1:2379\", \"10.0.0.2:2379\"]\nprefix = \"/edge/\"\nstate_dir = \"/tmp/v\"\n",
        )
        .unwrap();
        assert_eq!(
            c.settings.etcd.endpoints,
            ["http://127.0.0.1:2379", "http://10.0.0.2:2379"]
        );
        assert_eq!(c.settings.etcd.prefix, "/edge");
        assert_eq!(c.settings.etcd.state_dir, std::path::Path::new("/tmp/v"));
        let err =
            parse_toml("[etcd]\nendpoints = [\"https://x:1\"]\nprefix = \"vulcand\"\nbogus = 1\n")
                .unwrap_err();
        let keys: Vec<_> = err.errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["etcd.bogus", "etcd.endpoints", "etcd.prefix"],
            "{err}"
        );
        assert!(!parse_toml("").unwrap().settings.etcd.enabled());
    }

    #[test]
    fn parses_the_admin_listener_and_token() {
        let c = parse_toml(
            "[listen]\nadmin = \"127.0.0.1:9\"\n[admin]\ntoken = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(
            c.settings.listen.admin,
            Some("127.0.0.1:9".parse().unwrap())
        );
        assert_eq!(c.settings.admin.token.as_deref(), Some("0123456789abcdef"));
        assert!(!format!("{:?}", c.settings).contains("0123456789abcdef"));
        assert_eq!(
            parse_toml("").unwrap().settings.listen.admin,
            Some(crate::model::DEFAULT_ADMIN)
        );
        assert_eq!(
            parse_toml("[listen]\nadmin = \"off\"\n")
                .unwrap()
                .settings
                .listen
                .admin,
            None
        );
        let keys = |text: &str| -> Vec<String> {
            let err = parse_toml(text).unwrap_err();
            err.errors.into_iter().map(|e| e.key).collect()
        };
        assert_eq!(
            keys("[listen]\nadmin = \"nope\"\n[admin]\ntoken = \"short\"\nbogus = 1\n"),
            ["admin.bogus", "admin.token", "listen.admin"]
        );
        assert_eq!(
            keys("[admin]\ntoken = \"0123456789abcdef\"\ntoken_file = \"/t\"\n"),
            ["admin.token_file"]
        );
    }

    #[test]
    fn parses_health_check_options() {
        let text = "[upstreams.web.endpoints]\n1 = \"http://127.0.0.1:8086\"\n[upstreams.web.options]\nhealth_check = { path = \"/healthz\", interval = \"1s\", timeout = \"250ms\", healthy = 1, unhealthy = 4 }\n";
        let c = parse_toml(text).unwrap();
        let hc = c.model.upstreams["web"]
            .options
            .health_check
            .clone()
            .unwrap();
        assert_eq!(hc.path, "/healthz");
        assert_eq!(hc.interval, std::time::Duration::from_secs(1));
        assert_eq!(hc.timeout, std::time::Duration::from_millis(250));
        assert_eq!((hc.healthy, hc.unhealthy), (1, 4));

        let defaults = parse_toml(&text.replace(
            "{ path = \"/healthz\", interval = \"1s\", timeout = \"250ms\", healthy = 1, unhealthy = 4 }",
            "{}",
        ))
        .unwrap();
        let hc = defaults.model.upstreams["web"].options.health_check.clone();
        assert_eq!(
            hc.map(|h| (h.path, h.interval, h.healthy, h.unhealthy)),
            Some(("/".into(), std::time::Duration::from_secs(5), 2, 3))
        );

        let err = parse_toml(&text.replace("\"250ms\"", "\"2s\"")).unwrap_err();
        assert_eq!(err.errors[0].key, "upstreams.web.options", "{err}");
        assert!(err.errors[0].message.contains("timeout"), "{err}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let err = parse_toml("[listen\nhttp=1").unwrap_err();
        assert!(err.errors[0].message.contains("line 1"), "{err}");
    }
}
