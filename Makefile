# Spook's make targets. `make test` is the test command the README names and
# CI runs; the longer suites are separate targets.

GO ?= go

.PHONY: test test-race lint fuzz-smoke up sim-long soak chaos chaos-quick bench bench-quick

## test: every package with invariant checks on, then the pure core under the race detector
test:
	$(GO) test -tags invariants -count=1 ./...
	$(GO) test -race -tags invariants -count=1 ./causal/... ./crdt/... -rapid.checks=1000
	$(GO) test -race -tags invariants -count=1 ./replica/...

## lint: formatting and vet (the lint-as-test rules run inside `make test`)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz-smoke: a few seconds of generated input for every fuzz target
fuzz-smoke:
	./scripts/fuzz-smoke.sh

## up: the main job, a local three-node cluster
up:
	$(GO) run ./cmd/spook up

## soak: the real-process kill -9 loop with 500 iterations
soak:
	SPOOK_KILL_ITERATIONS=500 $(GO) test -count=1 -timeout 60m -run KillLoop -v ./test

## sim-long: 100,000 simulator seeds (random first seed, printed; SIM_SEED=n pins it; ~2 h on 2 cores)
sim-long:
	$(GO) run ./cmd/spook sim --seeds 100000 --steps 1000 $(if $(SIM_SEED),--seed $(SIM_SEED))
