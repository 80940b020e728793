#!/usr/bin/env python3
"""Vane's etcd control plane under measurement (stdlib only; see loadtest/README.md).

Starts its own etcd (/usr/bin/etcd, temp data dir, free ports), two origins answering "A"
and "B", and `vane --etcd` routing example.com to one of them, then measures:

 1. put -> routed: `etcdctl put .../locations/home/upstream <a|b>` returned -> the first
    request that the new value routes (a keep-alive client polling vane), SAMPLES times,
    alternating; p50 / p99 / max. Then the same GATEWAY_SAMPLES times with the put sent to
    etcd's HTTP gateway (no etcdctl process starting on the CPUs being measured). After
    each, vane's own "watch event -> every worker acked" (status.json `publish`, last 1024).
 2. blue-green under wrk: SWITCHES upstream switches spread over a wrk run; wrk's non-2xx
    and socket errors must be 0.
 3. (BURST=N, optional) N keys written as fast as etcd takes them (8 concurrent clients of
    its HTTP gateway, 64 puts per transaction) while wrk runs: how many snapshots vane
    compiled for them, whether it converged to etcd's final revision, and wrk's p99 during
    the burst vs. a quiet run.

Environment: VANE_BIN (default: cargo build --release), WORKERS (default: nproc), SAMPLES
(200), GATEWAY_SAMPLES (1000), SWITCHES (100), WRK_SECONDS (10), WRK_CONNS (32), BURST
(0 = skip), KEEP_WORK (0).
Every step is bounded; all processes are stopped and the temp dir removed on exit.
"""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from lt import parse_wrk_text  # noqa: E402

HOME = "/vulcand/hosts/example.com/locations/home"
ENV = dict(os.environ, ETCDCTL_API="3")


def log(msg):
    print("[etcd-latency %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pct(vals, p):
    if not vals:
        return float("nan")
    v = sorted(vals)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


class Origin(threading.Thread):
    """A tiny keep-alive HTTP/1.1 server answering every request with `body`."""

    def __init__(self, body):
        super().__init__(daemon=True)
        self.body = body.encode()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(self.body), self.body)

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                # Requests here carry no body: answer each complete head (pipelining too).
                n = buf.count(b"\r\n\r\n")
                buf = buf[buf.rfind(b"\r\n\r\n") + 4:]
                c.sendall(self.resp * n)
        except OSError:
            return
        finally:
            c.close()


