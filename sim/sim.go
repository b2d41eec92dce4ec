package sim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/check"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/limits"
	"github.com/spooksystems/spook/replica"
)

// Options select one run. The zero value of every field but Seed works.
type Options struct {
	// Seed decides everything: parameters, faults, workload, replica
	// seeds. The same Options give the same run and the same trace hash.
	Seed uint64
	// Steps is the length of the fault phase in steps (one tick of every
	// node each). Zero: DefaultSteps.
	Steps int
	// Replicas fixes the replica count; zero draws 3..5 from the seed.
	// At most ReplicasLimit.
	Replicas int
	// Regions splits the replicas into that many regions (Params.Regions;
	// 0 or 1: one), at most RegionsLimit.
	Regions int
	// Calm switches every fault off (Params.Calm): for measuring what a
	// healthy cluster costs per update.
	Calm bool
	// Log, when non-nil, receives one line per simulated event (faults,
	// client operations, replica events). It slows the run down.
	Log io.Writer
	// Audit runs every replica in audit mode (docs/audit.md) with keys
	// derived from the node names: an honest cluster must never refuse a
	// transaction (EventAuditRefused fails the run).
	Audit bool
	// Forge (with Audit) adds write rights and a forging member
	// (forge.go): a run fails if a correct replica ever applies a forged
	// transaction or refuses one that was not forged.
	Forge bool
}

// Result is the outcome of one run.
type Result struct {
	Seed      uint64
	Params    Params
	Steps     int    // the fault phase asked for
	StepsRun  int    // fault phase plus the convergence ticks actually run
	TraceHash uint64 // the running hash of every event processed
	Events    uint64 // events folded into TraceHash
	// ConvergenceTicks is how many ticks after heal the live replicas
	// took to converge, or -1 if they did not within ConvergenceTicksMax.
	ConvergenceTicks int
	// Figures are the run's per-update costs (doc.go, "Scale figures").
	Figures Figures
	Report  check.Report

	Proposed, Acked, Reads int
	MarkReads              int // causal reads that found a mark set (the causal check had something to judge)
	DeadlineReads          int // expiring-key reads that saw a deadline (the expiry check had something to judge)
	ExpiredReads           int // expiring-key reads that found the key hidden by its deadline
	Delivered, Lost        int // frames delivered; frames lost to breaks, drops, partitions and crashes
	Crashes, Partitions    int
	StepErrors             int // messages a replica refused (Step returned an error)
	// Forged and Refused count the forged transactions sent (Options.Forge)
	// and the refusals (audit or rights events) of forged dots; Planted
	// counts the times the forger put forged state in its keyspace, and
	// RepairsRefused the repairs refused for carrying it (forge.go).
	Forged, Refused, Planted, RepairsRefused int
	// OracleSkipped is set when some applied transaction was never seen
	// on the wire (it reached replicas only through reconciliation), so
	// the oracle could not be built and the oracle check did not run.
	OracleSkipped bool
}

// OK reports whether every check passed.
func (r *Result) OK() bool { return r.Report.OK() }

// Summary is a one-line account of the run.
func (r *Result) Summary() string {
	return fmt.Sprintf("replicas=%d steps=%d proposed=%d acked=%d reads=%d delivered=%d lost=%d crashes=%d partitions=%d step_errors=%d convergence_ticks=%d",
		r.Params.Replicas, r.Steps, r.Proposed, r.Acked, r.Reads, r.Delivered, r.Lost, r.Crashes, r.Partitions,
		r.StepErrors, r.ConvergenceTicks)
}

// Run simulates one seed: the fault phase with load for Options.Steps
// steps, then heal and up to ConvergenceTicksMax ticks for convergence,
// then every checker. It never panics on a replica failure it can
// report; a panic inside the replica is recovered and reported as a
// failure of the seed.
func Run(o Options) (res *Result) {
	s := newSimulator(o)
	defer func() {
		if p := recover(); p != nil {
			// The replicas' state is now unknown: record the panic with
			// where it came from, and run no checker on that state.
			s.res.Report.Addf(check.CheckReplica, "panic at step %d: %v\n%s", s.step, p, panicSite(debug.Stack()))
			s.res.StepsRun = s.step
			s.res.TraceHash = s.trace.sum()
			s.res.Events = s.trace.events
			res = s.res
		}
	}()
	s.run()
	return s.res
}

