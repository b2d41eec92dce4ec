// Command benchcompare prints two spookbench JSON records side by side,
// every cell and per-system figure with the ratio B/A, so a change to the
// hot path shows its effect:
//
//	scripts/bench-compare before.json after.json
//
// (the script runs `go run ./cmd/benchcompare` from bench/). The records
// come from `make bench-quick` (docs/bench/quick.json) or
// `spookbench --json FILE`.
package main
