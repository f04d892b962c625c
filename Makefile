# GlobalDNS developer entry points. CI runs `make test` (through .ci/run) on a clean Debian + Swift
# machine as root; developers may be non-root (then apt-get goes through sudo).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Debian packages the build and the tests need: ldns (ZoneFile), dig, kdig, knotd (the reference
# server of the differential test), dnsperf (benchmarks), etcd and etcdctl (the etcd store's tests
# start three-member clusters on loopback). The tests start their own knotd and etcd; the packaged
# knot and etcd services are switched off where systemd would have started them (etcd would hold
# 2379).
DEB_PACKAGES := bind9-dnsutils knot-dnsutils knot dnsperf ldnsutils libldns-dev libssl-dev libsqlite3-dev pkg-config etcd-server etcd-client
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CONFIG ?= config/globaldns.yaml

.PHONY: deps build release run test bench fuzz

# Installs the packages above when any is missing (apt-get update first).
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
		if [ -d /run/systemd/system ]; then \
			$(SUDO) systemctl disable --now knot >/dev/null 2>&1 || true; \
			$(SUDO) systemctl disable --now etcd >/dev/null 2>&1 || true; \
		fi; \
	fi

build: deps
	swift build --build-tests

release: deps
	swift build -c release --product globaldns
	swift build -c release --product globaldnsctl

# Serves config/globaldns.yaml (DNS on 127.0.0.1:8053 and [::1]:8053, the API on 127.0.0.1:8080,
# no root needed) and applies the example NameServices in config/nameservices/, until Ctrl-C.
run: release
	CONFIG=$(CONFIG) exec scripts/run-dev.sh

# All tests: unit tests and the live integration tests (dig, kdig, knotd on loopback).
test: deps
	swift build --build-tests
	swift test

# GlobalDNS against Knot with dnsperf; QUICK=1 for 2 short rounds; GSLB=1 PEERS=knot,pdns for the
# GSLB policies against Knot and PowerDNS LUA records. See Benchmarks/README.md.
bench: deps
	Benchmarks/run.sh

# libFuzzer on the query path and the message codec (Fuzz/README.md) for FUZZ_TIME seconds. The log
# (fuzz-0.log) and any crash-* input land in Fuzz/.build/; the grown corpus in Fuzz/corpus-work/.
FUZZ_TIME ?= 600
fuzz:
	cd Fuzz && swift build -c release --sanitize fuzzer
	mkdir -p Fuzz/corpus-work
	cp Tests/Fixtures/fuzz-seeds/*.bin Tests/Fixtures/malformed/*.bin Fuzz/corpus-work/
	cd Fuzz/.build && SWIFT_BACKTRACE=enable=no release/DNSFuzz -jobs=1 -workers=1 \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 ../corpus-work
	@tail -n 8 Fuzz/.build/fuzz-0.log
	@if grep -qE 'deadly signal|ERROR: libFuzzer|Fatal error' Fuzz/.build/fuzz-0.log; then \
		echo "make fuzz: crash, see Fuzz/.build/fuzz-0.log and Fuzz/.build/crash-*"; exit 1; fi
