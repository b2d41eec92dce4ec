package replica

import (
	"slices"

	"github.com/spooksystems/spook/causal"
)

// The overlay: dissemination and collapse for clusters larger than
// Config.OverlayThreshold members (doc.go, "Transactions and causal
// delivery" and "Coherence"; docs/protocol.md, "Overlay").
//
// Trees. Every member orders the current members (this node included) by
// ID: the member list, the same on every node whose membership records
// agree. The tree of origin o is a pure function of that list, so nobody
// sends a message to agree on it: over the members of o's region rotated
// to start at o, position 0 (o) has OverlayFanout children and every
// other position OverlayRelayFanout (childPos); every other region has
// the same tree rotated at its representative for o, hung under one of
// o's first children (see "The tree of origin o, with regions" below).
//
// Dissemination. The origin sends a transaction to its children; every
// member that applies a transaction of o sends it on to its children in
// o's tree. A child this node believes unreachable is skipped and its
// children adopted (sent to directly), recursively; a suspect child of
// this node's region is sent to and its children adopted too, so a
// member that is down costs the tree one hop, not its subtree. A
// transaction lost on the way comes back through anti-entropy (digests
// and fetch, deferred: deferFetch), as in direct push.
//
// Collapse. Each origin is the authority for its own column of the
// collapsed cut. Every member reports up o's tree, in a MsgCut with Seq
// cutUp, the least counter of o that every member of its subtree holds
// (its own durable counter and its children's reports); the root's value
// is then the counter every member holds, and it sends it down the tree
// (MsgCut, Seq cutDown) as a claim. The collapsed cut is the meet of the
// applied vectors this node heard of (the cut of direct push) raised,
// column by column, by the claims. A report or claim names the member
// list it was computed over by its fingerprint (Hash); one computed over
// another list is ignored, so a member missing from a list never lets a
// claim cover it. A report is resent every DigestTicks while the column
// it reports is not collapsed, and every DigestTicks a member sends its
// claims to the next member of the list, so a lost report or claim delays
// collapse, never stops it.

// Overlay defaults.
const (
	// DefaultOverlayThreshold: clusters of up to 32 members use direct
	// push (every origin sends to every member); larger ones the overlay.
	DefaultOverlayThreshold = 32
	// DefaultOverlayFanout: an origin sends its transaction to 8
	// members.
	DefaultOverlayFanout = 8
	// DefaultOverlayRelayFanout: every other member sends it on to at
	// most 16, so 136 members are 2 hops deep and 2,184 are 3.
	DefaultOverlayRelayFanout = 16
)

// MsgCut Seq values: the direction of the counters it carries.
const (
	cutUp   = 0 // Cut holds, per origin, the least counter a subtree holds
	cutDown = 1 // Cut holds, per origin, the counter every member holds
)

// overlay is the overlay's state (see the comment above).
type overlay struct {
	// stale: the member list must be rebuilt (membership changed).
	stale bool
	// list is the member list, ascending; index maps a member to its
	// position in it; fp is its fingerprint. state is the node state the
	// list was built in (a node that is not a member is not in it).
	list  []causal.NodeID
	index map[causal.NodeID]int
	// names are the members' regions, sorted; groups[i] the members of
	// region names[i] in list order; slots place each member in them.
	names  []string
	groups [][]causal.NodeID
	slots  map[causal.NodeID]slot
	fp     uint64
	state  NodeState
	// reports holds, per reporting member, the counters of its last
	// report (cutUp) and the fingerprint they are for.
	reports map[causal.NodeID]*cutReport
	// sent is, per origin, the counter last reported to this node's
	// parent in its tree (or, for this node's own column, last claimed).
	sent map[causal.NodeID]uint64
	// dirty lists the origins whose report may have changed.
	dirty map[causal.NodeID]bool
	// claims are the counters every member holds, per origin, for fp.
	claims causal.VersionVector
	// up and down are the counters queued per destination, flushed as
	// MsgCut by Ready.
	up, down map[causal.NodeID]*causal.VersionVector
	// eff is the collapsed cut: the meet cut raised by the claims;
	// effDirty says it must be recomputed.
	eff      causal.VersionVector
	effDirty bool
	// next rotates the member that receives this node's claims.
	next int
	// want, wantFrom and wantTick are a deferred catch-up (deferFetch):
	// what to fetch from wantFrom if still missing at tick wantTick;
	// wantFrom is zero for none.
	want     causal.VersionVector
	wantFrom causal.NodeID
	wantTick uint64
	// scratch is children's work space.
	scratch []causal.NodeID
}

