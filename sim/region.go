package sim

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/check"
)

// Regions in the simulator. With Options.Regions = K > 1, node i runs
// with replica.Config.Region "r(i mod K + 1)" (regionName), the same
// region Params.region gives the network, so the replicas know what the
// links do; the initial member list names every region (Peer.Region), so
// no membership record is written for it. With one region no node has a
// region, and a run is exactly what it was before regions existed (same
// trace hash).
//
// The region collapse check (observeRegionCollapse) is CollapsePresent
// for the region collapsed cut: whenever a replica reports a new one,
// every current member of its region that is up must have applied every
// dot below it. Above DenseReplicasMax the replicas are checked in turn,
// one per step (the region cut is a meet over a region's members,
// O(members × vector) per replica), so a large run stays affordable.

// regionName is node i's replica.Config.Region: "" with one region.
func (p *Params) regionName(i int) string {
	if p.Regions <= 1 {
		return ""
	}
	return fmt.Sprintf("r%d", p.region(i)+1)
}

// regionState is what the region collapse check keeps between steps.
type regionState struct {
	// lastCut is, per node index, the region cut it last reported.
	lastCut []causal.VersionVector
	// checks counts the region cuts checked; advanced those that held a
	// dot not yet applied by every up node (the check had something to
	// judge).
	checks, advanced int
}

// observeRegionCollapse checks the region cuts the replicas report now.
func (s *simulator) observeRegionCollapse() {
	if s.p.Regions <= 1 {
		return
	}
	rs := &s.region
	if rs.lastCut == nil {
		rs.lastCut = make([]causal.VersionVector, len(s.nodes))
	}
	var upMeet causal.VersionVector
	meetDone := false
	for i, n := range s.nodes {
		if len(s.nodes) > DenseReplicasMax && i != s.step%len(s.nodes) {
			continue
		}
		if !n.up() {
			continue
		}
		cut := n.r.RegionCollapsedVector()
		if cut.Equal(&rs.lastCut[i]) {
			continue
		}
		rs.lastCut[i] = cut
		rs.checks++
		if !meetDone {
			upMeet, meetDone = s.upMeet(), true
		}
		if upMeet.Dominates(&cut) {
			continue
		}
		rs.advanced++
		if s.o.Log != nil {
			s.logf("%s region %s collapsed cut %v", n.name, n.cfg.Region, cut)
		}
		var states []check.State
		s.members = n.r.CurrentMembers(s.members[:0])
		for _, id := range s.members {
			j, ok := s.byID[id]
			if ok && s.nodes[j].up() && s.p.region(j) == s.p.region(i) {
				states = append(states, s.state(s.nodes[j]))
			}
		}
		check.CollapsePresent(&s.res.Report, s.step, n.name+" (region "+n.cfg.Region+")", &cut, states)
	}
}
