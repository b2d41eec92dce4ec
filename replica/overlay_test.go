package replica

import (
	"fmt"
	"slices"
	"testing"

	"github.com/spooksystems/spook/causal"
)

// treeReplica returns the replica of member 0 of an n-member cluster
// whose member i is in region regions[i % len(regions)] (nil: none), as
// this replica knows them.
func treeReplica(t *testing.T, n int, regions []string) (*Replica, []causal.NodeID) {
	t.Helper()
	var members []Peer
	for i := range n {
		members = append(members, Peer{Name: fmt.Sprintf("m%d", i)})
	}
	cfg := Config{Name: "m0", Members: members}
	if regions != nil {
		cfg.Region = regions[0]
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []causal.NodeID
	for i := range n {
		id := causal.NodeIDFromName(fmt.Sprintf("m%d", i))
		ids = append(ids, id)
		if i > 0 && regions != nil {
			r.peers[id].region = regions[i%len(regions)]
		}
	}
	r.ov.stale = true
	return r, ids
}

// walk returns every member reached from origin o through sendChildren,
// and how often each is reached.
func walk(r *Replica, o causal.NodeID) map[causal.NodeID]int {
	seen := map[causal.NodeID]int{o: 1}
	queue := []causal.NodeID{o}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, c := range r.sendChildren(nil, o, x) {
			seen[c]++
			if seen[c] == 1 {
				queue = append(queue, c)
			}
		}
	}
	return seen
}

// TestTreeShape: for every origin, the tree reaches every member exactly
// once, the origin has OverlayFanout children, every other member at
// most OverlayRelayFanout (plus one representative per other region),
// treeParent inverts treeChildren, and with regions each transaction
// enters each other region once.
func TestTreeShape(t *testing.T) {
	for _, tc := range []struct {
		n       int
		regions []string
	}{{40, nil}, {100, nil}, {1000, nil}, {100, []string{"a", "b", "c"}}, {50, []string{"a", "b"}},
		{37, []string{"x", "y", "z", "w"}}} {
		r, ids := treeReplica(t, tc.n, tc.regions)
		if !r.overlayOn() {
			t.Fatalf("n=%d: overlay off", tc.n)
		}
		region := func(id causal.NodeID) string {
			if id == r.id {
				return r.cfg.Region
			}
			return r.peers[id].region
		}
		for _, o := range ids {
			seen := walk(r, o)
			if len(seen) != tc.n {
				t.Fatalf("n=%d regions=%v origin %s: reached %d members", tc.n, tc.regions, o, len(seen))
			}
			for id, k := range seen {
				if k != 1 {
					t.Fatalf("n=%d origin %s: %s reached %d times", tc.n, o, id, k)
				}
			}
			if got := len(r.treeChildren(nil, o, o)); got > r.cfg.OverlayFanout {
				t.Fatalf("n=%d origin %s sends %d copies", tc.n, o, got)
			}
			crossings := 0
			for _, x := range ids {
				kids := r.treeChildren(nil, o, x)
				if len(kids) > r.cfg.OverlayRelayFanout+len(tc.regions) {
					t.Fatalf("n=%d origin %s: %s has %d children", tc.n, o, x, len(kids))
				}
				for _, c := range kids {
					if p, ok := r.treeParent(o, c); !ok || p != x {
						t.Fatalf("n=%d origin %s: parent of %s is %s, want %s", tc.n, o, c, p, x)
					}
					if region(c) != region(x) {
						crossings++
					}
				}
			}
			if want := max(len(tc.regions)-1, 0); crossings != want {
				t.Fatalf("n=%d regions=%v origin %s: %d region crossings, want %d", tc.n, tc.regions, o, crossings, want)
			}
		}
	}
}

// TestTreeDeterministic: two members with the same membership derive
// the same trees.
func TestTreeDeterministic(t *testing.T) {
	a, ids := treeReplica(t, 64, nil)
	var members []Peer
	for i := range 64 {
		members = append(members, Peer{Name: fmt.Sprintf("m%d", i)})
	}
	b, err := New(Config{Name: "m17", Members: members})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ids {
		for _, x := range ids {
			ka, kb := a.treeChildren(nil, o, x), b.treeChildren(nil, o, x)
			if !slices.Equal(ka, kb) {
				t.Fatalf("origin %s member %s: children %v here, %v there", o, x, ka, kb)
			}
		}
	}
	if a.ov.fp != b.overlayList().fp {
		t.Fatal("the same member list has two fingerprints")
	}
}

