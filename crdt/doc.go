// Package crdt holds Spook's replicated data types and the keyspace that
// maps keys to them. It is pure: no clock, no I/O, no randomness.
//
// # Model
//
// A Keyspace maps keys to Values. A Value holds up to one component of each
// type — register, counter, set, map — because two replicas may create one
// key concurrently with different types; the components join independently
// and the visible type is the highest-ranked live one (map > set > counter >
// register). The hidden ones stay until a write that observed them (SET,
// DEL, or an overwrite of the key) removes them.
//
// Every change is a transaction (Txn): one dot (node, counter), one hybrid
// logical timestamp, the causal past it was made in (Deps), and an
// operation per key. Entries a transaction creates are tagged with its dot.
// A transaction that overwrites, deletes or removes something removes the
// entries it observed: exactly those whose dot lies in its Deps. Because a
// replica applies a transaction only after its causal past (the replica
// package guarantees this), "in Deps" at the receiver means "seen by the
// writer", so removal needs no list of dots on the wire: a flag suffices.
// This is the δ-CRDT construction (Almeida, Shoker, Baquero) with the
// delta's causal context carried as the transaction's dependency vector.
//
// # Types
//
//   - Register: concurrent writes are kept side by side (a multi-value
//     register) until a write that saw them replaces them. Read resolves
//     them last-writer-wins by (timestamp, node); Siblings returns them all.
//     A pure LWW register that drops losers on merge is not a lattice once
//     observed-remove deletes exist (a delete that saw only the winner would
//     resurrect or not resurrect the loser depending on merge order), so
//     the loser is kept until overwritten; one sibling is the common case.
//   - Counter: a PN counter of int64. Each node keeps its cumulative sum
//     and the transaction counter that produced it; a delete records, per
//     node, the (counter, sum) it observed, and the value is the sum of
//     what came after. A concurrent increment therefore survives a delete
//     with exactly its own amount. Overflow of int64 is an error
//     (ErrOverflow), never a wrap.
//   - Set: add-wins observed-remove set of byte strings.
//   - Map: observed-remove map from field to a nested register, counter or
//     set (maps nest one level; MaxNesting). Redis hashes are Maps of
//     registers and counters.
//
// # Joins
//
// Keyspace.Apply(txn) is the delta join for a causally ready transaction;
// it is idempotent (applying a dot twice is a no-op). Keyspace.Join joins a
// whole state (a snapshot or anti-entropy transfer) and is a true lattice
// join: commutative, associative and idempotent in any order. Both are
// the only ways a Keyspace changes.
//
// # Encoding
//
// AppendBinary / Decode... produce the canonical encoding: equal states give
// identical bytes, so Hash compares states across replicas. Keyspace.Hash is
// maintained incrementally (a sum of per-key hashes plus the context), so
// reading it is O(1). Decoders never panic, bound every length by a named
// Max... limit and return the reason for a refusal.
package crdt
