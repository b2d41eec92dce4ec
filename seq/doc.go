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
// insertions may still name, and adjacent tombstones of one run merge back
// into one item. Tombstones are never removed. What the collapsed cut
// proves, and why it is not enough:
//
//   - The cut C is the meet of the members' applied vectors V_m; let D be
//     their own entries (D[m] = V_m[m]). A transaction u concurrent with a
//     transaction t ≤ C was made by its origin m before m applied t, and
//     V_m ≥ t was reported after m applied t, so u ≤ D. Once a later cut
//     reaches D, every transaction concurrent with anything ≤ C is applied
//     everywhere, and every transaction not yet everywhere is causally
//     after everything ≤ C: C is then stable. The cut alone proves nothing
//     about concurrent transactions: an insertion made concurrently with a
//     collapsed deletion may still be in flight from its origin, naming the
//     deleted element as an origin.
//   - Even below a stable cut, later (not concurrent) insertions name
//     tombstones: an insertion's origin right is the element right after
//     the insertion point, tombstones included. A replica that dropped a
//     tombstone another member still holds cannot place such an insertion
//     as that member does. And elements already present name tombstones as
//     origins, whose positions order later concurrent insertions.
//   - A rule that is safe: below a stable cut S, a tombstone whose
//     insertion and deletion are ≤ S may be dropped when the element right
//     before it is such a tombstone too (no member can insert right after
//     a tombstone, so only the first of such a block can be named as an
//     origin right later) and no element that stays names it as an origin.
//     Members differ only by transactions after everything ≤ S, which name
//     neither, so every member drops the same elements. The digest must
//     then leave tombstones out (visible elements, their origins and
//     content), or replicas that have compacted and replicas that have not
//     yet would disagree; and the replica must track pairs (C, D) to know
//     stable cuts. This is designed, not built: for typed text it saves
//     elements rather than runs (the last element of a deleted run is
//     usually the origin of what was typed after it).
//
// # Structure and cost
//
// Items live in a B+tree whose inner nodes count visible and total
// elements below them, so finding a visible position, inserting and
// deleting cost O(log n) in the number of runs; an ordered index from
// first ID to leaf (per node slot, a sorted array of 12-byte entries in
// chunks of at most 128, naming leaves by number, re-keyed in place)
// finds the run holding any element for remote integration in O(log n).
// An item is 48 bytes: IDs inside a sequence are 12 bytes (a slot of a
// per-sequence node table holding the node and the counter's high 32
// bits, the counter's low 32 bits, the offset; a run never spans two
// slots and holds at most MaxRunElements), and a visible run's content is
// a span (start, length) of one per-sequence arena, so a split copies
// nothing and typing appends to the arena; the arena grows by a
// sixteenth and is rewritten without its garbage (deleted content) once
// that is an eighth of it. Leaves hold up to 64 runs, in arrays sized to
// the allocator's size classes. A local Insert right after the previous
// one (typing) starts from the place it left. Local operations (Seq.Insert,
// Seq.Delete) return the operation to ship; remote ones (Seq.Integrate,
// Seq.IntegrateRun for a node's typed run, Seq.DeleteRanges) apply it,
// and are idempotent.
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
