# Spook's make targets. `make test` is the test command the README names and
# CI runs; the longer suites are separate targets.

GO ?= go

.PHONY: test lint fuzz-smoke up sim-long sim-scale sim-100 soak chaos chaos-quick bench bench-quick bench-deps bench-text attack

## test: every package with invariant checks on, then the pure core under the race detector,
## then the web page in headless Chromium (test/browser, its own module; skips without chromium)
test:
	$(GO) test -tags invariants -count=1 ./...
	$(GO) test -race -tags invariants -count=1 ./causal/... ./crdt/... -rapid.checks=1000
	$(GO) test -race -tags invariants -count=1 ./replica/...
	cd test/browser && $(GO) test -count=1 ./...

## lint: formatting and vet (the lint-as-test rules run inside `make test`)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd test/browser && $(GO) vet ./...

## fuzz-smoke: a few seconds of generated input for every fuzz target
fuzz-smoke:
	./scripts/fuzz-smoke.sh

## up: the main job, a local three-node cluster
up:
	$(GO) run ./cmd/spook up

## attack: hostile clients against real spookd processes on 127.0.0.1 (docs/security.md; ~2 min)
attack:
	SPOOK_ATTACK=1 $(GO) test -count=1 -timeout 10m -v -run 'TestAttack|TestSilentConnectionKept|TestFirstBytesRedisAccepts|TestRetainedLogBounded' ./test

## soak: the real-process kill -9 loop with 500 iterations
soak:
	SPOOK_KILL_ITERATIONS=500 $(GO) test -count=1 -timeout 60m -run KillLoop -v ./test

## sim-long: 100,000 simulator seeds (random first seed, printed; SIM_SEED=n pins it; ~2 h on 2 cores)
sim-long:
	$(GO) run ./cmd/spook sim --seeds 100000 --steps 1000 $(if $(SIM_SEED),--seed $(SIM_SEED))

## sim-scale: the scale table of docs/BENCHMARKS.md: per-update messages, copies, bytes,
## convergence and memory at 10, 100 and 1,000 simulated replicas (~15 min on 2 cores;
## SIM_SCALE_MAX=100 stops before 1,000)
sim-scale:
	./scripts/sim-scale.sh

## sim-100: twenty 100-replica seeds in three regions with every fault (CI; ~1 min, ~6 GB peak RSS)
sim-100:
	$(GO) run ./cmd/spook sim --seed 1 --seeds 20 --replicas 100 --regions 3 --steps 300

## chaos-quick: fault tests with real processes in network namespaces (root, iproute2; ~4 min)
chaos-quick:
	SPOOK_CHAOS=quick $(GO) test -count=1 -timeout 15m -v -run 'TestChaosQuick' ./test/chaos

## chaos: 20 runs x 60 s, a fault every 10 s (root, iproute2; ~25 min)
chaos:
	SPOOK_CHAOS=full $(GO) test -count=1 -timeout 90m -v -run 'TestChaos$$' ./test/chaos

## bench: Spook side by side with Redis, etcd and NATS (10 s cells x 3 runs, about an hour);
## also writes docs/bench/full.json (compare two with scripts/bench-compare A.json B.json)
bench: bench-deps
	cd bench && $(GO) run ./cmd/spookbench

## bench-quick: the same in under 5 minutes (1 s cells, 1 run); also writes docs/bench/quick.json
bench-quick: bench-deps
	cd bench && $(GO) run ./cmd/spookbench --quick

## bench-text: the text CRDT side by side with Yjs and Automerge on the editing traces
## (npm installs them into bench/trace/node_modules; a few minutes; TRACE_DIR=dir overrides
## ../shared/data/editing-traces)
bench-text:
	cd bench/trace && npm install --no-audit --no-fund --silent
	cd bench && $(GO) run ./cmd/textbench --runs 3 $(if $(TRACE_DIR),--traces $(TRACE_DIR))

bench-deps:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq redis-server redis-tools; \
	  else echo "redis-server missing: sudo apt-get install -y redis-server redis-tools (spookbench runs the other systems and says so)"; fi; }
