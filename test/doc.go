// Package test holds tests that run Spook as real processes: spookd
// binaries built from this tree, driven by real clients (go-redis), killed
// with real signals, on 127.0.0.1 only.
//
// The package has no non-test code. Tests skip with a reason when a
// prerequisite is missing (redis-cli, redis-server: TestRepliesMatchRealRedis
// compares Spook's replies with a real Redis's byte for byte). Iteration counts have CI defaults and can be
// raised for soak runs through environment variables (see each test).
package test