// panicSite keeps the frames of a panic's stack that name Spook code,
// at most panicFramesMax of them: enough to find the failing line.
func panicSite(stack []byte) string {
	const panicFramesMax = 6
	var out []string
	lines := strings.Split(string(stack), "\n")
	for i := 0; i+1 < len(lines) && len(out) < panicFramesMax; i++ {
		if strings.Contains(lines[i], "spooksystems/spook/") && !strings.Contains(lines[i], "sim.Run.func") {
			out = append(out, strings.TrimSpace(lines[i])+" "+strings.TrimSpace(lines[i+1]))
			i++
		}
	}
	return strings.Join(out, "\n")
}

// epochMs is simulated physical time at step 0 (2026-01-01 UTC): an
// ordinary wall clock, so clock arithmetic near zero is never exercised
// by accident.
const epochMs = 1_767_225_600_000

// node is one simulated process: a replica (nil while crashed), its disk,
// its clock, and what it has produced but not yet made durable.
type node struct {
	idx  int
	name string
	id   causal.NodeID
	cfg  replica.Config
	r    *replica.Replica // core.Replica(): read it, change it only through core
	// core is the production driver's decision core around r: the
	// simulator persists, syncs, sends and acknowledges as it says.
	core *driver.Core

	disk durable
	// acks are client writes the core has not answered yet, by ticket;
	// the client sees the acknowledgement when the core says Done.
	acks       map[driver.Ticket]pendingAck
	nextTicket driver.Ticket

	// failedUntil, when non-zero, marks a node in fail-stop after a disk
	// failure: it is crashed and restarted at that step. failedApplied is
	// its applied vector when it failed, which must not move.
	failedUntil   int
	failedApplied causal.VersionVector

	clockOffsetMs int64
	pausedUntil   int // paused while step < pausedUntil
	downUntil     int // crashed: restarts at this step
	dead          bool
	removed       bool // an operator removed it (it is no longer a member)
	// unstarted marks the joining node (Params.JoinOne) before it starts:
	// not a member, no process, untouched by faults.
	unstarted bool
	lastCut   causal.VersionVector
	// cutEpochs are the cuts this node reported, joined per set of
	// members it counted (simulator.othersCut reads them).
	cutEpochs []cutEpoch
}

type pendingAck struct {
	dot     causal.Dot
	session int // session id (not slot)
	own     int64
}

func (n *node) up() bool { return n.r != nil }

// simulator holds one run.
type simulator struct {
	o      Options
	p      Params
	res    *Result
	trace  trace
	hist   check.History
	nodes  []*node
	byID   map[causal.NodeID]int
	links  *linkTable
	step   int
	healed bool

	net, faults, work, disk *rng

	partitionUntil int // a partition is active while step < partitionUntil
	sessions       []*session
	nextSession    int

	leaver     int // LeaveOne: the node that leaves mid-run, -1 if none
	leaveAt    int
	leaveDone  bool // the leaver stopped after every other member saw it leave
	joiner     int  // JoinOne: the node that joins mid-run, -1 if none
	joinAt     int
	victim     int // KillOne: the node killed for good, -1 if none
	killAt     int
	removeAt   int
	removeNode int // node that proposed the removal, -1 if none in flight
	removeUpTo int // disk.total on removeNode that makes the removal durable
	removeDone bool

	uncaptured  int // recorded writes whose transaction has not been seen yet
	largeWrites int // writes with a large value so far (Params.LargeValueRate)

	// sendBeforeSync breaks the driver contract on purpose (tests only):
	// messages leave before the records they advertise are durable, so a
	// crash can take back what peers were told.
	sendBeforeSync bool

	// region is the region collapse check's state (region.go).
	region regionState

	// due is deliver's scratch list of link indexes; members is
	// observeCollapse's scratch list of member IDs.
	due     []int
	members []causal.NodeID
	// meter counts what the scale figures report (metrics.go).
	meter meter
	// forged holds the dots of forged transactions, planted those of
	// the forger's forged state (forge.go).
	forged  map[causal.Dot]bool
	planted causal.Context
}

