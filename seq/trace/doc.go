// Package trace replays editing traces (the format of
// josephg/editing-traces: gzip-compressed JSON, sequential or concurrent)
// through Spook's sequence CRDT, at two levels: package seq directly
// (Local, Merge) and crdt.Keyspace transactions (LocalKeyspace,
// MergeKeyspace). `spook trace replay` and the benchmarks in package seq
// are its callers; it does no timing itself (no clock), so callers measure
// the phases they want.
//
// A sequential trace is a list of transactions of patches [position,
// deleted, inserted]; applied in order to the start content they give the
// end content. A concurrent trace gives each transaction an agent and
// parents (indexes of earlier transactions): it applies to the state after
// merging its parents' states. Replay gives agent i its own replica (node
// i+1); before a transaction it integrates, in index order, every
// transaction in its parents' causal closure the replica lacks, then makes
// the transaction's patches as local operations. Positions count code
// points.
//
// Local replay encodes every transaction's operation as it is made (the
// delta a replica ships: its dot and its steps), so Local's cost includes
// the update per operation that Yjs's benchmarks count. Merge decodes that
// history and integrates it as remote operations into an empty replica.
package trace
