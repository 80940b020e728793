mod common;

use common::*;

#[test]
fn proxies_a_request_and_adds_forwarding_headers() {
    let up = Upstream::ok("hello");
    let vane = Vane::start(&catch_all(up.addr));
    let r = get(vane.addr, "example.com", "/x?y=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_line(), "GET /x?y=1 HTTP/1.1");
    assert_eq!(seen[0].header("host").as_deref(), Some("example.com"));
    assert_eq!(
        seen[0].header("x-forwarded-for").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(seen[0].header("x-forwarded-proto").as_deref(), Some("http"));
    assert!(seen[0].header("connection").is_none());
}