func newSimulator(o Options) *simulator {
	if o.Steps <= 0 {
		o.Steps = DefaultSteps
	}
	p := drawScaledParams(o.Seed, o.Replicas, o.Regions, o.Calm)
	s := &simulator{
		o:      o,
		p:      p,
		res:    &Result{Seed: o.Seed, Params: p, Steps: o.Steps, ConvergenceTicks: -1},
		byID:   map[causal.NodeID]int{},
		net:    newRNG(o.Seed, streamNetwork),
		faults: newRNG(o.Seed, streamFaults),
		work:   newRNG(o.Seed, streamWorkload),
		disk:   newRNG(o.Seed, streamDisk),
		victim: -1, removeNode: -1, joiner: -1, leaver: -1,
		forged: map[causal.Dot]bool{},
	}
	seeds := newRNG(o.Seed, streamReplica)
	n := p.Replicas
	total := n
	if p.JoinOne {
		total++
	}
	peers := make([]replica.Peer, total)
	for i := range peers {
		peers[i] = replica.Peer{Name: "n" + strconv.Itoa(i+1), Addr: "sim:" + strconv.Itoa(i+1), Region: p.regionName(i)}
	}
	for i := 0; i < total; i++ {
		nd := &node{idx: i, name: peers[i].Name, id: causal.NodeIDFromName(peers[i].Name)}
		nd.clockOffsetMs = int64(s.faults.between(-p.ClockSkewMs, p.ClockSkewMs))
		nd.cfg = replica.Config{
			Name:    nd.name,
			Addr:    peers[i].Addr,
			Cluster: simCluster,
			Region:  p.regionName(i),
			Members: peers[:n],
			Seed:    seeds.uint64(),
			// Rights move through the workload's client writes
			// (opBCRebalance), which the history records.
			BCounterRebalanceTicks: -1,
		}
		if o.Audit || o.Forge {
			nd.cfg.Audit = auditConfig(peers, i)
		}
		if o.Forge {
			nd.cfg.Audit.Operator = simOperatorKey().Public().(ed25519.PublicKey)
		}
		if i >= n {
			// The joiner knows the initial members as join peers only.
			nd.cfg.Members, nd.cfg.Join = nil, peers[:n]
			if o.Forge {
				// The forger (the last initial member) first: its
				// snapshot holds forged state (forge.go).
				nd.cfg.Join = append([]replica.Peer{peers[n-1]}, peers[:n-1]...)
			}
			nd.unstarted = true
			s.joiner = i
		}
		p.tune(&nd.cfg)
		if p.StorageLog {
			d, err := newStoreDisk()
			if err != nil {
				panic("sim: a MemFS store cannot fail to open: " + err.Error())
			}
			nd.disk = d
		} else {
			nd.disk = &recordDisk{}
		}
		s.nodes = append(s.nodes, nd)
		s.byID[nd.id] = i
	}
	s.links = newLinkTable(total)
	s.meter.init(total)
	for i := 0; i < p.Sessions; i++ {
		s.sessions = append(s.sessions, newSession(s.nextSession, s.work.intn(n)))
		s.nextSession++
	}
	if p.JoinOne {
		s.joinAt = s.faults.between(o.Steps/10, o.Steps/2)
	}
	if p.KillOne {
		s.victim = s.faults.intn(n)
		s.killAt = s.faults.between(o.Steps/5, o.Steps/2)
		s.removeAt = s.killAt + s.faults.between(20, 200)
	}
	if p.LeaveOne && n > 2 {
		s.leaver = s.faults.intn(n)
		if s.leaver == s.victim {
			s.leaver = (s.leaver + 1) % n
		}
		s.leaveAt = s.faults.between(o.Steps/4, 3*o.Steps/4)
	}
	return s
}

func (s *simulator) logf(format string, args ...any) {
	if s.o.Log != nil {
		fmt.Fprintf(s.o.Log, "%6d "+format+"\n", append([]any{s.step}, args...)...)
	}
}

// trueMs is simulated physical time, the clock no node reads.
func (s *simulator) trueMs() uint64 { return uint64(int64(epochMs) + int64(s.step)*TickMs) }

// nowMs is node n's physical clock: simulated time plus its skew.
func (s *simulator) nowMs(n *node) uint64 {
	t := int64(epochMs) + int64(s.step)*TickMs + n.clockOffsetMs
	return uint64(max(t, 1))
}

