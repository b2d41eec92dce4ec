// Package node is Spook's production driver: it runs the pure replica core
// (package replica) with the real clock, goroutines, peer links and local
// storage, and serves clients (RESP and HTTP) on one port.
//
// # Structure
//
// The decisions (what to persist, send, publish and answer, and when; how
// much may be in flight to each peer; fail-stop) live in a pure core,
// driver.Core, which the simulator runs too. Node is the I/O around it:
//
//   - client calls (api.Backend) queue requests for the loop and wait for
//     their answers; reads (View, Status, Wait) take the node's read lock
//     and never wait for the loop;
//   - one reader goroutine per inbound peer link decodes frames and queues
//     the messages for the loop (blocking when its queue is full, so TCP
//     pushes back on a fast sender);
//   - the loop goroutine, the only writer, takes what has arrived in one
//     pass (requests, messages, completed syncs, a tick), feeds it to the
//     core under the write lock, then, without the lock, does the core's
//     output: hands records to the disk goroutine, queues messages to
//     peers, publishes changes and answers clients;
//   - the disk goroutine (policies batch and always) appends the records,
//     fsyncs once per round (group commit: records handed over during one
//     fsync share the next), writes periodic snapshots once the records
//     they cover are durable, and reports each round to the loop, so no
//     disk wait happens on the loop. When more than MaxDiskQueueBytes wait
//     for it, the loop takes no new requests or messages until it catches
//     up. Under policy none the loop appends itself (no fsync), since the
//     records must reach the operating system before messages leave.
//
// A client's transaction function runs on the loop with the read lock
// held (the loop changes nothing while it runs): it may read through View
// or the Go library's Get, but it must not block, as writes and peer
// messages wait while it runs, exactly like a Redis script.
//
// A reclaimer goroutine (reclaim.go) sweeps the keyspace for expired keys
// and deletes, as an ordinary client transaction, those whose deadline
// this node wrote (or, ReclaimGrace after the deadline, those of a writer
// that is no longer an alive member, if this is the smallest alive id):
// one DEL per expired key cluster-wide.
//
// Client messages (Redis PUBLISH; publish.go) are not replicated state: a
// node sends each once on its peer links as a replica.MsgPublish, in its
// own bounded share of each send queue (MaxQueuedPublishes), to peers
// whose handshake set wire.CapPublish; the receiving reader hands it, past
// the replica and the loop, to a bounded queue (MaxInboundPublishes) that
// one goroutine delivers to the RESP subscribers, dropping repeats by
// (origin, number). Delivery is at most once; nothing is retried.
//
// Each peer has one outbound link, dialled by this node with jittered
// exponential backoff, and its own bounded send queue
// (Config.PeerQueueMax messages); pushed transactions are further bounded
// by the core's per-peer byte window (Config.MaxPeerWindowBytes). A
// message that finds the queue full is not sent, the core is told, and the
// peer catches up by fetching: a slow or stalled peer never grows memory
// without bound. Inbound links are only
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
// but not a power loss). An fsync or append error puts the node in
// fail-stop: it is never retried and ignored. The node then refuses writes
// (api.ErrReadOnly) and peer messages, closes its outbound links, keeps
// serving reads, and reports the cause on /readyz and in Status.Failed;
// writes applied but not yet durable are answered api.ErrUnknownOutcome,
// never "not written".
package node
