// Package bench is Spook's benchmark harness: it starts Spook, Redis, etcd
// and NATS JetStream clusters of three nodes on 127.0.0.1, drives the same
// closed-loop workloads against each, and renders the figures side by side
// with the ratio Spook/peer (docs/BENCHMARKS.md, docs/bench/*.svg).
//
// The module is separate from the product's (bench/go.mod) so that the
// peers' dependencies never enter Spook's go.mod. The command is
// cmd/spookbench:
//
//	cd bench && go run ./cmd/spookbench --quick
//
// Shape of the package:
//
//   - System (system.go) is one cluster under test: Start, Stop, a Client
//     per node, the bytes its nodes sent each other, its processes' PIDs.
//     Spook and Redis are RESP systems (resp.go holds a minimal pipelining
//     RESP client written for the harness so the client costs little CPU on
//     a small machine); etcd and NATS run one member per helper process
//     (the spookbench binary re-executed with the "helper" subcommand).
//   - Run (workload.go) drives one cell: a workload, a number of closed-loop
//     clients, a pipeline depth, a time bound and an operation bound.
//   - Hist (hist.go) is a log-linear latency histogram (about 3 % error).
//   - Report (report.go) renders the Markdown tables and the SVG chart and
//     splices them between the markers in docs/BENCHMARKS.md.
//   - Record (record.go) is the same report as JSON (docs/bench/quick.json
//     or full.json, with the commit, date and machine measured); Compare
//     (compare.go, cmd/benchcompare, scripts/bench-compare A.json B.json)
//     prints two records side by side with the ratio B/A of every figure.
//
// Every figure comes from a measurement made in the same run; nothing is
// hard-coded.
package bench