func (s *simulator) run() {
	s.logf("seed=%d %s", s.o.Seed, s.p)
	for _, n := range s.nodes {
		if n.unstarted {
			continue
		}
		if !s.start(n) {
			s.finish()
			return
		}
	}
	if s.o.Forge {
		s.applyPolicy()
	}
	for s.step = 0; s.step < s.o.Steps; s.step++ {
		s.injectFaults()
		s.workload()
		if s.o.Forge {
			s.forge()
		}
		s.advance()
	}
	s.heal()
	if s.o.Forge {
		s.unplant()
	}
	for t := 0; t < ConvergenceTicksMax; t++ {
		s.advance()
		s.step++
		if s.converged() {
			s.res.ConvergenceTicks = t + 1
			break
		}
	}
	s.finish()
}

// start creates n's replica from scratch.
func (s *simulator) start(n *node) bool {
	n.cfg.NowMs = s.nowMs(n)
	r, err := replica.New(n.cfg)
	if err != nil {
		s.res.Report.Addf(check.CheckReplica, "New(%s): %v", n.name, err)
		return false
	}
	n.r, n.unstarted = r, false
	n.core = s.newCore(r)
	s.drain(n)
	return true
}

// advance runs one step of the world: deliveries due, a tick of every
// running node, and the syncs due.
func (s *simulator) advance() {
	s.deliver()
	for _, n := range s.nodes {
		if !n.up() || s.step < n.pausedUntil {
			continue
		}
		now := s.nowMs(n)
		s.trace.event(evTick, uint64(n.idx), now)
		n.core.Tick(now)
		s.drain(n)
	}
	for _, n := range s.nodes {
		if n.up() && s.step >= n.pausedUntil && (s.step+n.idx)%s.p.SyncEveryTicks == 0 {
			s.sync(n)
		}
	}
	s.observeCollapse()
	s.observeRegionCollapse()
	s.observeApplied()
	s.observeBCounters()
}

// observeBCounters checks every up node's bounded counters after a step
// (check.BCounters): never below the floor, no node's rights below zero.
func (s *simulator) observeBCounters() {
	var states []check.State
	for _, n := range s.nodes {
		if n.up() {
			states = append(states, s.state(n))
		}
	}
	check.BCounters(&s.res.Report, s.step, states)
}

// newCore wraps a (re)started replica in the driver core, with the
// policy whose promise the simulator checks: a write is acknowledged only
// once durable (always). A test that breaks the contract on purpose
// (sendBeforeSync) gives the core policy none on a disk that does lose
// unsynced records.
func (s *simulator) newCore(r *replica.Replica) *driver.Core {
	policy := driver.Always
	if s.sendBeforeSync {
		policy = driver.None
	}
	return driver.New(driver.Config{Policy: policy, MaxWindowBytes: s.p.MaxWindowBytes}, r)
}

// drain carries out every Output of n's driver core in its order:
// persist, send what the core released, publish, acknowledge.
func (s *simulator) drain(n *node) {
	for n.core.HasReady() {
		out := n.core.Ready()
		if out.Snapshot != nil {
			if err := n.disk.installSnapshot(out.Snapshot); err != nil {
				s.res.Report.Addf(check.CheckReplica, "step %d: %s persisting a snapshot: %v", s.step, n.name, err)
			}
		}
		if err := n.disk.append(out.Records); err != nil {
			s.res.Report.Addf(check.CheckReplica, "step %d: %s appending records: %v", s.step, n.name, err)
		}
		s.captureRecords(out.Records)
		s.capture(out.Send)
		s.send(n, out.Send)
		for _, e := range out.Events {
			if e.Type == replica.EventAuditRefused || e.Type == replica.EventRightsRefused {
				repair := e.Type == replica.EventRightsRefused && strings.Contains(e.Reason, "repair from")
				switch {
				case repair && s.o.Forge && n == s.forger():
					// The forger's state is the forged one (forge.go).
				case repair && s.planted.Contains(e.Dot):
					s.res.Refused++
					s.res.RepairsRefused++
				case !repair && s.forged[e.Dot]:
					s.res.Refused++
				default:
					s.res.Report.Addf(check.CheckReplica, "step %d: %s refused an honest transaction: %s", s.step, n.name, e)
				}
			}
			s.trace.event(evReplicaEvent, uint64(n.idx), uint64(e.Type), uint64(e.Node), e.Dot.Counter)
			if s.o.Log != nil {
				s.logf("%s event %s", n.name, e)
			}
		}
		for _, t := range out.Done {
			s.ack(n, t)
		}
		for _, t := range out.Unknown {
			// Never acknowledged: the write may or may not survive.
			if a, ok := n.acks[t]; ok {
				delete(n.acks, t)
				s.logf("%s write %v: outcome unknown", n.name, a.dot)
			}
		}
	}
}

