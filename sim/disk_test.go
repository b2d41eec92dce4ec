package sim

import (
	"bytes"
	"fmt"
	"testing"
)

// Both disk models must keep every synced record across a crash and
// return a prefix of what was appended (no holes, no garbage).
func TestDiskCrashKeepsSyncedPrefix(t *testing.T) {
	models := map[string]func() durable{
		"records": func() durable { return &recordDisk{} },
		"store": func() durable {
			d, err := newStoreDisk()
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for name, mk := range models {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(0); seed < 20; seed++ {
				d := mk()
				var all [][]byte
				add := func(n int) {
					for range n {
						rec := bytes.Repeat([]byte{byte(len(all))}, 1+len(all)*37%300)
						all = append(all, rec)
						if err := d.append([][]byte{rec}); err != nil {
							t.Fatal(err)
						}
					}
				}
				add(40)
				if _, err := d.sync(); err != nil {
					t.Fatal(err)
				}
				add(25)
				if d.unsynced() != 25 || d.syncedTotal() != 40 || d.total() != 65 {
					t.Fatalf("seed %d: unsynced=%d synced=%d total=%d", seed, d.unsynced(), d.syncedTotal(), d.total())
				}
				lost, err := d.crash(newRNG(seed, streamDisk))
				if err != nil {
					t.Fatal(err)
				}
				_, recs, err := d.load()
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) < 40 || len(recs) > 65 || len(recs)+lost != 65 {
					t.Fatalf("seed %d: %d records survived, %d reported lost", seed, len(recs), lost)
				}
				for i, r := range recs {
					if !bytes.Equal(r, all[i]) {
						t.Fatalf("seed %d: record %d differs after the crash", seed, i)
					}
				}
				// The disk goes on working after recovery.
				add(1)
				if d.total() != len(recs)+1 {
					t.Fatalf("seed %d: total %d after one append to %d records", seed, d.total(), len(recs))
				}
			}
		})
	}
}

func TestPartitionShapes(t *testing.T) {
	const n = 5
	count := func(cut []bool) (c int) {
		for _, x := range cut {
			if x {
				c++
			}
		}
		return c
	}
	for seed := uint64(0); seed < 10; seed++ {
		g := newRNG(seed, streamFaults)
		for s := shape(0); s < shapeCount; s++ {
			cut := partitionMatrix(g, s, n, 1)
			for i := 0; i < n; i++ {
				if cut[i*n+i] {
					t.Fatalf("%s cuts a node from itself", s)
				}
			}
			got := count(cut)
			var want []int
			switch s {
			case shapeIsolate:
				want = []int{2 * (n - 1)}
			case shapeMinority:
				want = []int{2 * 1 * (n - 1), 2 * 2 * (n - 2)}
			case shapeRing:
				want = []int{n*(n-1) - 2*n}
			case shapeBridge:
				want = []int{2 * 2 * 2} // halves of 2 and 2 around the bridge
			case shapeOneWay:
				want = []int{n - 1}
			}
			ok := false
			for _, w := range want {
				ok = ok || got == w
			}
			if !ok {
				t.Fatalf("seed %d: %s cut %d links, want one of %v: %v", seed, s, got, want, fmt.Sprint(cut))
			}
			symmetric := true
			for a := 0; a < n; a++ {
				for b := 0; b < n; b++ {
					symmetric = symmetric && cut[a*n+b] == cut[b*n+a]
				}
			}
			if symmetric == (s == shapeOneWay) {
				t.Fatalf("%s: symmetric=%t", s, symmetric)
			}
		}
	}
}
