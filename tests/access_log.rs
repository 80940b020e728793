//! Access logs from the real `vane`: one line per request (routed, unrouted, refused before
//! routing), as JSON or combined format, in a file.

mod common;

use std::time::Duration;

use common::client::raw;
use common::*;

fn log_lines(path: &std::path::Path, want: usize) -> Vec<String> {
    let mut lines = Vec::new();
    eventually(Duration::from_secs(5), || {
        lines = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        lines.len() >= want
    });
    lines
}

#[test]
fn json_lines_for_every_request() {
    let up = common::upstream::Upstream::ok("hello");
    let dir = TempDir::new("access-log");
    let path = dir.0.join("access.log");
    let routes = format!(
        "[access_log]\npath = \"{}\"\nformat = \"json\"\n\n\
         [upstreams.up.endpoints]\n1 = \"http://{}\"\n\n\
         [hosts.\"example.com\".locations.home]\npath = \"/app/.*\"\nupstream = \"up\"\n",
        path.display(),
        up.addr
    );
    let vane = Vane::start_with(&routes, 2);
    for i in 0..5 {
        assert_eq!(
            get(vane.addr, "example.com", &format!("/app/{i}?q=1")).status,
            200
        );
    }
    assert_eq!(get(vane.addr, "example.com", "/other").status, 404);
    let bad = raw(vane.addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap();
    assert_eq!(bad.status, 400);

    let lines = log_lines(&path, 7);
    assert_eq!(lines.len(), 7, "{lines:#?}");
    let docs: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let ok: Vec<&serde_json::Value> = docs.iter().filter(|d| d["status"] == 200).collect();
    assert_eq!(ok.len(), 5);
    for d in &ok {
        assert_eq!(d["method"], "GET");
        assert_eq!(d["host"], "example.com");
        assert_eq!(d["location"], "home");
        assert_eq!(d["upstream"], "up");
        assert_eq!(d["endpoint"], up.addr.to_string());
        assert_eq!(d["remote"], "127.0.0.1");
        assert!(d["uri"].as_str().unwrap().ends_with("?q=1"));
        assert!(d["bytes_out"].as_u64().unwrap() > 5);
        assert!(d["duration_ms"].as_f64().unwrap() >= 0.0);
        assert!(d["time"].as_str().unwrap().ends_with('Z'));
    }
    let not_found = docs.iter().find(|d| d["status"] == 404).unwrap();
    assert_eq!(not_found["uri"], "/other");
    assert_eq!(not_found["location"], "");
    let refused = docs.iter().find(|d| d["status"] == 400).unwrap();
    assert_eq!(
        refused["method"], "",
        "refused before the head was accepted"
    );
}

#[test]
fn combined_format() {
    let up = common::upstream::Upstream::ok("hello");
    let dir = TempDir::new("access-log");
    let path = dir.0.join("access.log");
    let routes = format!(
        "[access_log]\npath = \"{}\"\nformat = \"combined\"\n\n{}",
        path.display(),
        catch_all(up.addr)
    );
    let vane = Vane::start_with(&routes, 1);
    let mut s = common::client::connect(vane.addr);
    use std::io::Write;
    s.write_all(b"GET /x HTTP/1.1\r\nHost: h\r\nUser-Agent: probe/1.0\r\nReferer: http://ref/\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = common::client::read_response(&mut std::io::BufReader::new(s), false).unwrap();
    assert_eq!(r.status, 200);
    let lines = log_lines(&path, 1);
    let line = &lines[0];
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains("] \"GET /x HTTP/1.1\" 200 "), "{line}");
    assert!(line.ends_with(" \"http://ref/\" \"probe/1.0\""), "{line}");
}

#[test]
fn bad_access_log_settings_name_the_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vane"))
        .args(["--check", "--config", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"[access_log]\nformat = \"xml\"\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("access_log.format"), "{err}");
}
