package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// TestWaitRegion: with the one member of the other region stopped, a
// write collapses in its region (WaitRegion for every member there
// returns), not in the cluster (Wait for every member times out); the
// status and metrics name each member's region.
func TestWaitRegion(t *testing.T) {
	addrs := freeAddrs(t, 3)
	regions := []string{"a", "a", "b"}
	var members []replica.Peer
	for i, a := range addrs {
		members = append(members, replica.Peer{Name: fmt.Sprintf("n%d", i+1), Addr: a})
	}
	var nodes []*Node
	for i, a := range addrs {
		cfg := testConfig(fmt.Sprintf("n%d", i+1), a, members, "")
		cfg.Region = regions[i]
		n, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	eventually(t, "every member knows every region", func() (bool, string) {
		st := nodes[0].Status()
		var got []string
		for _, m := range st.Members {
			got = append(got, m.Name+"="+m.Region)
		}
		slices.Sort(got)
		return strings.Join(got, ",") == "n1=a,n2=a,n3=b", strings.Join(got, ",")
	})
	nodes[2].Close()
	ctx := context.Background()
	tok, err := nodes[0].Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("v")) })
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	got, err := nodes[0].WaitRegion(wctx, tok, 0)
	cancel()
	if err != nil || got != 2 {
		t.Fatalf("WaitRegion(every region member) = %d, %v; want 2", got, err)
	}
	wctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
	got, err = nodes[0].Wait(wctx, tok, 3)
	cancel()
	if err == nil || got != 2 {
		t.Fatalf("Wait(3) with n3 stopped = %d, %v; want 2 and a timeout", got, err)
	}
	st := nodes[0].Status()
	if st.Region != "a" || st.RegionCollapsed["n1"] < tok.Dot.Counter || st.Collapsed["n1"] >= tok.Dot.Counter {
		t.Fatalf("status: region %q, region_collapsed %v, collapsed %v", st.Region, st.RegionCollapsed, st.Collapsed)
	}
	nodes[0].metrics.observe(nodes[0])
	body := scrape(t, nodes[0].metrics)
	for _, want := range []string{`spook_peer_state{peer="n2",region="a",state="alive"} 1`, `spook_peer_state{peer="n3",region="b",`,
		"spook_region_collapse_seconds_count 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
