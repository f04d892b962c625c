#!/usr/bin/env bash
# Benchmarks/run.sh - GlobalDNS against Knot DNS (and optionally PowerDNS, gdnsd) on loopback.
#
# Builds the release globaldns and runs ../shared/bench/peers.sh with globaldns as an --extra-cmd
# server. Prints peers.sh's table, then globaldns' ratios. See Benchmarks/README.md.
#
# Two ways globaldns joins:
#  - static (MIXES=static, the default): it serves the shared zone
#    ../shared/bench/zone/gslb.example.static.zone (renamed gslb.example.zone), GSLB names as
#    static records, exactly like Knot;
#  - GSLB (any mix besides static, or GSLB=1): it serves that zone without the www-* names and
#    answers www-rr / www-ratio / www-geo / www-dead from the NameServices in
#    Benchmarks/nameservices/, applied over its HTTP API by Benchmarks/globaldns-gslb.sh, with the
#    localities table of the shared bench in its configuration file.
#
# Policy mixes (query files written at run time): gslb-rr, gslb-ratio, gslb-geo, gslb-dead (and
# gslb-dist: www-dist, Locality with distribute rules, issue 15) ask
# that one name (www-rr.gslb.example. A ...); a mix ending in -ecs (gslb-geo-ecs) is sent with an
# EDNS Client Subnet option on every query (dnsperf -E $ECS, default 10.1.2.0/24). peers.sh only
# reads mixes from its own queries/ folder and never passes -E, and /work/shared is not ours to
# change, so for such mixes run.sh copies peers.sh, zone/ and queries/ into a temporary folder,
# adds the query files there, and patches the copy's dnsperf command with one sed substitution
# (the diff is saved as peers.sh.diff with the results).
#
# Environment:
#   QUICK=1          2 rounds of 5 s, no retries of noisy runs, at most 10 s waiting for a quiet
#                    machine (default: 3 rounds of 15 s with peers.sh's noise control)
#   PEERS=LIST       peers started by peers.sh (default knot; e.g. knot,pdns,gdnsd)
#   MIXES=LIST       query mixes (default static; e.g. static,gslb-rr,gslb-ratio,gslb-geo-ecs)
#   GSLB=1           shorthand for MIXES=static,gslb-rr,gslb-ratio,gslb-geo-ecs (unless MIXES is set)
#   TCP=LIST         servers that also get a TCP run (default knot,globaldns; 'none' to skip)
#   GLOBALDNS=0      leave globaldns out (the peers alone: checks the harness on this machine)
#   GLOBALDNS_PORT   its DNS port (default 5310); peers use 5300.. (peers.sh --port-base)
#   GLOBALDNS_API_PORT  its API port in GSLB mode (default DNS port + 1)
#   GLOBALDNS_THREADS   dns.threads for globaldns (default: the server's default, one per core)
#   NAMESERVICES=0|1 force static / GSLB mode for globaldns (default: GSLB when a mix is not static)
#   METRICS=on|off|both  globaldns with metrics.enabled true (default) or false; `both` runs a second
#                    server, globaldns-nometrics (metrics off, DNS port + 2, API port + 2), in the same
#                    rounds (and TCP runs) and prints QPS/core with metrics on / off per mix
#   ECS=CODE:HEX     the EDNS option of -ecs mixes (default 8:000118000a0102 = ECS family 1,
#                    source /24, scope 0, address 10.1.2)
#   ROUNDS, DURATION override QUICK's / the defaults
# Any arguments are passed on to peers.sh (e.g. --noise-max 40).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$(cd "$REPO/../shared/bench" 2>/dev/null && pwd)" ||
    { echo "run.sh: ../shared/bench not found next to the repository ($REPO)" >&2; exit 1; }
[[ -x $BENCH/peers.sh ]] || { echo "run.sh: $BENCH/peers.sh is missing or not executable" >&2; exit 1; }

PEERS="${PEERS:-knot}"
if [[ ${GSLB:-0} == 1 ]]; then
    MIXES="${MIXES:-static,gslb-rr,gslb-ratio,gslb-geo-ecs}"
else
    MIXES="${MIXES:-static}"