// cutReport is one member's last report.
type cutReport struct {
	fp  uint64
	col causal.VersionVector
}

// overlayOn reports whether the overlay carries transactions and
// collapse: this node is a member of a cluster larger than the threshold.
func (r *Replica) overlayOn() bool {
	ov := r.overlayList()
	return len(ov.list) > r.cfg.OverlayThreshold && ov.index != nil && r.state == NodeMember
}

// overlayList returns the overlay with its member list up to date.
func (r *Replica) overlayList() *overlay {
	ov := &r.ov
	if !ov.stale && ov.state == r.state && ov.index != nil {
		return ov
	}
	ov.stale, ov.state = false, r.state
	ov.list = ov.list[:0]
	self := r.state == NodeMember
	for _, id := range r.order {
		if self && r.id < id {
			ov.list, self = append(ov.list, r.id), false
		}
		if r.peers[id].status == StateAlive {
			ov.list = append(ov.list, id)
		}
	}
	if self {
		ov.list = append(ov.list, r.id)
	}
	// Regions: their names sorted, each a group of its members in list
	// order. A member's region is its record's, else the one
	// Config.Members gave it. They shape the trees only once every
	// member's region is known here: until then (a member without a
	// region, or whose record has not arrived) the whole list is one
	// group, the same on every node, so the records themselves spread
	// over consistent trees.
	regionOf := func(id causal.NodeID) string {
		if id == r.id {
			return r.cfg.Region
		}
		if name := r.peers[id].region; name != "" {
			return name
		}
		for _, p := range r.bootstrap {
			if p.ID == id {
				return p.Region
			}
		}
		return ""
	}
	for _, id := range ov.list {
		if regionOf(id) == "" {
			regionOf = func(causal.NodeID) string { return "" }
			break
		}
	}
	ov.names = ov.names[:0]
	for _, id := range ov.list {
		if name := regionOf(id); !slices.Contains(ov.names, name) {
			ov.names = append(ov.names, name)
		}
	}
	slices.Sort(ov.names)
	for i := range ov.groups {
		ov.groups[i] = ov.groups[i][:0]
	}
	for len(ov.groups) < len(ov.names) {
		ov.groups = append(ov.groups, nil)
	}
	ov.groups = ov.groups[:len(ov.names)]
	if ov.index == nil {
		ov.index = make(map[causal.NodeID]int, len(ov.list))
		ov.slots = make(map[causal.NodeID]slot, len(ov.list))
	}
	clear(ov.index)
	clear(ov.slots)
	fp := uint64(len(ov.list))
	for i, id := range ov.list {
		ov.index[id] = i
		name := regionOf(id)
		g, _ := slices.BinarySearch(ov.names, name)
		ov.slots[id] = slot{reg: g, pos: len(ov.groups[g])}
		ov.groups[g] = append(ov.groups[g], id)
		fp = mix64(fp ^ uint64(id))
		for j := 0; j < len(name); j++ {
			fp = mix64(fp ^ uint64(name[j]))
		}
	}
	if fp != ov.fp {
		// Claims were for another list: forget them, and report every
		// column afresh.
		ov.fp = fp
		ov.claims = causal.VersionVector{}
		ov.effDirty = true
		clear(ov.sent)
		r.dirtyAll()
	}
	return ov
}

// slot places a member: its region's index in overlay.names and its
// position in that region's group.
type slot struct{ reg, pos int }

// dirtyAll marks every origin this node has applied as dirty.
func (r *Replica) dirtyAll() {
	for _, e := range r.ks.Context().Vector.Entries() {
		r.markDirty(e.Node)
	}
}

func (r *Replica) markDirty(o causal.NodeID) {
	if len(r.ov.list) <= r.cfg.OverlayThreshold {
		return // direct push: no reports
	}
	if r.ov.dirty == nil {
		r.ov.dirty = map[causal.NodeID]bool{}
	}
	r.ov.dirty[o] = true
}

// childPos returns the positions of the children of position p in a
// tree whose root has OverlayFanout children and every other member
// OverlayRelayFanout: [first, last].
func (r *Replica) childPos(p int) (int, int) {
	a, b := r.cfg.OverlayFanout, r.cfg.OverlayRelayFanout
	if p == 0 {
		return 1, a
	}
	return a + (p-1)*b + 1, a + p*b
}

