#!/usr/bin/env bash
# Vane load test: Vane vs nginx vs HAProxy in front of one fixed nginx upstream.
# See loadtest/README.md. Quick smoke run:  DURATION=3 PROFILES=small bash loadtest/run.sh
#
# Environment knobs (defaults in brackets):
#   DURATION   seconds per measured wrk run                 [10]
#   WARMUP     seconds of unmeasured wrk before each run    [1]
#   PROFILES   subset of "small 16k 1m close"               [all four]
#   PROXIES    subset of "vane nginx haproxy vane-nometrics vane-log"  [the first three]
#              (vane-nometrics: [metrics] enabled = false; vane-log: JSON access log to a file)
#   WORKERS    worker counts to test                        ["1 <nproc>"]
#   PIN        1 = pin with taskset (see README), 0 = don't [1]
#   VANE_BIN   use this vane binary instead of building     [cargo build --release]
#   IDLE       1 = also run idle_conns.py at the end        [0]
#   IDLE_N     connections for the idle measurement        [5000]
#   WRK_TIMEOUT wrk per-request timeout                     [5s]
#   REPEAT     runs per (proxy, workers, profile); median reported [1]
#   CAP        cores each proxy may use per worker, e.g. 0.5, enforced with a cgroup CPU
#              quota (10 ms period); needs root and the cgroup cpu controller [no cap]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LT="python3 $HERE/lt.py"

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-1}"
PROFILES="${PROFILES:-small 16k 1m close}"
PROXIES="${PROXIES:-vane nginx haproxy}"
NCPU="$(nproc)"
WORKERS="${WORKERS:-1 $NCPU}"
PIN="${PIN:-1}"
IDLE="${IDLE:-0}"
IDLE_N="${IDLE_N:-5000}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
REPEAT="${REPEAT:-1}"
CLK_TCK="$(getconf CLK_TCK)"
CAP="${CAP:-}"

log() { printf '[loadtest %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- dependencies
missing_pkgs=()
command -v wrk >/dev/null 2>&1 || missing_pkgs+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing_pkgs+=(nginx)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing_pkgs+=(haproxy)
command -v python3 >/dev/null 2>&1 || missing_pkgs+=(python3)
command -v taskset >/dev/null 2>&1 || missing_pkgs+=(util-linux)
if [ "${#missing_pkgs[@]}" -gt 0 ]; then
    echo "missing tools: ${missing_pkgs[*]}" >&2
    echo "install them with:" >&2
    echo "    apt-get install -y ${missing_pkgs[*]}" >&2
    exit 1
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
HAPROXY="$(command -v haproxy || echo /usr/sbin/haproxy)"

for p in $PROFILES; do
    case "$p" in small|16k|1m|close) ;; *) echo "unknown profile '$p' (small 16k 1m close)" >&2; exit 2 ;; esac
done
for p in $PROXIES; do
    case "$p" in vane|nginx|haproxy|vane-nometrics|vane-log) ;; *) echo "unknown proxy '$p' (vane nginx haproxy vane-nometrics vane-log)" >&2; exit 2 ;; esac
done

# ---------------------------------------------------------------- build
if [ -z "${VANE_BIN:-}" ]; then
    log "building vane (cargo build --release)"
    (cd "$ROOT" && timeout 1800 cargo build --release) >&2
    VANE_BIN="$ROOT/target/release/vane"
fi
[ -x "$VANE_BIN" ] || { echo "VANE_BIN=$VANE_BIN is not executable" >&2; exit 1; }

# ---------------------------------------------------------------- pinning
# 2+ cores and PIN=1: the upstream nginx and wrk share the last core; a 1-worker
# proxy gets core 0 to itself; an N-worker proxy (N = all cores) may use all
# cores (it then competes with wrk and the upstream, as in any single-box test).
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
    LAST=$((NCPU - 1))
    PIN_AUX=(taskset -c "$LAST")
    proxy_pin() { # workers -> taskset prefix
        if [ "$1" -lt "$NCPU" ]; then echo "taskset -c 0-$(($1 - 1))"; else echo "taskset -c 0-$LAST"; fi
    }
else
    PIN=0
    PIN_AUX=()
    proxy_pin() { echo ""; }
fi
cpus_for() { # workers -> cpu list for haproxy cpu-map
    if [ "$PIN" = 1 ]; then
        if [ "$1" -lt "$NCPU" ]; then echo "0-$(($1 - 1))"; else echo "0-$((NCPU - 1))"; fi
    else
        echo "0-$((NCPU - 1))"
    fi
}