fi
TCP="${TCP:-knot,globaldns}"
METRICS="${METRICS:-on}"
[[ $METRICS =~ ^(on|off|both)$ ]] || { echo "run.sh: METRICS must be on, off or both, not '$METRICS'" >&2; exit 2; }
# with METRICS=both the server without metrics gets the same TCP runs as the one with
[[ $METRICS == both && ,$TCP, == *,globaldns,* ]] && TCP+=",globaldns-nometrics"
GLOBALDNS="${GLOBALDNS:-1}"
PORT="${GLOBALDNS_PORT:-5310}"
API_PORT="${GLOBALDNS_API_PORT:-$((PORT + 1))}"
ECS="${ECS:-8:000118000a0102}"
if [[ -z ${NAMESERVICES:-} ]]; then
    NAMESERVICES=0
    for m in ${MIXES//,/ }; do [[ $m == static ]] || NAMESERVICES=1; done
fi
if [[ ${QUICK:-0} == 1 ]]; then
    ROUNDS="${ROUNDS:-2}"; DURATION="${DURATION:-5}"
else
    ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-15}"
fi

OUT="$REPO/Benchmarks/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/globaldns-bench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

# --- the bench folder: the shared one, or a patched copy when a mix needs it ---
PEERS_DIR="$BENCH"
need_copy=0
for m in ${MIXES//,/ }; do
    [[ -s $BENCH/queries/$m.txt && $m != *-ecs ]] || need_copy=1
done
if ((need_copy)); then
    PEERS_DIR="$TMP/bench"
    mkdir -p "$PEERS_DIR"
    cp -r "$BENCH/peers.sh" "$BENCH/zone" "$BENCH/queries" "$PEERS_DIR/"
    chmod -R u+w "$PEERS_DIR"
    for m in ${MIXES//,/ }; do
        [[ -s $PEERS_DIR/queries/$m.txt ]] && continue
        # gslb-NAME[-ecs] -> www-NAME.gslb.example. A, 100 lines (dnsperf cycles through the file)
        [[ $m =~ ^gslb-(rr|ratio|geo|dead|dist)(-ecs)?$ ]] ||
            { echo "run.sh: unknown mix '$m' (not in $BENCH/queries, not gslb-{rr,ratio,geo,dead,dist}[-ecs])" >&2; exit 2; }
        for ((i = 0; i < 100; i++)); do echo "www-${BASH_REMATCH[1]}.gslb.example. A"; done >"$PEERS_DIR/queries/$m.txt"
    done
    # The one change to the copied peers.sh: mixes named *-ecs get `-E $BENCH_ECS` (an EDNS option
    # on every query; -E also turns EDNS on). Everything else is the shared script as it is.
    sed -i 's|dnsperf -s 127.0.0.1 -p "\$port"|dnsperf $([[ $mix == *-ecs ]] \&\& echo "-E $BENCH_ECS") -s 127.0.0.1 -p "$port"|' \
        "$PEERS_DIR/peers.sh"
    [[ $(diff "$BENCH/peers.sh" "$PEERS_DIR/peers.sh" | grep -c '^>') == 1 ]] ||
        { echo "run.sh: the -ecs patch of peers.sh did not apply as exactly one changed line; has peers.sh changed?" >&2; exit 1; }
    diff -u "$BENCH/peers.sh" "$PEERS_DIR/peers.sh" >"$OUT/peers.sh.diff" || true
    export BENCH_ECS="$ECS"
    echo "run.sh: using a copy of $BENCH in $PEERS_DIR (added queries/{$(ls "$PEERS_DIR/queries" | sed 's/\.txt$//' | tr '\n' ',' | sed 's/,$//')}; -E $ECS for *-ecs mixes; see $OUT/peers.sh.diff)" >&2
fi

# --- globaldns ---
ZONES="$TMP/zones"
mkdir -p "$ZONES"
args=(--only "$PEERS" --mixes "$MIXES" --tcp "$TCP" --rounds "$ROUNDS" --duration "$DURATION" --out "$OUT")
# a smoke run should not sit out a busy machine (later arguments to peers.sh win)
[[ ${QUICK:-0} == 1 ]] && args+=(--retries 0 --quiet-wait 10)
if [[ $GLOBALDNS == 1 ]]; then
    products=(globaldns)
    ((NAMESERVICES)) && products+=(globaldnsctl)
    for p in "${products[@]}"; do
        echo "run.sh: swift build -c release --product $p" >&2
        (cd "$REPO" && swift build -c release --product "$p") >&2
    done
    BINDIR="$(cd "$REPO" && swift build -c release --show-bin-path)"
    for p in "${products[@]}"; do [[ -x $BINDIR/$p ]] || { echo "run.sh: $BINDIR/$p was not built" >&2; exit 1; }; done
    if ((NAMESERVICES)); then
        # the www-* names come from the NameServices; static records of the same names would clash
        grep -v '^www-' "$PEERS_DIR/zone/gslb.example.static.zone" >"$ZONES/gslb.example.zone"
    else
        cp "$PEERS_DIR/zone/gslb.example.static.zone" "$ZONES/gslb.example.zone"
    fi
    # The command of one globaldns server: DNS port, API port, metrics on|off. Its state directory
    # is its run directory in the results (RUN_DIR, set by peers.sh for each extra server).
    globaldns_cmd() {
        local port="$1" api="$2" metrics="$3" cmd
        if ((NAMESERVICES)); then
            cmd="$REPO/Benchmarks/globaldns-gslb.sh --bin $BINDIR --port $port --api-port $api --zones $ZONES"
            cmd+=" --nameservices $REPO/Benchmarks/nameservices --metrics $metrics${GLOBALDNS_THREADS:+ --threads $GLOBALDNS_THREADS}"
        else
            cmd="$BINDIR/globaldns --zones $ZONES --dns-listen 127.0.0.1:$port --api-listen 127.0.0.1:$api"
            cmd+=" --state \$RUN_DIR/state${GLOBALDNS_THREADS:+ --threads $GLOBALDNS_THREADS}"
            [[ $metrics == off ]] && cmd+=" --config $TMP/metrics-off.yaml"
        fi
        echo "$cmd"
    }
    printf '# metrics off, for the benchmark of what counting costs\nmetrics: {enabled: false}\n' >"$TMP/metrics-off.yaml"
    if [[ $METRICS == both ]]; then
        args+=(--extra-cmd "globaldns:$PORT:$(globaldns_cmd "$PORT" "$API_PORT" on)")
        args+=(--extra-cmd "globaldns-nometrics:$((PORT + 2)):$(globaldns_cmd $((PORT + 2)) $((API_PORT + 2)) off)")
    else
        args+=(--extra-cmd "globaldns:$PORT:$(globaldns_cmd "$PORT" "$API_PORT" "$METRICS")")
    fi
fi

echo "run.sh: $PEERS_DIR/peers.sh ${args[*]} $*" >&2
rc=0
"$PEERS_DIR/peers.sh" "${args[@]}" "$@" || rc=$?
if ((need_copy)) && [[ -s $OUT/command.txt ]]; then
    echo "# mixes named *-ecs: dnsperf -E $ECS (EDNS Client Subnet on every query; patched copy of peers.sh, see peers.sh.diff)" >>"$OUT/command.txt"
fi
if [[ -s $OUT/run/globaldns/globaldns.log ]]; then
    grep '^globaldns-gslb.sh' "$OUT/run/globaldns/globaldns.log" | sed 's/^/  /' >&2 || true
fi

if [[ $GLOBALDNS == 1 && -s $OUT/summary.txt ]]; then
    # The headline: globaldns' QPS per fully used core relative to Knot's static mix and to the
    # same mix on Knot and PowerDNS, each ratio taken within a round, then the median over rounds.
    python3 - "$OUT" "$NAMESERVICES" <<'PY' | tee "$OUT/globaldns-ratios.txt"
import csv, os, re, statistics as st, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, 'runs.csv'))))
def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None
by = {(r['round'], r['server'], r['mix'], r['proto']): num(r['qps_core']) for r in rows}
mixes = []
for r in rows:
    if r['server'] == 'globaldns' and r['proto'] == 'udp' and r['mix'] not in mixes: mixes.append(r['mix'])