// parentPos is childPos's inverse, for c > 0.
func (r *Replica) parentPos(c int) int {
	a, b := r.cfg.OverlayFanout, r.cfg.OverlayRelayFanout
	if c <= a {
		return 0
	}
	return (c-a-1)/b + 1
}

// The tree of origin o, with regions. In o's own region A the tree is
// the k-ary tree over A's group rotated at o. In every other region B
// it is the k-ary tree over B's group rotated at B's representative for
// o (repPos), and the representative hangs under the member of A at
// position j mod |A| of o's tree, j being B's rank (1, 2, …) among the
// regions other than A: o's first children carry a transaction across
// each region boundary once, and o still sends to k members only.

// rel is position x of a group of n rotated to start at root.
func rel(x, root, n int) int { return (x - root + n) % n }

// repPos is the position in group g of its representative for origin o.
func (ov *overlay) repPos(o causal.NodeID, g int) int {
	return int(mix64(uint64(o)) % uint64(len(ov.groups[g])))
}

// rank is region b's rank (1-based) among the regions other than a.
func rank(a, b int) int {
	if b < a {
		return b + 1
	}
	return b
}

// treeParent returns x's parent in o's tree, or false for the root or a
// node not in the list.
func (r *Replica) treeParent(o, x causal.NodeID) (causal.NodeID, bool) {
	ov := r.overlayList()
	so, ok1 := ov.slots[o]
	sx, ok2 := ov.slots[x]
	if !ok1 || !ok2 || o == x {
		return 0, false
	}
	ga := ov.groups[so.reg]
	if sx.reg == so.reg {
		p := rel(sx.pos, so.pos, len(ga))
		return ga[(so.pos+r.parentPos(p))%len(ga)], true
	}
	gb := ov.groups[sx.reg]
	root := ov.repPos(o, sx.reg)
	p := rel(sx.pos, root, len(gb))
	if p == 0 {
		h := rank(so.reg, sx.reg) % len(ga)
		return ga[(so.pos+h)%len(ga)], true
	}
	return gb[(root+r.parentPos(p))%len(gb)], true
}

// treeChildren appends to dst x's children in o's tree, as the tree is
// (no member skipped).
func (r *Replica) treeChildren(dst []causal.NodeID, o, x causal.NodeID) []causal.NodeID {
	ov := r.overlayList()
	so, ok1 := ov.slots[o]
	sx, ok2 := ov.slots[x]
	if !ok1 || !ok2 {
		return dst
	}
	g, root := ov.groups[sx.reg], so.pos
	if sx.reg != so.reg {
		root = ov.repPos(o, sx.reg)
	}
	n := len(g)
	p := rel(sx.pos, root, n)
	first, last := r.childPos(p)
	for c := first; c <= last && c < n; c++ {
		dst = append(dst, g[(root+c)%n])
	}
	if sx.reg == so.reg {
		for b := range ov.groups {
			if b != so.reg && rank(so.reg, b)%n == p {
				dst = append(dst, ov.groups[b][ov.repPos(o, b)])
			}
		}
	}
	return dst
}

// sendChildren appends to dst the members x sends o's transactions and
// claims to: its children in o's tree, a child believed unreachable
// replaced by its own children and a suspect one of this node's region
// followed by them (recursively), so the tree repairs itself around
// members that are down.
func (r *Replica) sendChildren(dst []causal.NodeID, o, x causal.NodeID) []causal.NodeID {
	start := len(dst)
	dst = r.treeChildren(dst, o, x)
	for i := start; i < len(dst); i++ {
		// dst[start:i] are kept; dst[i] is examined; its children, if
		// adopted, are appended at the end and examined in turn.
		c := dst[i]
		p := r.peers[c]
		if p == nil || p.live == StateAlive || p.live == StateSuspect && p.region != r.cfg.Region {
			// A member of another region is suspected whenever its round
			// trip outlasts a probe: adopting its children would send
			// every transaction across the boundary again.
			continue
		}
		dst = r.treeChildren(dst, o, c)
		if p.live == StateUnreachable {
			dst = append(dst[:i], dst[i+1:]...)
			i--
		}
	}
	return dst
}

// overlayApplied is applied's hook: a remote transaction goes on to this
// node's children in its origin's tree, and its origin's report may have
// risen.
func (r *Replica) overlayApplied(e txnEntry) {
	if !r.overlayOn() {
		return
	}
	o := e.txn.Dot.Node
	if o != r.id {
		r.relay(e, o)
	}
	r.markDirty(o)
}

