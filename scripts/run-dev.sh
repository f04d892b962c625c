#!/usr/bin/env bash
# scripts/run-dev.sh - what `make run` runs: the release server on config/globaldns.yaml, with the
# example NameServices of config/nameservices/ applied as soon as the API is ready, so the first
# `dig @127.0.0.1 -p 8053 checkout.g.example.com` already answers. Ctrl-C (or SIGTERM) stops the
# server gracefully. Works as any user: nothing listens on a privileged port.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CONFIG="${CONFIG:-config/globaldns.yaml}"
export GLOBALDNS_SERVER="${GLOBALDNS_SERVER:-http://127.0.0.1:8080}"
BIN="$(swift build -c release --show-bin-path)"

"$BIN/globaldns" --config "$CONFIG" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"; exit 0' INT TERM

# Wait (at most 30 s) for the API to be ready, then apply the examples.
for _ in $(seq 1 300); do
    if ! kill -0 "$server" 2>/dev/null; then wait "$server"; exit $?; fi
    if "$BIN/globaldnsctl" get >/dev/null 2>&1; then break; fi
    sleep 0.1
done
"$BIN/globaldnsctl" apply -f config/nameservices/
echo
echo "GlobalDNS is serving zones/ and config/nameservices/. Try:"
echo "  dig @127.0.0.1 -p 8053 checkout.g.example.com"
echo "  $BIN/globaldnsctl get"
echo "Ctrl-C stops it."
wait "$server"
