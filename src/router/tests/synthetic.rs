//! The synthetic route table that the memory test and `benches/compile.rs` both measure (the
//! bench includes this file with `#[path]`, so it names the model types through its includer).

use super::{Endpoint, Location, Model, Upstream};

/// `n` locations in hosts of `per_host`, each host with its own upstream of two endpoints;
/// 3% of the paths are real regexes drawn from 50 distinct patterns, 5% have options.
pub fn model(n: usize, per_host: usize) -> Model {
    let mut m = Model::default();
    for i in 0..n {
        let host = format!("h{}.example.com", i / per_host);
        let upstream = format!("app-{}", i / per_host);
        let path = match i % per_host {
            0 => "/.*".to_string(),
            _ if i % 33 == 0 => format!("/api{}/v[0-9]+/item/[a-z]+", i % 50),
            _ => format!("/svc{i}/.*"),
        };
        let mut loc = Location {
            path,
            upstream: upstream.clone(),
            options: Default::default(),
        };
        loc.options.max_body = (i % 20 == 7).then_some(1 << 20);
        let h = m.hosts.entry(host).or_default();
        h.locations.insert(format!("loc{i}"), loc);
        let endpoints = (0..2u16).map(|e| {
            let addr = ([10, 0, (i % 250) as u8, e as u8], 8080).into();
            (e.to_string(), Endpoint { addr, weight: 1 })
        });
        m.upstreams.entry(upstream).or_insert_with(|| Upstream {
            endpoints: endpoints.collect(),
            ..Default::default()
        });
    }
    m
}