policy = {'static': 'static records', 'gslb': 'rr+ratio+geo', 'gslb-rr': 'RoundRobin', 'gslb-ratio': 'Ratio',
          'gslb-geo': 'Locality (src)', 'gslb-geo-ecs': 'Locality (ECS)',
          'gslb-dist': 'Loc+distribute', 'gslb-dist-ecs': 'Loc+distrib (ECS)', 'gslb-dead': 'RoundRobin (dead)'}
def ratio(mix, other, other_mix):
    vals = []
    for rnd in sorted({r['round'] for r in rows}):
        a, b = by.get((rnd, 'globaldns', mix, 'udp')), by.get((rnd, other, other_mix, 'udp'))
        if a is not None and b: vals.append(a / b)
    return st.median(vals) if vals else None
def medq(server, mix):
    v = [by[k] for k in by if k[1] == server and k[2] == mix and k[3] == 'udp' and by[k] is not None]
    return st.median(v) if v else None
fmt = lambda x, f: f.format(x) if x is not None else 'n/a'
print('\nglobaldns per policy, UDP, QPS per fully used core (medians over rounds; ratios taken within a round):')
hdr = f"  {'mix':13} {'policy':17} {'QPS/core':>9} {'xKnot-static':>12} {'xKnot-mix':>9} {'PowerDNS QPS/core':>17} {'xPowerDNS':>9}  goal>=0.8xKnot-static"
print(hdr); print('  ' + '-' * (len(hdr) - 2))
for m in mixes:
    ks = ratio(m, 'knot', 'static')
    print(f"  {m:13} {policy.get(m, m):17} {fmt(medq('globaldns', m), '{:.0f}'):>9} {fmt(ks, '{:.2f}'):>12} "
          f"{fmt(ratio(m, 'knot', m), '{:.2f}'):>9} {fmt(medq('pdns', m), '{:.0f}'):>17} {fmt(ratio(m, 'pdns', m), '{:.2f}'):>9}  "
          f"{'' if ks is None else ('met' if ks >= 0.8 else 'NOT MET')}")
