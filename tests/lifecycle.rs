//! Process lifecycle: the SIGTERM drain (health 503, stop accepting, finish in-flight with
//! `Connection: close`, close idle keep-alives, exit 0 within the grace period), SIGINT (exit 130
//! at once), refusing to start on a port in use, and `--check`.

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::client::{connect, read_response};
use common::*;

/// A latch the test opens to let a held upstream response go.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    /// Waits until opened, at most `limit` (a guard so no thread outlives a failed test).
    fn wait(&self, limit: Duration) {
        let guard = self.0 .0.lock().unwrap();
        let _unused = self.0 .1.wait_timeout_while(guard, limit, |open| !*open);
    }
}

/// 200 "done" for every request; requests for `/slow` are held until `gate` opens.
fn gated_upstream(gate: &Gate) -> Upstream {
    let gate = gate.clone();
    Upstream::start(move |seen, s| {
        if seen.request_line().contains("/slow") {
            gate.wait(Duration::from_secs(60));
        }
        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
        true
    })
}

/// Sends `GET /slow` (keep-alive) on its own thread and returns its response when it comes.
fn start_slow_request(addr: SocketAddr) -> JoinHandle<Option<Response>> {
    std::thread::spawn(move || {
        let mut s = connect(addr);
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .unwrap();
        read_response(&mut BufReader::new(s), false)
    })
}

fn wait_until_upstream_holds_slow(up: &Upstream) {
    let holds = || {
        up.requests()
            .iter()
            .any(|r: &Seen| r.request_line().contains("/slow"))
    };
    assert!(
        eventually(Duration::from_secs(10), holds),
        "/slow never reached the upstream"
    );
}

/// One request on a new connection; `None` if the connection is refused or closed unanswered.
fn try_get(addr: SocketAddr) -> Option<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /fast HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        .ok()?;
    read_response(&mut BufReader::new(s), false)
}

/// Whether the peer closed `s`: EOF (or a reset) within 10 s. Panics on any data.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!(
            "unexpected bytes on an idle connection: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(_) => false,
    }
}

const DRAIN_DELAY: Duration = Duration::from_secs(1);

#[test]
fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let gate = Gate::default();
    let up = gated_upstream(&gate);
    let routes = format!(
        "[shutdown]\ndrain_delay = \"1s\"\ngrace = \"30s\"\n\n{}",
        catch_all(up.addr)
    );
    let mut vane = Vane::start(&routes);

    // An idle keep-alive connection, after one request.
    let mut idle = connect(vane.addr);
    idle.write_all(b"GET /fast HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .unwrap();
    let first = read_response(&mut BufReader::new(idle.try_clone().unwrap()), false).unwrap();
    assert_eq!((first.status, first.header("connection")), (200, None));

    let slow = start_slow_request(vane.addr);
    wait_until_upstream_holds_slow(&up);

    let sigterm = Instant::now();
    vane.signal(libc::SIGTERM);
    assert!(
        eventually(Duration::from_secs(5), || vane.health_status() == Some(503)),
        "health did not turn 503 after SIGTERM; log:\n{}",
        vane.log()
    );
    // Within the drain delay new connections are still served; refusing one is only allowed
    // once the delay has passed.
    let during = try_get(vane.addr);
    let elapsed = sigterm.elapsed();
    match &during {
        Some(r) => assert_eq!(r.status, 200),
        None => assert!(
            elapsed >= DRAIN_DELAY,
            "a new connection was refused {elapsed:?} after SIGTERM, within the drain delay"
        ),
    }

    // After the delay: no new connections.
    assert!(
        eventually(Duration::from_secs(10), || TcpStream::connect(vane.addr)
            .is_err()),
        "still accepting connections while draining; log:\n{}",
        vane.log()
    );
    assert!(
        sigterm.elapsed() >= DRAIN_DELAY,
        "stopped accepting before the drain delay"
    );
    // The idle keep-alive connection is closed.
    assert!(
        closed_by_peer(&mut idle),
        "idle keep-alive connection left open while draining"
    );
    // The in-flight request is still held: the process must still be running.
    assert!(
        vane.child.try_wait().unwrap().is_none(),
        "exited with a request in flight; log:\n{}",
        vane.log()
    );

    gate.open();
    let r = slow
        .join()
        .unwrap()
        .expect("the in-flight request got no response");
    assert_eq!((r.status, r.text().as_str()), (200, "done"));
    assert_eq!(
        vane.wait_exit(Duration::from_secs(30)),
        Some(Some(0)),
        "log:\n{}",
        vane.log()
    );
    // Checked last, so that a missing header does not hide the other drain checks.
    assert_eq!(
        r.header("connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("close"),
        "in-flight response during drain lacks `connection: close`: {:?}; log:\n{}",
        r.headers,
        vane.log()
    );
}

#[test]
fn sigterm_exits_zero_when_the_grace_period_ends_with_a_request_still_in_flight() {
    let gate = Gate::default();
    let up = gated_upstream(&gate);
    let routes = format!(
        "[shutdown]\ndrain_delay = \"0s\"\ngrace = \"1s\"\n\n{}",
        catch_all(up.addr)
    );
    let mut vane = Vane::start(&routes);
    let slow = start_slow_request(vane.addr);
    wait_until_upstream_holds_slow(&up);
    vane.signal(libc::SIGTERM);
    let code = vane.wait_exit(Duration::from_secs(30));
    gate.open();
    assert_eq!(code, Some(Some(0)), "log:\n{}", vane.log());
    // The stuck request could not finish: no complete response.
    assert!(slow.join().unwrap().is_none());
}

#[test]
fn sigint_exits_130_at_once_even_with_a_request_in_flight() {
    let gate = Gate::default();
    let up = gated_upstream(&gate);
    let mut vane = Vane::start(&catch_all(up.addr));
    let slow = start_slow_request(vane.addr);
    wait_until_upstream_holds_slow(&up);
    vane.signal(libc::SIGINT);
    let code = vane.wait_exit(Duration::from_secs(10));
    gate.open();
    assert_eq!(code, Some(Some(130)), "log:\n{}", vane.log());
    assert!(slow.join().unwrap().is_none());
}

/// Runs the `vane` binary with `args`; returns its exit code and stderr. A process still running
/// after 15 s is killed and reported as `None`.
fn run_vane(args: &[&std::ffi::OsStr], dir: &Path) -> (Option<i32>, String) {
    let err_path = dir.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vane"))
        .args(args)
        .env("VANE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn vane");
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, std::fs::read_to_string(&err_path).unwrap_or_default())
}

