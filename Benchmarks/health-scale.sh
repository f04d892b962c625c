#!/usr/bin/env bash
# Issue 5's scale benchmark: 10,000 distinct probed targets at a 1 s interval on this machine.
#
# Reports (Benchmarks/results/health-<timestamp>/summary.txt):
#   - the CPU the server uses to probe them (no DNS load), against the same server idle;
#   - the probe-schedule drift (how late probe times fire), from /metrics when it exposes
#     globaldns_probe_schedule_drift_seconds, else from the checker's own "health probes" summary
#     lines in the log (healthCheck.summarySeconds: 5 here), without and with DNS load;
#   - DNS QPS (dnsperf, UDP) with the 10,000 targets probed vs. the same NameServices without a
#     healthCheck, alternated ROUNDS times, and their ratio (goal: >= 0.90).
#   - CPU split into user and system time (/proc/PID/stat fields 14 and 15), and per thread: the
#     prober thread(s) (health-probe-N) apart from the DNS event loops (NIO-ELT-*).
#
# Set-up, all on loopback: tcp-sink (Benchmarks/tools/tcp-sink.c) listens on ADDRS addresses
# 127.2.0.1.. x PORTS ports 20000.. and accepts/closes every connection, so every probe succeeds.
# 100 NameServices scale-000..099 each have the ADDRS addresses as targets and their own
# healthCheck port (intervalSeconds 1, timeoutSeconds 0.5): ADDRS x PORTS distinct (address, port)
# probes. The server runs with one event loop pinned to CPU 0 (the prober thread shares that CPU
# with the DNS loop, which is the cost being measured); dnsperf and tcp-sink run on CPU 1.
#
# Every apply of the probed NameServices brings 10,000 unknown -> up verdicts, which the reconciler
# answers with re-compiles and status writes for a few seconds; each measurement waits (settle, at
# most 30 s) until that is over, so that it measures probing rather than that one-off reaction.
#
# UNPINNED=1: nothing is pinned and the server runs two DNS event loops (dns.threads: 2), as it
# would on a 2-core host. Pinned, the kernel's work for both ends of every loopback connect (the
# SYN, SYN-ACK, ACK and RST are all processed in the softirq of the sending thread, i.e. ours) is
# charged to CPU 0, a cost a real remote target would not put on this host.
#
# Knobs: ADDRS (100), PORTS (100), DURATION (20 s per dnsperf run), ROUNDS (3), DNS_PORT (5320),
# API_PORT (5321), UNPINNED (0).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
ADDRS=${ADDRS:-100}
PORTS=${PORTS:-100}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-3}
DNS_PORT=${DNS_PORT:-5320}
API_PORT=${API_PORT:-5321}
UNPINNED=${UNPINNED:-0}
if [[ $UNPINNED == 1 ]]; then
    SERVER_CPU=(); CLIENT_CPU=(); DNS_THREADS=2
else
    SERVER_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1); DNS_THREADS=1
fi
FIRST_PORT=20000
OUT="$ROOT/Benchmarks/results/health-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT/probed" "$OUT/plain"
API="http://127.0.0.1:$API_PORT"

say() { echo "health-scale: $*" | tee -a "$OUT/summary.txt" >&2; }
say "$( [[ $UNPINNED == 1 ]] && echo "unpinned, 2 DNS event loops" || echo "pinned: server on CPU 0 (1 DNS event loop), dnsperf and tcp-sink on CPU 1")"
say "load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"

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
  threads: $DNS_THREADS
healthCheck: {summarySeconds: 5}
zones: {directory: $ROOT/zones}
api: {listen: "127.0.0.1:$API_PORT"}
state: {directory: $OUT/state}
log: {level: info}
EOF

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"${CLIENT_CPU[@]}" "$OUT/tcp-sink" 127.2.0.1 "$ADDRS" "$FIRST_PORT" "$PORTS" >"$OUT/sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready' "$OUT/sink.log" && break; sleep 0.1; done
grep -q '^ready' "$OUT/sink.log" || { cat "$OUT/sink.log"; exit 1; }

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"${SERVER_CPU[@]}" "$BIN/globaldns" --config "$OUT/globaldns.yaml" >"$OUT/server.log" 2>&1 &
SERVER=$!
pids+=("$SERVER")
for _ in $(seq 100); do curl -fs "$API/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

