// Command spookd runs one Spook node: flags (or SPOOK_* environment
// variables, or a config file) become a node.Config, and the node serves
// peers, Redis clients and HTTP on one port until SIGINT or SIGTERM, when
// it shuts down gracefully (flushing the log and queued messages).
//
//	spookd --listen 127.0.0.1:7001 --data ./data/n1 --node-id n1 \
//	       --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003 --dev
//
// Precedence: command-line flags, then SPOOK_<FLAG> environment variables
// (SPOOK_LISTEN, SPOOK_DATA, SPOOK_FSYNC, ... with dashes as underscores),
// then the --config file (lines of `flag = value`, # comments), then
// defaults.
//
// Security: a node listening on a non-loopback address refuses to start
// without TLS (--tls-cert, --tls-key, --tls-ca: peers present node
// certificates naming themselves, clients client certificates, all signed
// by the cluster CA) unless --insecure is given, and refuses to admit
// plaintext peers without a cluster key (--cluster-key-file, or
// SPOOK_CLUSTER_KEY / --cluster-key). On loopback it runs without TLS,
// and without a key it warns that any local process can join. Its own
// certificate must name its --node-id and cover its advertised host, or
// it refuses to start. Repeated log lines are collapsed with a count
// (internal/lograte). See docs/security.md.
//
// Clients: --password is the default user's RESP password, --token the
// HTTP bearer token, and --users FILE names client users (RESP AUTH NAME
// PASSWORD, HTTP Basic auth; lines from 'spook users hash'), whose writes
// the node checks against the user rules of the write-rights policy in
// audit mode (docs/api.md, "Client users"; docs/audit.md).
//
// Profiling: --pprof ADDR serves net/http/pprof on a second listener,
// loopback only (a non-loopback ADDR is refused at start).
//
// Memory: without GOMEMLIMIT in the environment, spookd sets the Go soft
// memory limit to DefaultMemoryLimitPercent of its cgroup's memory.max
// (else of the machine's memory).
//
// The daemon holds no logic of its own: everything it does is in package
// node.
package main
