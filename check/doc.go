// Package check holds the invariant checkers of Spook's deterministic
// simulator (package sim). They live outside the system they judge: they
// see only what a replica exposes to any reader (its keyspace, its applied
// context, whether it calls a token collapsed) and the history the
// simulator recorded while driving it (every proposed transaction, which
// ones a client saw acknowledged, and what each client read). They never
// reach into replica internals, so a bug in the replica's bookkeeping
// cannot hide itself from them.
//
// # What is checked
//
//   - Converged: every live replica's state hash is equal.
//   - Oracle: the user keys of every live replica read exactly as a fresh
//     crdt.Keyspace that applied, in a causal order, every recorded
//     transaction whose dot the replicas hold. Comparison is by what reads
//     return (Render), not by encoding, because replicas compact metadata
//     below the collapsed cut and the oracle does not. The oracle is
//     built twice, in ascending and in descending dot order (both causal
//     orders); if the two disagree the failure is "commute": the data
//     types themselves depend on delivery order, whatever replication did.
//   - LostWrites: every acknowledged transaction's dot is in every live
//     replica's applied context (writes whose origin was destroyed for
//     good before replicating them are exempt: see History.Exempt).
//   - Counters: every counter equals the sum of the increments of the
//     transactions the replicas applied: arithmetic, independent of the
//     crdt package's own counter code.
//   - Atomic: at every read during the run, the two keys of a
//     transaction pair showed the same set of register values (the
//     workload only ever writes both keys of a pair in one transaction,
//     with one marker value), so a partly visible transaction shows up as
//     a mismatch.
//   - Sessions: per client session, a read of the session's own counter
//     returned at least every increment the session had seen acknowledged
//     (read-your-writes) and never less than an earlier read
//     (monotonic reads), also after the session moved to another node.
//   - Causal: a session sets a mark, in its own transaction, to how many
//     increments of its own counter it had proposed; a replica that shows
//     the mark must show at least that many increments (they are in the
//     mark's causal past), on any node, at any read.
//   - Expiry: a read of an expiring key never returned it once its
//     deadline was at or before the reader's clock, nor once every node's
//     clock (each within the run's clock error of true time) had passed
//     it. Render includes a key's deadline, so Oracle and Converged judge
//     deadlines too.
//   - Collapse: a transaction any replica reported collapsed is applied
//     on every current member, at that moment and at the end; after
//     convergence every replica calls every acknowledged write collapsed.
//
// Every checker appends Failures to a Report rather than stopping at the
// first, and a Report holds at most MaxFailures of them.
//
// # Use
//
//	var rep check.Report
//	check.Converged(&rep, states)
//	check.LostWrites(&rep, hist, states)
//	...
//	if !rep.OK() { fmt.Println(rep.String()) }
package check
