# heyan — two commands do everything: `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= config/heyan.json
PKI_DIR ?= certs/dev
# prometheus: only for `promtool` (check metrics, check/test rules) in make test. No smaller Debian
# package ships promtool. On a systemd host the package also enables a Prometheus server on :9090;
# `systemctl disable --now prometheus` if you do not want it.
# libpq-dev: the PostgreSQL client library behind the CPostgres target. postgresql: the server binaries
# (initdb, pg_ctl, postgres) the PostgreSQL tests run; Debian's policy-rc.d keeps the packaged 15/main
# cluster down in containers, and the tests never use it: each run starts its own throwaway cluster
# (Tests/HeyanTestSupport/PostgresCluster.swift, docs/postgresql.md).
# haproxy: the load balancer of `make cluster` and the failover crash test (mode tcp, mTLS passed through).
APT_PACKAGES := pkg-config libssl-dev libsqlite3-dev openssl sqlite3 curl jose prometheus testssl.sh zbar-tools libpq-dev postgresql \
	chromium chromium-driver libnss3-tools haproxy
VENV := var/venv
PY_REQUIREMENTS := Tests/Scripts/requirements-test.txt

.PHONY: run test build release deps pydeps pki clean bench-signing demo bench conformance profile-verification

## Install what is missing (apt-get when root, else print the command).
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages; run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

## Test-only Python from PyPI, in a venv under var/ (never the system's site-packages).
## `make test` puts $(VENV)/bin first on PATH, so every `python3` a test starts is the venv's.
pydeps: $(VENV)/.installed

$(VENV)/.installed: $(PY_REQUIREMENTS)
	@[ -x $(VENV)/bin/python3 ] || python3 -m venv $(VENV)
	$(VENV)/bin/python3 -m pip install -q --disable-pip-version-check -r $(PY_REQUIREMENTS)
	@touch $@

build: deps
	$(SWIFT) build

## The release binary links the Swift runtime and Foundation statically (with the toolchain's lld, which
## does not repeat glibc's link-time note on mktemp in Foundation's archive): one file to deploy, no Swift
## libraries on the server, ~6 MiB less resident memory (docs/deployment.md, "The binary"). The C targets'
## debug information in DWARF 4: Debian's Valgrind 3.19 gave up on the binary's DWARF 5 ("possibly corrupted
## debuginfo") once a second C file was in it, and callgrind is how docs/performance.md counts instructions.
RELEASE_FLAGS ?= --static-swift-stdlib -Xswiftc -use-ld=lld -Xcc -gdwarf-4
release: deps
	$(SWIFT) build -c release $(RELEASE_FLAGS)

## The development PKI, made once (never committed).
pki: release
	@if [ ! -d $(PKI_DIR) ]; then \
	  .build/release/heyan pki init --out $(PKI_DIR) --departments config/departments.json; \
	fi
	@# A department added to departments.json after the PKI was made gets its certificate too.
	@for code in $$(python3 -c "import json; print(' '.join(d['code'] for d in json.load(open('config/departments.json'))['departments']))"); do \
	  [ -f $(PKI_DIR)/departments/$$code.pem ] || .build/release/heyan pki issue --out $(PKI_DIR) --department $$code; \
	done
	@# So does the audit log key, for a PKI made before the transparency log.
	@[ -f $(PKI_DIR)/log.vkey ] || .build/release/heyan pki log-key --out $(PKI_DIR)

## Build, make the development PKI if absent, serve config/heyan.json on the embedded SQLite store.
run: pki
	.build/release/heyan serve --config $(CONFIG)

## The whole test suite (unit, loopback TLS end-to-end, interop with Python and the openssl CLI).
test: deps pydeps
	$(SWIFT) build --build-tests
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SWIFT) test --skip-build

## A guided run: temporary PKI and database, the main flows printed step by step.
demo: release
	.build/release/heyan demo --config-dir config

