// Package seq is Spook's sequence CRDT: an ordered list of elements that
// replicas edit concurrently and merge without coordination. It is the one
// structure behind two value types of package crdt: text (elements are
// Unicode code points) and lists (elements are byte strings).
//
// # Identity
//
// Every element has an ID (node, counter, offset): the transaction that
// inserted it (its dot, node and counter) and its index among the elements
// that transaction inserted into this sequence. A run typed or pushed in
// one transaction therefore costs one ID, and the elements of a sequence
// are stored as runs (items): consecutive elements inserted together are
// one item until an insertion or deletion inside splits it. Runs of
// single-element transactions of one node with consecutive counters (one
// keystroke per transaction, the common case of live typing) are merged
// into one item too, stepping the counter instead of the offset.
//
// # Order
//
// An insertion records its origins: the element immediately left of the
// insertion point and the element immediately right of it, tombstones
// included (zero IDs for the ends). A replica integrating a remote
// insertion places it between its origins and orders it among concurrent
// insertions at the same place by the rules of FugueMax (Weidner and
// Kleppmann, "The Art of the Fugue", 2023; the same order as the
// modified YATA integration studied there): concurrent runs typed at one
// place never interleave, whatever the order of delivery, and ties between
// siblings are broken by node. The result depends only on the set of
// insertions, so replicas that applied the same operations hold the same
// sequence.
//
// # Deletion
//
// A deletion marks elements as tombstones (a flag on runs) and drops their
// content at once: a tombstone keeps only its ID and origins, which
// concurrent insertions may still name, and adjacent tombstones of one run
// merge back into one item. Tombstones are never removed: removing one
// safely needs proof that no insertion made concurrently with its deletion
// can still arrive, which the collapsed cut alone does not give (an
// insertion concurrent with a collapsed deletion may still be in flight
// from its origin), and a removal that replicas made at different times
// would make equal states encode differently.
//
// # Structure and cost
//
// Items live in a B+tree whose inner nodes count visible and total
// elements below them, so finding a visible position, inserting and
// deleting cost O(log n) in the number of runs; an ordered index from
// first ID to leaf finds the run holding any element for remote
// integration in O(log n). Local operations (Seq.Insert, Seq.Delete)
// return the operation to ship; remote ones (Seq.Integrate,
// Seq.DeleteRanges) apply it, and are idempotent.
//
// # Encoding
//
// AppendState and DecodeState give the canonical encoding of a sequence
// (runs coalesced maximally, so equal sequences have identical bytes);
// Digest is an order-free 64-bit hash of the same content, maintained
// incrementally. Operation encodings (insertion: origins and content;
// deletion: ID ranges) are written by package crdt, which owns the
// transaction format; this package provides the pieces (AppendID,
// DecodeID). Decoders never panic and bound every length by a named
// Max… limit.
//
// The package is pure: no clock, no I/O, no randomness. A Seq is not safe
// for concurrent use.
package seq
