// Package resp serves Spook's keyspace over the Redis protocol (RESP2, and RESP3
// after HELLO 3), so redis-cli, redis-benchmark and every Redis client library
// work against a node.
//
//	srv := resp.New(backend, resp.Config{Password: pw})
//	go srv.Serve(listener) // a net.Listener, e.g. from the single-port mux
//	...
//	srv.Close()            // closes every connection, waits for its goroutines
//
// # Semantics
//
// Commands behave as Redis 7.2's, with Redis's replies and error texts,
// over Spook's data types: a Redis string is a register or (after INCR) a
// counter, a set an add-wins set, a hash a map of registers and counters,
// a list crdt's sequence (list.go), a stream crdt's stream (stream.go).
// Every writing command is one transaction (Backend.Update): atomic, and
// applied locally without waiting for a peer. MULTI ... EXEC runs all the
// queued commands in one transaction. WAIT numreplicas timeout waits until
// that many other members have applied the client's last write;
// SPOOK.WAITREGION counts only the members of this node's region. SUBSCRIBE
// and PSUBSCRIBE to Redis keyspace-notification channels
// (__keyspace@0__:<key>, __keyevent@0__:<event>) watch changes, local and
// remote; PUBLISH reaches the subscribers of the node it runs on only.
// Random choices (SPOP, SRANDMEMBER, HRANDFIELD, RANDOMKEY) are the serving
// node's. docs/api.md lists every command and each difference from Redis;
// docs/semantics.md what concurrent commands on two nodes do.
//
// Authentication: Config.Password is the default user's password,
// Config.Users (api.Users) the named users; AUTH and HELLO AUTH make a
// connection a user (ACL WHOAMI names it) and every write it makes runs
// with the user in its context (api.WithUser), which the node checks
// against the write-rights policy's user rules (NOPERM when refused).
//
// BLPOP, BRPOP, BLMOVE and XREAD BLOCK wait on this node only
// (blocking.go): a change this node applies to one of their keys, local
// or replicated, wakes them. SPOOK.LPOPONCE is a pop that never delivers
// an element twice across nodes (claimpop.go); stream consumer groups are
// refused (stream.go).
//
// Keys starting with ReservedPrefix belong to the replica: reads do not see
// them, writes are refused with "ERR reserved key".
//
// # Limits
//
// Every length and queue is bounded by a named Max... constant. Over a
// protocol limit (MaxCommandArgs, MaxBulkBytes, MaxCommandBytes,
// MaxInlineBytes, and before AUTH the smaller MaxUnauthenticatedArgs and
// MaxUnauthenticatedBulkBytes) the client gets "ERR Protocol error: ..."
// and is disconnected, as Redis does. Unfinished commands of all clients
// together are bounded by Config.MaxClientInputBytesTotal: the client
// whose read would pass it is told and disconnected. Over the others
// (MaxQueuedCommands, MaxKeysReply, MaxSubscriptions, MaxRandomCount,
// MaxLCSCells, MaxBlockedClients) it gets an error reply. A subscriber
// that falls PubSubBuffer changes behind is disconnected rather than
// silently missing notifications.
//
// # Concurrency
//
// Each connection is served by its own goroutine, which parses RESP
// itself (parser: each byte looked at once, arguments aliasing the read
// buffer) and runs the commands of one read, then writes their replies
// in order with one write. Consecutive plain writes of a pipeline share
// transactions (runWrites). A subscribed connection has a reader and
// a notification goroutine that share a lock. Server methods are safe for
// concurrent use.
package resp
