// Package sim is Spook's deterministic simulator: it drives the same
// replica core and driver core as production (packages replica and
// driver) through a simulated
// network, simulated clocks and simulated disks, from one seed, on one
// goroutine, with no real time. The idea is TigerBeetle's VOPR and
// FoundationDB's simulation testing: a seed decides every fault and every
// client operation, so any failure replays exactly from its seed.
//
// # A run
//
// Run(Options{Seed: s}) draws the run's Params from the seed (swarm
// testing: fault rates, latency distribution, partition shapes, crash and
// pause rates, clock skew, replica limits, disk model, join and kill
// scenarios and workload mix all vary by seed, and some seeds switch
// whole fault kinds off), then:
//
//  1. Fault phase, Options.Steps steps. Each step: faults are drawn
//     (partitions, link breaks, pauses, crashes and restarts, clock
//     jumps, the kill and operator removal of one node), clients issue
//     operations, frames due are delivered, every running node ticks
//     with its own skewed clock, and nodes whose group commit is due sync
//     their disk. Some seeds add a node mid-run that joins the cluster
//     (snapshot from a peer, then its membership record) and is subject
//     to every fault from then on; some have a member leave gracefully
//     (it stops once every other member shows it as left, and its
//     acknowledged writes must survive it); some kill a member for good
//     and have an operator remove it, after which collapse must advance.
//  2. Heal: partitions end, paused nodes resume, crashed nodes restart
//     from their disks, clocks are set right, no more drops or jumps.
//     Then up to ConvergenceTicksMax ticks run until every live replica
//     has the same applied vector and state hash and calls everything
//     collapsed.
//  3. Checks (package check), from the outside: convergence, an oracle
//     replay of every transaction the replicas applied, no acknowledged
//     write lost, exact counters, no partly visible transaction, session
//     guarantees, causal order across sessions, no expired key read past
//     the clock bound, collapse. Result.Report
//     lists what failed.
//
// Every event processed (tick, delivery with its payload, proposal,
// acknowledgement, read, fault) is folded into Result.TraceHash: the same
// seed gives the same hash, which is how determinism is tested.
//
// # The model
//
// Network: each directed link is a FIFO session with its own LinkCodec
// at each end, like a TCP connection. Frames arrive after a latency drawn
// from a minimum plus an exponential tail plus rare spikes. A link break
// or a dropped frame ends the session: frames in flight are lost and both
// codecs start over. A partition cuts a set of directed links (shapes:
// isolate one node, minority/majority, ring, bridge, one-way) and breaks
// them. In datagram mode (some seeds) every message is encoded alone and
// delivered independently, so messages are reordered and duplicated.
//
// Disk: nodes sync every Params.SyncEveryTicks ticks (group commit).
// Each node's driver.Core (policy always) decides what may leave and
// when a client is answered: messages leave only after the records before
// them are durable, and a client sees its write acknowledged only then.
// Every third crash is first a disk failure: the node fail-stops (its core
// refuses every input and emits nothing, checked at every step, and its
// writes still waiting for durability are answered "outcome unknown"),
// stays up failed for a while, and is then restarted. Some seeds give the
// core a small flow-control window, so pushes to a slow peer are not sent
// and the peer catches up by fetching. Two disk models: most seeds keep each node's records
// in a list with a synced prefix, and a crash loses the unsynced records
// except a random torn prefix of them (whole records, the unit the log
// recovers to: fast); a quarter of the seeds (Params.StorageLog) use
// package storage's Store over its crash-simulating MemFS, where a crash
// tears bytes and reopening runs the log's real recovery. A restart
// calls replica.Restore with the snapshot and records that survived.
//
// Clients: sessions issue counter increments, register sets and deletes,
// set adds and removes, map field sets, increments and deletes, multi-key
// transactions (a pair of keys written with one marker value, plus a
// counter and a set member), and causal marks (a register set, in a
// transaction of its own, to the number of increments the session had
// made to its own counter), and expiring keys (set with a deadline, given
// a new one, persisted, and reclaimed by the DEL a reclaiming node
// makes). Reads record what a pair, a session's own counter, another
// session's mark and counter, or an expiring key (hidden once its
// deadline is at or before the reader's skewed clock) showed. A session stays
// on one node, or moves and waits until its new node has applied what it
// last saw; it ends when its node crashes (its connection breaks), since
// it may have read writes that were not durable yet.
//
// # Scale
//
// Options.Replicas goes up to ReplicasLimit (2,000). Up to
// DenseReplicasMax nodes the simulator visits every link every step, as
// the default seeds always have; above, it keeps only the links in use
// and visits those with frames in flight, draws link breaks by geometric
// gaps, and scales the per-node fault rates by ReplicasMax/n (link
// breaks by its square), so a large cluster sees the faults per step a
// default-sized one does. A large-value seed's cap on large writes
// shrinks the same way above DenseReplicasMax (LargeWritesMax·16/n, none
// above 256 replicas): every node keeps each large value in its keyspace
// and its in-memory disk, so a run holds at most the copies a
// 16-replica run holds. Options.Regions = K puts node i in region
// i mod K: frames between regions take InterRegionLatencyTicks more, and
// partitions may cut one region off from the others (shape "region").
// With K > 1 each replica's Config.Region (and its Peer.Region in every
// member list) is "r" and its region's number, so above
// replica.DefaultOverlayThreshold the overlay's trees follow the regions;
// each replica then also writes a membership record naming its region,
// whose copies the figures below count like any transaction's.
// Options.Calm switches every fault off and keeps latencies: the cost of
// a healthy cluster.
//
// # Scale figures
//
// Every run fills Result.Figures; `spook sim --figures` prints them per
// seed. An update is a client write the replica committed (gave a dot);
// the counts cover every replica message put on a link during the whole
// run (fault phase and convergence), background traffic (probes,
// digests, acknowledgements, catch-up) included:
//
//	msgs_per_update              messages sent / updates
//	payload_copies_per_update    transactions carried in MsgTxns messages / updates
//	                             (pushes, catch-up answers and re-sends alike)
//	origin_sends_per_update      of those, copies sent by the transaction's origin / updates
//	bytes_per_update             encoded payload bytes of every message / updates
//	                             (LinkCodec output; frame headers and TLS not counted)
//	vector_bytes_per_msg         bytes of the applied-vector field / messages sent
//	cross_region_bytes_per_update  bytes between nodes of different regions / updates
//	convergence_ticks_p99        99th percentile, over the updates applied on every
//	                             node live at the end, of the ticks from the proposal
//	                             to the first step at which every such node had applied it
//	collapse_ticks_p99           the same to the first step at which every such node's
//	                             collapsed cut contained it
//
// A tick is one step: TickMs of simulated time, the unit of every link
// latency (Params.LatencyMinTicks plus an exponential tail).
// `make sim-scale` prints them for 10, 100 and 1,000 replicas
// (docs/BENCHMARKS.md, "Scale").
//
// # Replaying a failure
//
//	go run ./cmd/spook sim --seeds 1000 --steps 1000       # explore
//	go run ./cmd/spook sim --seed 42 --steps 1000 -v       # replay one, with the event log
//	go run ./cmd/spook sim --seed 42 --trace-hash          # print its trace hash
package sim
