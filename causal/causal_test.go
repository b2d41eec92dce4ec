package causal

import (
	"errors"
	"testing"

	"github.com/spooksystems/spook/internal/codec"
	"pgregory.net/rapid"
)

func genVector(t *rapid.T, label string) VersionVector {
	var v VersionVector
	n := rapid.IntRange(0, 5).Draw(t, label+" len")
	for i := 0; i < n; i++ {
		v.Set(NodeID(rapid.Uint64Range(1, 8).Draw(t, label+" node")), rapid.Uint64Range(0, 20).Draw(t, label+" counter"))
	}
	return v
}

func TestVectorLattice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genVector(t, "a"), genVector(t, "b"), genVector(t, "c")
		join := func(x, y VersionVector) VersionVector { z := x.Clone(); z.Merge(&y); return z }
		if ab, ba := join(a, b), join(b, a); !ab.Equal(&ba) {
			t.Fatalf("merge not commutative: %v vs %v", ab, ba)
		}
		if l, r := join(join(a, b), c), join(a, join(b, c)); !l.Equal(&r) {
			t.Fatalf("merge not associative: %v vs %v", l, r)
		}
		if aa := join(a, a); !aa.Equal(&a) {
			t.Fatalf("merge not idempotent")
		}
		ab := join(a, b)
		if !ab.Dominates(&a) || !ab.Dominates(&b) {
			t.Fatalf("join %v does not dominate its inputs %v %v", ab, a, b)
		}
		m := a.Clone()
		m.Meet(&b)
		if !a.Dominates(&m) || !b.Dominates(&m) {
			t.Fatalf("meet %v not below inputs", m)
		}
		switch a.Compare(&b) {
		case Equal:
			if !a.Equal(&b) {
				t.Fatal("Compare says equal")
			}
		case Before:
			if !b.Dominates(&a) || a.Equal(&b) {
				t.Fatal("Compare says before")
			}
		case After:
			if !a.Dominates(&b) || a.Equal(&b) {
				t.Fatal("Compare says after")
			}
		case Concurrent:
			if a.Dominates(&b) || b.Dominates(&a) {
				t.Fatal("Compare says concurrent")
			}
		}
		enc := a.AppendBinary(nil)
		r := codec.NewReader(enc)
		got := DecodeVersionVector(r)
		if err := r.Finish(); err != nil || !got.Equal(&a) {
			t.Fatalf("round trip %v → %v (%v)", a, got, err)
		}
	})
}

func TestContextMatchesSet(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c Context
		model := map[Dot]bool{}
		for _, d := range rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Dot {
			return Dot{NodeID(rapid.Uint64Range(1, 3).Draw(t, "n")), rapid.Uint64Range(1, 12).Draw(t, "c")}
		}), 0, 40).Draw(t, "dots") {
			c.Add(d)
			model[d] = true
		}
		for n := NodeID(1); n <= 3; n++ {
			for k := uint64(1); k <= 13; k++ {
				d := Dot{n, k}
				if c.Contains(d) != model[d] {
					t.Fatalf("Contains(%v) = %v, model %v", d, c.Contains(d), model[d])
				}
			}
			// Compaction: no outlier is directly above the vector.
			for _, o := range c.Outliers() {
				if o.Counter == c.Vector.Get(o.Node)+1 {
					t.Fatalf("outlier %v not absorbed into %v", o, c.Vector)
				}
			}
		}
		var other Context
		for d := range model {
			if d.Counter%2 == 0 {
				other.Add(d)
			}
		}
		merged := other.Clone()
		merged.Merge(&c)
		if !merged.Equal(&c) {
			t.Fatalf("merging a subset changed the set: %v/%v vs %v/%v", merged.Vector, merged.Outliers(), c.Vector, c.Outliers())
		}
		enc := c.AppendBinary(nil)
		r := codec.NewReader(enc)
		got := DecodeContext(r)
		if err := r.Finish(); err != nil || !got.Equal(&c) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func TestDecodeRefusesNonCanonical(t *testing.T) {
	// Two entries for one node (delta 0 after the first).
	bad := []byte{2, 5, 1, 0, 1}
	r := codec.NewReader(bad)
	DecodeVersionVector(r)
	if !errors.Is(r.Err(), codec.ErrInvalid) {
		t.Fatalf("duplicate node: err = %v", r.Err())
	}
	// A zero counter.
	r = codec.NewReader([]byte{1, 5, 0})
	DecodeVersionVector(r)
	if !errors.Is(r.Err(), codec.ErrInvalid) {
		t.Fatalf("zero counter: err = %v", r.Err())
	}
}

func TestClock(t *testing.T) {
	var c Clock
	a := c.Now(100)
	b := c.Now(100)
	if b.Compare(a) <= 0 {
		t.Fatalf("Now not monotonic within a millisecond: %v then %v", a, b)
	}
	if d := c.Now(50); d.Compare(b) <= 0 {
		t.Fatalf("Now went backwards with the physical clock: %v after %v", d, b)
	}
	if err := c.Observe(Timestamp{WallMs: 200, Logical: 7}, 150); err != nil {
		t.Fatal(err)
	}
	if e := c.Now(150); e.Compare(Timestamp{WallMs: 200, Logical: 7}) <= 0 {
		t.Fatalf("Now %v not after observed remote time", e)
	}
	before := c.Last()
	err := c.Observe(Timestamp{WallMs: 1_000_000}, 150)
	if !errors.Is(err, ErrClockAhead) {
		t.Fatalf("far-ahead remote: err = %v", err)
	}
	if c.Last() != before {
		t.Fatal("a refused timestamp moved the clock")
	}
}

func TestNodeIDFromName(t *testing.T) {
	if NodeIDFromName("n1") != NodeIDFromName("n1") || NodeIDFromName("n1") == NodeIDFromName("n2") {
		t.Fatal("NodeIDFromName is not a stable injective-looking map")
	}
}

func TestNodeIDText(t *testing.T) {
	id := NodeIDFromName("n1")
	b, _ := id.MarshalText()
	var back NodeID
	if err := back.UnmarshalText(b); err != nil || back != id {
		t.Fatalf("text round trip %s → %v, %v", b, back, err)
	}
	if err := back.UnmarshalText([]byte("zz")); err == nil {
		t.Fatal("non-hex accepted")
	}
}
