#!/usr/bin/env python3
"""Helpers for loadtest/run.sh (stdlib only).

  lt.py freeport                      print a free 127.0.0.1 TCP port
  lt.py render TMPL OUT K=V...        substitute @@K@@ placeholders
  lt.py pids ROOTPID                  ROOTPID and all its descendants
  lt.py cputicks PID...               sum of utime+stime (clock ticks)
  lt.py wait-http PORT PATH [SECS]    wait until GET PATH answers 200
  lt.py check-body PORT PATH LEN      GET PATH via the proxy, check status/length
  lt.py parse-wrk FILE                wrk --latency output -> JSON
  lt.py report TSV OUT.md [META]      render results as markdown
"""
import http.client
import json
import os
import re
import socket
import sys
import time


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def render(tmpl, out, kvs):
    text = open(tmpl).read()
    for kv in kvs:
        k, v = kv.split("=", 1)
        text = text.replace("@@%s@@" % k, v)
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        sys.exit("unsubstituted placeholders in %s: %s" % (tmpl, sorted(set(left))))
    with open(out, "w") as f:
        f.write(text)


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def pids(root):
    kids = children_map()
    out, todo = [], [int(root)]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    print(" ".join(str(p) for p in sorted(out)))


def cputicks(pid_list):
    total = 0
    for p in pid_list:
        try:
            stat = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        # Fields after "comm)": state(3) ppid(4) ... utime(14) stime(15).
        f = stat.rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])
    print(total)


def _get(port, path, timeout=3.0):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": "bench.local"})
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()


def wait_http(port, path, secs=15.0):
    deadline = time.time() + float(secs)
    last = None
    while time.time() < deadline:
        try:
            st, _ = _get(port, path, timeout=1.0)
            if st == 200:
                return
            last = "status %d" % st
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    sys.exit("127.0.0.1:%s%s not ready after %ss (%s)" % (port, path, secs, last))


def check_body(port, path, length):
    st, body = _get(port, path, timeout=10.0)
    if st != 200 or len(body) != int(length):
        sys.exit("GET %s via :%s -> status %d, %d bytes (want 200, %s)"
                 % (path, port, st, len(body), length))


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(tok):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", tok)
    if not m:
        return None
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk_text(text):
    r = {"requests": 0, "rps": 0.0, "p50_ms": None, "p99_ms": None,
         "non2xx": 0, "sock_connect": 0, "sock_read": 0, "sock_write": 0,
         "sock_timeout": 0, "ok": False}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", text, re.M)
    if m:
        r["requests"] = int(m.group(1))
        r["ok"] = True
    m = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s*%s(?:\.0+)?%%\s+(\S+)" % pct, text, re.M)
        if m:
            r[key] = _ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["sock_connect"], r["sock_read"], r["sock_write"], r["sock_timeout"] = map(int, m.groups())
    r["sock_errors"] = r["sock_connect"] + r["sock_read"] + r["sock_write"] + r["sock_timeout"]
    r["errors"] = r["non2xx"] + r["sock_errors"]
    return r


def parse_wrk(path):
    print(json.dumps(parse_wrk_text(open(path).read())))


PROXY_NAMES = {"vane": "Vane", "nginx": "nginx", "haproxy": "HAProxy",
               "vane-nometrics": "Vane, metrics off", "vane-log": "Vane, access log on"}
PROFILE_DESC = {
    "small": "small (~100 B), keep-alive, c=64",
    "16k": "16 KiB, keep-alive, c=64",
    "1m": "1 MiB, keep-alive, c=16",
    "close": "small, Connection: close, c=64",
}


