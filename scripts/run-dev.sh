#!/usr/bin/env bash
# scripts/run-dev.sh - what `make run` runs: the release server on $CONFIG (default
# config/globaldns.yaml), with the example NameServices of config/nameservices/ applied as soon as
# the server is ready, so the first `dig @127.0.0.1 -p 8053 checkout.g.example.com` already answers.
# Works as any user: nothing listens on a privileged port.
#
# - The API and DNS addresses are the configuration's (api.listen, dns.listen); globaldnsctl is
#   pointed at api.listen (an inherited GLOBALDNS_SERVER is ignored: the examples must never be
#   applied to another server).
# - Before anything starts, each port is checked (ss); a port something else holds is reported
#   with the ss lines of that port, and the script exits 1 having started nothing.
# - Whatever it started is stopped on every exit path (Ctrl-C, SIGTERM, an error, the server
#   exiting): SIGTERM, then SIGKILL after STOP_TIMEOUT seconds. A server that exits or is not ready
#   within RUN_READY_TIMEOUT seconds is reported with the end of its log; the exit code is then
#   non-zero.
# - It runs the binaries in GLOBALDNS_BIN_DIR (.build/release, built by `make release`); it never
#   builds.
#
# Environment: CONFIG, GLOBALDNS_BIN_DIR (.build/release), RUN_READY_TIMEOUT (30), RUN_LOG
# (.build/run-dev.log: the server's log, also shown on the terminal), RUN_EXAMPLES
# (config/nameservices/; empty: apply nothing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CONFIG="${CONFIG:-config/globaldns.yaml}"
BIN="${GLOBALDNS_BIN_DIR:-.build/release}"
READY_TIMEOUT="${RUN_READY_TIMEOUT:-30}"
STOP_TIMEOUT=10
LOG="${RUN_LOG:-.build/run-dev.log}"
EXAMPLES="${RUN_EXAMPLES-config/nameservices/}"

say() { echo "run-dev: $*" >&2; }
die() { say "$*"; exit 1; }

[ -f "$CONFIG" ] || die "no configuration file at $CONFIG"
for b in globaldns globaldnsctl; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: build it with 'make release' (or run 'make run')"
done

# The values of SECTION.KEY in the YAML file $3: a scalar, a flow list ([a, "b"]) or a block list
# (- a), one per line, quotes and comments removed. Enough for the two keys read here, not YAML.
yaml_values() {
    awk -v section="$1" -v key="$2" '
        function unquote(s) {
            gsub(/^[ \t]+|[ \t]+$/, "", s)
            if (s ~ /^".*"$/ || s ~ /^\047.*\047$/) s = substr(s, 2, length(s) - 2)
            return s
        }
        {
            line = $0
            sub(/\r$/, "", line)
            if (line ~ /^[ \t]*#/ || line ~ /^[ \t]*$/) next
            sub(/[ \t]+#.*$/, "", line)
            match(line, /^ */); indent = RLENGTH
            if (indent == 0) { inSection = (line ~ "^" section ":"); child = -1; inList = 0; next }
            if (!inSection) next
            if (child < 0) child = indent
            if (inList) {
                if (indent >= keyIndent && line ~ /^ *- /) { v = line; sub(/^ *- */, "", v); print unquote(v); next }
                inList = 0
            }
            if (indent != child || line !~ "^ *" key ":") next
            v = line; sub("^ *" key ":[ \t]*", "", v)
            if (v == "") { inList = 1; keyIndent = indent; next }
            if (v ~ /^\[/) {
                sub(/^\[/, "", v); sub(/\][ \t]*$/, "", v)
                n = split(v, parts, ",")
                for (i = 1; i <= n; i++) { p = unquote(parts[i]); if (p != "") print p }
                next
            }
            print unquote(v)
        }' "$3"
}

# The port of ADDR:PORT or [V6]:PORT.
port_of() { echo "${1##*:}"; }

api_listen="$(yaml_values api listen "$CONFIG" | head -n 1)"
api_listen="${api_listen:-127.0.0.1:8080}"
mapfile -t dns_listen < <(yaml_values dns listen "$CONFIG")
[ "${#dns_listen[@]}" -gt 0 ] || dns_listen=("127.0.0.1:8053" "[::1]:8053")

# globaldnsctl talks to api.listen; a wildcard address is reached through loopback.
api_host="${api_listen%:*}"
case "$api_host" in
    0.0.0.0 | "") api_host=127.0.0.1 ;;
    "[::]") api_host="[::1]" ;;
esac
export GLOBALDNS_SERVER="http://$api_host:$(port_of "$api_listen")"
dns_host="${dns_listen[0]%:*}"
case "$dns_host" in
    0.0.0.0) dns_host=127.0.0.1 ;;
    "[::]") dns_host="[::1]" ;;
esac
dns_host="${dns_host#[}"
dns_host="${dns_host%]}"
dns_port="$(port_of "${dns_listen[0]}")"

