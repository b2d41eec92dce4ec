// Package causal holds Spook's causal metadata: who wrote what, and what
// each replica has seen. It is pure: no clock, no I/O, no randomness.
//
//   - NodeID names a replica. IDs are derived from node names with
//     NodeIDFromName so every replica computes the same ID for a name.
//   - Dot (node, counter) names one transaction. A node numbers its own
//     transactions 1, 2, 3, ... without gaps.
//   - VersionVector maps each node to the highest counter such that every
//     transaction of that node up to it has been applied. Under causal
//     delivery it is the whole of what a replica has seen.
//   - Context is a version vector plus outliers: dots seen beyond the
//     contiguous prefix. Adding the missing dots compacts outliers back into
//     the vector. Contexts answer "has this dot been seen?".
//   - Timestamp and Clock are a hybrid logical clock: physical milliseconds
//     (passed in by the caller) plus a logical counter, so timestamps order
//     causally related events and stay near wall time. A remote timestamp
//     further ahead than Clock.MaxAheadMs is refused with ErrClockAhead
//     rather than dragging the local clock forward.
//
// Every type has a canonical binary encoding (AppendBinary / Decode...):
// equal values encode to identical bytes, which is what makes Spook's
// state hashes comparable across replicas.
package causal
