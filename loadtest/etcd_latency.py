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

With LOCATIONS=N, N extra locations are written to etcd before vane starts (N/20 hosts
`hK.seed` x 20 locations: prefix-style paths `/svcJ/.*`, and in every 10th host two real
regexes), so the measurements above run against a route table of N+1 locations; a sample of
the seeded routes is checked through vane, and put -> routed is also measured on a location
of a seeded host. Watch event -> every worker acked is then also reported per phase from
vane's own debug log (one value per publish, the initial full read excluded).

Environment: VANE_BIN (default: cargo build --release), WORKERS (default: nproc), SAMPLES
(200), GATEWAY_SAMPLES (1000), SEEDED_SAMPLES (200; with LOCATIONS), SWITCHES (100),
WRK_SECONDS (10), WRK_CONNS (32), BURST (0 = skip), BURST_WRK_SECONDS (2), LOCATIONS (0),
KEEP_WORK (0).
Every step is bounded; all processes are stopped and the temp dir removed on exit.
"""
import base64
import http.client
import json
import os
import random
import re
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

    def __init__(self, port, host="example.com", path="/"):
        self.port = port
        self.host, self.path = host, path
        self.conn = None

    def get(self, host=None, path=None):
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.conn.request("GET", path or self.path, headers={"Host": host or self.host})
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
    t0 = time.time()
    wait(ready, 30 + int(os.environ.get("LOCATIONS", "0")) // 1000, "vane ready")
    log("vane ready (health 200) %.2f s after start" % (time.time() - t0))
    return port, state


def measure_put_to_routed(put, port, samples, host="example.com", path="/"):
    """`put(value)` returned -> the first response routed by the new value, in ms."""
    client = Client(port, host, path)
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


def strip_ansi(text):
    return re.sub("\x1b\\[[0-9;]*m", "", text)


def published_lines(run):
    """vane's `published` debug lines so far (text after the message)."""
    try:
        text = strip_ansi(open(os.path.join(run.work, "vane.log"), errors="replace").read())
    except OSError:
        return []
    return [ln for ln in text.splitlines() if "published" in ln and "compile_us=" in ln]


def field(line, name):
    m = re.search(r"\b%s=(?:Some\()?(\w+)" % name, line)
    return m.group(1) if m else None


def acked_from_log(lines):
    """(event -> all acked in ms, compile in ms, count not acked) over non-full publishes."""
    acked, compile_ms, unacked = [], [], 0
    for ln in lines:
        if field(ln, "full") == "true":
            continue
        a, c = field(ln, "event_to_acked_us"), field(ln, "compile_us")
        if a is None or not a.isdigit():
            unacked += 1
        else:
            acked.append(int(a) / 1e3)
        if c and c.isdigit():
            compile_ms.append(int(c) / 1e3)
    return acked, compile_ms, unacked


def report_acked(run, since):
    acked, comp, unacked = acked_from_log(published_lines(run)[since:])
    print("vane watch event -> every worker acked (vane.log, the %d publishes of this phase%s): "
          "p50 %.3f ms, p99 %.3f ms, max %.3f ms; compile p50 %.3f ms, p99 %.3f ms" % (
              len(acked), ", %d NOT acked within 1 s" % unacked if unacked else "",
              pct(acked, 50), pct(acked, 99), max(acked or [0]), pct(comp, 50), pct(comp, 99)))


def report_put_to_routed(title, lat, misses, state):
    pub = status(state).get("publish", {})
    print("## %s (%d samples, %d timed out)" % (title, len(lat), misses))
    print("put returned -> first request routed by the new value: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
          % (pct(lat, 50), pct(lat, 99), max(lat or [0])))
    print("vane watch event -> every worker acked (status.json, last %d publishes): "
          "p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (
              min(pub.get("count", 0), 1024), pub.get("p50_us", 0) / 1e3,
              pub.get("p99_us", 0) / 1e3, pub.get("max_us", 0) / 1e3))


def ms(v):
    return "?" if v is None else "%.3f" % v


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


REGEXES = [  # (path regex, a request path it matches)
    (r"/api/v[0-9]+/users/[a-z0-9-]+/orders/[0-9]+", "/api/v2/users/bob-1/orders/42"),
    (r"/static/.*\.(css|js|png)", "/static/app/main.css"),
]


