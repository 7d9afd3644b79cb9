# loadsvc — build, test and local-run tooling.  `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin

# Pinned tools, installed into ./bin by `make tools`.
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
GRPCURL_VERSION            := v1.9.4
STATICCHECK_VERSION        := v0.8.2

GO_TEST_FLAGS ?= -race -count=1 -timeout 15m
# The workspace (go.work): the service's module and the client, API-stub and
# pgtext modules beside it, which ./... alone does not reach.
MODULES       := ./... ./client/... ./proto/... ./pgtext/...
PKGS          ?= $(MODULES)
ARGS          ?=

GO_FILES = $(shell find . \( -path ./bin -o -path ./.local -o -path ./.git -o -path ./vendor \) -prune -o -name '*.go' -print)

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## compile everything; the service binary goes to bin/loadsvc
	go build ./...
	go build -o $(BIN)/loadsvc ./cmd/loadsvc

.PHONY: tools
tools: gen-tools lint-tools ## install the pinned tools (buf, protoc-gen-go, protoc-gen-go-grpc, grpcurl, staticcheck) into ./bin
	@scripts/install-tool.sh $(BIN) grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl $(GRPCURL_VERSION)

.PHONY: gen-tools
gen-tools:
	@scripts/install-tool.sh $(BIN) buf github.com/bufbuild/buf/cmd/buf $(BUF_VERSION)
	@scripts/install-tool.sh $(BIN) protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go $(PROTOC_GEN_GO_VERSION)
	@scripts/install-tool.sh $(BIN) protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc $(PROTOC_GEN_GO_GRPC_VERSION)

.PHONY: lint-tools
lint-tools:
	@scripts/install-tool.sh $(BIN) staticcheck honnef.co/go/tools/cmd/staticcheck $(STATICCHECK_VERSION)

.PHONY: generate
generate: gen-tools ## regenerate proto/**/*.pb.go with buf and the pinned plugins
	PATH="$(BIN):$$PATH" $(BIN)/buf generate

.PHONY: check-generated
check-generated: gen-tools check-python-generated ## fail when the committed generated code (Go and Python) is stale
	@scripts/check-generated.sh

.PHONY: python-deps
python-deps: ## install the Debian packages the Python client, its tests and its stubs need (the list is in scripts/ensure-python.sh)
	@scripts/ensure-python.sh

.PHONY: generate-python
generate-python: gen-tools python-deps ## regenerate the Python client's stubs in python/loadsvc (buf with Debian's protoc)
	@scripts/generate-python.sh

.PHONY: check-python-generated
check-python-generated: gen-tools python-deps ## fail when the committed Python stubs are stale (part of check-generated)
	@scripts/check-python-generated.sh

.PHONY: bench-python
bench-python: postgres python-deps ## the Python client vs asyncpg, psycopg 3 and psycopg2 on 200,000 rows (BENCH_ROWS, BENCH_RUNS), dicts and DataFrame; append and delete_insert
	LOADSVC_BENCH_PYTHON=1 go test -count=1 -timeout 30m -run '^TestBench$$' -v ./test/python

.PHONY: lint
lint: gen-tools lint-tools python-deps ## gofmt, go vet, staticcheck, buf lint, mypy --strict python/loadsvc; no cmd/ binary links the testing package; the server links no pgx, the loader no gRPC or protobuf
	@echo "==> gofmt"
	@if ! out=$$(gofmt -l $(GO_FILES) 2>&1 </dev/null) || [[ -n "$$out" ]]; then \
		echo "gofmt: these files are not gofmt-clean (run gofmt -w) or do not parse:"; \
		echo "$$out" | sed 's/^/  /'; exit 1; fi
	@echo "==> go vet $(MODULES)"
	@go vet $(MODULES)
	@echo "==> staticcheck $(MODULES)"
	@$(BIN)/staticcheck $(MODULES)
	@echo "==> no cmd/ binary links the testing package"
	@for p in $$(go list ./cmd/...); do \
		if go list -deps "$$p" | grep -qx testing; then echo "$$p links the testing package"; exit 1; fi; done
	@echo "==> internal/server links no pgx; internal/loader links no gRPC or protobuf"
	@deps=$$(go list -deps ./internal/server); if bad=$$(grep -E 'jackc' <<<"$$deps"); then \
		echo "internal/server links pgx (running loads on PostgreSQL is internal/loader/pgexec's):"; \
		echo "$$bad" | sed 's/^/  /'; exit 1; fi
	@deps=$$(go list -deps ./internal/loader); if bad=$$(grep -E 'grpc|protobuf' <<<"$$deps"); then \
		echo "internal/loader links gRPC or protobuf (the wire is internal/server's):"; \
		echo "$$bad" | sed 's/^/  /'; exit 1; fi
	@echo "==> buf lint"
	@$(BIN)/buf lint
	@echo "==> mypy --strict python/loadsvc (python/pyproject.toml)"
	@cd python && $${LOADSVC_PYTHON:-/usr/bin/python3} -m mypy --strict loadsvc

