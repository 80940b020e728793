//! The admin API from the tests: a `vane` with its admin listener on a known free port (file
//! or etcd routes), raw JSON requests to it, and the `vanectl` binary run as a script would.
#![allow(dead_code)]

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::read_response;
use super::{eventually, free_port, loopback, Vane};

/// A running vane and the address of its admin API.
pub struct Admin {
    pub vane: Vane,
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Admin {
    /// `vane` on `routes` (TOML), routes from the file, admin on a free loopback port.
    pub fn file(routes: &str) -> Admin {
        Self::spawn(routes, &[], None, true)
    }

    /// `vane --etcd endpoints` (routes from etcd under `/vulcand`), state in `state_dir`.
    pub fn etcd(endpoints: &str, state_dir: &std::path::Path, settings: &str) -> Admin {
        let state = state_dir.to_str().expect("UTF-8 temp path");
        let args = ["--etcd", endpoints, "--state-dir", state];
        Self::spawn(settings, &args, None, true)
    }

    /// Starts vane with `text` and `args` plus `--admin` on a free port, and `[admin] token`
    /// if given; with `wait`, returns once the admin API answers and the node is healthy.
    pub fn spawn(text: &str, args: &[&str], token: Option<&str>, wait: bool) -> Admin {
        let addr = loopback(free_port());
        let admin = addr.to_string();
        let mut all = vec!["--workers", "2", "--admin", &admin];
        all.extend_from_slice(args);
        let text = match token {
            Some(t) => format!("{text}\n[admin]\ntoken = \"{t}\"\n"),
            None => text.to_string(),
        };
        let vane = Vane::spawn(&text, &all, "info");
        let token = token.map(str::to_string);
        let a = Admin { vane, addr, token };
        if wait {
            let up = eventually(Duration::from_secs(20), || {
                a.vane.health_status() == Some(200) && a.get("/v1/status").0 == 200
            });
            assert!(up, "vane/admin did not come up; log:\n{}", a.vane.log());
        }
        a
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One request with this node's token (if any): status and body (JSON, or a string).
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let token = self.token.clone();
        call(self.addr, method, path, body, token.as_deref())
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None)
    }

    /// `GET path`, asserting a 200.
    pub fn ok(&self, path: &str) -> Value {
        let (status, v) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {v:#}\nlog:\n{}", self.vane.log());
        v
    }

    /// The raw text of `GET path` (for /metrics).
    pub fn text(&self, path: &str) -> (u16, String) {
        let (status, v) = self.get(path);
        (status, v.as_str().map(str::to_string).unwrap_or_default())
    }

    /// `vanectl --admin <this> args...` with this node's token.
    pub fn vanectl(&self, args: &[&str]) -> Run {
        let mut all = vec!["--admin".to_string(), self.url()];
        if let Some(t) = &self.token {
            all.extend(["--token".to_string(), t.clone()]);
        }
        all.extend(args.iter().map(|a| a.to_string()));
        vanectl(&all, &[])
    }
}

/// `method path` to the admin API at `addr`; a body that is not JSON comes back as a string.
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, Value) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (0, Value::Null);
    };
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.unwrap_or("");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: admin\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return (0, Value::Null);
    }
    match read_response(&mut BufReader::new(s), false) {
        Some(r) => {
            let v = serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(r.text()));
            (r.status, v)
        }
        None => (0, Value::Null),
    }
}

/// What a `vanectl` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("vanectl printed no JSON ({e}): {self:#?}"))
    }

    /// Asserts exit code `code`; returns self for chaining.
    pub fn exits(self, code: i32) -> Run {
        assert_eq!(self.code, Some(code), "{self:#?}");
        self
    }
}

/// Runs `vanectl args` with `env` (and no VANE_ADMIN* from the test's environment); killed
/// after 60 s.
pub fn vanectl(args: &[String], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vanectl"));
    cmd.args(args)
        .env_remove("VANE_ADMIN")
        .env_remove("VANE_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn vanectl");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
