package replica

// rng is splitmix64 (Steele, Lea, Flood 2014): a 64-bit state advanced by a
// fixed odd constant and finalized by a mixer. It is small, fast, passes
// BigCrush, and keeps this package free of math/rand: every random choice
// of the replica (probe order, helpers, digest targets, session salts)
// comes from Config.Seed, so a seed reproduces a run.
type rng struct{ state uint64 }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// intn returns a value in [0, n); n must be positive. The modulo bias is
// below 2^-40 for the small n used here (member counts).
func (r *rng) intn(n int) int {
	if n <= 0 {
		panic("replica: rng.intn of a non-positive bound")
	}
	return int(r.next() % uint64(n))
}

// shuffle permutes s in place (Fisher–Yates).
func shuffle[T any](r *rng, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// mix64 is the splitmix64 finalizer, also used to salt hashes.
func mix64(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
