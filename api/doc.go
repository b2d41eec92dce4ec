// Package api defines the seam between Spook's client surfaces (api/resp,
// api/http, the embedded Go library) and the node that holds a replica.
//
// A surface sees a Backend: read a consistent view of the keyspace, run a
// transaction, wait until a write has reached enough members, watch
// changes, and read the node's status. The node package implements
// Backend; surfaces never touch the replica, storage or links directly.
//
// Concurrency: every Backend method is safe for concurrent use. View's
// callback must not retain the *crdt.Keyspace or any slice it returns after
// the callback ends.
package api
