// Command spookbench runs Spook side by side with Redis, etcd and NATS
// JetStream (three nodes each on 127.0.0.1) and writes the figures into
// docs/BENCHMARKS.md between the bench markers, plus docs/bench/*.svg.
//
//	cd bench && go run ./cmd/spookbench --quick
//	cd bench && go run ./cmd/spookbench --systems spook,redis
//
// It also serves as its own helper: "spookbench helper etcd|nats ..." runs
// one etcd member or one NATS server, so every peer runs as three
// processes like spookd and redis-server.
package main
