#!/usr/bin/env python3
"""Passive ejection under load: how long after an endpoint starts refusing connections does
Vane stop sending it traffic, and do clients see errors meanwhile?

Two nginx origins (one worker each) behind one upstream of a 2-worker Vane; wrk runs against
Vane; after WARM seconds one origin is killed (SIGKILL: its port refuses at once). The script
reports, per Vane worker, the time from the kill to that worker's "endpoint ejected" log line
(after which it sends the dead endpoint nothing: every pick skips it for base_ejection), and
wrk's non-2xx/socket errors over the whole run (refused connects are retried on the live one).

Usage: python3 loadtest/ejection.py [--vane-bin target/release/vane] [--secs 10] [--conns 64]
Needs nginx and wrk (apt-get install -y nginx wrk); installs nothing.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lt  # noqa: E402

NGINX = """worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 100000;
  client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft;
  uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "{name}\\n"; }} }} }}
"""


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, limit=15):
    import socket
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vane-bin", default=os.path.join(HERE, "..", "target", "release", "vane"))
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--warm", type=float, default=3.0)
    ap.add_argument("--conns", type=int, default=64)
    a = ap.parse_args()
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            sys.exit("%s is not installed (apt-get install -y %s)" % (tool, tool))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    work = tempfile.mkdtemp(prefix="vane-ejection.")
    os.chmod(work, 0o755)
    procs = []
    try:
        ports = []
        for name in ("alive", "dying"):
            d = os.path.join(work, name)
            os.makedirs(d)
            port = free_port()
            open(os.path.join(d, "nginx.conf"), "w").write(NGINX.format(d=d, port=port, name=name))
            procs.append(subprocess.Popen([nginx, "-p", d, "-e", d + "/error.log", "-c", d + "/nginx.conf"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            if not wait_port(port):
                sys.exit("origin %s did not start" % name)
            ports.append(port)
        vport = free_port()
        conf = os.path.join(work, "vane.toml")
        open(conf, "w").write(
            'workers = 2\n[listen]\nhttp = "127.0.0.1:%d"\nadmin = "off"\n\n'
            '[upstreams.up.endpoints]\nalive = "http://127.0.0.1:%d"\ndying = "http://127.0.0.1:%d"\n\n'
            '[hosts."*".locations.all]\npath = "/.*"\nupstream = "up"\n' % (vport, ports[0], ports[1]))
        vlog = open(os.path.join(work, "vane.log"), "w")
        vane = subprocess.Popen([a.vane_bin, "--config", conf], stdout=subprocess.DEVNULL, stderr=vlog,
                                env=dict(os.environ, VANE_LOG="info", NO_COLOR="1"))
        procs.append(vane)
        if not wait_port(vport):
            sys.exit("vane did not start")
        wrk_out = os.path.join(work, "wrk.txt")
        wrk = subprocess.Popen(["timeout", str(a.secs + 30), "wrk", "-t1", "-c%d" % a.conns,
                                "-d%ds" % a.secs, "--latency", "http://127.0.0.1:%d/" % vport],
                               stdout=open(wrk_out, "w"), stderr=subprocess.STDOUT)
        time.sleep(a.warm)
        killed = datetime.now(timezone.utc)
        os.killpg(procs[1].pid, signal.SIGKILL)
        wrk.wait()
        vane.send_signal(signal.SIGINT)
        vane.wait(10)
        text = open(os.path.join(work, "vane.log")).read()
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        dying = "127.0.0.1:%d" % ports[1]
        after = []
        for line in text.splitlines():
            if "endpoint ejected" in line and dying in line:
                ts = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
                w = re.search(r"worker=(\d+)", line)
                after.append((w.group(1) if w else "?", (ts - killed).total_seconds() * 1e3))
        r = lt.parse_wrk_text(open(wrk_out).read())
        print("wrk -c%d %ds: %s req/s, non-2xx %d, socket errors %d" % (
            a.conns, a.secs, r.get("rps"), r["non2xx"], r["sock_errors"]))
        if not after:
            print("no ejection of the dying endpoint was logged")
        for w, ms in after:
            print("worker %s ejected the refusing endpoint %.1f ms after the kill" % (w, ms))
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL) if p is not procs[-1] else p.kill()
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