.PHONY: postgres
postgres: ## make sure PostgreSQL server binaries and psql are installed (apt-get)
	@scripts/ensure-postgres.sh
	@scripts/ensure-pgbouncer.sh
	@scripts/ensure-locales.sh

.PHONY: test
test: postgres tools lint check-generated ## everything CI checks: lint, generated code, go test -race against real PostgreSQL
	@echo "==> go test $(GO_TEST_FLAGS) $(PKGS)"
	@go test $(GO_TEST_FLAGS) $(PKGS)
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory bench-smoke

FUZZTIME ?= 60s

.PHONY: fuzz
fuzz: postgres ## fuzz identifier quoting and COPY value encoding against real PostgreSQL, and the JSON row decoder against the Struct path, FUZZTIME (default 60s) per target
	go test ./internal/loader/pgexec -run '^$$' -fuzz '^FuzzIdentifier$$' -fuzztime $(FUZZTIME)
	go test ./internal/loader/pgexec -run '^$$' -fuzz '^FuzzValue$$' -fuzztime $(FUZZTIME)
	go test ./internal/server -run '^$$' -fuzz '^FuzzJSONRows$$' -fuzztime $(FUZZTIME)

.PHONY: fuzz-smoke
fuzz-smoke: postgres ## 300 inputs of each fuzz target (a count, not a time: a time limit can end mid-input and report a bogus deadline), so that they cannot rot (part of make test)
	@echo "==> fuzz-smoke"
	@go test ./internal/loader/pgexec -run '^$$' -fuzz '^FuzzIdentifier$$' -fuzztime 300x
	@go test ./internal/loader/pgexec -run '^$$' -fuzz '^FuzzValue$$' -fuzztime 300x
	@go test ./internal/server -run '^$$' -fuzz '^FuzzJSONRows$$' -fuzztime 2000x

.PHONY: bench
bench: postgres ## benchmark loadsvc against psql on its own PostgreSQL (BENCH_ROWS, BENCH_BIG, BENCH_JSON, BENCH_RSS, BENCH_REPEAT; ARGS=-h lists all)
	go run ./cmd/loadbench $(ARGS)

.PHONY: bench-smoke
bench-smoke: postgres ## a 3,000-row run of the benchmark, so that it cannot rot (part of make test)
	@echo "==> bench-smoke"
	@BENCH_ROWS=3000 BENCH_BIG=0 BENCH_RSS=0 BENCH_REPEAT=1 go run ./cmd/loadbench -q

.PHONY: soak
soak: postgres ## fault soak (not in CI): 8 workers, mixed modes, unary and streamed, backends killed every ~1s, for SOAK_DURATION (default 2m)
	go test -count=1 -timeout 30m -run '^TestSoak$$' -v ./test/faults -soak.duration=$(or $(SOAK_DURATION),2m)

.PHONY: run
run: postgres ## start the local PostgreSQL in .local/ (demo table included) and run the service; Ctrl-C stops both
	@scripts/run.sh $(ARGS)

.PHONY: run-db
run-db: postgres ## start only the local PostgreSQL in .local/ and leave it running
	@scripts/run.sh --db-only

.PHONY: run-stop
run-stop: ## stop the local PostgreSQL started by run-db
	@scripts/run.sh --stop

.PHONY: clean
clean: ## remove build output and coverage files (keeps ./bin tools and .local data)
	rm -f $(BIN)/loadsvc loadsvc coverage.out coverage.html *.coverprofile

.PHONY: clean-tools
clean-tools: ## remove ./bin entirely (tools are rebuilt by the next make tools)
	rm -rf $(BIN)

.PHONY: clean-local
clean-local: ## stop the local PostgreSQL and delete .local (all local data)
	@if [[ -d .local ]]; then scripts/run.sh --stop; fi
	rm -rf .local