apply() {
    "$BIN/globaldnsctl" apply --server "$API" -f "$OUT/$1" >/dev/null
}
hz=$(getconf CLK_TCK)
# "tid name utime stime" for the whole server (tid TOTAL) and for each of its threads (stat fields
# 14 and 15; the thread name is in parentheses and may hold spaces, so fields are counted after the
# last ')').
cpu_sample() {
    local f name tid
    for f in "/proc/$SERVER/stat" /proc/"$SERVER"/task/*/stat; do
        if [[ $f == "/proc/$SERVER/stat" ]]; then
            tid=TOTAL name=TOTAL
        else
            tid=${f%/stat}; tid=${tid##*/}
            name=$(cat "${f%/stat}/comm" 2>/dev/null) || continue  # the thread ended meanwhile
        fi
        name=${name// /_}
        { sed 's/.*) //' "$f" 2>/dev/null || true; } | awk -v t="$tid" -v n="$name" '{print t, n, $12, $13}'
    done
}
# CPU of the server over $1 seconds, in % of one core: "total (user U, system S)", and the same
# per thread group (prober threads, DNS event loops, the rest) into $OUT/cpu-$2.txt.
cpu_percent() {
    cpu_sample >"$OUT/cpu0-$2.txt"; sleep "$1"; cpu_sample >"$OUT/cpu1-$2.txt"
    cpu_delta "$2" "$1"
    awk '$1 == "TOTAL" { printf "%s%% of a core (user %s%%, system %s%%)", $2, $3, $4 }' "$OUT/cpu-$2.txt"
}
# cpu-$1.txt from cpu0-$1.txt and cpu1-$1.txt, $2 seconds apart: "group total% user% system%" for
# TOTAL, the prober threads, the DNS event loops, and the rest of the process. Totals: the process's
# own line (threads that ended in between included; "other" is TOTAL minus the two groups). The
# user/system splits: summed over the threads (the process line's split is the kernel's scaled
# estimate, which can be far off per interval).
cpu_delta() {
    awk -v hz="$hz" -v s="$2" '
        function group(n) { return n ~ /^health-probe/ ? "prober" : n ~ /^NIO-ELT/ ? "dns-loops" : "other" }
        NR == FNR { u0[$1] = $3; s0[$1] = $4; next }
        $1 == "TOTAL" { total = $3 + $4 - u0["TOTAL"] - s0["TOTAL"]; next }
        { g = group($2); u = $3 - ($1 in u0 ? u0[$1] : 0); st = $4 - ($1 in s0 ? s0[$1] : 0)
          du[g] += u; ds[g] += st; du["TOTAL"] += u; ds["TOTAL"] += st; t[g] += u + st }
        END {
            t["TOTAL"] = total; t["other"] = total - t["prober"] - t["dns-loops"]
            for (g in du) printf "%s %.1f %.1f %.1f\n", g, t[g] * 100 / hz / s, du[g] * 100 / hz / s, ds[g] * 100 / hz / s
        }' "$OUT/cpu0-$1.txt" "$OUT/cpu1-$1.txt" | sort >"$OUT/cpu-$1.txt"
}
# After an apply, waits (at most 30 s) until the rest of the server (neither prober threads nor DNS
# loops: the reconciler re-compiling and writing status after 10,000 new verdicts) is below 5 % of
# a core, so that a dnsperf run measures probing, not that one-off reaction; prints the wait.
settle() {
    local i
    for ((i = 1; i <= 30; i++)); do
        cpu_sample >"$OUT/cpu0-settle.txt"; sleep 1; cpu_sample >"$OUT/cpu1-settle.txt"
        cpu_delta settle 1
        awk '$1 == "other" { exit !($2 < 5) }' "$OUT/cpu-settle.txt" && { echo "$i s"; return; }
    done
    echo "30 s (still busy: $(awk '$1 == "other" { print $2 "% of a core" }' "$OUT/cpu-settle.txt"))"
}
cpu_threads() {
    awk '$1 != "TOTAL" { printf "%s%s %s%% (user %s, system %s)", sep, $1, $2, $3, $4; sep = "; " }' "$OUT/cpu-$1.txt"
}
# The checker's "health probes" lines after line $1 of the log: probe times, weighted mean drift,
# the largest per-period p99 bucket bound and the max.
log_lines() { wc -l <"$OUT/server.log"; }
# Returns once the checker has logged its next summary, so that the following ones cover only
# time after this point (each covers the 5 s before it).
next_summary() {
    local n0 i
    n0=$(grep -c 'msg="health probes"' "$OUT/server.log" || true)
    for ((i = 0; i < 100; i++)); do
        (( $(grep -c 'msg="health probes"' "$OUT/server.log" || true) > n0 )) && return
        sleep 0.1
    done
}
drift_from_log() {
    tail -n +"$(($1 + 1))" "$OUT/server.log" | grep 'msg="health probes"' | awk '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          n = v["probes"] + v["skipped"]; count += n; sum += v["drift_mean_ms"] * n; lines++
          if (v["drift_p99_le_ms"] == "inf") p99 = "inf"; else if (p99 != "inf" && v["drift_p99_le_ms"] + 0 > p99 + 0) p99 = v["drift_p99_le_ms"]
          if (v["drift_max_ms"] + 0 > max + 0) max = v["drift_max_ms"]
          probes += v["probes"]; failed += v["probes"] - v["success"]; skipped += v["skipped"]; seconds += v["seconds"] }
        END { if (count == 0) { print "n/a (no health probes lines)"; exit }
              printf "mean %.3f ms, p99 <= %s ms, max %s ms over %d probe times in %d summaries (%.0f probes/s, %d failed, %d skipped)",
                     sum / count, p99, max, count, lines, probes / seconds, failed, skipped }'
}
metric() { { curl -fs "$API/metrics" 2>/dev/null || true; } | awk -v m="$1" '$1 == m {print $2}'; }
downs() { grep -c 'msg="target down"' "$OUT/server.log" || true; }
# Busy and total jiffies of the whole machine (/proc/stat), for "machine busy" over a run.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
machine_busy() {
    awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f%% of %d CPUs", (y[1] - x[1]) * 100 / (y[2] - x[2]), n }'
}
qps() {
    "${CLIENT_CPU[@]}" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$OUT/queries.txt" -l "$DURATION" -c 20 -q 100 \
        >"$OUT/dnsperf-$1.log" 2>&1
    awk '/Queries per second:/{print $4}' "$OUT/dnsperf-$1.log"
}