def seed_plan(n):
    """n locations: (host, location, path regex, upstream, a request path it routes)."""
    out = []
    for i in range((n + 19) // 20):
        host = "h%d.seed" % i
        for j in range(min(20, n - 20 * i)):
            if i % 10 == 0 and j >= 18:
                path, probe = REGEXES[j - 18]
            else:
                path, probe = "/svc%d/.*" % j, "/svc%d/x/y" % j
            out.append((host, "l%d" % j, path, "a" if j % 2 == 0 else "b", probe))
    return out


def seed_locations(cport, plan, writers=8, per_txn=128):
    """Writes every planned location (2 keys each) through etcd's HTTP gateway, `per_txn`
    puts per transaction (etcd's default --max-txn-ops), `writers` concurrent clients."""
    kvs = []
    for host, loc, path, up, _ in plan:
        base = "/vulcand/hosts/%s/locations/%s" % (host, loc)
        kvs += [(base + "/path", path), (base + "/upstream", up)]
    txns = [kvs[i:i + per_txn] for i in range(0, len(kvs), per_txn)]
    revs = []

    def writer(part):
        conn = http.client.HTTPConnection("127.0.0.1", cport, timeout=60)
        for t in part:
            revs.append(gateway_txn(conn, t))
    threads = [threading.Thread(target=writer, args=(txns[w::writers],)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(revs) != len(txns):
        raise SystemExit("seeding failed: %d of %d transactions" % (len(revs), len(txns)))
    return len(kvs), max(revs)


def check_seeded(port, plan, k=300):
    """GETs a random sample of the seeded locations; returns the number misrouted."""
    client = Client(port)
    rnd = random.Random(1)
    sample = rnd.sample(plan, min(k, len(plan)))
    bad = 0
    for host, loc, path, up, probe in sample:
        st, body = client.get(host, probe)
        if st != 200 or body != up.upper():
            bad += 1
            if bad <= 5:
                log("seeded route %s%s (%s %s) answered %d %r" % (host, probe, loc, path, st, body[:60]))
    return len(sample), bad


def burst(run, cport, port, state, n, secs, conns):
    """`secs`: the length of both wrk runs (quiet, and during the burst, which starts 0.5 s
    in); short, so that the burst's p99 is not diluted by seconds of quiet traffic."""
    quiet_out = os.path.join(run.work, "wrk-quiet.txt")
    wrk(port, secs, conns, quiet_out).wait()
    quiet = parse_wrk_text(open(quiet_out).read())
    vlog = os.path.join(run.work, "vane.log")
    before = open(vlog).read().count("published")
    out = os.path.join(run.work, "wrk-burst.txt")
    w = wrk(port, secs, conns, out)
    time.sleep(0.5)
    t0 = time.time()
    last = write_burst(cport, n)
    wrote = time.time() - t0
    wait(lambda: status(state).get("revision", 0) >= last, 60, "vane to reach revision %d" % last)
    converged = time.time() - t0
    w.wait()
    during = parse_wrk_text(open(out).read())
    compiles = open(vlog).read().count("published") - before
    # Final state equals etcd: every burst location routes (to "a"), and the revision vane
    # reports is etcd's current one.
    client = Client(port)
    bad = 0
    for i in range(n // 2):
        st, body = client.get("burst-%d.example" % i, "/anything")
        if st != 200 or body != "A":
            bad += 1
            if bad <= 5:
                log("burst host burst-%d.example answered %d %r" % (i, st, body[:60]))
    gw = http.client.HTTPConnection("127.0.0.1", cport, timeout=10)
    gw.request("POST", "/v3/kv/range", body=json.dumps({"key": b64("/vulcand/"), "range_end": b64("/vulcand0"),
                                                        "count_only": True}))
    r = json.loads(gw.getresponse().read())
    etcd_rev, etcd_keys = int(r["header"]["revision"]), int(r.get("count", 0))
    st = status(state)
    final = {"checked": n // 2, "bad": bad, "etcd_rev": etcd_rev, "etcd_keys": etcd_keys,
             "vane_rev": st.get("revision"), "rejections": len(st.get("rejections", [])),
             "workers": [w.get("revision") for w in st.get("workers", [])]}
    return quiet, during, compiles, wrote, converged, last, final


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
    locations = int(os.environ.get("LOCATIONS", "0"))
    seeded_samples = int(os.environ.get("SEEDED_SAMPLES", "200"))
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
        plan = seed_plan(locations)
        if locations:
            t0 = time.time()
            keys, rev = seed_locations(cport, plan)
            log("seeded %d locations (%d keys, %d hosts) in %.2f s, etcd revision %d" % (
                len(plan), keys, (len(plan) + 19) // 20, time.time() - t0, rev))
        port, state = start_vane(run, endpoint)
        log("vane on :%d, etcd at %s, work dir %s" % (port, endpoint, run.work))
        for ln in strip_ansi(open(os.path.join(run.work, "vane.log"), errors="replace").read()).splitlines():
            if "read the routes from etcd" in ln or ("published" in ln and "full=true" in ln):
                log("vane: " + ln.strip())
        print("# route table: %d locations (example.com/home + %d seeded), vane workers %s" % (
            locations + 1, locations, os.environ.get("WORKERS", str(os.cpu_count() or 1))))
        if locations:
            checked, bad = check_seeded(port, plan)
            print("seeded routes checked through vane: %d, misrouted %d" % (checked, bad))
            misses_seed = bad
        else:
            misses_seed = 0

        since = len(published_lines(run))
        lat, misses = measure_put_to_routed(
            lambda v: etcdctl(endpoint, "put", HOME + "/upstream", v), port, samples)
        report_put_to_routed("etcdctl put -> routed", lat, misses, state)
        report_acked(run, since)
        misses += misses_seed
        # The same through etcd's HTTP gateway: no etcdctl process (a Go program starting and
        # exiting on a small machine) competing for the CPU at the moment being measured.
        gw = http.client.HTTPConnection("127.0.0.1", cport, timeout=10)
        since = len(published_lines(run))
        lat2, misses2 = measure_put_to_routed(
            lambda v: gateway_txn(gw, [(HOME + "/upstream", v)]), port, gateway_samples)
        report_put_to_routed("gateway put -> routed", lat2, misses2, state)
        report_acked(run, since)
        misses += misses2
        if locations and seeded_samples:
            # A location of a seeded host (20 locations): its host's entry is what changes.
            host, loc, _, _, probe = plan[len(plan) // 2]
            key = "/vulcand/hosts/%s/locations/%s/upstream" % (host, loc)
            since = len(published_lines(run))
            lat3, misses3 = measure_put_to_routed(
                lambda v: gateway_txn(gw, [(key, v)]), port, seeded_samples, host, probe)
            report_put_to_routed("gateway put -> routed, seeded host %s%s" % (host, probe), lat3, misses3, state)
            report_acked(run, since)
            misses += misses3

        since = len(published_lines(run))
        r = blue_green_under_wrk(run, endpoint, port, switches, secs, conns)
        print("## blue-green under wrk (%d switches, %d s, c=%d)" % (switches, secs, conns))
        print("requests %d, %.0f req/s, p50 %s ms, p99 %s ms, non-2xx %d, socket errors %d" % (
            r["requests"], r["rps"], ms(r["p50_ms"]), ms(r["p99_ms"]), r["non2xx"], r["sock_errors"]))
        report_acked(run, since)
        failed = r["errors"] > 0 or not r["ok"] or misses > 0

        if burst_n:
            since = len(published_lines(run))
            bsecs = int(os.environ.get("BURST_WRK_SECONDS", "2"))
            quiet, during, compiles, wrote, converged, last, final = burst(
                run, cport, port, state, burst_n, bsecs, conns)
            print("## %d-key burst (wrk -c%d, %d s runs; the burst starts 0.5 s into the second)" % (
                burst_n, conns, bsecs))
            print("written in %.2f s; vane at etcd's revision %d after %.2f s; %d snapshots compiled; "
                  "the burst covered %.0f%% of the wrk run" % (
                      wrote, last, converged, compiles, 100.0 * min(1.0, converged / bsecs)))
            print("wrk quiet: %.0f req/s, p50 %s ms, p99 %s ms; during the burst: %.0f req/s, p50 %s ms, "
                  "p99 %s ms (x%.2f of quiet), non-2xx %d, socket errors %d" % (
                      quiet["rps"], ms(quiet["p50_ms"]), ms(quiet["p99_ms"]), during["rps"], ms(during["p50_ms"]),
                      ms(during["p99_ms"]), (during["p99_ms"] or 0) / (quiet["p99_ms"] or float("nan")),
                      during["non2xx"], during["sock_errors"]))
            print("final state: %d burst hosts requested, %d misrouted; etcd revision %d (%d keys under "
                  "/vulcand/), vane revision %s, workers at %s, %d rejected keys" % (
                      final["checked"], final["bad"], final["etcd_rev"], final["etcd_keys"], final["vane_rev"],
                      final["workers"], final["rejections"]))
            report_acked(run, since)
            failed |= during["errors"] > 0 or final["bad"] > 0 or final["vane_rev"] != final["etcd_rev"]
        return 1 if failed else 0
    finally:
        run.stop()


if __name__ == "__main__":
    sys.exit(main())
