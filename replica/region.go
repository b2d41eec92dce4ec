package replica

import "github.com/spooksystems/spook/causal"

// Regions. Every node may name its region (Config.Region), carried in
// its membership record. Besides the cluster collapsed cut (the meet over
// every current member), a replica reports the region collapsed cut: the
// meet over this node and the current members whose record names the
// same region. It is what "collapsed in my region" means:
//
//   - a transaction below it is applied by every current member of this
//     node's region, as this node knows them (their acknowledged applied
//     vectors; this node's own term is its durable vector once a driver
//     reports one, as for the cluster cut);
//   - it says nothing of the other regions: a region cut off from the
//     rest keeps collapsing locally while the cluster cut stalls;
//   - it is never below the cluster cut (it meets a subset of the terms);
//   - membership is this node's view: a member whose record has not
//     reached this node yet, or that moved to another region, is not
//     counted until its record arrives.
//
// Nodes without a region form the region "": in a cluster without
// regions the region cut is the cluster cut.
//
// The region cut is computed on demand, O(members × vector entries):
// it serves waits and status, not every message.

// inRegion reports whether peer p counts for the region cut: a current
// member of this node's region.
func (r *Replica) inRegion(p *peer) bool {
	return p.status == StateAlive && p.region == r.cfg.Region
}

// RegionCollapsedVector returns the region collapsed cut: the meet of
// this node's term and the applied vectors of the current members of
// its region (a copy).
func (r *Replica) RegionCollapsedVector() causal.VersionVector {
	cut := r.selfTerm()
	for _, id := range r.order {
		if p := r.peers[id]; r.inRegion(p) {
			cut.Meet(&p.applied)
		}
	}
	return cut
}

// RegionCollapsed reports whether t is applied by every current member
// of this node's region (this node included).
func (r *Replica) RegionCollapsed(t Token) bool {
	if t.IsZero() {
		return false
	}
	self := r.selfTerm()
	if !self.Contains(t) {
		return false
	}
	for _, id := range r.order {
		if p := r.peers[id]; r.inRegion(p) && !p.applied.Contains(t) {
			return false
		}
	}
	return true
}

// AppliedByRegion returns how many current members of this node's
// region (this node included, if it is a member) are known to have
// applied t: AppliedBy restricted to the region.
func (r *Replica) AppliedByRegion(t Token) int {
	if t.IsZero() {
		return 0
	}
	n := 0
	if r.state == NodeMember && r.ks.Context().Contains(t) {
		n++
	}
	for _, id := range r.order {
		if p := r.peers[id]; r.inRegion(p) && p.applied.Contains(t) {
			n++
		}
	}
	return n
}

// RegionMembers returns how many current members this node's region
// holds, this node included if it is a member.
func (r *Replica) RegionMembers() int {
	n := 0
	if r.state == NodeMember {
		n++
	}
	for _, id := range r.order {
		if r.inRegion(r.peers[id]) {
			n++
		}
	}
	return n
}
