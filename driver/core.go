package driver

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/invariants"
	"github.com/spooksystems/spook/replica"
)

// Policy is the durability policy the Core orders output for. It mirrors
// storage.SyncPolicy without importing package storage (which does I/O).
type Policy uint8

const (
	// Batch: writes are answered once applied; records are fsynced before
	// any message that advertises them leaves (group commit).
	Batch Policy = iota
	// Always: writes are answered after the fsync covering their record.
	Always
	// None: records are handed to the operating system, never fsynced;
	// messages leave once the records before them are appended.
	None
	// Memory: there is no disk at all; nothing is persisted.
	Memory
)

func (p Policy) String() string {
	switch p {
	case Batch:
		return "batch"
	case Always:
		return "always"
	case None:
		return "none"
	case Memory:
		return "memory"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// syncs reports whether the policy makes records durable by fsync, so
// that messages and (under Always) answers wait for Synced.
func (p Policy) syncs() bool { return p == Batch || p == Always }

// Defaults for Config.
const (
	// DefaultMaxWindowBytes bounds the bytes of pushed transaction batches
	// in flight to one peer (sent, not yet acknowledged). 64 MiB is a
	// second of writes at 64 MB/s: a healthy peer acknowledges within a
	// few ticks, far below it; a stalled one costs at most this much.
	DefaultMaxWindowBytes = 64 << 20
	// DefaultWindowTimeoutTicks releases a window that saw no
	// acknowledgement for 5 s (500 ticks of 10 ms): what was in flight is
	// presumed lost, and anti-entropy repairs it.
	DefaultWindowTimeoutTicks = 500
)

// Config configures a Core. The zero value works: batch policy, default
// window.
type Config struct {
	// Policy is the durability policy.
	Policy Policy
	// MaxWindowBytes bounds pushed-transaction bytes in flight per peer.
	// It must hold the largest message (limits.MaxFrameBytes). Zero:
	// DefaultMaxWindowBytes.
	MaxWindowBytes int
	// WindowTimeoutTicks releases an unacknowledged window after this many
	// ticks without progress. Zero: DefaultWindowTimeoutTicks.
	WindowTimeoutTicks int
}

// Errors returned by the Core. Each means the call changed nothing.
var (
	// ErrFailed: the Core is in fail-stop (see Fail); it wraps the cause.
	ErrFailed = errors.New("driver: node failed")
	// ErrClosed: Close was called; no write is accepted any more.
	ErrClosed = errors.New("driver: node closing")
)

// Ticket names one client write from Propose until its answer. The driver
// chooses the values; the Core only hands them back.
type Ticket uint64

// Output is what the driver must do now, in field order: persist
// Snapshot, append Records, start a sync up to SyncTo, send Send, publish
// Changes and Events, answer Done and Unknown. Everything in it is ready:
// the Core held back what had to wait.
type Output struct {
	// Snapshot, when non-nil, replaces the persisted state (a join).
	Snapshot []byte
	// Records to append to the log, in order.
	Records [][]byte
	// SyncTo, when non-zero, asks for an fsync covering every record
	// appended so far; call Synced(SyncTo) when it completes. Records are
	// counted from the Core's creation; a snapshot counts as one.
	SyncTo uint64
	// Send lists messages that may leave now, in order per peer.
	Send []replica.Envelope
	// Changes and Events describe state that is durable per the policy.
	Changes []replica.Change
	Events  []replica.Event
	// Done lists writes whose promise holds: answer them "written".
	Done []Ticket
	// Unknown lists writes applied in memory whose durability the node can
	// no longer promise (it failed first): answer them "outcome unknown".
	Unknown []Ticket
}

func (o *Output) empty() bool {
	return o.Snapshot == nil && len(o.Records) == 0 && o.SyncTo == 0 && len(o.Send) == 0 &&
		len(o.Changes) == 0 && len(o.Events) == 0 && len(o.Done) == 0 && len(o.Unknown) == 0
}

// durableMark is the applied vector once records up to upTo are durable.
type durableMark struct {
	upTo    uint64
	applied causal.VersionVector
}

// held is output waiting for records up to upTo to be durable.
type held struct {
	upTo    uint64
	send    []replica.Envelope
	changes []replica.Change
	events  []replica.Event
	tickets []Ticket // Always only
}

// Core is the driver's decision state around one replica. It is not safe
// for concurrent use: one goroutine calls it (see the package doc).
type Core struct {
	cfg Config
	r   *replica.Replica

	failed error // fail-stop cause; nil while running
	closed bool

	tick     uint64
	appended uint64 // records (and snapshots) handed out in Outputs
	synced   uint64 // of those, known durable
	syncAsk  uint64 // highest SyncTo handed out

	fresh []Ticket // proposals applied since the last Ready
	held  []held   // oldest first; upTo ascending
	// marks are the replica's applied vectors when records up to upTo
	// were handed out, oldest first: each is reported durable
	// (replica.SetDurable) once Synced covers it, so the collapsed cut
	// never counts what a crash here could still take back.
	marks []durableMark
	// spareMarks are vectors of marks already reported, reused by new
	// marks; applied is take's copy of the applied vector. Neither is
	// handed out (SetDurable copies), so their storage is reused.
	spareMarks []causal.VersionVector
	applied    causal.VersionVector
	out        Output // released output waiting for the next Ready

	windows map[causal.NodeID]*window
	stalled []causal.NodeID // Tick's work space
	dropped uint64          // batches not sent because a window was full (spook_window_dropped_batches_total)
}

// New returns a Core driving r, which it owns from now on: every call to
// r goes through the Core.
func New(cfg Config, r *replica.Replica) *Core {
	// What the replica holds at creation was restored from disk (or is
	// empty): durable.
	restored := r.Applied()
	r.SetDurable(&restored)
	if cfg.MaxWindowBytes == 0 {
		cfg.MaxWindowBytes = DefaultMaxWindowBytes
	}
	if cfg.WindowTimeoutTicks == 0 {
		cfg.WindowTimeoutTicks = DefaultWindowTimeoutTicks
	}
	return &Core{cfg: cfg, r: r, windows: map[causal.NodeID]*window{}}
}

// Replica returns the replica for reading (Keyspace, Status, Members).
// The caller must not call methods that change it.
func (c *Core) Replica() *replica.Replica { return c.r }

// Failed returns the fail-stop cause, or nil.
func (c *Core) Failed() error { return c.failed }

// Dropped returns how many transaction batches were not sent because a
// peer's window was full.
func (c *Core) Dropped() uint64 { return c.dropped }

// accepting returns why the Core refuses input, or nil.
func (c *Core) accepting() error {
	if c.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, c.failed)
	}
	if c.closed {
		return ErrClosed
	}
	return nil
}

