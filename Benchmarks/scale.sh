#!/bin/sh
# GlobalDNS at 10k, 100k and 1M NameServices (issue 13): release build, then Benchmarks/scale.py
# (what it measures is in its docstring). Loopback only. Arguments go to scale.py, e.g.
#   Benchmarks/scale.sh --sizes 10000,100000
set -eu
cd "$(dirname "$0")/.."
command -v dnsperf >/dev/null || { echo "needs dnsperf (apt-get install dnsperf)" >&2; exit 1; }
swift build -c release --product globaldns >&2
swift build -c release --product globaldnsctl >&2
exec python3 Benchmarks/scale.py "$@"