// recordTxn is the first byte of a replica log record holding one
// transaction: 0x01 followed by crdt.Txn.AppendBinary (replica/persist.go
// documents the format). The simulator decodes these to give the oracle
// every transaction it recorded a proposal of.
const recordTxn = 1

// recordSignedTxn is the audit mode's transaction record: 0x06, the
// 96-byte seal, then the same body (replica/audit.go).
const recordSignedTxn, sealBytes = 6, 96

// recordLinkedTxn is the audit mode's record of a transaction its origin
// did not sign: 0x0b, the 32-byte link, then the same body.
const recordLinkedTxn, linkBytes = 11, 32

// captureRecords attaches transactions found in persisted records to the
// recorded writes with their dots.
func (s *simulator) captureRecords(recs [][]byte) {
	if s.uncaptured == 0 {
		return
	}
	for _, rec := range recs {
		var body []byte
		switch {
		case len(rec) > 0 && rec[0] == recordTxn:
			body = rec[1:]
		case len(rec) > 1+sealBytes && rec[0] == recordSignedTxn:
			body = rec[1+sealBytes:]
		case len(rec) > 1+linkBytes && rec[0] == recordLinkedTxn:
			body = rec[1+linkBytes:]
		default:
			continue
		}
		t, err := crdt.DecodeTxn(body)
		if err != nil {
			s.res.Report.Addf(check.CheckReplica, "step %d: a transaction record does not decode: %v", s.step, err)
			continue
		}
		if w := s.hist.Write(t.Dot); w != nil && w.Txn == nil && !w.Internal {
			w.Txn = t
			s.uncaptured--
		}
	}
}

// capture attaches each outgoing transaction to the recorded write with
// its dot, so the oracle can replay it.
func (s *simulator) capture(envs []replica.Envelope) {
	for i := range envs {
		m := &envs[i].Message
		if m.Type != replica.MsgTxns {
			continue
		}
		for _, t := range m.Txns {
			if w := s.hist.Write(t.Dot); w != nil && w.Txn == nil && !w.Internal {
				w.Txn = t
				s.uncaptured--
			}
		}
	}
}

// sync makes n's records durable and tells its core, which releases the
// messages and acknowledgements that waited for them.
func (s *simulator) sync(n *node) {
	if n.disk.unsynced() > 0 {
		k, err := n.disk.sync()
		if err != nil {
			s.res.Report.Addf(check.CheckReplica, "step %d: %s sync: %v", s.step, n.name, err)
		}
		s.trace.event(evSync, uint64(n.idx), uint64(k))
		if s.o.Log != nil {
			s.logf("%s sync %d records (durable %d), applied %v", n.name, k, n.disk.syncedTotal(), n.r.Applied())
		}
	}
	n.core.Synced(n.core.Appended())
	s.drain(n)
	if s.removeNode == n.idx && s.removeUpTo <= n.disk.syncedTotal() {
		s.removeNode = -1
		s.removeDone = true
		s.logf("%s removal of %s durable", n.name, s.nodes[s.victim].name)
	}
}

// ack delivers the acknowledgement of n's write t to its client.
func (s *simulator) ack(n *node, t driver.Ticket) {
	a, ok := n.acks[t]
	if !ok {
		return // an internal proposal (leave, removal): nobody waits
	}
	delete(n.acks, t)
	s.trace.event(evAck, a.dot.Counter, uint64(a.dot.Node))
	s.hist.Ack(a.dot)
	s.res.Acked++
	if a.own != 0 {
		for _, ss := range s.sessions {
			if ss.id == a.session {
				ss.acked += a.own
			}
		}
	}
}

