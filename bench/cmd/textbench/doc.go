// Command textbench prints Spook's collaborative text type side by side
// with Yjs and Automerge on the same editing traces, in one run (make
// bench-text):
//
//	cd bench && go run ./cmd/textbench [--runs N] [--traces DIR] [--automerge-prefix N]
//
// For each trace it replays every edit as a local operation with its delta
// encoded (local), integrates the whole encoded history into an empty
// replica (merge), and measures the final document's live heap and
// encoded state: Spook through package seq and through crdt.Keyspace
// transactions (seq/trace), the peers through bench/trace/bench.mjs under
// Node.js (npm install there first; the make target does). It prints a
// Markdown table of medians and the Spook/peer ratios, the figures
// docs/BENCHMARKS.md reports.
package main
