#!/usr/bin/env bash
# Issue 5's scale benchmark: 10,000 distinct probed targets at a 1 s interval on this machine.
#
# Reports (Benchmarks/results/health-<timestamp>/summary.txt):
#   - the CPU the server uses to probe them (no DNS load), against the same server idle;
#   - the probe-schedule drift (how late probe times fire), from /metrics when it exposes
#     globaldns_probe_schedule_drift_seconds, else from the checker's own summary in the log;
#   - DNS QPS (dnsperf, UDP) with the 10,000 targets probed vs. the same NameServices without a
#     healthCheck, alternated ROUNDS times, and their ratio (goal: >= 0.90).
#
# Set-up, all on loopback: tcp-sink (Benchmarks/tools/tcp-sink.c) listens on ADDRS addresses
# 127.2.0.1.. x PORTS ports 20000.. and accepts/closes every connection, so every probe succeeds.
# 100 NameServices scale-000..099 each have the ADDRS addresses as targets and their own
# healthCheck port (intervalSeconds 1, timeoutSeconds 0.5): ADDRS x PORTS distinct (address, port)
# probes. The server runs with one event loop pinned to CPU 0 (probes share that loop with DNS,
# which is the cost being measured); dnsperf and tcp-sink run on CPU 1.
#
# Knobs: ADDRS (100), PORTS (100), DURATION (20 s per dnsperf run), ROUNDS (3), DNS_PORT (5320),
# API_PORT (5321).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
ADDRS=${ADDRS:-100}
PORTS=${PORTS:-100}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-3}
DNS_PORT=${DNS_PORT:-5320}
API_PORT=${API_PORT:-5321}
FIRST_PORT=20000
OUT="$ROOT/Benchmarks/results/health-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT/probed" "$OUT/plain"
API="http://127.0.0.1:$API_PORT"

say() { echo "health-scale: $*" | tee -a "$OUT/summary.txt" >&2; }

swift build -c release --product globaldns >&2
swift build -c release --product globaldnsctl >&2
BIN="$ROOT/.build/release"
gcc -O2 -Wall -o "$OUT/tcp-sink" Benchmarks/tools/tcp-sink.c

# --- NameServices: the same 100 names with and without a healthCheck ----------------------------
for ((i = 0; i < PORTS; i++)); do
    name=$(printf 'scale-%03d' "$i")
    targets=""
    for ((a = 1; a <= ADDRS; a++)); do
        targets+="  - {name: t$a, addresses: [127.2.$((a / 256)).$((a % 256))]}"$'\n'
    done
    for kind in probed plain; do
        {
            echo "apiVersion: globaldns.io/v1alpha1"
            echo "kind: NameService"
            echo "metadata: {name: $name}"
            echo "spec:"
            echo "  fqdn: $name.g.example.com"
            echo "  maxAnswers: 4"
            [[ $kind == probed ]] && echo "  healthCheck: {port: $((FIRST_PORT + i)), intervalSeconds: 1, timeoutSeconds: 0.5, failureThreshold: 3}"
            echo "  targets:"
            printf '%s' "$targets"
        } >"$OUT/$kind/$name.yaml"
    done
    echo "$name.g.example.com A" >>"$OUT/queries.txt"
done

cat >"$OUT/globaldns.yaml" <<EOF
dns:
  listen: ["127.0.0.1:$DNS_PORT"]
  threads: 1
zones: {directory: $ROOT/zones}
api: {listen: "127.0.0.1:$API_PORT"}
state: {directory: $OUT/state}
log: {level: info}
EOF

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

taskset -c 1 "$OUT/tcp-sink" 127.2.0.1 "$ADDRS" "$FIRST_PORT" "$PORTS" >"$OUT/sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready' "$OUT/sink.log" && break; sleep 0.1; done
grep -q '^ready' "$OUT/sink.log" || { cat "$OUT/sink.log"; exit 1; }

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
taskset -c 0 "$BIN/globaldns" --config "$OUT/globaldns.yaml" >"$OUT/server.log" 2>&1 &
SERVER=$!
pids+=("$SERVER")
for _ in $(seq 100); do curl -fs "$API/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