// Propose runs fn as a transaction of ticket t. On error nothing changed
// and t will never be answered through Output. A zero Token means the
// transaction changed nothing: there is nothing to wait for, and t will
// not be answered either. Otherwise t is answered through Done or Unknown.
func (c *Core) Propose(t Ticket, fn func(b *crdt.Builder) error) (replica.Token, error) {
	return c.propose(t, func() (replica.Token, error) { return c.r.Propose(fn) })
}

// ProposeAs is Propose for a write a client user made: the replica also
// checks the user rules of the write-rights policy in force (see
// replica.ProposeAs). An empty user is Propose.
func (c *Core) ProposeAs(t Ticket, user string, fn func(b *crdt.Builder) error) (replica.Token, error) {
	return c.propose(t, func() (replica.Token, error) { return c.r.ProposeAs(user, fn) })
}

// Remove proposes the operator removal of member id as ticket t; it is
// answered like a Propose.
func (c *Core) Remove(t Ticket, id causal.NodeID) (replica.Token, error) {
	return c.propose(t, func() (replica.Token, error) { return c.r.Remove(id) })
}

// ProposePolicy writes a signed write-rights policy (see
// replica.ProposePolicy) as ticket t; it is answered like a Propose.
func (c *Core) ProposePolicy(t Ticket, doc []byte) (replica.Token, error) {
	return c.propose(t, func() (replica.Token, error) { return c.r.ProposePolicy(doc) })
}

