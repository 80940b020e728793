//! A real etcd for the tests (Debian `etcd-server`, `/usr/bin/etcd`): each member is its own
//! process on free loopback ports with a temp data dir, and can be killed, frozen (SIGSTOP),
//! thawed and restarted on the same ports and data. Keys are written with `etcdctl` (v3 API),
//! exactly as an operator would. Also starts `vane --etcd` against it.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{eventually, free_port, loopback, TempDir, Vane};

/// How long a member may take to answer after (re)starting.
const START_LIMIT: Duration = Duration::from_secs(30);

pub struct Etcd {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub data: PathBuf,
    /// `name=http://127.0.0.1:peer,...` for every member.
    pub cluster: String,
    /// Shared by the members of one cluster.
    token: String,
    child: Option<Child>,
    log: PathBuf,
    _dir: Option<TempDir>,
}

impl Etcd {
    /// A one-member cluster, started and healthy.
    pub fn start() -> Etcd {
        Self::start_on(free_port(), free_port())
    }

    /// A one-member cluster on these ports.
    pub fn start_on(client_port: u16, peer_port: u16) -> Etcd {
        let dir = TempDir::new("etcd");
        let name = "m0".to_string();
        let cluster = format!("{name}=http://127.0.0.1:{peer_port}");
        let mut e = Etcd::member(&dir.0, name, client_port, peer_port, cluster);
        e._dir = Some(dir);
        e.spawn(true);
        e.wait_healthy();
        e
    }

    fn member(dir: &Path, name: String, client_port: u16, peer_port: u16, cluster: String) -> Etcd {
        Etcd {
            data: dir.join(format!("{name}.data")),
            log: dir.join(format!("{name}.log")),
            name,
            client_port,
            peer_port,
            token: format!("vane-test-{}", std::process::id())
                + &cluster.len().to_string()
                + dir.to_string_lossy().as_ref(),
            cluster,
            child: None,
            _dir: None,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn spawn(&mut self, new: bool) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new("/usr/bin/etcd")
            .args(["--name", &self.name])
            .arg("--data-dir")
            .arg(&self.data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.cluster])
            .args([
                "--initial-cluster-state",
                if new { "new" } else { "existing" },
            ])
            .args(["--initial-cluster-token", &self.token])
            // Fast elections keep the member-loss tests short.
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn /usr/bin/etcd (Debian etcd-server)");
        self.child = Some(child);
    }

    pub fn wait_healthy(&self) {
        let ok = eventually(START_LIMIT, || {
            TcpStream::connect(loopback(self.client_port)).is_ok()
                && self.etcdctl(&["endpoint", "health"]).status.success()
        });
        assert!(
            ok,
            "etcd {} did not become healthy; log:\n{}",
            self.name,
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the process (like a partition: connections stay open, nothing answers).
    pub fn freeze(&self) {
        unsafe { libc::kill(self.pid(), libc::SIGSTOP) };
    }

    pub fn thaw(&self) {
        unsafe { libc::kill(self.pid(), libc::SIGCONT) };
    }

    /// Starts the killed member again on the same ports and data dir.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn(false);
    }

    /// `etcdctl <args>` against this member.
    pub fn etcdctl(&self, args: &[&str]) -> std::process::Output {
        self.etcdctl_stdin(args, None)
    }

    fn etcdctl_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
        etcdctl(&self.endpoint(), args, stdin)
    }

    /// `etcdctl put key value`; returns the revision of the write.
    pub fn put(&self, key: &str, value: &str) -> i64 {
        revision_of(&self.etcdctl(&["put", "-w", "json", "--", key, value]))
    }

    /// `etcdctl put key` with the value's raw bytes on stdin (any bytes, not only UTF-8).
    pub fn put_bytes(&self, key: &str, value: &[u8]) -> i64 {
        revision_of(&self.etcdctl_stdin(&["put", "-w", "json", "--", key], Some(value)))
    }

    /// `etcdctl del key`; returns the revision after it.
    pub fn del(&self, key: &str) -> i64 {
        revision_of(&self.etcdctl(&["del", "-w", "json", "--", key]))
    }

