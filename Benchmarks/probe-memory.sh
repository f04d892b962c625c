#!/usr/bin/env bash
# Issue 12: memory per probed address. NAMES NameServices x ADDRS addresses each (distinct
# loopback addresses 127.x.y.z, NAMES*ADDRS probes) are applied first without a healthCheck, then
# with one (a closed port: every probe is answered by an RST, "connection refused", so every
# address goes down and every status carries its error). The server's RSS (VmRSS) is read after
# each step settles; (RSS probed - RSS unprobed) / probes is the cost of probing one address, all
# of it: prober, checker, reconciler, statuses, store.
#
#   BIN=.build/release/globaldns NAMES=40 ADDRS=250 Benchmarks/probe-memory.sh
#
# Knobs: BIN (.build/release/globaldns), CTL (globaldnsctl next to BIN), NAMES (40), ADDRS (250),
# SETTLE (40 s after the probed apply), DNS_PORT (5330), API_PORT (5331), MAX_PROBED (unset: the
# server's default healthCheck.maxProbedAddresses).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/.build/release/globaldns}
CTL=${CTL:-$(dirname "$BIN")/globaldnsctl}
NAMES=${NAMES:-40}
ADDRS=${ADDRS:-250}
SETTLE=${SETTLE:-40}
DNS_PORT=${DNS_PORT:-5330}
API_PORT=${API_PORT:-5331}
OUT=$(mktemp -d /tmp/probe-memory.XXXXXX)
API="http://127.0.0.1:$API_PORT"
CLOSED_PORT=9  # discard: nothing listens on loopback, connects are refused

for kind in plain probed; do mkdir -p "$OUT/$kind"; done
for ((i = 0; i < NAMES; i++)); do
    name=$(printf 'mem-%03d' "$i")
    for kind in plain probed; do
        {
            echo "apiVersion: globaldns.io/v1alpha1"
            echo "kind: NameService"
            echo "metadata: {name: $name}"
            echo "spec:"
            echo "  fqdn: $name.g.example.com"
            echo "  maxAnswers: 4"
            [[ $kind == probed ]] && echo "  healthCheck: {port: $CLOSED_PORT, intervalSeconds: 4, timeoutSeconds: 3, failureThreshold: 3}"
            echo "  targets:"
            for ((a = 0; a < ADDRS; a++)); do
                echo "  - {name: t$a, addresses: [127.$((10 + i / 256)).$((i % 256)).$((a + 1))]}"
            done
        } >"$OUT/$kind/$name.yaml"
    done
done
{
    echo "dns: {listen: [\"127.0.0.1:$DNS_PORT\"], threads: 1}"
    echo "healthCheck: {summarySeconds: 5${MAX_PROBED:+, maxProbedAddresses: $MAX_PROBED}}"
    echo "zones: {directory: $ROOT/zones}"
    echo "api: {listen: \"127.0.0.1:$API_PORT\"}"
    echo "state: {directory: $OUT/state}"
    echo "log: {level: info}"
} >"$OUT/globaldns.yaml"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$BIN" --config "$OUT/globaldns.yaml" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -fs "$API/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$SERVER/status"; }
hwm() { awk '/^VmHWM/ {print $2 * 1024}' "/proc/$SERVER/status"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
sleep 2
r0=$(rss)
"$CTL" apply --server "$API" -f "$OUT/plain" >/dev/null
sleep 10
r1=$(rss)
start=$(date +%s)
"$CTL" apply --server "$API" -f "$OUT/probed" >/dev/null
sleep "$SETTLE"
r2=$(rss)
h2=$(hwm)
probes=$((NAMES * ADDRS))
echo "probe-memory: $NAMES NameServices x $ADDRS addresses = $probes probes ($(basename "$BIN") at $BIN)"
echo "  RSS idle $(mb "$r0"); unprobed $(mb "$r1"); probed, ${SETTLE}s after apply $(mb "$r2") (peak $(mb "$h2"))"
echo "  per probe: $(( (r2 - r1) / probes )) bytes now, $(( (h2 - r1) / probes )) bytes at the peak"
grep '"health probes"\|msg=health.probes\|health probes' "$OUT/server.log" | tail -1 | cut -c1-400 || true
grep -c 'level=warning\|"warning"' "$OUT/server.log" | sed 's/^/  warnings logged: /' || true
echo "  out: $OUT"