// Leave proposes this node's graceful leave as ticket t; it is answered
// like a Propose.
func (c *Core) Leave(t Ticket) (replica.Token, error) {
	return c.propose(t, c.r.Leave)
}

func (c *Core) propose(t Ticket, do func() (replica.Token, error)) (replica.Token, error) {
	if err := c.accepting(); err != nil {
		return replica.Token{}, err
	}
	tok, err := do()
	if err != nil || tok.IsZero() {
		return tok, err
	}
	c.fresh = append(c.fresh, t)
	return tok, nil
}

// MarkRemoved tells the replica that an operator removed this node at
// atMs (learnt from a member's refusal; see replica.MarkRemoved).
func (c *Core) MarkRemoved(atMs uint64) { c.r.MarkRemoved(atMs) }

// Import applies bundle transactions (see replica.Import) as ticket t,
// which is answered once whatever they wrote is durable. It returns how
// many were applied.
func (c *Core) Import(t Ticket, txns []*crdt.Txn) (int, error) {
	if err := c.accepting(); err != nil {
		return 0, err
	}
	applied := c.r.Import(txns)
	c.fresh = append(c.fresh, t)
	return applied, nil
}

// Step hands a peer's message to the replica, after crediting the peer's
// window with what its applied vector acknowledges.
func (c *Core) Step(from causal.NodeID, m replica.Message) error {
	if err := c.accepting(); err != nil {
		return err
	}
	if w := c.windows[from]; w != nil {
		w.ack(&m.Applied, c.tick)
	}
	return c.r.Step(from, m)
}

// Tick advances the replica's time and expires stalled windows.
func (c *Core) Tick(nowMs uint64) {
	if c.failed != nil {
		return
	}
	c.tick++
	c.r.Tick(nowMs)
	// Stalled windows are found in the map but reported in peer order:
	// each report queues a digest, and the order of output must not
	// depend on map iteration (a run must repeat exactly).
	stalled := c.stalled[:0]
	for id, w := range c.windows {
		if w.bytes > 0 && c.tick-w.progressTick >= uint64(c.cfg.WindowTimeoutTicks) {
			stalled = append(stalled, id)
		}
	}
	slices.Sort(stalled)
	for _, id := range stalled {
		c.windows[id].reset(c.tick)
		c.reportDropped(id)
	}
	c.stalled = stalled[:0]
}

// LinkDown reports that the link to peer broke: what was in flight on it
// is lost, so its window is released and the replica told.
func (c *Core) LinkDown(peer causal.NodeID) {
	if w := c.windows[peer]; w != nil && w.bytes > 0 {
		w.reset(c.tick)
		c.reportDropped(peer)
	}
}

// NotSent reports that the driver could not send env after all (its queue
// for the peer was full): the window gives back its bytes and the replica
// is told.
func (c *Core) NotSent(env replica.Envelope) {
	if w := c.windows[env.To]; w != nil && env.Push {
		w.release(env.Bytes)
	}
	c.reportDropped(env.To)
}

// reportDropped tells the replica that peer missed messages, at most once
// per tick per peer (the replica answers each report with a digest).
func (c *Core) reportDropped(peer causal.NodeID) {
	w := c.windows[peer]
	if w == nil {
		w = &window{progressTick: c.tick}
		c.windows[peer] = w
	}
	if c.failed != nil || w.reportedTick == c.tick+1 {
		return
	}
	w.reportedTick = c.tick + 1
	c.r.ReportDropped(peer)
}

