//! Per-location and per-upstream options: location beats upstream beats node settings.
mod common;

use std::io::Write;
use std::time::Duration;

use common::*;

fn post(addr: std::net::SocketAddr, path: &str, len: usize) -> Option<Response> {
    let mut req =
        format!("POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    req.extend(std::iter::repeat_n(b'x', len));
    client::raw(addr, &req)
}

#[test]
fn location_options_override_upstream_options() {
    let up = Upstream::ok("ok");
    let hang = Upstream::start(|_, _| {
        std::thread::sleep(Duration::from_secs(5));
        false
    });
    let vane = Vane::start(&format!(
        r#"
[upstreams.up.endpoints]
1 = "http://{up}"
[upstreams.up.options]
max_body = 100
[upstreams.slow.endpoints]
1 = "http://{hang}"
[upstreams.slow.options]
timeouts = {{ response_header = "300ms" }}
[hosts."*".locations.small]
path = "/small"
upstream = "up"
[hosts."*".locations.big]
path = "/big"
upstream = "up"
options = {{ max_body = 1000 }}
[hosts."*".locations.slow]
path = "/slow"
upstream = "slow"
"#,
        up = up.addr,
        hang = hang.addr
    ));
    assert_eq!(
        post(vane.addr, "/small", 101).unwrap().status,
        413,
        "upstream option max_body"
    );
    assert_eq!(post(vane.addr, "/small", 100).unwrap().status, 200);
    assert_eq!(
        post(vane.addr, "/big", 500).unwrap().status,
        200,
        "location option beats upstream"
    );
    assert_eq!(post(vane.addr, "/big", 1001).unwrap().status, 413);
    assert_eq!(
        up.request_count(),
        2,
        "refused bodies never reach the upstream"
    );
    assert_eq!(
        get(vane.addr, "h", "/slow").status,
        504,
        "upstream response_header option"
    );
}

#[test]
fn round_robin_ignores_weights() {
    let (a, b) = (Upstream::echo_line(), Upstream::echo_line());
    let vane = Vane::start_with(
        &format!(
            r#"
[upstreams.up.endpoints]
1 = {{ url = "http://{a}", weight = 9 }}
2 = "http://{b}"
[upstreams.up.options]
lb = "round_robin"
[hosts."*".locations.all]
path = "/.*"
upstream = "up"
"#,
            a = a.addr,
            b = b.addr
        ),
        1,
    );
    let mut s = client::connect(vane.addr);
    let mut r = std::io::BufReader::new(s.try_clone().unwrap());
    for _ in 0..10 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(client::read_response(&mut r, false).unwrap().status, 200);
    }
    assert_eq!((a.request_count(), b.request_count()), (5, 5));
}

#[test]
fn a_head_limit_below_the_initial_buffer_answers_431_and_the_worker_lives() {
    let up = Upstream::ok("ok");
    let vane = Vane::start_with(
        &format!(
            "[limits]\nmax_header_bytes = 1024\n\n{}",
            catch_all(up.addr)
        ),
        1,
    );
    let big = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(3000)
    );
    assert_eq!(client::raw(vane.addr, big.as_bytes()).unwrap().status, 431);
    // The single worker is still there to serve.
    assert_eq!(get(vane.addr, "h", "/").status, 200);
    assert_eq!(up.request_count(), 1);
}