// send puts n's messages on the links.
func (s *simulator) send(n *node, envs []replica.Envelope) {
	for i := range envs {
		e := &envs[i]
		to, ok := s.byID[e.To]
		if !ok || to == n.idx {
			s.res.Report.Addf(check.CheckReplica, "step %d: %s sent %s to unknown node %v", s.step, n.name, e.Message.Type, e.To)
			continue
		}
		l := s.links.get(n.idx, to)
		dst := s.nodes[to]
		if l.blocked || !dst.up() {
			// A partition or a dead peer: the connection fails.
			s.res.Lost++
			continue
		}
		if s.p.Datagram {
			s.sendDatagram(n, to, l, &e.Message)
			continue
		}
		if l.enc == nil {
			l.enc = replica.NewLinkCodec()
		}
		vectorBefore := l.enc.VectorBytes()
		payload, err := l.enc.Encode(nil, &e.Message)
		if err == nil && len(payload) >= limits.MaxFrameBytes {
			err = fmt.Errorf("payload of %d bytes does not fit a frame of %d", len(payload), limits.MaxFrameBytes)
		}
		if err != nil {
			s.res.Report.Addf(check.CheckReplica, "step %d: %s encode %s to %s: %v", s.step, n.name, e.Message.Type, dst.name, err)
			s.breakLink(l)
			continue
		}
		if !s.healed && s.net.chance(s.p.DropRate) {
			// A lost frame on a byte stream kills the connection.
			s.trace.event(evDrop, uint64(n.idx), uint64(to))
			s.breakLink(l)
			s.res.Lost++
			continue
		}
		s.meterSent(n, to, &e.Message, len(payload), l.enc.VectorBytes()-vectorBefore)
		l.push(payload, s.step+s.latency(n.idx, to), true)
		s.links.pushed(l)
	}
}

// sendDatagram sends m as a self-contained payload (a fresh codec per
// message) with its own latency, so messages may be reordered and, in the
// fault phase, duplicated.
func (s *simulator) sendDatagram(n *node, to int, l *link, m *replica.Message) {
	enc := replica.NewLinkCodec()
	payload, err := enc.Encode(nil, m)
	if err != nil {
		s.res.Report.Addf(check.CheckReplica, "step %d: %s encode %s: %v", s.step, n.name, m.Type, err)
		return
	}
	if !s.healed && s.net.chance(s.p.DropRate) {
		s.trace.event(evDrop, uint64(n.idx), uint64(to))
		s.res.Lost++
		return
	}
	s.meterSent(n, to, m, len(payload), enc.VectorBytes())
	l.push(payload, s.step+s.latency(n.idx, to), false)
	if !s.healed && s.net.chance(s.p.DuplicateRate) {
		s.trace.event(evDuplicate, uint64(n.idx), uint64(to))
		l.push(payload, s.step+s.latency(n.idx, to), false)
	}
	s.links.pushed(l)
}

// latency draws the latency in steps of one frame from → to: the drawn
// network latency, plus InterRegionLatencyTicks across regions.
func (s *simulator) latency(from, to int) int {
	lat := s.p.LatencyMinTicks + s.net.exp(s.p.LatencyMeanTicks, LatencyTicksMax)
	if s.net.chance(s.p.SpikeRate) {
		lat += s.net.between(LatencyTicksMax/4, LatencyTicksMax)
	}
	if s.p.region(from) != s.p.region(to) {
		lat += InterRegionLatencyTicks
	}
	return min(lat, LatencyTicksMax)
}

// breakLink ends l's session: frames in flight are lost and both codecs
// are dropped. It returns how many frames were lost.
func (s *simulator) breakLink(l *link) int {
	if from := s.nodes[l.from]; from.up() {
		from.core.LinkDown(s.nodes[l.to].id)
	}
	l.enc, l.dec = nil, nil
	lost := l.reset()
	s.res.Lost += lost
	return lost
}

// deliver hands every due frame to its receiver, link by link starting at
// a rotating link so no link is always first.
func (s *simulator) deliver() {
	n := len(s.nodes)
	s.due = s.links.due(s.step, s.due[:0])
	for _, li := range s.due {
		from, to := li/n, li%n
		if from == to {
			continue
		}
		l := s.links.find(from, to)
		dst := s.nodes[to]
		for l.pending() > 0 && dst.up() && s.step >= dst.pausedUntil {
			f, ok := l.due(s.step)
			if !ok {
				break
			}
			l.pop()
			s.deliverFrame(s.nodes[from], dst, l, f.payload)
		}
	}
	if s.links.dense == nil {
		s.links.settle()
	}
}

