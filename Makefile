# Secrets broker: development and CI entry points.
#   make dev     Vault (dev, or PERSIST=1 Raft) + Redis + brokerd on 127.0.0.1, with a dev API key
#   make test    go vet + go test -race, integration tests against a real Vault and Redis
SHELL     := /bin/bash
GO        ?= go
TESTFLAGS ?=
FUZZTIME  ?= 20s
FUZZPKGS  ?= ./...
BINARIES  := brokerd brokerctl sandbox-init

.PHONY: dev test build fuzz vault clean reliability bench

dev:
	scripts/dev.sh

# Vault first: scripts/get-vault.sh finds it or builds it once (a cold build took 18 min 48 s
# on 2 cores, with progress on stderr), so no test waits for a build under go test's timeout.
# Without it integration tests skip (or fail when BROKER_REQUIRE_INTEGRATION=1).
# internal/testenv notes every real server it starts in BROKER_TESTENV_REPORT; the summary
# after the tests shows that integration tests ran against a real Vault and Redis.
# cmd/brokerbench is a module of its own (its plotting library stays out of what
# users of the broker's packages, such as the client/ SDK, import): vet and test
# run in each module of MODULES. deploy/helm is one too: its test renders the Helm chart with
# helm's Go packages and strictly decodes every object into the Kubernetes API types, and
# those dependencies stay out of the product's module.
MODULES   := . cmd/brokerbench deploy/helm

test:
	@set -e; for m in $(MODULES); do echo "(cd $$m && $(GO) vet ./...)"; (cd $$m && $(GO) vet ./...); done
	@if bin=$$(scripts/get-vault.sh </dev/null); then export VAULT_BIN="$$bin"; \
	  echo "vault: $$VAULT_BIN ($$("$$VAULT_BIN" version))"; \
	elif [ "$${BROKER_REQUIRE_INTEGRATION:-}" = 1 ]; then echo "make test: no Vault binary" >&2; exit 1; \
	else echo "make test: no Vault binary; integration tests will be skipped" >&2; fi; \
	report=$$(mktemp); trap 'rm -f "$$report"' EXIT; rc=0; \
	for m in $(MODULES); do \
	  echo "(cd $$m && $(GO) test -race -count=1 -shuffle=on $(TESTFLAGS) ./...)"; \
	  (cd $$m && BROKER_TESTENV_REPORT="$$report" $(GO) test -race -count=1 -shuffle=on $(TESTFLAGS) ./...) || rc=$$?; \
	done; \
	scripts/test-report.sh "$$report"; exit $$rc

# --version shows the commit even where VCS stamping is off (-buildvcs=false); VERSION=v1.2.3 sets the version.
build:
	$(GO) build -trimpath -ldflags "-X github.com/acme/secretsbroker/internal/buildinfo.Commit=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(if $(VERSION), -X github.com/acme/secretsbroker/internal/buildinfo.Version=$(VERSION))" -o bin/ $(addprefix ./cmd/,$(BINARIES))

# brokerd (release build, own process) against the Vault floor at concurrency 1, 8, 32, 64,
# on a fresh dev Vault and Redis; BENCHFLAGS are brokerbench's (e.g. -n 100 -ops create,get).
# Writes bench/out/results.{txt,csv} and bench/out/chart.png. See docs/benchmarks.md.
BENCHFLAGS ?=
bench:
	cd cmd/brokerbench && $(GO) run . -out $(CURDIR)/bench/out $(BENCHFLAGS)

# Runs every Fuzz target in FUZZPKGS for FUZZTIME each (go test -fuzz takes one target per run).
fuzz:
	@set -euo pipefail; \
	targets=$$($(GO) test -list '^Fuzz' $(FUZZPKGS) | awk '/^Fuzz/ { n = n " " $$1 } \
	  /^(ok|\?)[ \t]/ { split(n, a, " "); for (i in a) print $$2 " " a[i]; n = "" }'); \
	if [ -z "$$targets" ]; then echo "no Fuzz targets"; exit 0; fi; \
	while read -r pkg fn; do \
	  echo "== $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done <<< "$$targets"

# Fault scenarios and the 64-client load test against real Vault (Raft), Redis and a
# brokerd process (build tag "reliability"; several minutes). Prints a table, one row per
# scenario. RELIABILITY_SOAK=60s sets the load test's length.
reliability:
	cd reliability && $(GO) test -tags reliability -count=1 -timeout 30m $(TESTFLAGS)

vault:
	@scripts/get-vault.sh

clean:
	rm -rf bin/