class Client:
    """One keep-alive connection to vane; `get()` returns (status, body)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self):
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.conn.request("GET", "/", headers={"Host": "example.com"})
                r = self.conn.getresponse()
                return r.status, r.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):
                self.conn = None
        return 0, ""


class Run:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="vane-etcd-lt.")
        self.procs = []

    def spawn(self, name, argv, **kw):
        out = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=kw.pop("env", ENV), **kw)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        deadline = time.time() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
        if os.environ.get("KEEP_WORK") == "1":
            log("kept %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def wait(cond, secs, what):
    deadline = time.time() + secs
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


def start_etcd(run):
    cport, pport = free_port(), free_port()
    client, peer = "http://127.0.0.1:%d" % cport, "http://127.0.0.1:%d" % pport
    run.spawn("etcd", ["/usr/bin/etcd", "--name", "lt", "--data-dir", os.path.join(run.work, "etcd"),
                       "--listen-client-urls", client, "--advertise-client-urls", client,
                       "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                       "--initial-cluster", "lt=" + peer])

    def healthy():
        try:
            c = http.client.HTTPConnection("127.0.0.1", cport, timeout=1)
            c.request("GET", "/health")
            return c.getresponse().status == 200
        except OSError:
            return False
    wait(healthy, 30, "etcd")
    return client, cport


def etcdctl(endpoint, *args):
    r = subprocess.run(["etcdctl", "--endpoints=" + endpoint, "--command-timeout=5s"] + list(args),
                       env=ENV, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit("etcdctl %s: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


def status(state):
    try:
        return json.load(open(os.path.join(state, "status.json")))
    except (OSError, ValueError):
        return {}


def vane_bin():
    b = os.environ.get("VANE_BIN")
    if b:
        return b
    log("building vane (cargo build --release)")
    subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True, timeout=1800)
    return os.path.join(ROOT, "target/release/vane")


def start_vane(run, endpoint):
    port, health = free_port(), free_port()
    state = os.path.join(run.work, "state")
    cfg = os.path.join(run.work, "vane.toml")
    workers = os.environ.get("WORKERS", str(os.cpu_count() or 1))
    with open(cfg, "w") as f:
        f.write('workers = %s\n[listen]\nhttp = "127.0.0.1:%d"\nhealth = "127.0.0.1:%d"\n' % (workers, port, health))
    env = dict(ENV, VANE_LOG="info,vane::etcd=debug")
    run.spawn("vane", [vane_bin(), "--config", cfg, "--etcd", endpoint, "--state-dir", state], env=env)

    def ready():
        try:
            c = http.client.HTTPConnection("127.0.0.1", health, timeout=1)
            c.request("GET", "/")
            return c.getresponse().status == 200
        except OSError:
            return False
    wait(ready, 30, "vane ready")
    return port, state


def measure_put_to_routed(put, port, samples):
    """`put(value)` returned -> the first response routed by the new value, in ms."""
    client = Client(port)
    lat, misses = [], 0
    for i in range(samples):
        target = "b" if i % 2 == 0 else "a"
        put(target)
        t0 = time.perf_counter()
        while True:
            st, body = client.get()
            dt = time.perf_counter() - t0
            if st == 200 and body == target.upper():
                lat.append(dt * 1e3)
                break
            if dt > 5:
                misses += 1
                break
    return lat, misses


def report_put_to_routed(title, lat, misses, state):
    pub = status(state).get("publish", {})
    print("## %s (%d samples, %d timed out)" % (title, len(lat), misses))
    print("put returned -> first request routed by the new value: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
          % (pct(lat, 50), pct(lat, 99), max(lat or [0])))
    print("vane watch event -> every worker acked (status.json, last %d publishes): "
          "p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (
              min(pub.get("count", 0), 1024), pub.get("p50_us", 0) / 1e3,
              pub.get("p99_us", 0) / 1e3, pub.get("max_us", 0) / 1e3))


def wrk(port, secs, conns, out):
    return subprocess.Popen(["timeout", str(secs + 30), "wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency",
                             "-H", "Host: example.com", "http://127.0.0.1:%d/" % port],
                            stdout=open(out, "w"), stderr=subprocess.STDOUT)


def blue_green_under_wrk(run, endpoint, port, switches, secs, conns):
    out = os.path.join(run.work, "wrk-bluegreen.txt")
    w = wrk(port, secs, conns, out)
    time.sleep(1)
    gap = max(0.0, (secs - 3.0) / max(1, switches))
    for i in range(switches):
        etcdctl(endpoint, "put", HOME + "/upstream", "b" if i % 2 == 0 else "a")
        time.sleep(gap)
    w.wait()
    return parse_wrk_text(open(out).read())


def b64(s):
    return base64.b64encode(s.encode()).decode()


def gateway_txn(conn, kvs):
    """One etcd transaction putting every (key, value): one revision for all of them."""
    body = json.dumps({"success": [{"requestPut": {"key": b64(k), "value": b64(v)}} for k, v in kvs]})
    conn.request("POST", "/v3/kv/txn", body=body, headers={"Content-Type": "application/json"})
    r = json.loads(conn.getresponse().read())
    if "header" not in r:
        raise SystemExit("etcd txn failed: %s" % r)
    return int(r["header"]["revision"])


def write_burst(cport, n, writers=8, per_txn=64):
    """n keys (n/2 locations) from `writers` concurrent clients, `per_txn` keys per txn."""
    kvs = []
    for i in range(n // 2):
        base = "/vulcand/hosts/burst-%d.example/locations/l" % i
        kvs += [(base + "/path", "/.*"), (base + "/upstream", "a")]
    txns = [kvs[i:i + per_txn] for i in range(0, len(kvs), per_txn)]
    revs = []

    def writer(part):
        conn = http.client.HTTPConnection("127.0.0.1", cport, timeout=30)
        for t in part:
            revs.append(gateway_txn(conn, t))
    threads = [threading.Thread(target=writer, args=(txns[w::writers],)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return max(revs)


def burst(run, cport, port, state, n, secs, conns):
    quiet_out = os.path.join(run.work, "wrk-quiet.txt")
    wrk(port, 5, conns, quiet_out).wait()
    quiet = parse_wrk_text(open(quiet_out).read())
    vlog = os.path.join(run.work, "vane.log")
    before = open(vlog).read().count("published")
    out = os.path.join(run.work, "wrk-burst.txt")
    w = wrk(port, secs, conns, out)
    time.sleep(1)
    t0 = time.time()
    last = write_burst(cport, n)
    wrote = time.time() - t0
    wait(lambda: status(state).get("revision", 0) >= last, 60, "vane to reach revision %d" % last)
    converged = time.time() - t0
    w.wait()
    during = parse_wrk_text(open(out).read())
    compiles = open(vlog).read().count("published") - before
    return quiet, during, compiles, wrote, converged, last


def main():
    for tool in ("wrk", "etcdctl"):
        if shutil.which(tool) is None:
            raise SystemExit("missing %s: apt-get install -y wrk etcd-client etcd-server" % tool)
    samples = int(os.environ.get("SAMPLES", "200"))
    gateway_samples = int(os.environ.get("GATEWAY_SAMPLES", "1000"))
    switches = int(os.environ.get("SWITCHES", "100"))
    secs = int(os.environ.get("WRK_SECONDS", "10"))
    conns = int(os.environ.get("WRK_CONNS", "32"))
    burst_n = int(os.environ.get("BURST", "0"))
    run = Run()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        a, b = Origin("A"), Origin("B")
        a.start()
        b.start()
        endpoint, cport = start_etcd(run)
        etcdctl(endpoint, "put", "/vulcand/upstreams/a/endpoints/1", "http://127.0.0.1:%d" % a.port)
        etcdctl(endpoint, "put", "/vulcand/upstreams/b/endpoints/1", "http://127.0.0.1:%d" % b.port)
        etcdctl(endpoint, "put", HOME + "/path", "/.*")
        etcdctl(endpoint, "put", HOME + "/upstream", "a")
        port, state = start_vane(run, endpoint)
        log("vane on :%d, etcd at %s, work dir %s" % (port, endpoint, run.work))

        lat, misses = measure_put_to_routed(
            lambda v: etcdctl(endpoint, "put", HOME + "/upstream", v), port, samples)
        report_put_to_routed("etcdctl put -> routed", lat, misses, state)
        # The same through etcd's HTTP gateway: no etcdctl process (a Go program starting and
        # exiting on a small machine) competing for the CPU at the moment being measured.
        gw = http.client.HTTPConnection("127.0.0.1", cport, timeout=10)
        lat2, misses2 = measure_put_to_routed(
            lambda v: gateway_txn(gw, [(HOME + "/upstream", v)]), port, gateway_samples)
        report_put_to_routed("gateway put -> routed", lat2, misses2, state)
        misses += misses2

        r = blue_green_under_wrk(run, endpoint, port, switches, secs, conns)
        print("## blue-green under wrk (%d switches, %d s, c=%d)" % (switches, secs, conns))
        print("requests %d, %.0f req/s, p99 %s ms, non-2xx %d, socket errors %d" % (
            r["requests"], r["rps"], r["p99_ms"], r["non2xx"], r["sock_errors"]))
        failed = r["errors"] > 0 or not r["ok"] or misses > 0

        if burst_n:
            quiet, during, compiles, wrote, converged, last = burst(run, cport, port, state, burst_n, secs, conns)
            print("## %d-key burst" % burst_n)
            print("written in %.2f s; vane at etcd's revision %d after %.2f s; %d snapshots compiled" % (
                wrote, last, converged, compiles))
            print("wrk p99: quiet %s ms, during the burst %s ms (non-2xx %d, socket errors %d)" % (
                quiet["p99_ms"], during["p99_ms"], during["non2xx"], during["sock_errors"]))
            failed |= during["errors"] > 0
        return 1 if failed else 0
    finally:
        run.stop()


if __name__ == "__main__":
    sys.exit(main())