func (s *simulator) deliverFrame(from, to *node, l *link, payload []byte) {
	s.trace.event(evDeliver, uint64(from.idx), uint64(to.idx))
	s.trace.bytes(payload)
	s.res.Delivered++
	dec := l.dec
	if s.p.Datagram {
		dec = replica.NewLinkCodec()
	} else if dec == nil {
		l.dec = replica.NewLinkCodec()
		dec = l.dec
	}
	m, err := dec.Decode(payload)
	if err != nil {
		s.res.Report.Addf(check.CheckReplica, "step %d: %s could not decode a frame from %s: %v", s.step, to.name, from.name, err)
		s.breakLink(l)
		return
	}
	if err := to.core.Step(from.id, m); errors.Is(err, driver.ErrFailed) {
		return // a fail-stopped node reads nothing more
	} else if err != nil {
		s.res.StepErrors++
		s.trace.event(evStepError, uint64(to.idx), uint64(m.Type))
		s.logf("%s step %s from %s: %v", to.name, m.Type, from.name, err)
		if !errors.Is(err, replica.ErrBadMessage) {
			s.res.Report.Addf(check.CheckReplica, "step %d: %s Step(%s from %s) returned %v, which does not wrap ErrBadMessage",
				s.step, to.name, m.Type, from.name, err)
		}
	}
	s.drain(to)
}

// crash stops n at once: its replica and everything not durable is gone,
// every connection to and from it breaks, sessions on it end.
func (s *simulator) crash(n *node, forGood bool) {
	lost, err := n.disk.crash(s.disk)
	if err != nil {
		s.res.Report.Addf(check.CheckReplica, "step %d: %s crash: %v", s.step, n.name, err)
	}
	s.trace.event(evCrash, uint64(n.idx), uint64(lost))
	s.logf("%s crash (lost %d unsynced records, down until %d, for good %t)", n.name, lost, n.downUntil, forGood)
	s.res.Crashes++
	n.r, n.core = nil, nil
	n.acks = nil
	n.failedUntil = 0
	n.lastCut = causal.VersionVector{}
	n.pausedUntil = 0
	n.dead = forGood
	if s.removeNode == n.idx {
		s.removeNode = -1 // the removal may be lost; propose it again
	}
	for o := range s.nodes {
		if o != n.idx {
			if l := s.links.find(n.idx, o); l != nil {
				s.breakLink(l)
			}
			if l := s.links.find(o, n.idx); l != nil {
				s.breakLink(l)
			}
		}
	}
	s.resetSessions(n)
}

// resetSessions ends the sessions on n (their connections broke). Each
// client starts a new session, on the same node once it is back, or on
// another if n is dead for good.
func (s *simulator) resetSessions(n *node) {
	for i, ss := range s.sessions {
		if ss.node != n.idx {
			continue
		}
		at := ss.node
		for k := 1; n.dead && k < len(s.nodes); k++ {
			if cand := (ss.node + k) % len(s.nodes); !s.nodes[cand].dead {
				at = cand
				break
			}
		}
		s.sessions[i] = newSession(s.nextSession, at)
		s.nextSession++
	}
}

// restart brings n back from its disk.
func (s *simulator) restart(n *node) {
	cfg := n.cfg
	cfg.NowMs = s.nowMs(n)
	snap, records, err := n.disk.load()
	if err != nil {
		s.res.Report.Addf(check.CheckReplica, "step %d: %s reading its disk: %v", s.step, n.name, err)
		n.dead = true
		return
	}
	r, err := replica.Restore(cfg, snap, records)
	s.trace.event(evRestart, uint64(n.idx), uint64(len(records)))
	if err != nil {
		s.res.Report.Addf(check.CheckReplica, "step %d: Restore(%s) from %d records: %v", s.step, n.name, len(records), err)
		n.dead = true
		return
	}
	s.logf("%s restart from %d records, applied %v", n.name, len(records), r.Applied())
	n.r = r
	n.core = s.newCore(r)
	// Everything other nodes reported collapsed while n was a member was
	// applied and made durable by n (its applied vector leaves only after
	// a sync), so it must have survived the crash.
	if !n.removed {
		others := s.othersCut(n)
		check.CollapsePresent(&s.res.Report, s.step, "the other nodes (at the restart of "+n.name+")", &others,
			[]check.State{{Node: n.id, Name: n.name, Keyspace: r.Keyspace()}})
	}
	s.drain(n)
}

