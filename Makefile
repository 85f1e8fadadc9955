# account-gateway — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
PG := scripts/localpg.sh
BIN := .build/debug/account-gateway

.PHONY: all build run test e2e faults bench fuzz deps pg pg-stop clean

all: build

# System packages (libpq, zlib, pkg-config, PostgreSQL) when missing, then the throwaway database.
deps pg:
	@$(PG) start

build: deps
	$(SWIFT) build --product account-gateway

# Builds, starts PostgreSQL, migrates, runs the sandbox and the gateway wired together,
# and prints a curl line with a fresh importer token. Ctrl-C stops everything.
run: build
	@scripts/run.sh

# The whole suite against a real PostgreSQL: unit + integration tests, the fuzz
# corpus replayed, an end-to-end run of the built binary (sandbox + serve + curl),
# Schemathesis against a live gateway (installed from PyPI when missing), and
# the fault suite.
test: deps
	python3 scripts/check_openapi.py
	DATABASE_URL="$$($(PG) url account_gateway_test)" $(SWIFT) test --no-parallel
	$(SWIFT) build --product HTTPParserFuzz
	.build/debug/HTTPParserFuzz Fuzz/corpus Fuzz/regressions
	$(SWIFT) build --product account-gateway
	scripts/e2e.sh
	python3 scripts/schemathesis_check.py
	python3 scripts/status_page_check.py
	python3 scripts/check_metric_names.py
	python3 scripts/prometheus_check.py
	python3 scripts/check_deploy.py
	python3 scripts/fault_suite.py

e2e: build
	scripts/e2e.sh

# Nothing lost under faults: 3 replicas, transient errors, 502s, dropped connections, SIGKILL, a PostgreSQL restart.
faults: build
	python3 scripts/fault_suite.py

# Benchmarks, on a release build: the central rate limit under 3x overload
# (3 replicas, one PostgreSQL, the sandbox enforcing Tencent's 200/s; then one
# replica with the sandbox answering in 100-200 ms, as Tencent from afar), then
# throughput and latency next to their limits and peers measured in the same
# run (audit writes and verify, the repeat path vs pgbench, one new account vs
# the sandbox, import, a flood of single POSTs), `reconcile` against a sandbox
# answering in 100-200 ms (Benchmarks/reconcile_bench.py), then the HTTP server's limits
# (1,100 idle connections, a flood of blank lines: Benchmarks/http_limits.py),
# and GET /healthz next to a Hummingbird 2 server at 1, 16 and 128 connections,
# with wrk on a CPU of its own and then sharing every CPU with the servers
# (Benchmarks/healthz_bench.py; its peer is a package of its own, built on first use).
bench: deps
	$(SWIFT) build -c release --product account-gateway
	python3 Benchmarks/rate_limit_bench.py
	python3 Benchmarks/rate_limit_bench.py --replicas 1 --sandbox-latency 100-200
	python3 Benchmarks/throughput_bench.py
	python3 Benchmarks/reconcile_bench.py
	python3 Benchmarks/http_limits.py
	python3 Benchmarks/healthz_bench.py

# The request parser under libFuzzer for FUZZ_SECONDS (default 60); new coverage
# goes to Fuzz/corpus, a crash to Fuzz/regressions (replayed by make test).
fuzz:
	scripts/fuzz.sh

pg-stop:
	@$(PG) stop

clean: pg-stop
	rm -rf .build .local
