#!/usr/bin/env bash
# Benchmarks/run.sh - GlobalDNS against Knot DNS (and optionally PowerDNS, gdnsd) on loopback.
#
# Builds the release globaldns, gives it a zone directory holding the shared bench zone
# (../shared/bench/zone/gslb.example.static.zone, renamed gslb.example.zone), and runs
# ../shared/bench/peers.sh with globaldns as an --extra-cmd server. Prints peers.sh's table and
# then globaldns' xKnot/core ratios. See Benchmarks/README.md.
#
# Environment:
#   QUICK=1          2 rounds of 5 s, no retries of noisy runs, at most 10 s waiting for a quiet
#                    machine (default: 3 rounds of 15 s with peers.sh's noise control)
#   PEERS=LIST       peers started by peers.sh (default knot; e.g. knot,pdns,gdnsd)
#   MIXES=LIST       query mixes (default static; later static,gslb)
#   TCP=LIST         servers that also get a TCP run (default knot,globaldns; 'none' to skip)
#   GLOBALDNS=0      leave globaldns out (Knot alone: checks the harness on this machine)
#   GLOBALDNS_PORT   its port (default 5310); peers use 5300.. (peers.sh --port-base)
#   ROUNDS, DURATION override QUICK's / the defaults
# Any arguments are passed on to peers.sh (e.g. --noise-max 40).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$(cd "$REPO/../shared/bench" 2>/dev/null && pwd)" ||
    { echo "run.sh: ../shared/bench not found next to the repository ($REPO)" >&2; exit 1; }
PEERS_SH="$BENCH/peers.sh"
[[ -x $PEERS_SH ]] || { echo "run.sh: $PEERS_SH is missing or not executable" >&2; exit 1; }

PEERS="${PEERS:-knot}"
MIXES="${MIXES:-static}"
TCP="${TCP:-knot,globaldns}"
GLOBALDNS="${GLOBALDNS:-1}"
PORT="${GLOBALDNS_PORT:-5310}"
if [[ ${QUICK:-0} == 1 ]]; then
    ROUNDS="${ROUNDS:-2}"; DURATION="${DURATION:-5}"
else
    ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-15}"
fi

OUT="$REPO/Benchmarks/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
ZONES="$(mktemp -d /tmp/globaldns-bench-zones.XXXXXX)"
trap 'rm -rf "$ZONES"' EXIT
cp "$BENCH/zone/gslb.example.static.zone" "$ZONES/gslb.example.zone"

args=(--only "$PEERS" --mixes "$MIXES" --tcp "$TCP" --rounds "$ROUNDS" --duration "$DURATION" --out "$OUT")
# a smoke run should not sit out a busy machine (later arguments to peers.sh win)
[[ ${QUICK:-0} == 1 ]] && args+=(--retries 0 --quiet-wait 10)
if [[ $GLOBALDNS == 1 ]]; then
    echo "run.sh: swift build -c release --product globaldns" >&2
    (cd "$REPO" && swift build -c release --product globaldns) >&2
    BIN="$(cd "$REPO" && swift build -c release --show-bin-path)/globaldns"
    [[ -x $BIN ]] || { echo "run.sh: $BIN was not built" >&2; exit 1; }
    args+=(--extra-cmd "globaldns:$PORT:$BIN --zones $ZONES --dns-listen 127.0.0.1:$PORT")
fi

echo "run.sh: $PEERS_SH ${args[*]} $*" >&2
"$PEERS_SH" "${args[@]}" "$@"

# The headline: globaldns' QPS per fully used core relative to Knot's in the same round.
if [[ $GLOBALDNS == 1 && -s $OUT/summary.txt ]]; then
    echo
    echo "globaldns xKnot/core (1.00 = as fast as Knot per CPU core):"
    awk '$1 == "globaldns" { printf "  %-6s %-3s %s\n", $2, $3, $NF }' "$OUT/summary.txt"
fi
echo "results: $OUT"
