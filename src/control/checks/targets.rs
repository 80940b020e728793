//! Which endpoints a snapshot asks to be checked, and what changed since the last one.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::view::Key;
use crate::model::HealthCheckOptions;
use crate::router::Snapshot;

/// Every endpoint to check, with its upstream's check options (one `Arc` per upstream).
pub type Wanted = BTreeMap<Key, Arc<HealthCheckOptions>>;

/// Endpoints of defined upstreams whose options have `health_check`. An address listed twice
/// in one upstream is checked once.
pub fn wanted(snap: &Snapshot) -> Wanted {
    let mut out = Wanted::new();
    for u in snap.upstreams.iter().filter(|u| u.defined) {
        let Some(hc) = &u.options.health_check else {
            continue;
        };
        let hc = Arc::new(hc.clone());
        for e in &u.endpoints {
            out.insert((u.name.clone(), e.addr), hc.clone());
        }
    }
    out
}

/// How to get from the endpoints being checked to `Wanted`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// New endpoints: a fresh (optimistic) record and a check now.
    pub start: Vec<(Key, Arc<HealthCheckOptions>)>,
    /// Same endpoint, new options: a new check loop, the record (verdict, streaks) kept.
    pub restart: Vec<(Key, Arc<HealthCheckOptions>)>,
    /// Gone, or no longer checked: no more checks, the record dropped.
    pub stop: Vec<Key>,
}

pub fn changes<'a>(
    running: impl Iterator<Item = (&'a Key, &'a HealthCheckOptions)>,
    mut wanted: Wanted,
) -> Changes {
    let mut c = Changes::default();
    for (key, opts) in running {
        match wanted.remove(key) {
            None => c.stop.push(key.clone()),
            Some(new) if *new != *opts => c.restart.push((key.clone(), new)),
            Some(_) => {}
        }
    }
    c.start = wanted.into_iter().collect();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_toml;
    use crate::router::compile;

    fn snapshot(toml: &str) -> Snapshot {
        let cfg = parse_toml(toml).unwrap();
        compile(&cfg.model, Arc::new(cfg.settings), 1, 0)
    }

    const CHECKED: &str = r#"
[upstreams.web.endpoints]
a = "http://127.0.0.1:8001"
b = "http://127.0.0.1:8002"
c = "http://127.0.0.1:8002"
[upstreams.web.options]
health_check = { path = "/healthz", interval = "1s", timeout = "500ms" }
[upstreams.plain.endpoints]
a = "http://127.0.0.1:8003"
[hosts."*".locations.all]
path = "/.*"
upstream = "missing"
"#;

    fn key(u: &str, port: u16) -> Key {
        (u.into(), ([127, 0, 0, 1], port).into())
    }

    fn running(w: &Wanted) -> impl Iterator<Item = (&Key, &HealthCheckOptions)> {
        w.iter().map(|(k, v)| (k, &**v))
    }

    #[test]
    fn only_defined_upstreams_with_health_check() {
        let w = wanted(&snapshot(CHECKED));
        let keys: Vec<_> = w.keys().cloned().collect();
        assert_eq!(keys, [key("web", 8001), key("web", 8002)]);
        assert_eq!(w[&key("web", 8001)].path, "/healthz");
        assert!(wanted(&Snapshot::not_ready(Arc::default(), 1)).is_empty());
    }

    #[test]
    fn diffs_keep_what_did_not_change() {
        let before = wanted(&snapshot(CHECKED));
        let same = changes(running(&before), wanted(&snapshot(CHECKED)));
        assert_eq!(same, Changes::default());

        let edited = CHECKED
            .replace(
                "a = \"http://127.0.0.1:8001\"",
                "d = \"http://127.0.0.1:8004\"",
            )
            .replace("\"/healthz\"", "\"/ready\"");
        let c = changes(running(&before), wanted(&snapshot(&edited)));
        assert_eq!(c.stop, [key("web", 8001)]);
        let restarted: Vec<_> = c.restart.iter().map(|(k, o)| (k, &*o.path)).collect();
        assert_eq!(restarted, [(&key("web", 8002), "/ready")]);
        let started: Vec<_> = c.start.iter().map(|(k, _)| k).collect();
        assert_eq!(started, [&key("web", 8004)]);
    }

    #[test]
    fn dropping_health_check_stops_every_endpoint() {
        let before = wanted(&snapshot(CHECKED));
        let off = CHECKED.replace("health_check", "retries = 0 #");
        let c = changes(running(&before), wanted(&snapshot(&off)));
        assert_eq!(c.stop, [key("web", 8001), key("web", 8002)]);
        assert!(c.start.is_empty() && c.restart.is_empty());
    }
}
