// Package spook embeds a Spook node in a Go program.
//
// A DB is one replica of a shared keyspace. Writes are local: Update
// commits a transaction on this node at once and replicates it to the
// other members in the background. Reads see this node's replica. Two
// nodes that have applied the same transactions hold byte-identical state.
//
//	db, err := spook.Open(spook.Config{Name: "svc-a", Listen: "127.0.0.1:7101", DataDir: "/var/lib/svc-a/spook",
//		Members: []spook.Member{{Name: "svc-a", Addr: "127.0.0.1:7101"}, {Name: "svc-b", Addr: "127.0.0.1:7102"}}})
//	tok, err := db.Update(ctx, func(tx *spook.Tx) error {
//		if err := tx.Set([]byte("order/42"), []byte("paid")); err != nil {
//			return err
//		}
//		_, err := tx.Increment([]byte("orders/paid"), 1)
//		return err
//	})
//	err = db.WaitCollapsed(ctx, tok) // optional: until every member has it
//
// # Guarantees
//
// Strong eventual consistency, causal consistency and atomic multi-key
// transactions — not linearizability. A transaction's keys become visible
// together on every replica; a replica applies a transaction only after
// every transaction its writer had seen. Concurrent writes merge by the
// rules in docs/semantics.md (registers: last writer wins, with the
// concurrent values kept as siblings until overwritten; counters add;
// sets and maps: add wins over a concurrent remove).
//
// # Watching and waiting
//
// Watch streams changes to keys under a prefix (local and replicated,
// in the order this node applied them). Wait and WaitCollapsed block until
// a write has reached some or all members; with Config.Region set,
// WaitRegion and WaitRegionCollapsed count the members of this node's
// region only (docs/semantics.md, "Regions"). Status reports members, their
// states (alive, suspect, unreachable, left, removed) and what each has
// applied.
//
// The same node also serves Redis clients and HTTP on its Listen address.
package spook