// relay queues a transaction of origin o, just applied, to this node's
// children in o's tree.
func (r *Replica) relay(e txnEntry, o causal.NodeID) {
	ov := &r.ov
	ov.scratch = r.sendChildren(ov.scratch[:0], o, r.id)
	for _, c := range ov.scratch {
		r.outbox[c] = append(r.outbox[c], e)
	}
}

// selfCounter is this node's term of the cut for origin o: applied and,
// once the driver reports it, durable.
func (r *Replica) selfCounter(o causal.NodeID) uint64 {
	c := r.ks.Context().Vector.Get(o)
	if r.durableSet {
		c = min(c, r.durable.Get(o))
	}
	return c
}

// subtreeCounter is the least counter of o that every member of this
// node's subtree in o's tree holds, as far as this node knows.
func (r *Replica) subtreeCounter(o causal.NodeID) uint64 {
	ov := &r.ov
	c := r.selfCounter(o)
	ov.scratch = r.treeChildren(ov.scratch[:0], o, r.id)
	for _, ch := range ov.scratch {
		rep := ov.reports[ch]
		if rep == nil || rep.fp != ov.fp {
			return 0
		}
		c = min(c, rep.col.Get(o))
	}
	return c
}

// queueCut queues counter c of origin o to member to, in direction dir.
func (r *Replica) queueCut(dir map[causal.NodeID]*causal.VersionVector, to, o causal.NodeID, c uint64) {
	v := dir[to]
	if v == nil {
		v = &causal.VersionVector{}
		dir[to] = v
	}
	v.Set(o, c)
}

// flushOverlay recomputes the reports of the dirty origins, queues what
// changed, and sends the queued reports and claims (from Ready).
func (r *Replica) flushOverlay() {
	ov := &r.ov
	if len(ov.dirty) == 0 && len(ov.up) == 0 && len(ov.down) == 0 {
		return
	}
	if !r.overlayOn() {
		clear(ov.dirty)
		clear(ov.up)
		clear(ov.down)
		return
	}
	if ov.up == nil {
		ov.up, ov.down = map[causal.NodeID]*causal.VersionVector{}, map[causal.NodeID]*causal.VersionVector{}
	}
	if ov.sent == nil {
		ov.sent = map[causal.NodeID]uint64{}
	}
	// Deterministic order: origins sorted.
	origins := make([]causal.NodeID, 0, len(ov.dirty))
	for o := range ov.dirty {
		origins = append(origins, o)
	}
	clear(ov.dirty)
	sortIDs(origins)
	for _, o := range origins {
		c := r.subtreeCounter(o)
		if c == 0 || c == ov.sent[o] {
			continue
		}
		ov.sent[o] = c
		if o == r.id {
			r.claim(o, c)
			continue
		}
		if parent, ok := r.treeParent(o, r.id); ok {
			r.queueCut(ov.up, parent, o, c)
		}
	}
	r.sendCuts(ov.up, cutUp)
	r.sendCuts(ov.down, cutDown)
}

// sendCuts sends the queued counters of one direction, in member order.
func (r *Replica) sendCuts(q map[causal.NodeID]*causal.VersionVector, dir uint64) {
	if len(q) == 0 {
		return
	}
	to := make([]causal.NodeID, 0, len(q))
	for id := range q {
		to = append(to, id)
	}
	sortIDs(to)
	for _, id := range to {
		r.send(id, Message{Type: MsgCut, Seq: dir, Hash: r.ov.fp, Cut: *q[id]})
	}
	clear(q)
}

// claim notes that every member holds o up to c, and passes the claim on
// to this node's children in o's tree.
func (r *Replica) claim(o causal.NodeID, c uint64) {
	ov := &r.ov
	if c <= ov.claims.Get(o) {
		return
	}
	ov.claims.Set(o, c)
	ov.effDirty = true
	ov.scratch = r.sendChildren(ov.scratch[:0], o, r.id)
	for _, ch := range ov.scratch {
		r.queueCut(ov.down, ch, o, c)
	}
}

