# stanft: build, test, benchmark, container image and the docker-compose FT pair.
# `make test` is the one command that runs every check and every test (CI runs
# it through .ci/run).

GO       ?= go
BIN      ?= bin/stanft
IMAGE    ?= stanft:dev
TIMEOUT  ?= 45m
BENCH    ?= .
BENCHPKG ?= ./...
# docker compose v2 plugin when present, else the v1 docker-compose CLI.
COMPOSE  ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)

.PHONY: all build test lint fmt-check vet deps-check bench gobench image compose-up compose-down clean

all: build

## build: static binary (CGO_ENABLED=0) in bin/stanft; the image copies it.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/stanft

## test: lint, then every test (unit, race, fuzz seeds, e2e, Docker) with -race.
## The tests run even when lint fails, so every package's result is printed;
## the target fails if either does.
test:
	@rc=0; \
	$(MAKE) --no-print-directory lint || rc=1; \
	echo "$(GO) test -race -timeout $(TIMEOUT) ./..."; \
	$(GO) test -race -timeout $(TIMEOUT) ./... || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make test: FAILED"; else echo "make test: ok"; fi; \
	exit $$rc

## lint: gofmt, go vet, and no dependency on nats-streaming-server.
lint: fmt-check vet deps-check

fmt-check:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

deps-check:
	@if $(GO) list -deps -test ./... | grep -n 'nats-io/nats-streaming-server'; then \
		echo "a package depends on github.com/nats-io/nats-streaming-server"; exit 1; fi

## bench: benchmarks only (no tests). Narrow with BENCH=regexp BENCHPKG=./server.
## bench: stanft vs core NATS in one run (MEMORY, FILE, recovery, scrape), then the
## failover benchmark; `make gobench` runs the packages' go test benchmarks.
bench:
	$(GO) run ./bench
	STANFT_FAILOVER_BENCH=20 $(GO) test -run TestFailoverBench -v -count=1 ./e2e

gobench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCHPKG)

## image: bin/stanft, then the FROM-scratch image $(IMAGE) (no base image pulled).
image: build
	docker build -f deploy/Dockerfile -t $(IMAGE) .

## compose-up: image, then the FT pair of docker-compose.yml in the background.
compose-up: image
	STANFT_IMAGE=$(IMAGE) $(COMPOSE) up -d --no-build
	$(COMPOSE) ps

## compose-down: stop the pair; keeps the datastore volume (add -v by hand to wipe it).
compose-down:
	$(COMPOSE) down

clean:
	rm -rf bin
