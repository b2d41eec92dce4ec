package bench

import (
	"math/bits"
	"time"
)

// histSubBits is the number of mantissa bits kept per power of two: 2^5 =
// 32 sub-buckets, so a recorded value is off by at most 1/32 (about 3 %).
const histSubBits = 5

// histBuckets covers every non-negative int64 nanosecond value.
const histBuckets = (64 - histSubBits + 1) << histSubBits

// Hist is a log-linear histogram of durations. The zero value is empty and
// ready. Not safe for concurrent use: give each client its own and Merge.
type Hist struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

// bucketOf maps a nanosecond value to its bucket.
func bucketOf(v uint64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	exp := bits.Len64(v) - histSubBits // ≥ 1
	return exp<<histSubBits | int(v>>(exp-1))&(1<<histSubBits-1)
}

// bucketHigh is the largest value that falls in bucket b.
func bucketHigh(b int) uint64 {
	if b < 1<<histSubBits {
		return uint64(b)
	}
	exp := b >> histSubBits
	mant := uint64(b&(1<<histSubBits-1)) | 1<<histSubBits
	return (mant+1)<<(exp-1) - 1
}

// Record adds count observations of d.
func (h *Hist) Record(d time.Duration, count int) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))] += uint64(count)
	h.n += uint64(count)
	if d > h.max {
		h.max = d
	}
}

// Merge adds o's observations to h.
func (h *Hist) Merge(o *Hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// Count is the number of observations.
func (h *Hist) Count() uint64 { return h.n }

// Quantile returns the value at quantile q (0 < q ≤ 1): the upper bound of
// the bucket holding it, capped at the largest observation. Zero if empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketHigh(b))
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}
