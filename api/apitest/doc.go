// Package apitest is an in-memory, single-node api.Backend: a real
// crdt.Keyspace behind one mutex, with no log, no peers and no clock other
// than the one it is given. Client surfaces (api/resp, api/http) test
// against it, and it is the in-memory twin of the node for anyone who needs
// a Backend without a cluster.
//
//	b := apitest.New("n1")
//	defer b.Close()
//	tok, err := b.Update(ctx, func(tx *crdt.Builder) error { return tx.Set(k, v) })
//
// Semantics follow the api.Backend contract for a cluster of one member:
// Wait returns 1 at once for n ≤ 1 (n ≤ 0 means every member, which is
// this one) and blocks until its context ends for n > 1. Watch delivers
// every change in the order applied; a watcher more than its buffer behind
// is closed with api.ErrWatchOverflow. After Close, Update returns
// api.ErrStopped and every subscription ends.
//
// Concurrent (for tests) applies several transactions made on the same
// state by distinct fake nodes, which is how concurrent writes and
// register siblings arise on a real cluster.
package apitest
