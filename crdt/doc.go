// Package crdt holds Spook's replicated data types and the keyspace that
// maps keys to them. It is pure: no clock, no I/O, and no randomness that
// reaches a result (the key index's hash seed, like the seeds of Go's own
// maps, decides only where a key's slot lies; see keyIndex).
//
// # Model
//
// A Keyspace maps keys to Values. A Value holds up to one component of each
// type — register, counter, set, map, sorted set, list, text, stream —
// because two replicas may create one key concurrently with different
// types; the components join independently and the visible type
// (Value.Type) is the highest-ranked live one (stream > text > list > zset
// > map > set > counter > register). The hidden ones stay until a write
// that observed them (SET, DEL, or an INCR that converts a string) removes
// them.
//
// Every change is a transaction (Txn): one dot (node, counter), one hybrid
// logical timestamp, the causal past it was made in (Deps), and an
// operation per key. Entries a transaction creates are tagged with its dot.
// A transaction that overwrites, deletes or removes something removes the
// entries it observed: exactly those whose dot lies in its Deps. Because a
// replica applies a transaction only after its causal past (Apply refuses
// it with ErrNotReady otherwise), "in Deps" at the receiver means "seen by
// the writer", so removal needs no list of dots on the wire: a flag
// suffices. This is the δ-CRDT construction (Almeida, Shoker, Baquero) with
// the delta's causal context carried as the transaction's dependency
// vector.
//
// # Types
//
//   - Register: entries {dot, timestamp, value}. Concurrent writes are kept
//     side by side (a multi-value register) until a write that saw them
//     replaces them. Register resolves them last-writer-wins by (timestamp,
//     node); Siblings returns them all, by dot. A pure LWW register that
//     drops losers on merge is not a lattice once observed-remove deletes
//     exist (a delete that saw only the winner would resurrect or not
//     resurrect the loser depending on merge order), so the loser is kept
//     until overwritten; one entry is the common case.
//   - Counter: a PN counter of int64. For each node N it keeps (k, sum):
//     the counter of N's latest transaction that incremented it and N's
//     cumulative signed sum then; and a reset (kr, sumr): the (k, sum) of N
//     that the latest clear (DEL, SET, converting INCR) observed. The value
//     is Σ (sum − sumr) over nodes with k > kr. Both pairs join by max k, so
//     a concurrent increment survives a delete with exactly its own amount.
//     An increment's delta is just N's new cumulative sum (N and k are the
//     transaction's dot). Cumulative sums wrap modulo 2^64 and are only
//     read relative to the reset, so history before a clear never limits
//     a later increment. An increment whose visible value would leave
//     int64 is an error (ErrOverflow), never a wrap; one whose own node's
//     part would leave int64 while the value does not resets the other
//     nodes it observed and carries the whole value (a rebase), so the
//     check is only ever on what a client reads. Concurrent increments
//     whose total leaves int64 read as the nearest bound.
//   - Set: add-wins observed-remove set of byte strings: member → dots.
//     SADD adds the transaction's dot and removes the member's observed
//     dots; SREM removes the observed dots, so a concurrent add survives.
//   - Map: observed-remove map from field name to a nested value
//     (register, counter or set; maps nest one level, MaxNesting). Field
//     operations mirror key operations; HDEL removes the observed
//     components of that field only. Redis hashes are Maps of registers
//     and counters.
//   - Expiry (top level only): entries {dot, time, deadline ms}, kept and
//     removed like register entries. EXPIRE removes the observed ones and
//     adds one; PERSIST, SET and DEL remove the observed ones; concurrent
//     deadlines resolve last-writer-wins (Deadline), and a deadline set
//     concurrently with a clear survives. A key whose deadline is at or
//     before the reader's time is hidden: the Builder judges at the
//     transaction's time (Builder.Now), hides such keys from Get and makes
//     the first write to one start as a clear of everything observed;
//     readers outside a transaction use Value.Expired with their clock.
//     Keyspace.Get does not hide them (the keyspace has no clock), and a
//     deadline left alone by a concurrent DEL stays as a hidden value until
//     Builder.Reclaim removes it. Keys without a deadline carry no expiry
//     component: their encoding is unchanged.
//   - List and Text (sequence.go, list.go, text.go): package seq's
//     sequence CRDT. Each element is identified by the dot of the
//     transaction that inserted it and its offset among that
//     transaction's elements; an insertion carries its origins (the
//     elements it went between) and its content, a deletion the ranges
//     of elements it deletes, so positions are translated to identities
//     where an operation is made and concurrent insertions at one place
//     never interleave (FugueMax). DEL and SET delete the observed
//     elements (dots in Deps): a concurrent push or insertion survives.
//     Deleted elements stay as content-free tombstones (a concurrent
//     insertion may name one), so a list or text with only tombstones
//     stays as a hidden value. Builder: ListPush, ListInsert, ListDelete,
//     ListRemove, ListSet, ListTrim, ListPop, TextInsert, TextDelete;
//     Value: ListLen, ListIndex, ListRange, List, TextLen, Text,
//     TextRange, TextID and TextPosition (a position that stays attached
//     to a character across remote edits). Positions count elements, and
//     code points for text.
//   - Sorted set (top level only, extension bit extZSet; zset.go): member →
//     {ZADD score entries kept and removed like register entries; a
//     float64 counter with observed resets for ZINCRBY}. Membership is
//     add-wins, concurrent ZADDs resolve last-writer-wins, concurrent
//     increments add, and ZADD/ZREM/DEL/SET reset only the increments
//     they observed. The visible type ranks a sorted set above a map.
//     Visible members are indexed by (score, member) for ranks and
//     ranges (ZRank, ZAscend, ZCountBefore). Builder: ZAdd, ZIncrement,
//     ZRemove, ZScore.
//   - Stream (stream.go; extension bit extStream): an add-only log of
//     entries {ID, fields} plus last-ID entries kept like register
//     entries. IDs the Builder generates are unique per node and ordered
//     by time then node; explicit IDs must exceed the last ID this
//     replica sees. XDEL and trimming remove the observed entries by ID,
//     DEL and SET every observed entry, so a concurrent XADD survives. A
//     stream outranks every other visible type but a bounded counter.
//   - Bounded counter (bcounter.go; extension bit extBCounter): an
//     integer that never goes below its floor on any replica. Per
//     generation (one CREATE) each node's cumulative inc, dec, want,
//     withdrawn and gifts, joined by maximum; a node decrements or gives
//     only rights it holds, so rights(n) ≥ 0 and value ≥ floor
//     everywhere. Concurrent creates keep both generations, the greater
//     dot visible. Builder: BCounterCreate, BCounterIncrement,
//     BCounterDecrement, BCounterWant, BCounterWithdraw,
//     BCounterTransfer, BCounterRebalance (the pure transfer policy),
//     BCounterRights; Value: BCounter, BCounterRights, BCounterNodes,
//     BCounterNeed. It outranks every other visible type.
//
// docs/semantics.md tabulates the outcome of every concurrent pair of
// operations; concurrency_test.go checks each row.
//
// # Deleted counters
//
// A key whose value has nothing left is dropped, with one exception: a
// counter's resets must outlive the delete, because a concurrent or later
// increment by N arrives as N's cumulative sum and is read relative to
// N's reset. So a deleted counter stays as a hidden value (Get returns nil,
// Len and Range skip it, the encoding and Hash include it), costing about
// three varints per node that ever incremented it. Compact does not drop
// these: a replica that forgot a reset would disagree with one that had
// not on the next increment, and replicas learn the collapsed cut at
// different times, so no local rule is safe. Workloads that create and
// delete many distinct counter keys pay this per key.
//
// # Building and applying
//
// Keyspace.Begin(dot, ts) returns a Builder whose operations (Set,
// Increment, Delete, SetAdd, SetRemove, MapSet, MapIncrement, MapDelete,
// Expire, Persist, SetKeepTTL, Reclaim, and the list and text operations)
// mirror the Redis commands and see the keyspace plus the earlier
// operations of the same transaction; Builder.Get reads that view. An
// operation that fails changes nothing; one on a key of another type
// returns ErrWrongType. Finish returns the Txn; the caller (the replica)
// applies it with Keyspace.Apply, logs it and ships it. Apply is the delta
// join for a causally ready transaction and is idempotent (a dot applied
// twice is a no-op). Keyspace.Join joins a whole state (snapshot install,
// anti-entropy) and JoinKey/MergeContext join key by key; both are true
// lattice joins: commutative, associative and idempotent. These are the
// only ways a Keyspace changes.
//
// # Encoding and hashing
//
// AppendBinary / Decode... produce the canonical encoding (format tables
// in encoding.go): equal states give identical bytes, and a decoded input
// re-encodes to itself. Decoders never panic, bound every length by a
// named Max... limit, accept only minimal varints and return the reason
// for a refusal (wrapping ErrInvalid, ErrVersion or codec's errors). A
// transaction body is minimal: an INCR of a counter is the key, a tag byte
// and one varint. Keyspace.Hash is maintained incrementally (the sum of
// per-key hashes mixed with the context's hash), so reading it is O(1) and
// an Apply costs O(1) hashing per changed key; KeyHash gives one key's
// hash for reconciliation.
//
// # Concurrency
//
// A Keyspace is not safe for concurrent use. Its read methods do not
// mutate it, so concurrent readers are safe while nothing writes. Values
// and byte slices it returns alias state and are valid until the next
// change.
package crdt
