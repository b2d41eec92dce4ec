package bench

import (
	"math"
	"testing"
	"time"
)

func TestBucketBoundsContainValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 123456, 1 << 40, math.MaxInt64} {
		b := bucketOf(v)
		if hi := bucketHigh(b); hi < v {
			t.Fatalf("value %d in bucket %d whose high is %d", v, b, hi)
		}
		if b > 0 && bucketHigh(b-1) >= v {
			t.Fatalf("value %d also fits bucket %d (high %d)", v, b-1, bucketHigh(b-1))
		}
		if b >= histBuckets {
			t.Fatalf("bucket %d out of range", b)
		}
	}
}

func TestQuantileWithinRelativeError(t *testing.T) {
	var h Hist
	// 1..10000 µs, uniform: the q-quantile is q·10000 µs.
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i)*time.Microsecond, 1)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := q * 10000 * float64(time.Microsecond)
		got := float64(h.Quantile(q))
		if rel := math.Abs(got-want) / want; rel > 1.0/32 {
			t.Errorf("q%.3f = %v, want %v within 1/32 (rel %.4f)", q, time.Duration(got), time.Duration(want), rel)
		}
	}
	if h.Count() != 10000 {
		t.Fatalf("count %d", h.Count())
	}
}

func TestMergeAndWeightedRecord(t *testing.T) {
	var a, b Hist
	a.Record(time.Millisecond, 99)
	b.Record(time.Second, 1)
	a.Merge(&b)
	if a.Count() != 100 {
		t.Fatalf("count %d", a.Count())
	}
	if p50 := a.Quantile(0.5); p50 < time.Millisecond || p50 > time.Millisecond*33/32 {
		t.Fatalf("p50 %v", p50)
	}
	if p100 := a.Quantile(1); p100 != time.Second {
		t.Fatalf("max quantile %v, want 1s", p100)
	}
	var empty Hist
	if empty.Quantile(0.99) != 0 {
		t.Fatal("empty histogram quantile not zero")
	}
}