apply plain
say "targets: $ADDRS addresses x $PORTS ports = $((ADDRS * PORTS)) probes at 1 s (when probed)"
idle=$(cpu_percent 10 idle)
say "server CPU idle (NameServices without healthCheck): $idle"

apply probed
sleep 5   # every probe has started (stagger <= one interval) and has had its first verdicts
say "settled (rest of the server below 5% of a core) after $(settle)"
next_summary
up=$(metric 'globaldns_targets{state="up"}')
probes0=$(metric 'globaldns_probes_total{result="success"}')
drift_count0=$(metric globaldns_probe_schedule_drift_seconds_count)
drift_sum0=$(metric globaldns_probe_schedule_drift_seconds_sum)
log0=$(log_lines)
probing=$(cpu_percent 20 probing)
probes1=$(metric 'globaldns_probes_total{result="success"}')
drift_count1=$(metric globaldns_probe_schedule_drift_seconds_count)
drift_sum1=$(metric globaldns_probe_schedule_drift_seconds_sum)
say "server CPU probing $((ADDRS * PORTS)) targets, no DNS load: $probing (idle: $idle)"
say "  by thread: $(cpu_threads probing)"
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
else
    say "probe-schedule drift, no DNS load (health probes log lines): $(drift_from_log "$log0")"
fi

for ((r = 1; r <= ROUNDS; r++)); do
    apply plain; sleep 3
    say "  settled (rest of the server below 5% of a core) after $(settle)"
    cpu_sample >"$OUT/cpu0-off-$r.txt"; m0=$(machine_ticks)
    off=$(qps "off-$r")
    cpu_sample >"$OUT/cpu1-off-$r.txt"; m1=$(machine_ticks)
    cpu_delta "off-$r" "$DURATION"
    say "  server CPU during the run without probing: $(awk '$1 == "TOTAL" { printf "%s%% (user %s, system %s)", $2, $3, $4 }' "$OUT/cpu-off-$r.txt"); $(cpu_threads "off-$r"); machine busy $(machine_busy "$m0" "$m1")"
    apply probed; sleep 5
    say "  settled (rest of the server below 5% of a core) after $(settle)"
    next_summary
    d0=$(downs)
    l0=$(log_lines)
    cpu_sample >"$OUT/cpu0-on-$r.txt"; m0=$(machine_ticks)
    on=$(qps "on-$r")
    cpu_sample >"$OUT/cpu1-on-$r.txt"; m1=$(machine_ticks)
    say "  target-down transitions during the loaded run: $(( $(downs) - d0 ))"
    say "  probe-schedule drift during the loaded run: $(drift_from_log "$l0")"
    cpu_delta "on-$r" "$DURATION"
    say "  server CPU during the loaded run: $(awk '$1 == "TOTAL" { printf "%s%% (user %s, system %s)", $2, $3, $4 }' "$OUT/cpu-on-$r.txt"); $(cpu_threads "on-$r"); machine busy $(machine_busy "$m0" "$m1")"
    say "round $r: QPS without probing $off, with $((ADDRS * PORTS)) probed targets $on, ratio $(awk -v a="$on" -v b="$off" 'BEGIN{printf "%.3f", a / b}')"
    echo "$off $on" >>"$OUT/qps.txt"
done
say "median ratio (with / without probing): $(awk '{print $2 / $1}' "$OUT/qps.txt" | sort -n | awk '{a[NR] = $1} END {printf "%.3f", a[int((NR + 1) / 2)]}')"
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
say "results: $OUT"
