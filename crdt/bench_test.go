package crdt

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// Component fast paths: make a delta with the component's mutator and join
// it, as Apply does for one operation, without the transaction around it.

// BenchmarkCounterIncrementJoin: node 1 increments an existing counter
// that three nodes write; the delta is joined into the writer's counter and
// into a second replica's (create + two joins per op).
func BenchmarkCounterIncrementJoin(b *testing.B) {
	var local, remote counter
	for n := causal.NodeID(1); n <= 3; n++ {
		d := counterDelta{node: n, k: 1, sum: 10}
		local.increment(d)
		remote.increment(d)
	}
	k := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		k++
		p, err := local.plan(1, 0, 1)
		if err != nil || p.rebase {
			b.Fatal(err)
		}
		d := counterDelta{node: 1, k: k, sum: p.sum}
		local.increment(d)
		remote.increment(d)
	}
}

// BenchmarkRegisterWriteJoin: an LWW overwrite of an existing key that
// observed the previous value (SET): the delta's entry replaces the
// observed one, reusing its buffer.
func BenchmarkRegisterWriteJoin(b *testing.B) {
	value := []byte("0123456789abcdef0123456789abcdef")
	var deps causal.Context
	var reg registers
	reg.write(true, regDelta{dot: causal.Dot{Node: 1, Counter: 1}, value: value}, &deps)
	k := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		deps.Add(causal.Dot{Node: 1, Counter: k})
		k++
		d := regDelta{dot: causal.Dot{Node: 1, Counter: k}, time: causal.Timestamp{WallMs: k}, value: value}
		reg.write(true, d, &deps)
	}
	if reg.len() != 1 {
		b.Fatalf("%d entries", reg.len())
	}
}

// BenchmarkSetAddJoin: an OR-set add of a new member (the member string
// and its dot slice are the allocations), into a set that grows to size
// members and then starts over: size=1k measures the CPU cost, size=1M
// adds the cache misses of a large set.
func BenchmarkSetAddJoin(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		name := "size=1k"
		if size == 1<<20 {
			name = "size=1M"
		}
		b.Run(name, func(b *testing.B) {
			members := make([][]byte, size)
			for i := range members {
				members[i] = []byte("member:" + strconv.Itoa(i))
			}
			var deps causal.Context
			var h hasher
			s := newSet()
			k := uint64(0)
			b.ReportAllocs()
			for b.Loop() {
				k++
				if k%uint64(size) == 0 {
					s = newSet() // keep the set bounded; amortized over size adds
				}
				s.joinMember(setDelta{member: members[k%uint64(size)], add: true, dot: causal.Dot{Node: 1, Counter: k}}, &deps, &h)
			}
		})
	}
}

// BenchmarkSetReaddJoin: re-adding an existing member (its observed dot
// is replaced in place).
func BenchmarkSetReaddJoin(b *testing.B) {
	var deps causal.Context
	var h hasher
	s := newSet()
	m := []byte("member")
	s.joinMember(setDelta{member: m, add: true, dot: causal.Dot{Node: 1, Counter: 1}}, &deps, &h)
	k := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		deps.Add(causal.Dot{Node: 1, Counter: k})
		k++
		s.joinMember(setDelta{member: m, observed: true, add: true, dot: causal.Dot{Node: 1, Counter: k}}, &deps, &h)
	}
}

// Full path: Keyspace.Begin → operation → Finish → Apply on a keyspace of
// 10,000 keys, one single-key transaction per op.

func benchKeyspace(b *testing.B) *Keyspace {
	ks := NewKeyspace()
	bl := ks.Begin(causal.Dot{Node: 1, Counter: 1}, causal.Timestamp{WallMs: 1})
	for i := 0; i < 10_000; i++ {
		bl.Set([]byte(fmt.Sprintf("key:%08d", i)), []byte("0123456789abcdef0123456789abcdef"))
	}
	bl.Increment([]byte("counter"), 1)
	bl.SetAdd([]byte("set"), []byte("m"))
	if err := ks.Apply(bl.Finish()); err != nil {
		b.Fatal(err)
	}
	return ks
}