## heyan's ES256 signatures/s next to `openssl speed ecdsap256`.
bench-signing: release
	.build/release/heyan bench signing --seconds 3

## heyan side by side with nginx on this machine; figures in docs/performance.md (BENCH_QUICK=1: ~2 min).
bench: release
	python3 Tests/Scripts/bench/run.py

# Instructions per data-sharing verification under callgrind (deterministic on a loaded machine).
profile-verification: release
	python3 Tests/Scripts/bench/profile.py

## Schemathesis (installed into var/venv-conformance) against schemas/openapi.yaml and a live heyan
## over mTLS, 500 cases per operation (CONFORMANCE_EXAMPLES=N); docs/conformance.md. Not part of `make test`.
conformance: release
	./Tests/Scripts/conformance/run.sh

## testssl.sh (protocols, cipher categories, vulnerabilities) against a running heyan, judged as in
## `make test` (docs/tls.md). Start `make run` first, or set TESTSSL_TARGET=host:port.
TESTSSL_TARGET ?= 127.0.0.1:8443
.PHONY: testssl
testssl: deps
	python3 Tests/Scripts/testssl/check.py $(TESTSSL_TARGET)

## The Expect: 100-continue exchange under load, STRESS_ITERATIONS times on fresh connections (100 in
## `make test`); docs/connections.md.
STRESS_ITERATIONS ?= 1000
.PHONY: stress-continue
stress-continue: deps
	$(SWIFT) build --build-tests
	HEYAN_CONTINUE_ITERATIONS=$(STRESS_ITERATIONS) $(SWIFT) test --skip-build --filter ExpectContinueStressTests

clean:
	rm -rf .build var

## Mixed load while heyan is killed with SIGKILL ≥ CRASH_KILLS times, then a durability audit
## (docs/crashtest.md). CRASH_SECONDS spreads the kills over about that long (0: 0.3-1.5 s apart).
CRASH_KILLS ?= 20
CRASH_SECONDS ?= 0
.PHONY: crashtest
crashtest: release
	python3 Tests/Scripts/crashtest.py --kills $(CRASH_KILLS) --seconds $(CRASH_SECONDS)

## The clerks' console in headless Chromium (part of `make test`), keeping its screenshots in
## docs/console/*.png (docs/console.md).
.PHONY: console-screenshots
console-screenshots: deps pydeps
	$(SWIFT) build --build-tests
	HEYAN_CONSOLE_SCREENSHOTS="$(CURDIR)/docs/console" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
		$(SWIFT) test --skip-build --filter ConsoleBrowserTests

## libFuzzer targets (HTTP parser, request JSON, JWS, configuration), each FUZZ_SECONDS; docs/fuzzing.md.
.PHONY: fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) Tests/Fuzz/run.sh

## A cluster on this machine (docs/cluster.md): PostgreSQL primary + synchronous standby, three heyan nodes,
## HAProxy on 127.0.0.1:$(CLUSTER_PORT) passing mTLS through. Idempotent; data under var/cluster.
CLUSTER_PORT ?= 8443
.PHONY: cluster cluster-stop crashtest-cluster
cluster: deps pki
	python3 Tests/Scripts/cluster/cluster.py start --port $(CLUSTER_PORT)

cluster-stop:
	python3 Tests/Scripts/cluster/cluster.py stop --port $(CLUSTER_PORT)

## The failover crash test (docs/crashtest.md): the crash test's load through HAProxy while heyan nodes are
## SIGKILLed CRASH_KILLS times and the PostgreSQL primary CRASH_FAILOVERS times (the standby promoted).
CRASH_FAILOVERS ?= 2
crashtest-cluster: deps pydeps release
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" python3 Tests/Scripts/cluster/crashtest_cluster.py \
		--kills $(CRASH_KILLS) --failovers $(CRASH_FAILOVERS) --seconds $(CRASH_SECONDS)
