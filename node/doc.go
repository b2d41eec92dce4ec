// Package node is Spook's production driver: it runs the pure replica core
// (package replica) with the real clock, goroutines, peer links and local
// storage, and serves clients (RESP and HTTP) on one port.
//
// # Structure
//
// One Node owns one replica.Replica behind a mutex. Three kinds of
// goroutine touch it:
//
//   - client calls (api.Backend: View, Update, Wait, Watch, Status) lock it
//     briefly; Update proposes a transaction directly and, under the
//     `always` fsync policy, waits until the loop has synced its record;
//   - one reader goroutine per inbound peer link decodes frames and Steps
//     the replica;
//   - the loop goroutine ticks the replica every Config.TickInterval and
//     drains Ready: it appends Records to the log (syncing per policy), then
//     hands Messages to per-peer send queues, then publishes Changes to
//     watchers and Events to the log and metrics, then calls Advance. That
//     order is the replica's Ready contract: nothing is sent that claims a
//     record not yet written.
//
// Each peer has one outbound link, dialled by this node with jittered
// exponential backoff, and its own bounded send queue
// (Config.PeerQueueMax messages). When a queue is full the oldest
// messages are dropped and the peer is left to anti-entropy: a slow or
// stalled peer never grows memory without bound. Inbound links are only
// read; outbound links only written, so two nodes that dial each other need
// no tie-break.
//
// # Admission and identity
//
// Peers are admitted by proof only (admission.go): every link's handshake
// proves Config.ClusterKey, and the Accept policy checks that a TLS
// peer's certificate names the node its Hello claims, that a dialled peer
// is the one expected, and that the peer was not removed. Start refuses a
// non-loopback address with no key unless TLS is required. A data
// directory records its node and cluster (storage.CheckIdentity), and a
// node removed by an operator learns it from the members' refusals,
// refuses writes with api.RemovedError and stays removed across restarts
// (removal.go).
//
// # Durability
//
// Config.Fsync selects the policy (see package storage and
// docs/durability.md). Under every policy but none, records are fsynced
// before any message that advertises them leaves the node, so no peer ever
// holds a transaction its origin could lose in a crash (which would let the
// restarted origin reuse the dot). The policies differ in when a client is
// answered: `always` after the fsync covering its write (writes that arrive
// during one fsync share the next: group commit); `batch`, the default, at
// once, so a crash can lose writes acknowledged in the last group-commit
// interval (typically one fsync, a few milliseconds); `none` never fsyncs
// (records reach the OS before messages leave, surviving a process crash
// but not a power loss). An fsync error stops the node from acknowledging
// writes (fail-stop): it is never retried and ignored.
package node