// observeCollapse checks every cut a replica reports against the members
// that are up, when it changes.
//
// The check costs O(members) per changed cut, not O(members × vector):
// a cut contained in the meet of the applied vectors of every up node
// (computed once per step, when some cut changed) is applied by each up
// member, so only a cut that is not needs the member-by-member check.
// What each reporter counted (othersCut, checked at a restart) is kept
// per reporter and membership epoch (cutEpoch), not merged into every
// member's vector at every report.
func (s *simulator) observeCollapse() {
	var upMeet causal.VersionVector
	meetDone := false
	for _, n := range s.nodes {
		if !n.up() {
			continue
		}
		cut := n.r.CollapsedVector()
		if cut.Equal(&n.lastCut) {
			continue
		}
		n.lastCut = cut
		s.hist.Cut.Merge(&cut)
		s.meter.collapsed[n.idx].observe(&cut, s.step)

		if s.o.Log != nil {
			s.logf("%s collapsed cut %v", n.name, cut)
		}
		s.members = n.r.CurrentMembers(s.members[:0])
		n.noteCut(s.members, &cut)
		if !meetDone {
			upMeet, meetDone = s.upMeet(), true
		}
		if upMeet.Dominates(&cut) {
			continue
		}
		var states []check.State
		for _, id := range s.members {
			if i, ok := s.byID[id]; ok && s.nodes[i].up() {
				states = append(states, s.state(s.nodes[i]))
			}
		}
		check.CollapsePresent(&s.res.Report, s.step, n.name, &cut, states)
	}
}

// upMeet is the meet of the applied vectors of every node that is up.
func (s *simulator) upMeet() causal.VersionVector {
	var meet causal.VersionVector
	first := true
	for _, n := range s.nodes {
		if !n.up() {
			continue
		}
		if first {
			meet, first = n.r.Keyspace().Context().Vector.Clone(), false
			continue
		}
		meet.Meet(&n.r.Keyspace().Context().Vector)
	}
	return meet
}

// cutEpoch is what one reporter reported while it counted one set of
// current members: the join of its cuts.
type cutEpoch struct {
	members []causal.NodeID // ascending
	cut     causal.VersionVector
}

// noteCut records cut, reported by n while it counted members.
func (n *node) noteCut(members []causal.NodeID, cut *causal.VersionVector) {
	if k := len(n.cutEpochs); k == 0 || !slices.Equal(n.cutEpochs[k-1].members, members) {
		n.cutEpochs = append(n.cutEpochs, cutEpoch{members: slices.Clone(members)})
	}
	n.cutEpochs[len(n.cutEpochs)-1].cut.Merge(cut)
}

// othersCut joins the cuts other nodes reported while they counted n as
// a current member. They counted it by the applied vector it advertised,
// which it did only after a sync, so n's disk must hold every dot of it.
// (n's own cut counts its in-memory applied vector, which a crash may
// shorten.)
func (s *simulator) othersCut(n *node) causal.VersionVector {
	var out causal.VersionVector
	for _, o := range s.nodes {
		if o == n {
			continue
		}
		for i := range o.cutEpochs {
			if _, ok := slices.BinarySearch(o.cutEpochs[i].members, n.id); ok {
				out.Merge(&o.cutEpochs[i].cut)
			}
		}
	}
	return out
}

func (s *simulator) state(n *node) check.State {
	r := n.r
	return check.State{Node: n.id, Name: n.name, Keyspace: r.Keyspace(), Collapsed: r.Collapsed}
}

// live returns the nodes that must converge: every node not killed for
// good. After heal they are all up.
func (s *simulator) live() []*node {
	var out []*node
	for _, n := range s.nodes {
		if !n.dead && n.up() {
			out = append(out, n)
		}
	}
	return out
}

// internalKey is the filter the oracle uses.
func internalKey(k []byte) bool { return replica.IsInternalKey(k) }
