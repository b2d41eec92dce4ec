package replica

// Snapshot returns the whole state in the snapshot format Restore takes:
// the state after every record emitted by Ready so far. A driver calls it
// after Advance, writes it, and may then drop the records it covers.
// It costs O(keyspace) time and bytes.
func (r *Replica) Snapshot() []byte {
	return r.appendAuditHeads(encodeSnapshot(r.bootstrap, r.ks))
}