tcp = [r for r in rows if r['server'] == 'globaldns' and r['proto'] == 'tcp']
if tcp:
    v = [x for x in (num(r['qps_core']) for r in tcp) if x is not None]
    print(f"  (TCP, static mix: QPS/core {fmt(st.median(v) if v else None, '{:.0f}')}; xKnot/core in peers.sh's table above)")
# Answer checks of globaldns (peers.sh's verification line) against the shared bench's expectations.
ver = open(os.path.join(out, 'verify.txt')).read() if os.path.exists(os.path.join(out, 'verify.txt')) else ''
line = next((l for l in ver.splitlines() if l.startswith('globaldns ')), '')
probs = []
if line and sys.argv[2] != '1':
    # static mode: the GSLB names are static records, as on Knot; peers.sh checked host0/host999
    print('\nglobaldns answered the GSLB names from static records (no NameServices):\n  ' + line)
elif line:
    m = re.search(r'www-geo src=(.*?) ecs10=(.*?) ecs192=(.*?)  www-dead', line)
    if 'www-geo src=127.0.0.21 ecs10=127.0.0.22 ecs192=127.0.0.23 ' not in line + ' ':
        probs.append('www-geo: expected src=127.0.0.21 ecs10=127.0.0.22 ecs192=127.0.0.23, got ' +
                     (f'src=[{m.group(1)}] ecs10=[{m.group(2)}] ecs192=[{m.group(3)}]' if m else '?'))
    if 'www-rr seen {127.0.0.11 127.0.0.12}' not in line: probs.append('www-rr: expected {127.0.0.11 127.0.0.12}')
    m = re.search(r'www-ratio \.11:\.12:other=(\d+):(\d+):(\d+)', line)
    if not m or int(m.group(3)) or int(m.group(1)) < 180: probs.append('www-ratio: expected about 198:2:0 of 200')
    print('\nglobaldns answers: ' + ('as expected (www-rr {.11 .12}, www-ratio ~99:1, www-geo .21/.22/.23 by source/ECS)'
                                     if not probs else 'WRONG: ' + '; '.join(probs)))
    print('  ' + line)
# METRICS=both: what per-query counting costs, each ratio taken within a round (the two servers
# run one after the other on the same CPU), then the median over rounds.
if any(r['server'] == 'globaldns-nometrics' for r in rows):
    print('\nglobaldns with metrics on / off (metrics.enabled), QPS per fully used core, medians over rounds:')
    print(f"  {'mix':13} {'proto':5} {'on QPS/core':>11} {'off QPS/core':>12} {'on/off':>7} {'per round':>24}")
    for (mix, proto) in sorted({(r['mix'], r['proto']) for r in rows if r['server'] == 'globaldns-nometrics'}):
        per = []
        for rnd in sorted({r['round'] for r in rows}):
            a, b = by.get((rnd, 'globaldns', mix, proto)), by.get((rnd, 'globaldns-nometrics', mix, proto))
            if a is not None and b: per.append(a / b)
        on = [by[k] for k in by if k[1:] == ('globaldns', mix, proto) and by[k] is not None]
        off = [by[k] for k in by if k[1:] == ('globaldns-nometrics', mix, proto) and by[k] is not None]
        print(f"  {mix:13} {proto:5} {fmt(st.median(on) if on else None, '{:.0f}'):>11} {fmt(st.median(off) if off else None, '{:.0f}'):>12} "
              f"{fmt(st.median(per) if per else None, '{:.3f}'):>7} {' '.join(f'{x:.3f}' for x in per):>24}")
# dnsperf response codes of globaldns' runs, if anything but NOERROR
for f in sorted(os.listdir(os.path.join(out, 'dnsperf'))):
    if '-globaldns-' in f and f.endswith('.log'):
        rc = re.search(r'Response codes:\s*(.*)', open(os.path.join(out, 'dnsperf', f)).read())
        if rc and not re.fullmatch(r'NOERROR \d+ \(100\.00%\)', rc.group(1).strip()):
            print(f'  {f}: response codes {rc.group(1).strip()}')
PY
fi
echo "results: $OUT"
exit $rc
