#!/usr/bin/env python3
"""Memory cost of idle keep-alive client connections in Vane (stdlib only).

Starts a fresh Vane with 1 worker (unless --pid/--port point at a running one),
makes one small request on each of N keep-alive connections, keeps them all
open and idle, and reports the vane process's VmRSS delta per connection.

  python3 loadtest/idle_conns.py                       # builds nothing; uses target/release/vane
  python3 loadtest/idle_conns.py -n 8000 --vane-bin target/release/vane
  python3 loadtest/idle_conns.py --upstream-port 8080  # reuse an upstream serving /small
  python3 loadtest/idle_conns.py --pid 1234 --port 8080 # measure an already running vane

Without --upstream-port an in-process HTTP/1.1 keep-alive upstream is started.
The whole script is bounded by --deadline seconds (default 240).
"""
import argparse
import http.server
import os
import resource
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAX_N = 9000


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class _Small(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    BODY = b"x" * 99 + b"\n"

    def setup(self):
        super().setup()
        # One write per response and no Nagle: otherwise Nagle + delayed ACK adds ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(self.BODY), self.BODY))

    def log_message(self, *a):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def start_upstream():
    srv = _Server(("127.0.0.1", 0), _Small)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def read_response(sock, deadline):
    """Reads one response with a Content-Length body; returns the status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.1, deadline - time.time()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before response head")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    clen = 0
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
        if k.strip().lower() == b"connection" and b"close" in v.lower():
            raise ConnectionError("server asked to close the connection")
    while len(rest) < clen:
        sock.settimeout(max(0.1, deadline - time.time()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        rest += chunk
    return status


def one_request(sock, path, deadline):
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench.local\r\n\r\n")
    return read_response(sock, deadline)


def wait_ready(port, path, deadline):
    last = None
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            try:
                if one_request(s, path, time.time() + 2) == 200:
                    return
            finally:
                s.close()
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise SystemExit("proxy on :%d not ready: %s" % (port, last))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="connections (max %d)" % MAX_N)
    ap.add_argument("--vane-bin", default=os.environ.get("VANE_BIN", os.path.join(ROOT, "target/release/vane")))
    ap.add_argument("--upstream-port", type=int, help="existing upstream serving GET /small")
    ap.add_argument("--path", default="/small")
    ap.add_argument("--pid", type=int, help="measure this running vane (needs --port)")
    ap.add_argument("--port", type=int, help="port of the running vane")
    ap.add_argument("--settle", type=float, default=2.0, help="idle seconds before reading RSS")
    ap.add_argument("--deadline", type=float, default=240.0, help="overall time bound, seconds")
    a = ap.parse_args()
    if not 1 <= a.n <= MAX_N:
        ap.error("-n must be in 1..%d" % MAX_N)
    if (a.pid is None) != (a.port is None):
        ap.error("--pid and --port go together")

    deadline = time.time() + a.deadline
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(SystemExit("deadline exceeded")))
    signal.alarm(int(a.deadline) + 5)

    # Our sockets: N + slack. Vane inherits the same limit (it needs N + pool + a few).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 1024
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise SystemExit("RLIMIT_NOFILE hard limit %d < %d needed" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    vane = None
    errlog = None
    tmp = None
    upstream = None
    conns = []
    try:
        if a.pid is None:
            if a.upstream_port is None:
                upstream, uport = start_upstream()
            else:
                uport = a.upstream_port
            port = free_port()
            tmp = tempfile.TemporaryDirectory(prefix="vane-idle-")
            cfg = os.path.join(tmp.name, "vane.toml")
            with open(cfg, "w") as f:
                f.write(
                    'workers = 1\n[listen]\nhttp = "127.0.0.1:%d"\n'
                    '[timeouts]\nkeepalive_idle = "300s"\n'
                    '[upstreams.bench.endpoints]\n1 = "http://127.0.0.1:%d"\n'
                    '[hosts."*".locations.all]\npath = "/.*"\nupstream = "bench"\n' % (port, uport))
            errlog = open(os.path.join(tmp.name, "stderr.log"), "w+")
            vane = subprocess.Popen([a.vane_bin, "--config", cfg, "--workers", "1"],
                                    stdout=subprocess.DEVNULL, stderr=errlog)
            pid = vane.pid
        else:
            pid, port = a.pid, a.port

        wait_ready(port, a.path, min(deadline, time.time() + 15))
        # Warm up: a few hundred connections, each one request, then closed, so that
        # allocator arenas, the upstream pool and the runtime are in steady state.
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            one_request(s, a.path, time.time() + 5)
            s.close()
        time.sleep(a.settle)
        before = rss_kib(pid)

        t0 = time.time()
        failures = 0
        for i in range(a.n):
            if time.time() > deadline:
                raise SystemExit("deadline exceeded after %d connections" % i)
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                st = one_request(s, a.path, time.time() + 5)
                if st != 200:
                    failures += 1
                conns.append(s)
            except OSError as e:
                failures += 1
                if failures > 20:
                    raise SystemExit("too many failures (last: %s) after %d conns" % (e, i))
        opened = time.time() - t0
        time.sleep(a.settle)

        # Check the idle connections are still open (no data, no EOF pending).
        closed = 0
        for s in conns:
            s.setblocking(False)
            try:
                if s.recv(1, socket.MSG_PEEK) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        after = rss_kib(pid)
        n = len(conns)
        delta = after - before
        print("vane pid %d, 1 worker, port %d" % (pid, port))
        print("connections held idle: %d (request failures %d, closed by peer while idle %d); opened in %.1fs"
              % (n, failures, closed, opened))
        print("VmRSS before: %d KiB, after: %d KiB, delta: %d KiB" % (before, after, delta))
        print("RSS per idle connection: %.2f KiB" % (delta / n if n else float("nan")))

        for s in conns:
            s.close()
        conns = []
        time.sleep(a.settle)
        print("VmRSS after closing them all: %d KiB" % rss_kib(pid))
    except BaseException:
        if errlog is not None:
            errlog.flush()
            errlog.seek(0)
            tail = errlog.read()[-4000:]
            print("--- vane stderr (tail):\n" + tail, file=sys.stderr)
        if vane is not None and vane.poll() is not None:
            print("vane exited with status %s" % vane.returncode, file=sys.stderr)
        raise
    finally:
        for s in conns:
            s.close()
        if vane is not None:
            vane.terminate()
            try:
                vane.wait(10)
            except subprocess.TimeoutExpired:
                vane.kill()
                vane.wait(5)
        if upstream is not None:
            upstream.shutdown()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