# ---------------------------------------------------------------- workspace + cleanup
WORK="$(mktemp -d /tmp/vane-loadtest.XXXXXX)"
# nginx workers run as an unprivileged user when started as root: let them read it.
chmod 755 "$WORK"
ROOT_PIDS=()

kill_tree() { # pid: TERM the process and its descendants, KILL leftovers after 5 s
    local root="$1" all p i
    all="$($LT pids "$root" 2>/dev/null || true)"
    [ -n "$all" ] || return 0
    kill -TERM $all 2>/dev/null || true
    for i in $(seq 50); do
        local alive=0
        for p in $all; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in $all; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true; done
    wait "$root" 2>/dev/null || true
}

CGROUPS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${ROOT_PIDS[@]}"; do kill_tree "$p"; done
    for g in "${CGROUPS[@]}"; do rmdir "$g" 2>/dev/null || true; done
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        log "kept workspace $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget_pid() {
    local keep=() p
    for p in "${ROOT_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    ROOT_PIDS=("${keep[@]}")
}

# CAP: when wrk and the origin share one core and cannot keep a 1-worker proxy busy, req/s
# compares the load generator, not the proxies. A CPU quota per proxy makes each proxy the
# bottleneck, so req/s then measures what one proxy does with the same CPU budget.
CG_KIND=""
if [ -n "$CAP" ]; then
    if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        CG_KIND=v1; CG_ROOT=/sys/fs/cgroup/cpu
    elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        CG_KIND=v2; CG_ROOT=/sys/fs/cgroup
        echo +cpu >"$CG_ROOT/cgroup.subtree_control" 2>/dev/null || true
    else
        echo "CAP=$CAP needs the cgroup cpu controller (v1 /sys/fs/cgroup/cpu or v2 cpu.max)" >&2; exit 2
    fi
fi

cap_proxy() { # name workers pid: move the proxy's processes into a cgroup with a CPU quota
    local g quota p
    g="$CG_ROOT/vane-loadtest-$$-$1-w$2"
    mkdir -p "$g"
    CGROUPS+=("$g")
    quota="$(python3 -c "print(int(round($CAP * $2 * 10000)))")"
    if [ "$CG_KIND" = v1 ]; then
        echo 10000 >"$g/cpu.cfs_period_us"; echo "$quota" >"$g/cpu.cfs_quota_us"
    else
        echo "$quota 10000" >"$g/cpu.max"
    fi
    for p in $($LT pids "$3"); do echo "$p" >"$g/cgroup.procs"; done
}

mkprefix() { # dir: nginx prefix (nginx creates its temp dirs itself, owned by its worker user)
    mkdir -p "$1/www"
}

# ---------------------------------------------------------------- upstream nginx
UPORT="$($LT freeport)"
UP="$WORK/upstream"
mkprefix "$UP"
# /16k: 16384 bytes; /1m: 1048576 bytes. (/small, 100 bytes, is a `return` in the template.)
python3 - "$UP/www" <<'EOF'
import sys, os
d = sys.argv[1]
open(os.path.join(d, "16k"), "wb").write(os.urandom(16384))
open(os.path.join(d, "1m"), "wb").write(os.urandom(1048576))
EOF
$LT render "$HERE/nginx-upstream.conf.tmpl" "$UP/nginx.conf" PREFIX="$UP" PORT="$UPORT"
"${PIN_AUX[@]}" "$NGINX" -p "$UP" -e "$UP/error.log" -c "$UP/nginx.conf" >"$UP/stdout.log" 2>&1 &
UPSTREAM_PID=$!
ROOT_PIDS+=("$UPSTREAM_PID")
$LT wait-http "$UPORT" /small 15 || { cat "$UP/error.log" >&2; exit 1; }
log "upstream nginx pid $UPSTREAM_PID on 127.0.0.1:$UPORT (pin: ${PIN_AUX[*]:-none})"

# ---------------------------------------------------------------- proxies
# Per proxy name (one set of proxies runs at a time, all with the same worker count).
declare -A PID_OF=() PORT_OF=() LOG_OF=()