apply() {
    "$BIN/globaldnsctl" apply --server "$API" -f "$OUT/$1" >/dev/null
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
hz=$(getconf CLK_TCK)
# CPU of the server over $1 seconds, in % of one core.
cpu_percent() {
    local c0 c1
    c0=$(cpu_ticks); sleep "$1"; c1=$(cpu_ticks)
    awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$1" 'BEGIN { printf "%.1f", (b - a) * 100 / hz / s }'
}
metric() { { curl -fs "$API/metrics" 2>/dev/null || true; } | awk -v m="$1" '$1 == m {print $2}'; }
downs() { grep -c 'msg="target down"' "$OUT/server.log" || true; }
qps() {
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$OUT/queries.txt" -l "$DURATION" -c 20 -q 100 \
        >"$OUT/dnsperf-$1.log" 2>&1
    awk '/Queries per second:/{print $4}' "$OUT/dnsperf-$1.log"
}

apply plain
say "targets: $ADDRS addresses x $PORTS ports = $((ADDRS * PORTS)) probes at 1 s (when probed)"
idle=$(cpu_percent 10)
say "server CPU idle (NameServices without healthCheck): $idle% of a core"

apply probed
sleep 5   # every probe has started (stagger <= one interval) and has had its first verdicts
up=$(metric 'globaldns_targets{state="up"}')
probes0=$(metric 'globaldns_probes_total{result="success"}')
drift_count0=$(metric globaldns_probe_schedule_drift_seconds_count)
drift_sum0=$(metric globaldns_probe_schedule_drift_seconds_sum)
probing=$(cpu_percent 20)
probes1=$(metric 'globaldns_probes_total{result="success"}')
drift_count1=$(metric globaldns_probe_schedule_drift_seconds_count)
drift_sum1=$(metric globaldns_probe_schedule_drift_seconds_sum)
say "server CPU probing $((ADDRS * PORTS)) targets, no DNS load: $probing% of a core (idle: $idle%)"
say "target-down transitions logged so far: $(downs) (every target listens: any is a probe that could not complete in time)"
[[ -n $up ]] && say "targets up: $up"
if [[ -n $probes0 && -n $probes1 ]]; then
    say "successful probes per second: $(awk -v a="$probes0" -v b="$probes1" 'BEGIN{printf "%.0f", (b - a) / 20}')"
fi
if [[ -n $drift_count0 && -n $drift_count1 ]]; then
    say "probe-schedule drift, mean over the window: $(awk -v c0="$drift_count0" -v c1="$drift_count1" -v s0="$drift_sum0" -v s1="$drift_sum1" \
        'BEGIN{ if (c1 > c0) printf "%.2f ms over %d probe times", (s1 - s0) * 1000 / (c1 - c0), c1 - c0; else print "n/a" }')"
    curl -fs "$API/metrics" | grep '^globaldns_probe_schedule_drift_seconds_bucket' >"$OUT/drift-buckets.txt" || true
    # The bucket at or under which 99 % of all probe times so far fired.
    say "probe-schedule drift p99 (cumulative, bucket bound): $(awk -F'[{}" ]' '
        { for (i = 1; i <= NF; i++) if ($i ~ /^le=/) { le = $(i + 1) }; n[++k] = $NF; b[k] = le }
        END { total = n[k]; for (i = 1; i <= k; i++) if (n[i] >= 0.99 * total) { print b[i] " s"; exit } }' "$OUT/drift-buckets.txt")"
fi

for ((r = 1; r <= ROUNDS; r++)); do
    apply plain; sleep 3
    off=$(qps "off-$r")
    apply probed; sleep 5
    d0=$(downs)
    on=$(qps "on-$r")
    say "  target-down transitions during the loaded run: $(( $(downs) - d0 ))"
    say "round $r: QPS without probing $off, with $((ADDRS * PORTS)) probed targets $on, ratio $(awk -v a="$on" -v b="$off" 'BEGIN{printf "%.3f", a / b}')"
    echo "$off $on" >>"$OUT/qps.txt"
done
say "median ratio (with / without probing): $(awk '{print $2 / $1}' "$OUT/qps.txt" | sort -n | awk '{a[NR] = $1} END {printf "%.3f", a[int((NR + 1) / 2)]}')"
say "results: $OUT"