// Synced reports that every record up to upTo (as counted by SyncTo) is
// durable. Output waiting for it is released at the next Ready.
func (c *Core) Synced(upTo uint64) {
	if upTo > c.appended {
		panic(fmt.Sprintf("driver: Synced(%d) beyond the %d records handed out", upTo, c.appended))
	}
	if upTo <= c.synced || c.failed != nil {
		return
	}
	c.synced = upTo
	c.release()
	c.reportDurable()
}

// reportDurable tells the replica the newest applied vector that is now
// durable.
func (c *Core) reportDurable() {
	n := 0
	for n < len(c.marks) && c.marks[n].upTo <= c.synced {
		n++
	}
	if n == 0 {
		return
	}
	c.r.SetDurable(&c.marks[n-1].applied) // copied, not kept
	for i := range n {
		c.spareMarks = append(c.spareMarks, c.marks[i].applied)
	}
	c.marks = append(c.marks[:0], c.marks[n:]...)
	clear(c.marks[len(c.marks) : len(c.marks)+n]) // the tail still aliases moved marks' vectors
}

// release moves held output that is now durable into c.out.
func (c *Core) release() {
	n := 0
	for ; n < len(c.held) && c.held[n].upTo <= c.synced; n++ {
		h := &c.held[n]
		c.emit(h.send)
		c.out.Changes = append(c.out.Changes, h.changes...)
		c.out.Events = append(c.out.Events, h.events...)
		c.out.Done = append(c.out.Done, h.tickets...)
	}
	if n > 0 {
		c.held = append(c.held[:0], c.held[n:]...)
	}
}

// emit passes messages through the peers' windows into c.out.Send.
// envs is the core's to reuse (a Ready's messages, held or not): the
// admitted ones are filtered in place and, when the Output has none yet,
// become its Send without a copy.
func (c *Core) emit(envs []replica.Envelope) {
	kept := envs[:0]
	for _, env := range envs {
		if env.Push {
			w := c.windows[env.To]
			if w == nil {
				w = &window{progressTick: c.tick}
				c.windows[env.To] = w
			}
			if !w.admit(env, c.cfg.MaxWindowBytes, c.tick) {
				c.dropped++
				c.reportDropped(env.To)
				continue
			}
		}
		kept = append(kept, env)
	}
	clear(envs[len(kept):]) // no stale copies of dropped messages
	c.out.Send = adopt(c.out.Send, kept)
}

// Fail puts the Core in fail-stop with cause err. Writes still waiting
// for durability are reported Unknown at the next Ready; held messages
// and publications are discarded.
func (c *Core) Fail(err error) {
	if c.failed != nil || err == nil {
		return
	}
	c.failed = err
	for _, h := range c.held {
		c.out.Unknown = append(c.out.Unknown, h.tickets...)
	}
	c.held = nil
	c.out.Send, c.out.Changes, c.out.Events = nil, nil, nil
	c.out.Records, c.out.Snapshot, c.out.SyncTo = nil, nil, 0
}

// Close stops accepting writes and messages. The driver then drains
// HasReady/Ready (and Synced) as usual, so everything accepted is
// persisted and answered.
func (c *Core) Close() { c.closed = true }

// Appended returns how many records (a snapshot counting as one) the Core
// has handed out; Synced(Appended()) says all of them are durable.
func (c *Core) Appended() uint64 { return c.appended }

// Idle reports whether the Core holds nothing back: no output waiting for
// durability, no write waiting for an answer, nothing to hand out.
func (c *Core) Idle() bool {
	return len(c.held) == 0 && len(c.fresh) == 0 && c.out.empty() && (c.failed != nil || !c.r.HasReady())
}

// HasReady reports whether Ready has anything to hand out.
func (c *Core) HasReady() bool {
	if c.failed != nil {
		return !c.out.empty()
	}
	return !c.out.empty() || c.r.HasReady() || len(c.fresh) > 0
}