start_proxy() { # name workers
    local name="$1" w="$2" dir pin PROXY_PORT PROXY_LOG PROXY_PID
    dir="$WORK/$name-w$w"
    mkdir -p "$dir"
    PROXY_PORT="$($LT freeport)"
    pin="$(proxy_pin "$w")"
    case "$name" in
        vane|vane-nometrics|vane-log)
            # Variants measure what a feature costs: metrics off, or the access log on.
            $LT render "$HERE/vane.toml.tmpl" "$dir/vane.toml" WORKERS="$w" PORT="$PROXY_PORT" UPORT="$UPORT"
            case "$name" in
                vane-nometrics) printf '\n[metrics]\nenabled = false\n' >>"$dir/vane.toml" ;;
                vane-log) printf '\n[access_log]\npath = "%s"\nformat = "json"\n' "$dir/access.log" >>"$dir/vane.toml" ;;
            esac
            PROXY_LOG="$dir/stderr.log"
            # The variants run side by side: none may take the admin API's default port.
            $pin "$VANE_BIN" --config "$dir/vane.toml" --workers "$w" --listen "127.0.0.1:$PROXY_PORT" --admin off \
                >"$dir/stdout.log" 2>"$PROXY_LOG" &
            ;;
        nginx)
            mkprefix "$dir"
            $LT render "$HERE/nginx-proxy.conf.tmpl" "$dir/nginx.conf" WORKERS="$w" PREFIX="$dir" \
                PORT="$PROXY_PORT" UPORT="$UPORT"
            PROXY_LOG="$dir/error.log"
            $pin "$NGINX" -p "$dir" -e "$PROXY_LOG" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
            ;;
        haproxy)
            $LT render "$HERE/haproxy.cfg.tmpl" "$dir/haproxy.cfg" WORKERS="$w" CPUS="$(cpus_for "$w")" \
                PORT="$PROXY_PORT" UPORT="$UPORT"
            PROXY_LOG="$dir/stderr.log"
            $pin "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/stdout.log" 2>"$PROXY_LOG" &
            ;;
    esac
    PROXY_PID=$!
    ROOT_PIDS+=("$PROXY_PID")
    if ! $LT wait-http "$PROXY_PORT" /small 15; then
        log "$name did not come up; its log:"; tail -n 50 "$PROXY_LOG" >&2 || true
        exit 1
    fi
    # Correctness spot check: full bodies come through.
    $LT check-body "$PROXY_PORT" /small 100
    $LT check-body "$PROXY_PORT" /16k 16384
    $LT check-body "$PROXY_PORT" /1m 1048576
    PID_OF[$name]="$PROXY_PID"; PORT_OF[$name]="$PROXY_PORT"; LOG_OF[$name]="$PROXY_LOG"
    if [ -n "$CAP" ]; then cap_proxy "$name" "$w" "$PROXY_PID"; fi
    log "$name ($w worker(s)) pid $PROXY_PID on 127.0.0.1:$PROXY_PORT (pin: ${pin:-none}${CAP:+, cap $CAP core per worker})"
}

stop_proxy() { # name
    local pid="${PID_OF[$1]:-}"
    [ -n "$pid" ] || return 0
    kill_tree "$pid"
    forget_pid "$pid"
    unset "PID_OF[$1]"
}

# ---------------------------------------------------------------- wrk
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
FAILS="$WORK/failures.txt"
: >"$FAILS"

profile_args() { # profile -> "conns path extra-header"
    case "$1" in
        small) echo "64 /small" ;;
        16k)   echo "64 /16k" ;;
        1m)    echo "16 /1m" ;;
        close) echo "64 /small close" ;;
    esac
}

run_wrk() { # secs conns url close outfile
    local secs="$1" c="$2" url="$3" close="$4" out="$5"
    local hdr=()
    [ "$close" = close ] && hdr=(-H "Connection: close")
    timeout -k 5 $((secs + 30)) "${PIN_AUX[@]}" wrk -t1 -c"$c" -d"${secs}s" --timeout "$WRK_TIMEOUT" \
        --latency "${hdr[@]}" "$url" >"$out" 2>&1 || echo "wrk exit status $?" >>"$out"
}

