package replica

import (
	"bytes"
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// A membership record is a map at MemberPrefix + 16 hex digits of the
// node's ID, with register fields:
//
//	name    the node's name
//	addr    its advertised address
//	status  "member", "left" or "removed"
//	region  the node's region (Config.Region); written only when it has one
//
// A record without a region field (written before regions existed, or by
// a node without a region) says nothing of the region: the initial member
// list's entry (Peer.Region) stands, else the region is unknown and the
// member counts in every region's cut (region.go). Old records and
// snapshots decode unchanged.
//
// Status only ever moves forward (member < left < removed): when
// concurrent writes leave several siblings, the highest rank wins, so a
// removal is never undone by a concurrent stale write, whatever the clocks.
const (
	statusMember  = "member"
	statusLeft    = "left"
	statusRemoved = "removed"
)

var (
	fieldName   = []byte("name")
	fieldAddr   = []byte("addr")
	fieldStatus = []byte("status")
	fieldRegion = []byte("region")
)

func memberKey(id causal.NodeID) []byte {
	return fmt.Appendf([]byte(MemberPrefix), "%016x", uint64(id))
}

func statusRank(s []byte) int {
	switch string(s) {
	case statusMember:
		return 1
	case statusLeft:
		return 2
	case statusRemoved:
		return 3
	}
	return 0
}

// memberRecordView is a decoded membership record.
type memberRecordView struct {
	name, addr string
	status     string
	// region is the record's region; hasRegion says the record has a
	// region field this version accepts (validRegion). A record without
	// one (written before regions existed, or by a node without a
	// region, or holding a malformed one) says nothing of the region.
	region    string
	hasRegion bool
}

func (r *Replica) memberRecord(id causal.NodeID) *memberRecordView {
	return readMemberRecord(r.ks.Get(memberKey(id)))
}

func readMemberRecord(v *crdt.Value) *memberRecordView {
	if v == nil || v.Type() != crdt.TypeMap {
		return nil
	}
	reg := func(f []byte) string {
		if fv := v.Field(f); fv != nil {
			if b, ok := fv.Register(); ok {
				return string(b)
			}
		}
		return ""
	}
	rec := &memberRecordView{name: reg(fieldName), addr: reg(fieldAddr)}
	if region := reg(fieldRegion); region != "" && validRegion(region) == nil {
		rec.region, rec.hasRegion = region, true
	}
	if fv := v.Field(fieldStatus); fv != nil {
		best := 0
		for _, s := range fv.Siblings() {
			if rk := statusRank(s.Value); rk > best {
				best, rec.status = rk, string(s.Value)
			}
		}
	}
	if rec.status == "" {
		return nil
	}
	return rec
}

func (r *Replica) inBootstrap(id causal.NodeID) bool {
	for _, p := range r.bootstrap {
		if p.ID == id {
			return true
		}
	}
	return false
}

// proposeMembership writes a membership record as an internal transaction.
// Empty name, addr and region leave those fields as they are.
func (r *Replica) proposeMembership(id causal.NodeID, name, addr, region, status string) (Token, error) {
	key := memberKey(id)
	return r.propose(func(b *crdt.Builder) error {
		if region != "" {
			if _, err := b.MapSet(key, fieldRegion, []byte(region)); err != nil {
				return err
			}
		}
		if name != "" {
			if _, err := b.MapSet(key, fieldName, []byte(name)); err != nil {
				return err
			}
		}
		if addr != "" {
			if _, err := b.MapSet(key, fieldAddr, []byte(addr)); err != nil {
				return err
			}
		}
		_, err := b.MapSet(key, fieldStatus, []byte(status))
		return err
	}, true)
}

// Leave proposes this node's departure. Afterwards it is read-only; the
// driver keeps it running until the returned token is applied by the other
// members (AppliedBy), then stops it.
func (r *Replica) Leave() (Token, error) {
	if r.state != NodeMember {
		return Token{}, r.notWritable()
	}
	return r.proposeMembership(r.id, "", "", "", statusLeft)
}

// Remove proposes the removal of member id (an operator action for a dead
// member): collapse then proceeds without it. Removing a node that already
// left or was removed is a no-op returning the zero Token.
func (r *Replica) Remove(id causal.NodeID) (Token, error) {
	if r.state != NodeMember {
		return Token{}, r.notWritable()
	}
	if id == r.id {
		return Token{}, fmt.Errorf("%w: a node removes itself with Leave", ErrUnknownMember)
	}
	p := r.peers[id]
	if p == nil {
		return Token{}, fmt.Errorf("%w: %s", ErrUnknownMember, id)
	}
	if p.status != StateAlive {
		return Token{}, nil
	}
	return r.proposeMembership(id, "", "", "", statusRemoved)
}

// proposeSelf writes this node's own membership record: name, address,
// region and status member. A joining node writes it once it holds a
// snapshot; a bootstrap member writes it only to announce a region
// (announceRegion), so a cluster without regions writes no record for
// its bootstrap members, as before regions existed.
func (r *Replica) proposeSelf() (Token, error) {
	return r.proposeMembership(r.id, r.cfg.Name, r.cfg.Addr, r.cfg.Region, statusMember)
}

// announceRegion proposes this node's record again when the region it
// was configured with is not the one the cluster knows it by: its
// record's region, else its entry in the initial member list (a first
// start with a region the list does not give, or a restart with another
// one). Region "" announces nothing: the last region written stands, and
// a node restarted without --region keeps it.
func (r *Replica) announceRegion() error {
	if r.state != NodeMember || r.cfg.Region == "" {
		return nil
	}
	known := ""
	for _, p := range r.bootstrap {
		if p.ID == r.id {
			known = p.Region
		}
	}
	if rec := r.memberRecord(r.id); rec != nil && rec.hasRegion {
		known = rec.region
	}
	if known == r.cfg.Region {
		return nil
	}
	_, err := r.proposeSelf()
	return err
}

// Region returns this node's configured region ("" if none).
func (r *Replica) Region() string { return r.cfg.Region }

// memberRegion returns the region of node id as its membership record
// says, this node's configured region for itself, and "" for a node
// without a region or not known. It costs one map lookup: the overlay
// calls it per peer when it builds its views.
func (r *Replica) memberRegion(id causal.NodeID) string {
	if id == r.id {
		return r.cfg.Region
	}
	if p := r.peers[id]; p != nil {
		return p.region
	}
	return ""
}

// notWritable is the error for a write on a node that is not a member:
// a *RemovedError once removed, else ErrReadOnly with the state.
func (r *Replica) notWritable() error {
	if r.state == NodeRemoved {
		at, _ := r.RemovedAt(r.id)
		return &RemovedError{Cluster: r.cfg.Cluster, AtMs: at}
	}
	return fmt.Errorf("%w: node is %s", ErrReadOnly, r.state)
}

// RemovedAt reports whether an operator removed node id (this node
// included) and when, in milliseconds since the Unix epoch: the HLC
// wall time of the removal record, or for this node the time MarkRemoved
// was given if the record has not reached it.
func (r *Replica) RemovedAt(id causal.NodeID) (atMs uint64, removed bool) {
	if v := r.ks.Get(memberKey(id)); v != nil && v.Type() == crdt.TypeMap {
		if fv := v.Field(fieldStatus); fv != nil {
			for _, s := range fv.Siblings() {
				if string(s.Value) == statusRemoved {
					return s.Time.WallMs, true
				}
			}
		}
	}
	if id == r.id && r.state == NodeRemoved {
		return r.removedAtMs, true
	}
	return 0, false
}

// MarkRemoved records that this node was removed from the cluster at
// atMs, as a member told it (a handshake refused, or a link closed, with
// the reason "removed"): members stop exchanging with a removed node, so
// the membership record itself may never reach it. From now on every
// write is refused with a *RemovedError, and an EventMemberRemoved about
// this node is emitted once. The driver persists the fact itself (the
// replica's own log cannot: a removed node writes nothing).
func (r *Replica) MarkRemoved(atMs uint64) {
	if r.state == NodeRemoved {
		return
	}
	r.state = NodeRemoved
	r.removedAtMs = atMs
	r.event(EventMemberRemoved, r.id, causal.Dot{}, "this node was removed (a member refused it)")
}

// refreshMembers rebuilds the member table from the bootstrap list and the
// membership records. With notify, changes are reported as events.
func (r *Replica) refreshMembers(notify bool) {
	r.membersDirty = false
	type info struct {
		Peer
		region      string
		regionKnown bool // a record was read
		status      PeerState
	}
	seen := map[causal.NodeID]*info{}
	var ids []causal.NodeID
	add := func(id causal.NodeID) *info {
		if in := seen[id]; in != nil {
			return in
		}
		in := &info{Peer: Peer{ID: id}, status: StateAlive}
		seen[id] = in
		ids = append(ids, id)
		return in
	}
	for _, p := range r.bootstrap {
		in := add(p.ID)
		in.Name, in.Addr = p.Name, p.Addr
		if p.Region != "" {
			in.region, in.regionKnown = p.Region, true
		}
	}
	prefix := []byte(MemberPrefix)
	r.ks.Range(prefix, func(key []byte, v *crdt.Value) bool {
		if !bytes.HasPrefix(key, prefix) {
			return false
		}
		id, ok := memberKeyID(key)
		if !ok {
			return true // not a record this version writes; ignore
		}
		rec := readMemberRecord(v)
		if rec == nil {
			return true
		}
		in := add(id)
		if rec.name != "" {
			in.Name = rec.name
		}
		if rec.addr != "" {
			in.Addr = rec.addr
		}
		if rec.hasRegion {
			in.region, in.regionKnown = rec.region, true
		}
		switch rec.status {
		case statusLeft:
			in.status = StateLeft
		case statusRemoved:
			in.status = StateRemoved
		}
		return true
	})

	// This node.
	if self := seen[r.id]; self != nil {
		switch {
		case self.status == StateRemoved && r.state != NodeRemoved:
			r.state = NodeRemoved
			r.event(EventMemberRemoved, r.id, causal.Dot{}, "this node was removed")
		case self.status == StateLeft && r.state != NodeLeft && r.state != NodeRemoved:
			r.state = NodeLeft
			r.event(EventMemberLeft, r.id, causal.Dot{}, "this node left")
		}
	}

	changed := false
	for _, id := range ids {
		if id == r.id {
			continue
		}
		in := seen[id]
		p := r.peers[id]
		if p == nil {
			p = &peer{Peer: in.Peer, region: in.region, regionKnown: in.regionKnown, status: in.status, live: StateAlive, heardTick: r.tick}
			r.peers[id] = p
			changed = true
			if notify && in.status == StateAlive {
				r.event(EventMemberJoined, id, causal.Dot{}, in.Name)
			}
			continue
		}
		p.Name, p.Addr = in.Name, in.Addr
		p.region, p.regionKnown = in.region, in.regionKnown
		if p.status != in.status && in.status > p.status {
			p.status = in.status
			changed = true
			delete(r.outbox, id)
			if notify {
				t := EventMemberLeft
				if in.status == StateRemoved {
					t = EventMemberRemoved
				}
				r.event(t, id, causal.Dot{}, in.Name)
			}
		}
	}
	if changed {
		r.order = r.order[:0]
		for id := range r.peers {
			r.order = append(r.order, id)
		}
		sortIDs(r.order)
		r.probeOrder = nil // reshuffled at the next probe round
		r.cutDirty = true
	}
}

func sortIDs(ids []causal.NodeID) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}