// TestTreeRepairsAroundDownMembers: a member believed unreachable is
// skipped and its children adopted by its parent; a suspect one is sent
// to and its children adopted too; every other member is still reached
// once.
func TestTreeRepairsAroundDownMembers(t *testing.T) {
	r, ids := treeReplica(t, 200, nil)
	o := ids[0]
	kids := r.treeChildren(nil, o, o)
	down, suspect := kids[0], kids[1]
	r.peers[down].live = StateUnreachable
	r.peers[suspect].live = StateSuspect
	seen := walk(r, o)
	if seen[down] != 0 {
		t.Fatalf("the unreachable member was sent to")
	}
	if seen[suspect] != 1 {
		t.Fatalf("the suspect member was reached %d times", seen[suspect])
	}
	// The suspect's children are reached twice (by the origin's adoption
	// and by the suspect itself); everyone else once.
	grand := r.treeChildren(nil, o, suspect)
	for _, id := range ids {
		want := 1
		switch {
		case id == down:
			want = 0
		case slices.Contains(grand, id):
			want = 2
		}
		if seen[id] != want {
			t.Fatalf("%s reached %d times, want %d", id, seen[id], want)
		}
	}
	sends := r.sendChildren(nil, o, o)
	for _, c := range r.treeChildren(nil, o, down) {
		if !slices.Contains(sends, c) {
			t.Fatalf("the origin did not adopt %s, child of the unreachable member", c)
		}
	}
}

// TestOverlayOffUpToThreshold: a cluster of OverlayThreshold members
// pushes directly.
func TestOverlayOffUpToThreshold(t *testing.T) {
	r, _ := treeReplica(t, DefaultOverlayThreshold, nil)
	if r.overlayOn() {
		t.Fatal("overlay on at the threshold")
	}
	r, _ = treeReplica(t, DefaultOverlayThreshold+1, nil)
	if !r.overlayOn() {
		t.Fatal("overlay off above the threshold")
	}
}

// overlayCluster starts n members (region i mod len(regions) each, if
// any) and lets their membership records settle.
func overlayCluster(t *testing.T, n int, regions ...string) *cluster {
	var specs []string
	for i := range n {
		s := fmt.Sprintf("n%02d", i)
		if len(regions) > 0 {
			s += "=" + regions[i%len(regions)]
		}
		specs = append(specs, s)
	}
	c := newRegionCluster(t, specs...)
	c.tick(60)
	c.requireConverged()
	return c
}

// TestOverlayClusterConverges: in a 64-member cluster (above the
// threshold) a write reaches every member through the trees alone (no
// tick, so no digest or catch-up), the origin sends at most
// OverlayFanout copies, the cluster about one copy per member, and every
// member's collapsed cut then reaches the write through reports and
// claims.
func TestOverlayClusterConverges(t *testing.T) {
	for _, regions := range [][]string{nil, {"eu", "us", "ap"}} {
		c := overlayCluster(t, 64, regions...)
		origin := c.node("n07")
		var copies, originSends int
		c.before = func(p payload) {
			if p.typ == MsgTxns {
				copies++
				if p.from == origin.r.ID() {
					originSends++
				}
			}
		}
		tok := c.set("n07", "k", "v")
		c.deliver()
		for _, name := range c.names {
			if got := c.get(name, "k"); got != "v" {
				t.Fatalf("regions %v: %s reads %q: the tree did not reach it", regions, name, got)
			}
		}
		if originSends > DefaultOverlayFanout {
			t.Errorf("regions %v: the origin sent %d copies, want ≤ %d", regions, originSends, DefaultOverlayFanout)
		}
		if copies != 63 {
			t.Errorf("regions %v: %d copies for 63 other members", regions, copies)
		}
		c.before = nil
		for range 3 {
			c.tick(1)
		}
		for _, name := range c.names {
			if !c.node(name).r.Collapsed(tok) {
				t.Fatalf("regions %v: %s: the write is not collapsed", regions, name)
			}
		}
	}
}

// TestOverlayCollapseWaitsForEveryMember: with one member cut off, no
// member's collapsed cut reaches a write it lacks, though every other
// member applied it; after the heal it does.
func TestOverlayCollapseWaitsForEveryMember(t *testing.T) {
	c := overlayCluster(t, 40)
	var others []string
	for _, n := range c.names {
		if n != "n33" {
			others = append(others, n)
		}
	}
	c.partition(others, []string{"n33"})
	tok := c.set("n02", "k", "v")
	c.tick(50)
	for _, name := range c.names {
		if c.node(name).r.Collapsed(tok) {
			t.Fatalf("%s reports the write collapsed while n33 lacks it", name)
		}
	}
	c.heal()
	c.tick(400)
	c.requireConverged()
	for _, name := range c.names {
		if !c.node(name).r.Collapsed(tok) {
			t.Fatalf("%s: the write is not collapsed after the heal", name)
		}
	}
}
