//! `Options` back into the JSON shape an etcd `options` key takes (only the knobs that are set),
//! so what the API lists can be written back as is.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::model::{Balance, Options};

pub fn options_json(o: &Options) -> Value {
    // Destructured so that a new field fails to compile here instead of being left out.
    let Options {
        timeouts,
        retries,
        max_body,
        lb,
        pool,
        health_check,
        outlier,
    } = o;
    let mut m = Map::new();
    let mut t = Map::new();
    put_duration(&mut t, "connect", timeouts.connect);
    put_duration(&mut t, "response_header", timeouts.response_header);
    put_duration(&mut t, "body_idle", timeouts.body_idle);
    put_map(&mut m, "timeouts", t);
    if let Some(r) = retries {
        m.insert("retries".into(), json!(r));
    }
    if let Some(b) = max_body {
        m.insert("max_body".into(), json!(b));
    }
    if let Some(lb) = lb {
        let name = match lb {
            Balance::Wrr => "wrr",
            Balance::RoundRobin => "round_robin",
        };
        m.insert("lb".into(), json!(name));
    }
    let mut p = Map::new();
    if let Some(n) = pool.max_idle {
        p.insert("max_idle".into(), json!(n));
    }
    put_duration(&mut p, "idle_timeout", pool.idle_timeout);
    put_map(&mut m, "pool", p);
    if let Some(h) = health_check {
        m.insert(
            "health_check".into(),
            json!({
                "path": h.path,
                "interval": duration(h.interval),
                "timeout": duration(h.timeout),
                "healthy": h.healthy,
                "unhealthy": h.unhealthy,
            }),
        );
    }
    let mut x = Map::new();
    if let Some(n) = outlier.consecutive {
        x.insert("consecutive".into(), json!(n));
    }
    put_duration(&mut x, "base_ejection", outlier.base_ejection);
    put_duration(&mut x, "max_ejection", outlier.max_ejection);
    put_map(&mut m, "outlier", x);
    Value::Object(m)
}

fn put_map(m: &mut Map<String, Value>, k: &str, v: Map<String, Value>) {
    if !v.is_empty() {
        m.insert(k.into(), Value::Object(v));
    }
}

fn put_duration(m: &mut Map<String, Value>, k: &str, d: Option<Duration>) {
    if let Some(d) = d {
        m.insert(k.into(), json!(duration(d)));
    }
}

/// In the units `parse_duration` reads back: whole seconds as `5s`, else milliseconds.
pub fn duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_secs_f64() * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_model_parser() {
        let text = r#"{"timeouts":{"connect":"250ms","body_idle":"2m"},"retries":1,"max_body":10,
            "lb":"round_robin","pool":{"max_idle":8,"idle_timeout":"30s"},
            "health_check":{"path":"/h","interval":"1s","timeout":"500ms"},
            "outlier":{"consecutive":3,"base_ejection":"1s"}}"#;
        let o = Options::from_json(text).unwrap();
        let back = options_json(&o);
        assert_eq!(back["timeouts"]["connect"], "250ms");
        assert_eq!(back["timeouts"]["body_idle"], "120s");
        assert_eq!(Options::from_json(&back.to_string()).unwrap(), o);
        assert_eq!(options_json(&Options::default()), json!({}));
    }
}
