#!/usr/bin/env bash
# Benchmarks/globaldns-gslb.sh - globaldns as a peers.sh --extra-cmd server with global names.
#
# Usage (run.sh builds this command line):
#   globaldns-gslb.sh --bin DIR --port P --api-port A --zones DIR --nameservices DIR [--threads N]
#                     [--metrics on|off]
#
# 1. writes a configuration file: DNS on 127.0.0.1:P, the NameService API on 127.0.0.1:A, the zone
#    directory, a fresh state directory, and the localities table of the shared bench's www-geo
#    (127.0.0.0/8 -> loopback, 10.0.0.0/8 -> ten, defaultLocality: other), and with --metrics off
#    `metrics: {enabled: false}` (no per-query counting, /metrics 404). A binary that does not
#    know the `localities` / `defaultLocality` keys yet is detected with `globaldns --check` and
#    started without them (a warning says so; www-geo then answers every target);
# 2. in a background subshell: waits for the API, applies every manifest of --nameservices with
#    globaldnsctl, then waits until each www-* name answers and logs the answers;
# 3. execs the server, so the PID peers.sh started (and stops) is the server's own.
#
# peers.sh exports RUN_DIR (this server's scratch directory; its *.log files are kept with the
# results) and starts this script with its output in RUN_DIR/globaldns.log. peers.sh's answer
# checks poll www-rr until it answers, and the manifests apply in name order with www-rr last, so
# every name is in place before the checks reach it. Only 127.0.0.1 is used.
set -euo pipefail

BIN="" PORT="" API_PORT="" ZONES="" NS_DIR="" THREADS="" METRICS="on"
while (($#)); do
    case "$1" in
    --bin) BIN="$2"; shift ;;
    --port) PORT="$2"; shift ;;
    --api-port) API_PORT="$2"; shift ;;
    --zones) ZONES="$2"; shift ;;
    --nameservices) NS_DIR="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --metrics) METRICS="$2"; shift ;;
    *) echo "globaldns-gslb.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -n $BIN && -n $PORT && -n $API_PORT && -n $ZONES && -n $NS_DIR ]] ||
    { echo "globaldns-gslb.sh: --bin, --port, --api-port, --zones and --nameservices are required" >&2; exit 2; }
SCRATCH="${RUN_DIR:-$(mktemp -d /tmp/globaldns-gslb.XXXXXX)}"
mkdir -p "$SCRATCH/state"
CONFIG="$SCRATCH/globaldns.yaml"
say() { printf 'globaldns-gslb.sh: %s\n' "$*"; }

write_config() {  # write_config WITH_LOCALITIES(0|1)
    {
        echo "dns:"
        echo "  listen: [127.0.0.1:$PORT]"
        echo "  drainTimeoutSeconds: 1"
        [[ -n $THREADS ]] && echo "  threads: $THREADS"
        echo "zones: {directory: $ZONES}"
        echo "api: {listen: 127.0.0.1:$API_PORT}"
        echo "state: {directory: $SCRATCH/state}"
        echo "log: {level: info}"
        [[ $METRICS == off ]] && echo "metrics: {enabled: false}"
        if (($1)); then
            echo "localities:"
            echo "  - {cidr: 127.0.0.0/8, locality: loopback}"
            echo "  - {cidr: 10.0.0.0/8, locality: ten}"
            echo "defaultLocality: other"
        fi
    } >"$CONFIG"
}

write_config 1
if ! check="$("$BIN/globaldns" --config "$CONFIG" --check 2>&1)"; then
    if grep -q 'localities: unknown key\|defaultLocality: unknown key' <<<"$check"; then
        say "WARNING: this globaldns does not know the localities/defaultLocality keys ($check);"
        say "WARNING: starting without a localities table: www-geo answers every target"
        write_config 0
        "$BIN/globaldns" --config "$CONFIG" --check >/dev/null 2>&1 ||
            { say "configuration check failed: $("$BIN/globaldns" --config "$CONFIG" --check 2>&1)"; exit 2; }
    else
        say "configuration check failed: $check"
        exit 2
    fi
fi
say "configuration $CONFIG:"
sed 's/^/    /' "$CONFIG"

SERVER_PID=$$  # after exec below, this is the server
(
    api="http://127.0.0.1:$API_PORT"
    for ((i = 0; i < 150; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || exit 0
        curl -fsS -o /dev/null --max-time 1 "$api/readyz" 2>/dev/null && break
        sleep 0.2
    done
    if ! "$BIN/globaldnsctl" apply --server "$api" -f "$NS_DIR" 2>&1 | sed 's/^/globaldns-gslb.sh: apply: /'; then
        say "ERROR: globaldnsctl apply failed"
        exit 1
    fi
    for name in www-dead www-geo www-ratio www-rr; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$SERVER_PID" 2>/dev/null || exit 0
            a="$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$name.gslb.example." A 2>/dev/null | tr '\n' ' ' || true)"
            [[ -n $a ]] && break
            sleep 0.1
        done
        [[ -n $a ]] || say "ERROR: $name.gslb.example. does not answer"
    done
    g0="$(dig +short @127.0.0.1 -p "$PORT" +time=1 +tries=1 www-geo.gslb.example. A | tr '\n' ' ' || true)"
    g10="$(dig +short @127.0.0.1 -p "$PORT" +time=1 +tries=1 www-geo.gslb.example. A +subnet=10.1.2.0/24 | tr '\n' ' ' || true)"
    g192="$(dig +short @127.0.0.1 -p "$PORT" +time=1 +tries=1 www-geo.gslb.example. A +subnet=192.0.2.0/24 | tr '\n' ' ' || true)"
    say "ready: www-geo src=[${g0% }] ecs10=[${g10% }] ecs192=[${g192% }] (expected .21 / .22 / .23)"
) &

exec "$BIN/globaldns" --config "$CONFIG"
