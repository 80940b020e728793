//! Test harness: starts the real `vane` binary and real upstream servers on free loopback
//! ports, and speaks raw HTTP/1.1 to them. Everything is cleaned up on drop.
#![allow(dead_code, unused_imports)]

pub mod admin;
pub mod client;
pub mod upstream;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use client::{get, Response};
pub use upstream::{Seen, Upstream};

/// A port that was free a moment ago. Taken below the kernel's ephemeral range (32768 and up
/// by default), so no `connect()` or `bind(:0)` anywhere on the machine (vane's upstream
/// connections, its admin listener on port 0) can grab it between this check and its use; a
/// per-process counter keeps one test binary's ports distinct, a pid-based start keeps
/// concurrent binaries apart.
pub fn free_port() -> u16 {
    const LOW: usize = 20_000;
    const SPAN: usize = 12_000;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = std::process::id() as usize * 997;
    for _ in 0..SPAN {
        let port = (LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory under the system temp dir, removed by `TempDir::drop`.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vane-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `vane` process.
pub struct Vane {
    pub addr: SocketAddr,
    pub health: SocketAddr,
    pub config: PathBuf,
    pub child: Child,
    pub dir: TempDir,
}

impl Vane {
    /// Starts vane with 2 workers on `routes` (TOML without a `[listen]` table).
    pub fn start(routes: &str) -> Vane {
        Self::start_with(routes, 2)
    }

    pub fn start_with(routes: &str, workers: usize) -> Vane {
        let v = Self::spawn(routes, &["--workers", &workers.to_string()], "info");
        v.wait_healthy(Duration::from_secs(10));
        v
    }

    /// Starts `vane` on free ports with `text` (TOML without `[listen]`) as its config plus
    /// `args`; returns at once, without waiting for it to listen.
    pub fn spawn(text: &str, args: &[&str], log_level: &str) -> Vane {
        let dir = TempDir::new("vane");
        let config = dir.0.join("vane.toml");
        let (addr, health) = (loopback(free_port()), loopback(free_port()));
        std::fs::write(&config, Self::config_text(addr, health, text)).unwrap();
        let log = std::fs::File::create(dir.0.join("vane.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vane"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("VANE_LOG", log_level)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn vane");
        Vane {
            addr,
            health,
            config,
            child,
            dir,
        }
    }

    pub fn config_text(addr: SocketAddr, health: SocketAddr, routes: &str) -> String {
        // Port 0: the admin API listens somewhere free, so parallel tests never collide on its
        // default port; admin tests pass `--admin` with a port of their own.
        format!("[listen]\nhttp = \"{addr}\"\nhealth = \"{health}\"\nadmin = \"127.0.0.1:0\"\n\n{routes}\n")
    }

    /// Replaces the routes in the config file (the running vane picks it up live).
    pub fn rewrite(&self, routes: &str) {
        let tmp = self.dir.0.join("vane.toml.tmp");
        std::fs::write(&tmp, Self::config_text(self.addr, self.health, routes)).unwrap();
        std::fs::rename(&tmp, &self.config).unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("vane.log")).unwrap_or_default()
    }

    /// Status of the health endpoint, or None if it does not answer.
    pub fn health_status(&self) -> Option<u16> {
        let mut s = TcpStream::connect_timeout(&self.health, Duration::from_secs(1)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: lb\r\n\r\n")
            .ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()
    }

    fn wait_healthy(&self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.health_status() == Some(200) && TcpStream::connect(self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("vane did not become healthy; log:\n{}", self.log());
    }

    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the process to exit; returns its exit code (None if killed by a signal or
    /// still running after `limit`).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<Option<i32>> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Vane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Polls `f` until it returns true or `limit` passes; returns whether it did.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Routes every host (`*`) and path to upstream `up` at `addr`.
pub fn catch_all(addr: SocketAddr) -> String {
    format!("[upstreams.up.endpoints]\n1 = \"http://{addr}\"\n\n[hosts.\"*\".locations.all]\npath = \"/.*\"\nupstream = \"up\"\n")
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}
pub mod etcd;