measure() { # proxy workers profile rep
    local px="$1" w="$2" prof="$3" rep="$4" c path close pids t0 t1 out
    local PROXY_PID="${PID_OF[$px]}" PROXY_LOG="${LOG_OF[$px]}"
    read -r c path close <<<"$(profile_args "$prof") "
    local url="http://127.0.0.1:${PORT_OF[$px]}$path"
    out="$WORK/wrk-$px-w$w-$prof-r$rep.txt"
    if [ "$WARMUP" -gt 0 ]; then run_wrk "$WARMUP" "$c" "$url" "$close" "$out.warmup"; fi
    pids="$($LT pids "$PROXY_PID")"
    t0="$($LT cputicks $pids)"
    run_wrk "$DURATION" "$c" "$url" "$close" "$out"
    t1="$($LT cputicks $pids)"
    local js
    js="$($LT parse-wrk "$out")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$px" "$w" "$prof" "$((t1 - t0))" "$CLK_TCK" "$DURATION" "$js" >>"$RESULTS"
    log "$px w=$w $prof #$rep: $(grep -E 'Requests/sec' "$out" || echo 'no result') | $js"
    if ! kill -0 "$PROXY_PID" 2>/dev/null; then
        echo "$px w=$w $prof: proxy process exited during the run" >>"$FAILS"
    fi
    if python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["ok"] and r["errors"]==0 else 1)' "$js"; then
        :
    else
        {
            echo "=== $px workers=$w profile=$prof run=$rep: errors or no result"
            echo "--- command: wrk -t1 -c$c -d${DURATION}s --timeout $WRK_TIMEOUT --latency ${close:+-H 'Connection: close' }$url"
            echo "--- wrk output:"; cat "$out"
            echo "--- proxy log (last 40 lines of $PROXY_LOG):"; tail -n 40 "$PROXY_LOG" 2>/dev/null || true
        } >>"$FAILS"
    fi
}

START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
# All proxies of one worker count run side by side (an idle proxy costs ~nothing);
# measurements are interleaved proxy by proxy so slow drifts in background load
# hit all three alike. With REPEAT > 1 the report shows the median run.
for w in $WORKERS; do
    for px in $PROXIES; do start_proxy "$px" "$w"; done
    for prof in $PROFILES; do
        for rep in $(seq "$REPEAT"); do
            for px in $PROXIES; do measure "$px" "$w" "$prof" "$rep"; done
        done
    done
    for px in $PROXIES; do stop_proxy "$px"; done
done

# ---------------------------------------------------------------- report
GIT_REV="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
GIT_DIRTY="$(cd "$ROOT" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | head -c1 | wc -c)"
[ "$GIT_DIRTY" -gt 0 ] && GIT_REV="$GIT_REV+dirty"
CAP_NOTE=""
if [ -n "$CAP" ]; then
    CAP_NOTE="CPU cap: each proxy limited to $CAP core per worker (cgroup $CG_KIND CPU quota, 10 ms period), so the proxy, not wrk + origin, is the bottleneck; p99 then includes quota stalls and is not comparable with uncapped runs.
"
fi
META="# Vane load test — $(date -u '+%Y-%m-%d %H:%M UTC')

vane $GIT_REV; nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'); HAProxy $("$HAPROXY" -v | head -1 | awk '{print $3}'); $(wrk --version 2>&1 | head -1 | awk '{print "wrk " $2}'); kernel $(uname -r); $NCPU CPUs; loadavg at start $START_LOAD, at end $(cut -d' ' -f1-3 /proc/loadavg).
Each run: wrk -t1 --latency, ${DURATION}s measured after ${WARMUP}s warm-up, ${REPEAT} run(s) per cell interleaved across proxies (median shown); upstream = 1 nginx worker; pinning: $( [ "$PIN" = 1 ] && echo "upstream+wrk on CPU $LAST, 1-worker proxies on CPU 0, ${NCPU}-worker proxies on CPUs 0-$LAST" || echo none).
${CAP_NOTE}CPU-µs/req = Δ(utime+stime of all proxy processes, /proc/<pid>/stat, CLK_TCK=$CLK_TCK) × 1e6 / requests completed."
$LT report "$RESULTS" "$HERE/last-run.md" "$META"

if [ -s "$FAILS" ]; then
    {
        echo
        echo "## Errors / misbehaviour"
        echo
        echo '```'
        cat "$FAILS"
        echo '```'
    } | tee -a "$HERE/last-run.md"
fi

# ---------------------------------------------------------------- idle connections
if [ "$IDLE" = 1 ]; then
    log "idle connection memory: $IDLE_N conns"
    {
        echo
        echo "## Idle keep-alive connections (Vane, 1 worker)"
        echo
        echo '```'
        timeout 300 python3 "$HERE/idle_conns.py" --vane-bin "$VANE_BIN" --upstream-port "$UPORT" -n "$IDLE_N" 2>&1
        echo '```'
    } | tee -a "$HERE/last-run.md"
fi
