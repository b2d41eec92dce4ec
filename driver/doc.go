// Package driver holds the decisions of a Spook node's driver as a pure,
// deterministic state machine: the order in which the replica's output is
// persisted, sent and published; when a client's write is answered and
// with which outcome; how many bytes of pushed transactions may be in
// flight to each peer; and the fail-stop state. It does no I/O, reads no
// clock and starts no goroutine, so the simulator (package sim) runs the
// very same code as production (package node), the way etcd's raft
// RawNode is driven by both a test harness and a real server.
//
// # The loop around a Core
//
// A driver owns one Core and calls it from one goroutine:
//
//	core.Propose(ticket, fn)   // a client write; answered later, see Output.Done
//	core.Step(from, msg)       // a message from a peer
//	core.Tick(nowMs)           // every tick
//	for core.HasReady() {
//		out := core.Ready()
//		persist out.Snapshot, append out.Records   // in this order
//		if out.SyncTo > 0: start an fsync covering every record appended so
//		                   far; when it completes, call core.Synced(out.SyncTo)
//		send out.Send         // per peer, in order
//		publish out.Changes, out.Events
//		answer out.Done (written), out.Unknown (outcome unknown)
//	}
//
// Every slice in an Output may be acted on at once: the Core has already
// held back what must wait. Messages advertise the sender's applied
// vector, which covers every record the replica has emitted, so under the
// fsync policies `always` and `batch` a message leaves only once every
// record before it is durable (Synced). This is what makes a crash unable
// to take back a transaction a peer already holds, so no dot is ever reused
// for a different write. Under `none`, and for a node without a disk,
// records count as durable once appended (handed to the operating system).
//
// # Outcomes
//
// A client write that Propose refused changed nothing (the error says
// why). One that Propose accepted is applied and visible at once; it is
// answered through Output.Done when its durability promise holds (at once
// under batch and none; after the fsync covering its record under always),
// or through Output.Unknown if the node fails before that: the write is
// visible in memory and may or may not be on disk. The driver must never
// tell such a client "not done".
//
// # Flow control
//
// Pushed transactions (Envelope.Push) are the only bulk traffic a peer does
// not ask for.
// The Core counts, per peer, the bytes of transaction batches sent and not
// yet covered by the applied vector the peer reports in its messages (an
// acknowledgement-based window, like raft's MaxInflightMsgs but in bytes).
// A batch that would take a peer past Config.MaxWindowBytes is not sent:
// the replica is told (ReportDropped), sends the peer a digest, and the
// peer fetches what it lacks from the retained log when it can. Later
// pushes are dropped too until the window empties, since they would only
// wait in the peer's causal buffer for the dropped one; answers to fetches
// are not windowed, so the peer can always catch up. A link that
// breaks (LinkDown) or a window that sees no acknowledgement for
// Config.WindowTimeoutTicks releases its bytes: what was in flight is lost
// and anti-entropy repairs it. Other messages (probes, digests, answers to
// requests) are small or self-clocked by their requester, and the driver's
// per-peer queue bounds them by count.
//
// # Fail-stop
//
// Fail(err) records an I/O error the driver could not recover from (a
// failed fsync or append). From then on the Core refuses proposals and
// messages, emits no records and no messages, and reports every write
// still waiting for durability as Unknown. Reads stay possible; Failed
// says why, for readiness probes and INFO.
package driver
