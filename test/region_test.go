package test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWaitRegionWithARegionDown: four spookd processes in two regions
// (e1, e2 in east; w1, w2 in west). With w2 stopped, a write on e1 is
// applied by every member of east, so SPOOK.WAITREGION returns the
// region's count (1 other) at once, while WAIT for the three others
// stops at 2 until w2 is back, and then reaches 3. Status names the
// regions.
func TestWaitRegionWithARegionDown(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	dir := t.TempDir()
	names := []string{"e1", "e2", "w1", "w2"}
	regions := []string{"east", "east", "west", "west"}
	var addrs, peers []string
	for i, name := range names {
		addrs = append(addrs, freePort(t))
		peers = append(peers, name+"="+addrs[i])
	}
	start := func(i int) *process {
		p := startSpookd(t, addrs[i], "--node-id", names[i], "--region", regions[i], "--peers", strings.Join(peers, ","),
			"--data", filepath.Join(dir, names[i]), "--log-level", "warn")
		t.Cleanup(p.kill)
		return p
	}
	var procs []*process
	for i := range names {
		procs = append(procs, start(i))
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2, PoolSize: 1})
	defer c.Close()
	waitFor(t, 10*time.Second, "e1 knows every member's region", func() bool {
		info, err := c.Info(ctx, "spook").Result()
		if err != nil {
			return false
		}
		for i, name := range names[1:] {
			if !strings.Contains(info, "name="+name+",addr="+addrs[i+1]+",region="+regions[i+1]+",state=alive") {
				return false
			}
		}
		return strings.Contains(info, "region:east")
	})

	procs[3].kill()
	conn := c.Conn()
	defer conn.Close()
	if err := conn.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if got, err := conn.Do(ctx, "SPOOK.WAITREGION", 1, 5000).Int(); err != nil || got != 1 {
		t.Fatalf("SPOOK.WAITREGION 1 5000 = %d, %v; want 1", got, err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("SPOOK.WAITREGION took %v with its region up", d)
	}
	if got, err := conn.Do(ctx, "WAIT", 3, 500).Int(); err != nil || got != 2 {
		t.Fatalf("WAIT 3 500 with w2 stopped = %d, %v; want 2", got, err)
	}
	status, body, err := httpDo("GET", "http://"+addrs[0]+"/v1/status")
	var st struct {
		Region          string            `json:"region"`
		RegionCollapsed map[string]uint64 `json:"region_collapsed"`
		Collapsed       map[string]uint64 `json:"collapsed"`
		Members         []struct{ Name, Region string }
	}
	if err != nil || status != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("/v1/status: %d %v %.200s", status, err, body)
	}
	if st.Region != "east" || st.RegionCollapsed["e1"] <= st.Collapsed["e1"] {
		t.Fatalf("/v1/status: region %q, region_collapsed %v, collapsed %v", st.Region, st.RegionCollapsed, st.Collapsed)
	}
	if got := fmt.Sprint(st.Members); !strings.Contains(got, "{w2 west}") {
		t.Fatalf("/v1/status members %s lack w2's region", got)
	}

	procs[3] = start(3)
	if got, err := conn.Do(ctx, "WAIT", 3, 10000).Int(); err != nil || got != 3 {
		t.Fatalf("WAIT 3 10000 after w2 restarted = %d, %v; want 3", got, err)
	}
}
