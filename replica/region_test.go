package replica

import (
	"errors"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"strings"
	"testing"
)

// newRegionCluster is newCluster with a region per node, given as
// "name=region" ("name" alone: no region).
func newRegionCluster(t testing.TB, specs ...string) *cluster {
	c := &cluster{t: t, nodes: map[string]*testNode{}, byID: map[causal.NodeID]*testNode{},
		codecs: map[link]*LinkCodec{}, cut: map[link]bool{}, nowMs: testStartMs,
		bytesBy: map[MessageType]int{}, msgsBy: map[MessageType]int{}}
	var members []Peer
	names := make([]string, len(specs))
	regions := make([]string, len(specs))
	for i, s := range specs {
		names[i], regions[i], _ = strings.Cut(s, "=")
		members = append(members, Peer{Name: names[i], Addr: names[i] + ":7000"})
	}
	for i, n := range names {
		c.add(Config{Name: n, Addr: n + ":7000", Region: regions[i], Members: members,
			Seed: uint64(i + 1), NowMs: c.nowMs})
	}
	return c
}

// TestRegionInMemberRecord: a node's Config.Region reaches every member
// through its membership record; the accessor the overlay uses and
// Members both report it.
func TestRegionInMemberRecord(t *testing.T) {
	c := newRegionCluster(t, "n1=eu", "n2=eu", "n3=us", "n4")
	c.deliver()
	want := map[string]string{"n1": "eu", "n2": "eu", "n3": "us", "n4": ""}
	for _, viewer := range c.names {
		r := c.node(viewer).r
		if r.Region() != want[viewer] {
			t.Fatalf("%s: Region() = %q, want %q", viewer, r.Region(), want[viewer])
		}
		for name, region := range want {
			if got := r.memberRegion(id(name)); got != region {
				t.Fatalf("%s sees %s in region %q, want %q", viewer, name, got, region)
			}
		}
		for _, m := range r.Members() {
			if m.Region != want[m.Name] {
				t.Fatalf("%s: Members reports %s in region %q, want %q", viewer, m.Name, m.Region, want[m.Name])
			}
		}
	}
	c.requireConverged()
}

// TestNoRegionWritesNoRecord: a cluster without regions writes no
// membership record for its bootstrap members, as before regions
// existed (so traces at default sizes do not change).
func TestNoRegionWritesNoRecord(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	for _, name := range c.names {
		n := c.node(name)
		if n.r.HasReady() {
			if rd := n.r.Ready(); len(rd.Records) > 0 {
				t.Fatalf("%s wrote %d records at start without a region", name, len(rd.Records))
			}
			n.r.Advance()
		}
		if v := n.r.Applied(); v.Get(n.r.ID()) != 0 {
			t.Fatalf("%s proposed at start: applied %v", name, v)
		}
	}
}

// TestRegionRestart: a restart with the same region proposes nothing; a
// restart with another region rewrites the record, which wins; a restart
// without a region keeps the last one written.
func TestRegionRestart(t *testing.T) {
	c := newRegionCluster(t, "n1=eu", "n2=us")
	c.deliver()
	n1 := c.node("n1")
	restart := func(region string) {
		t.Helper()
		cfg := n1.cfg
		cfg.Region = region
		r, err := Restore(cfg, n1.snapshot, n1.records)
		if err != nil {
			t.Fatal(err)
		}
		n1.r, n1.cfg = r, cfg
	}
	before := n1.r.Applied()
	restart("eu")
	if after := n1.r.Applied(); !after.Equal(&before) {
		t.Fatalf("restart in the same region proposed: %v → %v", before, after)
	}
	restart("ap")
	c.deliver()
	if got := c.node("n2").r.memberRegion(id("n1")); got != "ap" {
		t.Fatalf("n2 sees n1 in %q after a restart in ap", got)
	}
	restart("")
	c.deliver()
	if got := c.node("n2").r.memberRegion(id("n1")); got != "ap" {
		t.Fatalf("n2 sees n1 in %q after a restart without a region", got)
	}
}

// TestRegionConfigRefused: a region too long or with a byte outside the
// allowed set is refused by New.
func TestRegionConfigRefused(t *testing.T) {
	for _, region := range []string{strings.Repeat("r", MaxRegionBytes+1), "eu west", "eu/1", "é"} {
		if _, err := New(Config{Name: "n1", Region: region}); !errors.Is(err, ErrConfig) {
			t.Fatalf("Region %q: err %v, want ErrConfig", region, err)
		}
	}
	if _, err := New(Config{Name: "n1", Region: strings.Repeat("r", MaxRegionBytes)}); err != nil {
		t.Fatalf("Region of MaxRegionBytes: %v", err)
	}
}

