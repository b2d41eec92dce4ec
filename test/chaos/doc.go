// Package chaos runs Spook as real processes on hosts made of Linux network
// namespaces and injects faults while clients write: partitions (isolate
// one node, majority/minority split, bridge, ring), one-way loss, SIGSTOP
// pauses, SIGKILL and restart (with and without a clock offset), and
// operator removal of a killed member followed by a fresh node joining
// under a new name. It then checks the guarantees of DESIGN.md §2 against
// the recorded history.
//
// The package holds only tests. The fault suites need root and iproute2
// and skip with a reason otherwise; they also skip unless SPOOK_CHAOS says
// which suite to run, so `go test ./...` stays fast (it still runs the
// checkers' unit tests and the workload against an in-memory node):
//
//	SPOOK_CHAOS=quick go test -count=1 -v -timeout 15m -run TestChaosQuick ./test/chaos  # make chaos-quick
//	SPOOK_CHAOS=full  go test -count=1 -v -timeout 90m -run 'TestChaos$' ./test/chaos    # make chaos
//
// SPOOK_CHAOS_SEED fixes the seeds (run i uses seed+i-1); SPOOK_CHAOS_RUNS,
// SPOOK_CHAOS_SECONDS and SPOOK_CHAOS_FAULTS (e.g. "pause,kill") shape the
// full suite. SPOOK_CHAOS_SPOOKD runs a prebuilt spookd instead of building
// this tree's; SPOOK_CHAOS_LOG_LEVEL sets spookd's log level;
// SPOOK_CHAOS_DUMP names a directory where a run that does not converge
// leaves every node's goroutine dump and log. Each run prints one line —
// seed, fault schedule, operations, lost, divergent, convergence time after
// the heal — and the suite ends with `runs=N lost=L divergent=D failed=F`.
// docs/chaos.md describes every fault and check.
//
// # Hosts
//
// A run creates a bridge in the root namespace with 10.213.X.254/24 and one
// namespace per host (10.213.X.1, .2, ...), joined by veth pairs. Every name
// starts with "spk<pid>", so a later run sweeps what a dead run left behind.
// The test process reaches every host through the bridge; partitions are
// blackhole routes inside host namespaces, between hosts only, so clients
// keep reaching their own host during any partition. No traffic goes to
// any address outside the namespaces the run created. Everything —
// processes (by pid), namespaces, links — is removed when a run ends,
// also when it fails.
//
// Each host runs one spookd (`ip netns exec`) with --fsync always and
// mutual TLS 1.3 from a CA the test generates (ed25519; SAN: the host's
// IP). The test process's clients (go-redis and HTTP) present a client
// certificate from the same CA.
//
// # Workload and checks
//
// One session per host sticks to that host's node and records every write
// with its outcome: ok (acknowledged), fail (an error reply: it did not
// happen) or timeout (it may have happened). The mix: counter increments,
// set adds of unique members and removes of members the session added,
// writes of unique register keys, writes of the session's own register,
// MULTI/EXEC transactions writing one token to a group's three shared
// keys and to a key of their own, and writes followed by WAIT for every
// other member (collapse).
//
// During the run a session checks read-your-writes and monotonic reads on
// its node and that a transaction group's keys agree. Faults that kill a
// node restart it cut off from its peers and check that every write
// confirmed collapsed before the kill is on its own disk. After the last
// heal every node's state hash and applied vector must be equal within
// ConvergeMax, and then every node is read: no acknowledged write lost,
// every counter within [acknowledged, acknowledged + maybe], every set
// holding each acknowledged add not removed and no removed or unknown
// member, every transaction group's keys equal to one written token, every
// collapsed write everywhere. Writes on a node that was up (not paused,
// killed or restarting) must succeed, partitioned or not. Writes
// acknowledged only by a node the operator then removed may be lost (the
// node's data directory is gone); they are counted as orphaned, not lost,
// unless they were confirmed collapsed.
package chaos