func benchFull(b *testing.B, op func(bl *Builder, i uint64)) {
	ks := benchKeyspace(b)
	k := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		k++
		bl := ks.Begin(causal.Dot{Node: 1, Counter: k}, causal.Timestamp{WallMs: k})
		op(bl, k)
		if err := ks.Apply(bl.Finish()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuilderApplyIncrement(b *testing.B) {
	key := []byte("counter")
	benchFull(b, func(bl *Builder, _ uint64) { bl.Increment(key, 1) })
}

func BenchmarkBuilderApplySet(b *testing.B) {
	key, value := []byte("key:00000042"), []byte("0123456789abcdef0123456789abcdef")
	benchFull(b, func(bl *Builder, _ uint64) { bl.Set(key, value) })
}

func BenchmarkBuilderApplySetAdd(b *testing.B) {
	key := []byte("set")
	var buf []byte
	benchFull(b, func(bl *Builder, i uint64) {
		buf = strconv.AppendUint(buf[:0], i, 10)
		bl.SetAdd(key, buf)
	})
}

// BenchmarkApplyRemoteIncrement: a receiver applying decoded increment
// bodies from another node (decode + Apply), the replication hot path.
func BenchmarkApplyRemoteIncrement(b *testing.B) {
	src, dst := benchKeyspace(b), benchKeyspace(b)
	const n = 1 << 16
	bodies := make([][]byte, n)
	for i := range bodies {
		bl := src.Begin(causal.Dot{Node: 2, Counter: uint64(i + 1)}, causal.Timestamp{WallMs: uint64(i + 2)})
		bl.Increment([]byte("counter"), 1)
		txn := bl.Finish()
		src.Apply(txn)
		bodies[i] = txn.AppendBody(nil, PlainKeys{})
	}
	var r codec.Reader
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == n {
			b.StopTimer()
			dst = benchKeyspace(b)
			i = 0
			b.StartTimer()
		}
		txn := Txn{Dot: causal.Dot{Node: 2, Counter: uint64(i + 1)}, Time: causal.Timestamp{WallMs: uint64(i + 2)}}
		txn.Deps.Vector.Set(1, 1)
		if i > 0 {
			txn.Deps.Vector.Set(2, uint64(i))
		}
		r.Reset(bodies[i])
		if err := DecodeBody(&r, PlainKeys{}, &txn); err != nil {
			b.Fatal(err)
		}
		if err := dst.Apply(&txn); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// Encodings per type.

func benchTxn(b *testing.B, op func(bl *Builder)) *Txn {
	ks := benchKeyspace(b)
	bl := ks.Begin(causal.Dot{Node: 1, Counter: 2}, causal.Timestamp{WallMs: 2})
	op(bl)
	return bl.Finish()
}

var bodyOps = []struct {
	name string
	op   func(bl *Builder)
}{
	{"Increment", func(bl *Builder) { bl.Increment([]byte("counter"), 1) }},
	{"Set", func(bl *Builder) { bl.Set([]byte("key:00000042"), []byte("0123456789abcdef0123456789abcdef")) }},
	{"SetAdd", func(bl *Builder) { bl.SetAdd([]byte("set"), []byte("member")) }},
	{"MapSet", func(bl *Builder) { bl.MapSet([]byte("map"), []byte("field"), []byte("value")) }},
}

func BenchmarkEncodeBody(b *testing.B) {
	for _, c := range bodyOps {
		b.Run(c.name, func(b *testing.B) {
			txn := benchTxn(b, c.op)
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = txn.AppendBody(buf[:0], PlainKeys{})
			}
			b.ReportMetric(float64(len(buf)), "bytes")
		})
	}
}

func BenchmarkDecodeBody(b *testing.B) {
	for _, c := range bodyOps {
		b.Run(c.name, func(b *testing.B) {
			body := benchTxn(b, c.op).AppendBody(nil, PlainKeys{})
			var r codec.Reader
			b.ReportAllocs()
			for b.Loop() {
				var txn Txn
				r.Reset(body)
				if err := DecodeBody(&r, PlainKeys{}, &txn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeValue(b *testing.B) {
	ks, _ := fixture(b)
	for _, key := range []string{"str", "cnt", "set", "map"} {
		b.Run(key, func(b *testing.B) {
			v := ks.lookup([]byte(key))
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendValue(buf[:0], v)
			}
			b.ReportMetric(float64(len(buf)), "bytes")
		})
	}
}

func BenchmarkDecodeValue(b *testing.B) {
	ks, _ := fixture(b)
	for _, key := range []string{"str", "cnt", "set", "map"} {
		b.Run(key, func(b *testing.B) {
			data := AppendValue(nil, ks.lookup([]byte(key)))
			var r codec.Reader
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(data)
				if _, err := DecodeValue(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKeyspaceEncode/Decode: a 10,000-key state (32-byte string
// values); ns/op is per state, so divide by 10⁴ for per key.
func BenchmarkKeyspaceEncode(b *testing.B) {
	ks := benchKeyspace(b)
	buf := ks.AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = ks.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf))/float64(ks.Len()), "bytes/key")
}

func BenchmarkKeyspaceDecode(b *testing.B) {
	data := benchKeyspace(b).AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeKeyspace(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryPerKey reports the heap bytes one small string key costs
// (12-byte key, 32-byte value, inserted by Apply in batches of 1,000 keys),
// measured over 100,000 keys. Key and value bytes are 44 of them.
func BenchmarkMemoryPerKey(b *testing.B) {
	const keys = 100_000
	value := []byte("0123456789abcdef0123456789abcdef")
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ks := NewKeyspace()
		for i := 0; i < keys; i += 1000 {
			bl := ks.Begin(causal.Dot{Node: 1, Counter: uint64(i/1000 + 1)}, causal.Timestamp{WallMs: 1})
			for j := i; j < i+1000; j++ {
				bl.Set([]byte(fmt.Sprintf("key:%08d", j)), value)
			}
			ks.Apply(bl.Finish())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "heap-bytes/key")
		runtime.KeepAlive(ks)
	}
}

// BenchmarkKeyspaceGet: a lookup of a random existing key among 500,000
// (12-byte keys), so most lookups miss the CPU caches as a server's do.
func BenchmarkKeyspaceGet(b *testing.B) {
	const keys = 500_000
	ks := NewKeyspace()
	for i := 0; i < keys; i += 1000 {
		bl := ks.Begin(causal.Dot{Node: 1, Counter: uint64(i/1000 + 1)}, causal.Timestamp{WallMs: 1})
		for j := i; j < i+1000; j++ {
			if err := bl.Set([]byte(fmt.Sprintf("key:%08d", j)), []byte("0123456789abcdef0123456789abcdef")); err != nil {
				b.Fatal(err)
			}
		}
		if err := ks.Apply(bl.Finish()); err != nil {
			b.Fatal(err)
		}
	}
	probes := make([][]byte, 1<<16)
	x := uint64(1)
	for i := range probes {
		x = x*6364136223846793005 + 1442695040888963407
		probes[i] = []byte(fmt.Sprintf("key:%08d", (x>>33)%keys))
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if ks.Get(probes[i&(len(probes)-1)]) == nil {
			b.Fatal("missing key")
		}
		i++
	}
}

// BenchmarkBuilderApplySetNewKey: Builder → Finish → Apply of a SET of a
// key not yet present (the keyspace grows by one key per op), the path of
// a bulk load.
func BenchmarkBuilderApplySetNewKey(b *testing.B) {
	value := []byte("0123456789abcdef0123456789abcdef")
	var key []byte
	benchFull(b, func(bl *Builder, i uint64) {
		key = strconv.AppendUint(append(key[:0], "new:"...), i, 10)
		bl.Set(key, value)
	})
}

// zsetOf100k builds a keyspace with one sorted set of 100k members.
func zsetOf100k(b *testing.B) *Keyspace {
	b.Helper()
	ks := NewKeyspace()
	const n = 100_000
	for i := 0; i < n; i += 1000 {
		bl := ks.Begin(causal.Dot{Node: 1, Counter: uint64(i/1000 + 1)}, causal.Timestamp{WallMs: uint64(i + 1)})
		for j := i; j < i+1000; j++ {
			if _, err := bl.ZAdd([]byte("z"), []byte(strconv.Itoa(j)), float64(j*7%n)); err != nil {
				b.Fatal(err)
			}
		}
		if err := ks.Apply(bl.Finish()); err != nil {
			b.Fatal(err)
		}
	}
	return ks
}

// BenchmarkZSetRank100k measures ZRANK and a 10-member ZRANGE by rank on
// a 100k-member sorted set: O(log² n) and O(log n + k).
func BenchmarkZSetRank100k(b *testing.B) {
	ks := zsetOf100k(b)
	v := ks.Get([]byte("z"))
	b.Run("zrank", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := v.ZRank([]byte(strconv.Itoa(i % 100_000))); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("zrange10", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			n := 0
			v.ZAscend(i%99_990, func([]byte, float64) bool { n++; return n < 10 })
		}
	})
}

// BenchmarkZSetIncr100k measures a ZINCRBY transaction (build and apply)
// on a 100k-member sorted set.
func BenchmarkZSetIncr100k(b *testing.B) {
	ks := zsetOf100k(b)
	k := uint64(100) // zsetOf100k used counters 1..100
	for i := 0; b.Loop(); i++ {
		k++
		bl := ks.Begin(causal.Dot{Node: 1, Counter: k}, causal.Timestamp{WallMs: k})
		if _, err := bl.ZIncrement([]byte("z"), []byte(strconv.Itoa(i%100_000)), 1); err != nil {
			b.Fatal(err)
		}
		if err := ks.Apply(bl.Finish()); err != nil {
			b.Fatal(err)
		}
	}
}