// TestRegionRecordMalformed: a record whose region this version refuses
// (another version wrote it) reads as region "", and so does a record
// written before regions existed (no region field).
func TestRegionRecordMalformed(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	n1 := c.node("n1")
	_, err := n1.r.propose(func(b *crdt.Builder) error {
		_, err := b.MapSet(memberKey(id("n1")), fieldRegion, []byte("no spaces allowed"))
		if err != nil {
			return err
		}
		_, err = b.MapSet(memberKey(id("n1")), fieldStatus, []byte(statusMember))
		return err
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	c.deliver()
	if got := c.node("n2").r.memberRegion(id("n1")); got != "" {
		t.Fatalf("malformed region read as %q", got)
	}
	if _, err := n1.r.proposeMembership(id("n2"), "n2", "n2:7000", "", statusMember); err != nil {
		t.Fatal(err)
	}
	c.deliver()
	if rec := n1.r.memberRecord(id("n2")); rec == nil || rec.region != "" || rec.name != "n2" {
		t.Fatalf("a record without a region field reads as %+v", rec)
	}
	if got := n1.r.memberRegion(id("n2")); got != "" {
		t.Fatalf("a record without a region field: region %q", got)
	}
}

// TestRegionCollapse: with the regions cut off from each other, a write
// collapses in its own region (every member there has it) and not in the
// cluster; after the heal it collapses in both.
func TestRegionCollapse(t *testing.T) {
	c := newRegionCluster(t, "n1=eu", "n2=eu", "n3=us", "n4=us")
	c.deliver()
	c.partition([]string{"n1", "n2"}, []string{"n3", "n4"})
	tok := c.set("n1", "k", "v")
	c.deliver()
	c.tick(1)
	n1 := c.node("n1").r
	if got := n1.RegionMembers(); got != 2 {
		t.Fatalf("RegionMembers = %d, want 2", got)
	}
	if !n1.RegionCollapsed(tok) || n1.AppliedByRegion(tok) != 2 {
		t.Fatalf("in eu: RegionCollapsed %v, AppliedByRegion %d; want true, 2",
			n1.RegionCollapsed(tok), n1.AppliedByRegion(tok))
	}
	if rc := n1.RegionCollapsedVector(); !rc.Contains(tok) {
		t.Fatalf("region cut %v lacks %v", rc, tok)
	}
	if n1.Collapsed(tok) || n1.AppliedBy(tok) != 2 {
		t.Fatalf("cut off: Collapsed %v, AppliedBy %d; want false, 2", n1.Collapsed(tok), n1.AppliedBy(tok))
	}
	// us has not seen it: its region cut does not hold it.
	if n3 := c.node("n3").r; n3.RegionCollapsed(tok) || n3.AppliedByRegion(tok) != 0 {
		t.Fatalf("n3: RegionCollapsed %v, AppliedByRegion %d", n3.RegionCollapsed(tok), n3.AppliedByRegion(tok))
	}
	c.heal()
	for i := 0; i < 5 && !n1.Collapsed(tok); i++ {
		c.tick(DefaultDigestTicks)
		c.deliver()
	}
	if !n1.Collapsed(tok) || !c.node("n3").r.RegionCollapsed(tok) {
		t.Fatalf("after heal: Collapsed %v, n3 RegionCollapsed %v", n1.Collapsed(tok), c.node("n3").r.RegionCollapsed(tok))
	}
	c.requireConverged()
}

// TestRegionCutWithoutRegions: in a cluster without regions the region
// cut is the cluster cut.
func TestRegionCutWithoutRegions(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	c.set("n1", "a", "1")
	c.partition([]string{"n1", "n2"}, []string{"n3"})
	c.set("n2", "b", "2")
	c.deliver()
	c.tick(1)
	for _, name := range c.names {
		r := c.node(name).r
		cluster, region := r.CollapsedVector(), r.RegionCollapsedVector()
		if !cluster.Equal(&region) {
			t.Fatalf("%s: region cut %v, cluster cut %v", name, region, cluster)
		}
		if r.RegionMembers() != 3 {
			t.Fatalf("%s: RegionMembers %d, want 3", name, r.RegionMembers())
		}
	}
}
