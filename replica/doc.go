// Package replica is Spook's replication core: a pure, deterministic state
// machine that turns local transactions, incoming messages and ticks into
// records to persist, messages to send and changes to publish. It owns
// propagation (causal delivery, batching, acknowledgements), coherence
// (failure detection, collapse tracking, digests, anti-entropy) and
// membership. It is pure: no goroutines, clock reads, randomness from the
// environment, logging or I/O; a driver (package node in production,
// package sim in the simulator) does all of that around it.
//
// # Using it
//
// A driver creates a Replica with New (fresh node) or Restore (persisted
// snapshot plus the records emitted since), then loops:
//
//	r.Tick(nowMs)              // every tick; nowMs is physical time for the HLC
//	r.Step(from, msg)          // for every message decoded from a link
//	r.Propose(fn)              // for every client transaction
//	if r.HasReady() {
//		rd := r.Ready()
//		persist(rd.Snapshot, rd.Records)  // in order; durable per the fsync policy
//		send(rd.Messages)                 // encode each with the link's LinkCodec
//		publish(rd.Changes, rd.Events)
//		r.Advance()
//	}
//
// The ordering is the contract of Ready: records are durable before any
// message that depends on them leaves (messages advertise the applied
// vector, which includes every record), and watchers hear of a change only
// after it is persisted.
//
// Time is counted in ticks; every timeout in Config is named ...Ticks. The
// physical time passed to Tick feeds only the hybrid logical clock. All
// randomness comes from Config.Seed through a splitmix64 generator inside
// the package, so the same inputs give the same outputs, byte for byte.
//
// # Transactions and causal delivery
//
// Propose builds a transaction with the next dot of the local node and
// applies it at once (local writes never wait for a peer). The transaction
// is logged (Ready.Records) and pushed directly to every member believed
// reachable. A receiver applies a remote transaction only when its
// dependencies (the origin's context when it was made) are contained in its
// own applied context; until then it waits in a causal buffer bounded by
// Config.MaxPendingTxns and Config.MaxPendingBytes. When the buffer is full,
// further out-of-order transactions are dropped (not applied, not
// acknowledged) and EventBufferFull is raised; anti-entropy fetches them
// again later. A transaction is applied whole or not at all.
//
// Direct push suits small clusters (every origin sends to every member:
// O(n) messages per batch). Above Config.OverlayThreshold members (32 by
// default) transactions spread over per-origin trees instead
// (overlay.go): the k-ary tree over the ordered member list rotated at
// the origin (per region, with one representative per other region hung
// under the origin's first children, so a transaction crosses each
// region boundary once), derived from membership alone, with no message
// to agree on it. The origin sends OverlayFanout copies; every member
// relays what it applies to its children, adopting the children of a
// member it believes down; the cluster sends about one copy per member.
// Lost copies come back through the digests and fetches, which the
// overlay defers by a period so that what is in flight is not shipped
// twice, and through a buffered transaction's sender, which has its
// dependencies. The causal buffer, acks and atomicity are unchanged.
//
// # Coherence
//
// Failure detection is SWIM with Lifeguard's refutation-by-any-message:
// every ProbeTicks the replica pings the next member of a shuffled
// round-robin; without an answer within ProbeTimeoutTicks it asks
// IndirectProbes other members to ping on its behalf; without any answer
// by the end of the probe period the member becomes suspect, and after
// SuspectTicks more, unreachable. Any message from a member makes it alive
// again. Each transition is an Event.
//
// Every message carries the sender's applied version vector, so each
// replica knows what every member has applied. The collapsed cut is the
// meet of the applied vectors of all current members (this node included);
// a transaction below it is present on every member for good, and the
// retained log drops it. It is kept incrementally: per origin, a count of
// the members holding the cut at its value; a message costs O(its
// vector), and the meet over every member is recomputed only when the
// last member holding the cut down has moved past it. An
// unreachable member stalls the cut, never local writes; removing it lets
// the cut advance.
//
// Above the overlay threshold a node hears from few members, so the cut
// is also raised per origin by claims: every member reports up each
// origin's tree the least counter its subtree holds durably (MsgCut), the
// origin's own value is then what every member holds, and that claim
// goes back down the tree and is gossiped one member per DigestTicks.
// Reports and claims name the member list they were computed over (a
// fingerprint) and count only under the same list, so a claim never
// covers a member it did not count.
//
// The retained log keeps each transaction's record only, and counts the
// memory it holds (Status.RetainedBytes) against MaxRetainedBytes. When it
// drops a transaction a current member has not acknowledged (a member
// down for long), it raises EventPeerBehindLog and sets Member.BehindLog:
// that member will be repaired by reconciliation, not catch-up.
//
// Every DigestTicks the replica sends a digest (applied vector and state
// hash) to one member. A receiver that lacks transactions fetches them from
// the sender's retained log; if the log no longer reaches back far enough,
// or if the vectors are equal but the hashes differ (divergence: raised as
// EventDivergence), it starts a reconciliation: a descent over a 4-ary
// hash tree of (key hash, value hash) pairs that ships only differing keys,
// so its bytes grow with the difference, not the keyspace. A repair is
// applied in one step; if its record would exceed limits.MaxRecordBytes it
// is logged as chunk records and a commit record, and values larger than a
// chunk travel in fragments, so no record or message exceeds its limit.
// See docs/protocol.md, "Replication protocol".
//
// # Limits
//
// Propose refuses a transaction whose encoding exceeds limits.MaxTxnBytes
// (ErrTxnTooLarge) before anything changes. Package limits holds the
// table this relies on: value ≤ transaction ≤ record ≤ frame, chunks
// within records and frames.
//
// # Membership
//
// Membership is replicated state: transactions on internal keys under
// MemberPrefix, hidden from client reads (IsInternalKey). There is no
// leader and no vote. A fresh cluster starts from Config.Members, the same
// list on every node. A new node starts with Config.Join, pulls a
// snapshot from one of those peers (chunk by chunk, a few in flight,
// resuming after lost chunks; the peer pins the encoding for the
// transfer), installs it and proposes its own membership record. Leave marks the local node left; Remove marks another
// node removed (operator action for a dead member). Writes of a left or
// removed node that arrive later are still applied when causally ready:
// they happened.
//
// # Regions
//
// Config.Region names a node's failure domain; the node writes it into
// its membership record (a bootstrap member only when it has one, so a
// cluster without regions writes no records), and Member.Region reports
// every member's. Besides the cluster cut, RegionCollapsedVector is the
// meet over the current members of this node's region: a transaction
// below it is on every member of the region as this node knows them, and
// nothing is said of other regions. AppliedByRegion and RegionCollapsed
// are its counterparts of AppliedBy and Collapsed (region.go).
//
// # Audit mode
//
// With Config.Audit set, every transaction carries the hash of its
// origin's previous transaction, so each origin's transactions form a
// hash chain, and the origin signs its chain head (batchseal.go): the
// last transaction of a Ready, or at most once per AuditConfig.SignTicks,
// and at least every MaxUnsignedRun. A signed transaction carries a seal
// (prev and an ed25519 signature of its own hash), the others a link
// (prev alone). Step verifies the seal of a remote transaction before it
// is buffered or applied, holds a linked one until a signed transaction
// of its origin chains back to it, and checks that each continues its
// origin's chain just before it is applied. A transaction
// that fails either check is refused (EventAuditRefused) and never
// applied. The signature check depends only on the transaction and
// Config.Audit.Keys, so every correct replica refuses the same forgeries;
// a chain break (a validly signed transaction naming another
// predecessor: the origin forked its history) is refused by every replica
// whose history it contradicts. Records become kinds 6, 11 and 12 and
// snapshots kind 7 (chain heads first), see persist.go and audit.go;
// docs/audit.md has the model.
//
// With Config.Audit.Operator set too, write rights apply (policy.go): an
// operator-signed policy, one internal key per version under
// PolicyPrefix, says which nodes may write which key prefixes. Every
// transaction, local or remote, is checked against the highest-version
// policy written by a transaction in its Deps (the policy its writer had
// seen), so every correct replica decides alike; a remote transaction
// outside its origin's rights is refused (EventRightsRefused) and never
// applied, a local one fails with ErrNoRights. State that arrives by
// repair, a joiner's snapshot or a state bundle is checked before it is
// joined (repairrights.go): every writer dot new to the replica must be
// allowed on its key by some policy version held, and a removal must be
// attributable to a node with new transactions that may write the key;
// otherwise the whole repair is refused (EventRightsRefused naming the
// peer) and nothing changes.
//
// # Wire format
//
// Messages are Go values (Message); LinkCodec turns them into payloads for
// one link session and back. It keeps a per-link dictionary so a key or a
// node id costs its full bytes once per session and a varint afterwards,
// and encodes each transaction's header as a difference from the previous
// one on the link, so causal metadata is O(1) bytes per transaction in the
// common case. The driver makes one LinkCodec per link session and drops
// it when the session ends.
package replica