# Is PORT taken for PROTO (tcp, udp)? Prints what holds it (ss) and returns 0 when it is.
port_taken() {
    local proto="$1" port="$2" flags lines
    if command -v ss >/dev/null 2>&1; then
        if [ "$proto" = tcp ]; then flags=-ltnp; else flags=-lunp; fi
        lines="$(ss -H "$flags" "sport = :$port" 2>/dev/null || true)"
        [ -n "$lines" ] || return 1
        echo "  \$ ss $flags 'sport = :$port'"
        ss "$flags" "sport = :$port" 2>/dev/null | sed 's/^/  /'
        return 0
    fi
    # Without ss (iproute2) only TCP can be checked, by connecting.
    [ "$proto" = tcp ] || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "  something accepts connections on 127.0.0.1:$port (install iproute2 for ss to see what)"
        return 0
    fi
    return 1
}

taken=0
report="$(port_taken tcp "$(port_of "$api_listen")")" && {
    say "port $(port_of "$api_listen")/tcp of api.listen ($api_listen in $CONFIG) is taken:"
    echo "$report" >&2
    taken=1
}
seen=" "
for address in "${dns_listen[@]}"; do
    port="$(port_of "$address")"
    for proto in udp tcp; do
        case "$seen" in *" $port/$proto "*) continue ;; esac
        seen="$seen$port/$proto "
        report="$(port_taken "$proto" "$port")" && {
            say "port $port/$proto of dns.listen ($address in $CONFIG) is taken:"
            echo "$report" >&2
            taken=1
        }
    done
done
if [ "$taken" = 1 ]; then
    die "nothing was started: stop what holds the port, or change the address in $CONFIG (CONFIG=... make run)"
fi

server=""
follower=""
stop_requested=0

# Stops what this script started (every exit path goes through here).
cleanup() {
    local status=$? code=0
    trap - EXIT INT TERM
    if [ -n "$server" ]; then
        if kill -0 "$server" 2>/dev/null; then
            say "stopping globaldns (pid $server)"
            kill -TERM "$server" 2>/dev/null || true
            for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do
                kill -0 "$server" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$server" 2>/dev/null; then
                say "globaldns did not stop within ${STOP_TIMEOUT}s of SIGTERM: SIGKILL"
                kill -KILL "$server" 2>/dev/null || true
            fi
        fi
        wait "$server" 2>/dev/null || code=$?
        # A stop asked for by Ctrl-C or SIGTERM ends with the server's own exit code (0: graceful).
        if [ "$stop_requested" = 1 ]; then status=$code; fi
    fi
    if [ -n "$follower" ]; then
        # tail --pid ends by itself once the server is gone; give it a moment to print the rest.
        for _ in $(seq 1 20); do
            kill -0 "$follower" 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM "$follower" 2>/dev/null || true
        wait "$follower" 2>/dev/null || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'stop_requested=1; exit 130' INT
trap 'stop_requested=1; exit 143' TERM

# The end of the server's log, after it failed.
log_tail() {
    say "the end of the server's log ($LOG):"
    tail -n 25 "$LOG" | sed 's/^/  /' >&2
}

mkdir -p "$(dirname "$LOG")"
: >"$LOG"
"$BIN/globaldns" --config "$CONFIG" >>"$LOG" 2>&1 &
server=$!
# The log on the terminal too, until the server exits.
tail -n +1 -f --pid="$server" "$LOG" >&2 &
follower=$!

# Wait (at most RUN_READY_TIMEOUT seconds) for /readyz, then apply the examples.
deadline=$((SECONDS + READY_TIMEOUT))
until timeout 5 "$BIN/globaldnsctl" ready >/dev/null 2>&1; do
    if ! kill -0 "$server" 2>/dev/null; then
        code=0
        wait "$server" || code=$?
        server=""
        say "globaldns exited with code $code before it was ready"
        log_tail
        exit $((code == 0 ? 1 : code))
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        say "globaldns was not ready within ${READY_TIMEOUT}s ($GLOBALDNS_SERVER/readyz)"
        timeout 5 "$BIN/globaldnsctl" ready >&2 || true
        log_tail
        exit 1
    fi
    sleep 0.1
done
if [ -n "$EXAMPLES" ]; then
    "$BIN/globaldnsctl" apply -f "$EXAMPLES"
fi
ctl="$BIN/globaldnsctl"
# globaldnsctl's default server is http://127.0.0.1:8080; any other needs saying.
[ "$GLOBALDNS_SERVER" = http://127.0.0.1:8080 ] || ctl="GLOBALDNS_SERVER=$GLOBALDNS_SERVER $ctl"
cat <<EOF

GlobalDNS is serving (DNS on ${dns_listen[*]}, the API on $GLOBALDNS_SERVER). Try:
  dig @$dns_host -p $dns_port checkout.g.example.com
  $ctl get
Ctrl-C stops it.
EOF
code=0
wait "$server" || code=$?
if [ "$stop_requested" = 1 ]; then exit "$code"; fi
server=""
if [ "$code" != 0 ]; then
    say "globaldns exited with code $code"
    log_tail
    exit "$code"
fi
say "globaldns exited"