// stepCut handles a MsgCut: a child's report or a claim.
func (r *Replica) stepCut(from causal.NodeID, m *Message) {
	if !r.overlayOn() || m.Hash != r.ov.fp {
		return
	}
	ov := &r.ov
	switch m.Seq {
	case cutUp:
		if ov.reports == nil {
			ov.reports = map[causal.NodeID]*cutReport{}
		}
		rep := ov.reports[from]
		if rep == nil {
			rep = &cutReport{}
			ov.reports[from] = rep
		}
		if rep.fp != m.Hash {
			rep.fp, rep.col = m.Hash, causal.VersionVector{}
		}
		for _, e := range m.Cut.Entries() {
			rep.col.Set(e.Node, e.Counter)
			r.markDirty(e.Node)
		}
	case cutDown:
		if ov.up == nil {
			ov.up, ov.down = map[causal.NodeID]*causal.VersionVector{}, map[causal.NodeID]*causal.VersionVector{}
		}
		for _, e := range m.Cut.Entries() {
			r.claim(e.Node, e.Counter)
		}
		if ov.effDirty {
			r.trimLog()
		}
	}
}

// tickOverlay runs every DigestTicks with the overlay on: reports of
// columns not yet collapsed are sent again, and the claims go to the next
// member of the list (lost messages delay collapse, never stop it).
func (r *Replica) tickOverlay() {
	if !r.overlayOn() {
		return
	}
	ov := &r.ov
	for o, c := range ov.sent {
		if o != r.id && c > ov.claims.Get(o) {
			delete(ov.sent, o)
			r.markDirty(o)
		}
	}
	if ov.claims.Len() == 0 {
		return
	}
	ov.next = ov.next%(len(ov.list)-1) + 1
	to := ov.list[(ov.index[r.id]+ov.next)%len(ov.list)]
	r.send(to, Message{Type: MsgCut, Seq: cutDown, Hash: ov.fp, Cut: ov.claims.Clone()})
}

// collapsedCut is the collapsed cut: the meet of the applied vectors
// heard of, raised by the overlay's claims.
func (r *Replica) collapsedCut() *causal.VersionVector {
	ov := &r.ov
	if ov.stale {
		r.overlayList()
	}
	if ov.claims.Len() == 0 {
		return &r.cut
	}
	if ov.effDirty {
		ov.effDirty = false
		ov.eff.CopyFrom(&r.cut)
		for _, e := range ov.claims.Entries() {
			if e.Counter > ov.eff.Get(e.Node) {
				ov.eff.Set(e.Node, e.Counter)
			}
		}
	}
	return &ov.eff
}

// noteDurable marks the origins whose durable counter changed from old
// to v (SetDurable) as dirty.
func (r *Replica) noteDurable(old, v *causal.VersionVector) {
	if len(r.ov.list) <= r.cfg.OverlayThreshold {
		return
	}
	for _, e := range v.Entries() {
		if old.Get(e.Node) != e.Counter {
			r.markDirty(e.Node)
		}
	}
}

// deferFetch defers, with the overlay on, the catch-up that a digest
// from another member, or a transaction from it that waits in the causal
// buffer, calls for: what is missing (applied, the digest's vector or the
// transaction's dependencies, all of which the sender has) may be on its
// way down a tree, and fetching it now would ship it twice. Tick fetches
// it delay ticks later (two DigestTicks after a digest, whose vector may
// be ahead by a whole tree's latency; one after a buffered transaction)
// if this node still lacks any of it (tickFetch): a transaction lost on
// a tree (a member down, trees that differ while membership changes) is
// fetched from the next member that sends something depending on it.
// Reports whether the fetch was deferred (or one already is).
func (r *Replica) deferFetch(from causal.NodeID, applied *causal.VersionVector, delay uint64) bool {
	if !r.overlayOn() {
		return false
	}
	ov := &r.ov
	if ov.wantFrom == 0 {
		ov.wantFrom, ov.wantTick = from, r.tick+delay
		ov.want.CopyFrom(applied)
	}
	return true
}

// tickFetch sends the deferred catch-up request once it is due, if this
// node still lacks something the digest showed.
func (r *Replica) tickFetch() {
	ov := &r.ov
	if ov.wantFrom == 0 || r.tick < ov.wantTick {
		return
	}
	from := ov.wantFrom
	ov.wantFrom = 0
	if r.ks.Context().Vector.Dominates(&ov.want) {
		return
	}
	if p := r.peers[from]; p == nil || p.live == StateUnreachable {
		return
	}
	r.fetchSentAt[from] = r.tick
	r.send(from, Message{Type: MsgFetch})
}