    /// `etcdctl compact REV` (compacting again at an already compacted revision is fine).
    pub fn compact(&self, revision: i64) {
        let out = self.etcdctl(&["compact", &revision.to_string()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || err.contains("required revision has been compacted"),
            "compact: {err}"
        );
    }

    /// The store's current revision.
    pub fn revision(&self) -> i64 {
        revision_of(&self.etcdctl(&["get", "-w", "json", "--", "/"]))
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ETCDCTL_API=3 etcdctl --endpoints=EPS args...`, bounded.
pub fn etcdctl(endpoints: &str, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut child = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .args(["--dial-timeout=2s", "--command-timeout=5s"])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn etcdctl (Debian etcd-client)");
    if let Some(bytes) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// The header revision in `etcdctl -w json` output; panics (with etcdctl's stderr) on failure.
pub fn revision_of(out: &std::process::Output) -> i64 {
    assert!(
        out.status.success(),
        "etcdctl failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcdctl json");
    v["header"]["revision"].as_i64().expect("header.revision")
}

/// A cluster of `n` members on loopback.
pub struct Cluster {
    pub members: Vec<Etcd>,
    _dir: TempDir,
}

impl Cluster {
    pub fn start(n: usize) -> Cluster {
        let dir = TempDir::new("etcd-cluster");
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let cluster = ports
            .iter()
            .enumerate()
            .map(|(i, (_, p))| format!("m{i}=http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<Etcd> = ports
            .iter()
            .enumerate()
            .map(|(i, (c, p))| Etcd::member(&dir.0, format!("m{i}"), *c, *p, cluster.clone()))
            .collect();
        for m in &mut members {
            m.spawn(true);
        }
        for m in &members {
            m.wait_healthy();
        }
        Cluster { members, _dir: dir }
    }

    /// Every member's client URL, comma-separated (for `--etcd` and `--endpoints`).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(Etcd::endpoint)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A write through the running members, retried while they elect a leader.
    pub fn put(&self, key: &str, value: &str) -> i64 {
        let live: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(Etcd::endpoint)
            .collect();
        let args = ["put", "-w", "json", "--", key, value];
        let mut out = etcdctl(&live.join(","), &args, None);
        let deadline = Instant::now() + START_LIMIT;
        while !out.status.success() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            out = etcdctl(&live.join(","), &args, None);
        }
        revision_of(&out)
    }
}

/// How a `vane --etcd` is started.
pub struct VaneEtcd<'a> {
    pub endpoints: String,
    pub state_dir: &'a Path,
    pub prefix: &'a str,
    /// Extra TOML (node settings) for the config file.
    pub settings: &'a str,
    pub workers: usize,
    /// Wait until health answers 200 (a real config is served).
    pub wait_ready: bool,
    pub log_level: &'a str,
}

impl<'a> VaneEtcd<'a> {
    pub fn new(endpoints: &str, state_dir: &'a Path) -> Self {
        VaneEtcd {
            endpoints: endpoints.to_string(),
            state_dir,
            prefix: "/vulcand",
            settings: "",
            workers: 2,
            wait_ready: true,
            log_level: "info,vane::etcd=debug",
        }
    }

    pub fn start(&self) -> Vane {
        let workers = self.workers.to_string();
        let state_dir = self.state_dir.to_str().expect("UTF-8 temp path");
        let args = [
            "--workers",
            &workers,
            "--etcd",
            &self.endpoints,
            "--etcd-prefix",
            self.prefix,
            "--state-dir",
            state_dir,
        ];
        let v = Vane::spawn(self.settings, &args, self.log_level);
        let up = eventually(Duration::from_secs(20), || {
            TcpStream::connect(v.addr).is_ok()
        });
        assert!(up, "vane did not listen; log:\n{}", v.log());
        if self.wait_ready {
            let ready = eventually(Duration::from_secs(20), || v.health_status() == Some(200));
            assert!(ready, "vane did not become ready; log:\n{}", v.log());
        }
        v
    }
}

/// `<state_dir>/status.json`, if it exists and parses.
pub fn status(state_dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(state_dir.join("status.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Waits until status.json satisfies `f`; panics with the last document and the log.
pub fn wait_status(
    vane: &Vane,
    state_dir: &Path,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) {
    let ok = eventually(Duration::from_secs(20), || {
        status(state_dir).is_some_and(|s| f(&s))
    });
    assert!(
        ok,
        "status.json never showed {what}: {:#?}\nlog:\n{}",
        status(state_dir),
        vane.log()
    );
}

/// Waits until `vane` reflects etcd revision `rev` (or later) and every worker serves its
/// latest snapshot.
pub fn wait_revision(vane: &Vane, state_dir: &Path, rev: i64) {
    wait_status(
        vane,
        state_dir,
        &format!("revision {rev} on every worker"),
        |s| {
            s["revision"].as_i64() >= Some(rev)
                && s["workers"].as_array().is_some_and(|w| {
                    !w.is_empty() && w.iter().all(|w| w["generation"] == s["generation"])
                })
        },
    );
}

/// The body of `GET path` with `Host: host`, or the status as `"<code>"` when it is not 200.
pub fn body_or_status(vane: &Vane, host: &str, path: &str) -> String {
    let r = super::get(vane.addr, host, path);
    if r.status == 200 {
        r.text()
    } else {
        format!("<{}>", r.status)
    }
}

/// Start time of a step, for failure messages.
pub fn since(t: Instant) -> String {
    format!("{:.1}s", t.elapsed().as_secs_f64())
}

/// The log without ANSI colour codes (tracing colours its fields even into a file).
pub fn plain_log(vane: &Vane) -> String {
    let log = vane.log();
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Client threads sending `GET /` for `host` on new connections until stopped, recording each
/// answer (the body for a 200, `<status>` otherwise, `<none>` for no response).
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Load {
    pub fn start(addr: std::net::SocketAddr, host: &str, threads: usize) -> Load {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let (stop, host) = (stop.clone(), host.to_string());
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    // A guard: a test that forgets to stop its load still ends.
                    let limit = Instant::now() + Duration::from_secs(300);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < limit {
                        seen.push(one(addr, &host));
                    }
                    seen
                })
            })
            .collect();
        Load { stop, threads }
    }

    /// Stops the clients and returns every answer.
    pub fn finish(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    }
}

fn one(addr: std::net::SocketAddr, host: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return "<connect>".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_nodelay(true);
    if write!(
        s,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return "<write>".into();
    }
    match super::client::read_response(&mut std::io::BufReader::new(s), false) {
        Some(r) if r.status == 200 => r.text(),
        Some(r) => format!("<{}>", r.status),
        None => "<none>".into(),
    }
}