// Ready returns what the driver must do now (see Output).
func (c *Core) Ready() Output {
	if c.failed == nil && (c.r.HasReady() || len(c.fresh) > 0) {
		c.take()
	}
	out := c.out
	c.out = Output{}
	c.check(&out)
	return out
}

// take turns the replica's Ready into output: records out at once,
// the rest released now or held until the records are durable.
func (c *Core) take() {
	rd := c.r.Ready()
	c.r.Advance()
	if rd.Snapshot != nil {
		c.out.Snapshot = rd.Snapshot
		c.appended++
	}
	// The replica's Ready slices are fresh each time (it keeps none), so
	// the Output takes them over when it holds nothing yet: no copy per
	// Ready in the common case of one Ready per Output.
	c.out.Records = adopt(c.out.Records, rd.Records)
	c.appended += uint64(len(rd.Records))
	tickets := c.fresh
	c.fresh = nil

	if !c.cfg.Policy.syncs() {
		// Appending is all the durability there is: release in order.
		c.synced = c.appended
		c.r.AppliedInto(&c.applied)
		c.r.SetDurable(&c.applied)
		c.emit(rd.Messages)
		c.out.Changes = adopt(c.out.Changes, rd.Changes)
		c.out.Events = adopt(c.out.Events, rd.Events)
		c.out.Done = adopt(c.out.Done, tickets)
		return
	}
	if c.appended > c.syncAsk {
		c.syncAsk = c.appended
		c.out.SyncTo = c.appended
	}
	c.r.AppliedInto(&c.applied)
	if len(c.marks) == 0 || !c.marks[len(c.marks)-1].applied.Equal(&c.applied) {
		// A new mark reuses the vector of one already reported, if any.
		var v causal.VersionVector
		if n := len(c.spareMarks); n > 0 {
			v, c.spareMarks = c.spareMarks[n-1], c.spareMarks[:n-1]
		}
		v.CopyFrom(&c.applied)
		c.marks = append(c.marks, durableMark{upTo: c.appended, applied: v})
	}
	h := held{upTo: c.appended, send: rd.Messages, changes: rd.Changes, events: rd.Events}
	if c.cfg.Policy == Batch {
		// Batch answers at once: the write is applied, and its record is
		// in this Output, appended before the answer goes out.
		c.out.Done = adopt(c.out.Done, tickets)
	} else {
		h.tickets = tickets
	}
	if len(h.send) > 0 || len(h.changes) > 0 || len(h.events) > 0 || len(h.tickets) > 0 {
		c.held = append(c.held, h)
	}
	c.release() // nothing new was appended: already durable
	c.reportDurable()
}

// adopt appends src to dst, or returns src itself when dst is empty: for
// slices nobody else holds (a Ready's, the fresh tickets).
func adopt[T any](dst, src []T) []T {
	if len(dst) == 0 {
		return src
	}
	return append(dst, src...)
}

// check asserts the Output contract (programmer errors only).
func (c *Core) check(out *Output) {
	if c.synced > c.appended {
		panic(fmt.Sprintf("driver: %d records synced of %d handed out", c.synced, c.appended))
	}
	if c.failed != nil && (len(out.Records) > 0 || len(out.Send) > 0 || out.Snapshot != nil) {
		panic("driver: output after fail-stop")
	}
	if !invariants.Enabled {
		return
	}
	// Messages may leave only once every record before them is durable.
	if len(out.Send) > 0 && c.cfg.Policy.syncs() && len(c.held) > 0 && c.held[0].upTo <= c.synced {
		panic("driver: durable output still held")
	}
	for i := 1; i < len(c.held); i++ {
		if c.held[i].upTo < c.held[i-1].upTo {
			panic("driver: held output out of order")
		}
	}
	for id, w := range c.windows {
		w.check(id, c.cfg.MaxWindowBytes)
	}
}