/// Writes a full config (listening on `http`, health on a free port) and returns its path.
fn write_config(dir: &TempDir, name: &str, http: SocketAddr, routes: &str) -> std::path::PathBuf {
    let path = dir.0.join(name);
    let text = Vane::config_text(http, loopback(free_port()), routes);
    std::fs::write(&path, text).unwrap();
    path
}

fn assert_fails_loudly_in_use(code: Option<i32>, stderr: &str) {
    assert!(
        code.is_some_and(|c| c != 0),
        "expected a non-zero exit, got {code:?}; stderr:\n{stderr}"
    );
    assert!(stderr.contains("in use"), "stderr:\n{stderr}");
}

#[test]
fn a_second_vane_on_the_same_port_fails_loudly_and_the_first_keeps_serving() {
    let up = Upstream::ok("first");
    let vane = Vane::start(&catch_all(up.addr));
    let dir = TempDir::new("second");
    let cfg = write_config(&dir, "vane.toml", vane.addr, &catch_all(up.addr));
    let (code, stderr) = run_vane(
        &[
            "--config".as_ref(),
            cfg.as_os_str(),
            "--workers".as_ref(),
            "2".as_ref(),
        ],
        &dir.0,
    );
    assert_fails_loudly_in_use(code, &stderr);
    // Every new connection still reaches the first one.
    for _ in 0..20 {
        let r = get(vane.addr, "example.com", "/");
        assert_eq!((r.status, r.text().as_str()), (200, "first"));
    }
}

#[test]
fn a_port_held_by_another_server_fails_loudly() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = TempDir::new("taken");
    let cfg = write_config(
        &dir,
        "vane.toml",
        taken.local_addr().unwrap(),
        &catch_all(loopback(free_port())),
    );
    let (code, stderr) = run_vane(&["--config".as_ref(), cfg.as_os_str()], &dir.0);
    assert_fails_loudly_in_use(code, &stderr);
    drop(taken);
}

#[test]
fn check_names_the_bad_key_and_accepts_a_good_file() {
    let dir = TempDir::new("check");
    let http = loopback(free_port());
    let good_routes = "[upstreams.up.endpoints]\n1 = \"http://127.0.0.1:9\"\n\n\
                       [hosts.\"example.com\".locations.home]\npath = \"/.*\"\nupstream = \"up\"\n";
    let good = write_config(&dir, "good.toml", http, good_routes);
    let (code, stderr) = run_vane(
        &["--check".as_ref(), "--config".as_ref(), good.as_os_str()],
        &dir.0,
    );
    assert_eq!(code, Some(0), "stderr:\n{stderr}");

    let rows = [
        (
            "unknown key",
            format!("[timeouts]\nbogus = \"1s\"\n\n{good_routes}"),
            "timeouts.bogus",
        ),
        (
            "bad regex",
            good_routes.replace("\"/.*\"", "\"/(\""),
            "hosts.\"example.com\".locations.home.path",
        ),
    ];
    for (name, routes, key) in rows {
        let bad = write_config(&dir, "bad.toml", http, &routes);
        let (code, stderr) = run_vane(
            &["--check".as_ref(), "--config".as_ref(), bad.as_os_str()],
            &dir.0,
        );
        assert!(
            code.is_some_and(|c| c != 0),
            "{name}: expected a non-zero exit, got {code:?}; stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(key),
            "{name}: stderr does not name {key}:\n{stderr}"
        );
    }
}