def _fmt(v, nd=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "%.*f" % (nd, v)
    return str(v)


def _median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    m = len(vals) // 2
    return vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2


def report(tsv, out, meta=""):
    runs = {}
    for line in open(tsv):
        line = line.rstrip("\n")
        if not line:
            continue
        proxy, workers, profile, ticks, clk, dur, js = line.split("\t", 6)
        r = json.loads(js)
        ticks, clk, dur = int(ticks), int(clk), float(dur)
        r["cpu_us_per_req"] = (ticks / clk * 1e6 / r["requests"]) if r["requests"] else None
        r["cores"] = ticks / clk / dur
        runs.setdefault((proxy, int(workers), profile), []).append(r)

    # One row per cell: the median of each metric over its runs, errors summed.
    rows = []
    for (proxy, workers, profile), rs in runs.items():
        good = [r for r in rs if r["ok"]]
        row = dict(proxy=proxy, workers=workers, profile=profile, n=len(rs), ok=bool(good))
        for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "cores"):
            row[k] = _median([r[k] for r in good])
        for k in ("errors", "non2xx", "sock_connect", "sock_read", "sock_write", "sock_timeout"):
            row[k] = sum(r[k] for r in rs)
        row["failed_runs"] = len(rs) - len(good)
        rows.append(row)

    order_p = [p for p in PROFILE_DESC if any(r["profile"] == p for r in rows)]
    lines = []
    if meta:
        lines += [meta, ""]
    lines += [
        "| profile | proxy | workers | req/s | p50 ms | p99 ms | errors (non-2xx/3xx + socket) | proxy CPU-µs/req | proxy CPU (cores) |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for prof in order_p:
        for w in sorted({r["workers"] for r in rows}):
            for px in PROXY_NAMES:
                for r in rows:
                    if (r["profile"], r["workers"], r["proxy"]) != (prof, w, px):
                        continue
                    if not r["ok"]:
                        err = "wrk produced no result"
                    elif r["failed_runs"]:
                        err = "%d run(s) without result; %d" % (r["failed_runs"], r["errors"])
                    elif r["errors"] == 0:
                        err = "0"
                    else:
                        err = "%d (non2xx %d; connect %d, read %d, write %d, timeout %d)" % (
                            r["errors"], r["non2xx"], r["sock_connect"], r["sock_read"],
                            r["sock_write"], r["sock_timeout"])
                    lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
                        prof, PROXY_NAMES.get(px, px), w, _fmt(r["rps"], 0),
                        _fmt(r["p50_ms"], 3), _fmt(r["p99_ms"], 3), err,
                        _fmt(r["cpu_us_per_req"], 2), _fmt(r["cores"], 2)))

    def get(prof, w, px, key):
        for r in rows:
            if (r["profile"], r["workers"], r["proxy"]) == (prof, w, px) and r["ok"]:
                return r[key]
        return None

    def ratio(a, b):
        if a is None or b is None or b == 0:
            return "n/a"
        return "%.2f" % (a / b)

    lines += [
        "",
        "Ratios (CPU-µs/req ratio < 1: Vane spends less CPU per request; req/s ratio > 1: Vane served more):",
        "",
        "| profile | workers | CPU/req Vane÷nginx | CPU/req Vane÷HAProxy | req/s Vane÷nginx | req/s Vane÷HAProxy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for prof in order_p:
        for w in sorted({r["workers"] for r in rows}):
            vc, vr = get(prof, w, "vane", "cpu_us_per_req"), get(prof, w, "vane", "rps")
            lines.append("| %s | %d | %s | %s | %s | %s |" % (
                prof, w,
                ratio(vc, get(prof, w, "nginx", "cpu_us_per_req")),
                ratio(vc, get(prof, w, "haproxy", "cpu_us_per_req")),
                ratio(vr, get(prof, w, "nginx", "rps")),
                ratio(vr, get(prof, w, "haproxy", "rps"))))
    if any(r["proxy"] in ("vane-nometrics", "vane-log") for r in rows):
        lines += [
            "",
            "Feature cost (same run): req/s and CPU-µs/req of Vane with metrics on (the default) "
            "against metrics off, and with the access log on against off:",
            "",
            "| profile | workers | req/s metrics on÷off | CPU/req metrics on÷off | req/s log on÷off | CPU/req log on÷off |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for prof in order_p:
            for w in sorted({r["workers"] for r in rows}):
                g = lambda px, k: get(prof, w, px, k)
                lines.append("| %s | %d | %s | %s | %s | %s |" % (
                    prof, w,
                    ratio(g("vane", "rps"), g("vane-nometrics", "rps")),
                    ratio(g("vane", "cpu_us_per_req"), g("vane-nometrics", "cpu_us_per_req")),
                    ratio(g("vane-log", "rps"), g("vane", "rps")),
                    ratio(g("vane-log", "cpu_us_per_req"), g("vane", "cpu_us_per_req"))))
    lines += ["", "Profiles: " + "; ".join("%s = %s" % (p, PROFILE_DESC[p]) for p in order_p), ""]
    text = "\n".join(lines)
    with open(out, "w") as f:
        f.write(text)
    print(text)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, args = a[0], a[1:]
    if cmd == "freeport":
        freeport()
    elif cmd == "render":
        render(args[0], args[1], args[2:])
    elif cmd == "pids":
        pids(args[0])
    elif cmd == "cputicks":
        cputicks(args)
    elif cmd == "wait-http":
        wait_http(*args)
    elif cmd == "check-body":
        check_body(*args)
    elif cmd == "parse-wrk":
        parse_wrk(args[0])
    elif cmd == "report":
        report(args[0], args[1], args[2] if len(args) > 2 else "")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
