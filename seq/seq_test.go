package seq

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spooksystems/spook/internal/codec"

	"pgregory.net/rapid"
)

func text[T Content[T]](s *Seq[T]) string {
	var b strings.Builder
	s.Scan(0, func(run T, n int) bool {
		switch r := any(run).(type) {
		case Text:
			b.Write(r)
		case Values:
			for _, v := range r {
				b.Write(v)
				b.WriteByte('|')
			}
		}
		return true
	})
	return b.String()
}

// check verifies the tree's counts and the index against a walk.
type fataler interface {
	Helper()
	Fatalf(string, ...any)
}

func check[T Content[T]](t fataler, s *Seq[T]) {
	t.Helper()
	vis, total, runs := 0, 0, 0
	var prev *leaf[T]
	for l := s.first; l != nil; l = l.next {
		if l.prev != prev {
			t.Fatalf("leaf links broken")
		}
		prev = l
		lv, lt := 0, 0
		for i := range l.items {
			it := &l.items[i]
			lv += it.visible()
			lt += it.n()
			runs++
			for _, k := range []int{0, it.n() / 2, it.n() - 1} {
				c, ok := s.locate(it.elem(k))
				if !ok || c.l != l || c.i != i || c.off != k {
					t.Fatalf("index does not find element %d of run %v", k, it.id)
				}
			}
			if it.n() < 1 {
				t.Fatalf("empty run")
			}
			if !it.deleted() && len(s.content(it).AppendHashes(nil, it.n())) != it.n() {
				t.Fatalf("run %v: content does not hold its %d elements", it.id, it.n())
			}
		}
		if lv != l.vis || lt != l.total {
			t.Fatalf("leaf counts %d/%d, want %d/%d", l.vis, l.total, lv, lt)
		}
		vis += lv
		total += lt
	}
	if vis != s.Len() || total != s.Total() || runs != s.Runs() {
		t.Fatalf("counts %d/%d/%d, want %d/%d/%d", s.Len(), s.Total(), s.Runs(), vis, total, runs)
	}
}

// TestSequentialMatchesSlice checks local inserts and deletes against a
// slice of runes.
func TestSequentialMatchesSlice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := New[Text]()
		var model []rune
		counter := uint64(0)
		steps := rapid.IntRange(1, 300).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			if len(model) > 0 && rapid.Bool().Draw(t, "del") {
				pos := rapid.IntRange(0, len(model)-1).Draw(t, "pos")
				n := rapid.IntRange(1, len(model)-pos).Draw(t, "n")
				s.Delete(pos, n, nil)
				model = slices.Delete(model, pos, pos+n)
			} else {
				pos := rapid.IntRange(0, len(model)).Draw(t, "pos")
				str := rapid.StringMatching(`[a-cé€]{1,5}`).Draw(t, "str")
				counter++
				n := len([]rune(str))
				s.Insert(pos, ID{Node: 1, Counter: counter}, n, Text(str), n == 1)
				model = slices.Insert(model, pos, []rune(str)...)
			}
			if got := text(s); got != string(model) {
				t.Fatalf("step %d: got %q want %q", i, got, string(model))
			}
			check(t, s)
		}
	})
}

type testOp struct {
	node   uint64
	dot    uint64
	deps   map[uint64]uint64 // node → counter seen
	ins    *Insert[Text]
	ranges []Range
}

// TestConcurrentConverge makes random edits on N replicas, delivers them
// in random causal orders, and requires identical text and digests.
func TestConcurrentConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 4).Draw(t, "replicas")
		reps := make([]*Seq[Text], n)
		seen := make([]map[uint64]uint64, n)
		for i := range reps {
			reps[i] = New[Text]()
			seen[i] = map[uint64]uint64{}
		}
		var log []testOp
		applied := make([][]bool, n)
		deliver := func(r int, k int) {
			op := log[k]
			if op.ins != nil {
				if err := reps[r].Integrate(*op.ins); err != nil {
					t.Fatalf("integrate: %v", err)
				}
			} else if err := reps[r].DeleteRanges(op.ranges); err != nil {
				t.Fatalf("delete: %v", err)
			}
			seen[r][op.node] = op.dot
			applied[r][k] = true
		}
		ready := func(r, k int) bool {
			if applied[r][k] {
				return false
			}
			for nd, c := range log[k].deps {
				if seen[r][nd] < c {
					return false
				}
			}
			return seen[r][log[k].node] == log[k].dot-1
		}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			r := rapid.IntRange(0, n-1).Draw(t, "r")
			if rapid.IntRange(0, 2).Draw(t, "kind") == 0 {
				// deliver something ready
				for k := range log {
					if ready(r, k) {
						deliver(r, k)
						break
					}
				}
				continue
			}
			s := reps[r]
			node := uint64(r + 1)
			op := testOp{node: node, dot: seen[r][node] + 1, deps: map[uint64]uint64{}}
			for nd, c := range seen[r] {
				op.deps[nd] = c
			}
			if s.Len() > 0 && rapid.Bool().Draw(t, "del") {
				pos := rapid.IntRange(0, s.Len()-1).Draw(t, "pos")
				k := rapid.IntRange(1, min(3, s.Len()-pos)).Draw(t, "n")
				op.ranges = s.Delete(pos, k, nil)
			} else {
				pos := rapid.IntRange(0, s.Len()).Draw(t, "pos")
				str := rapid.StringMatching(`[a-z]{1,3}`).Draw(t, "str")
				in := s.Insert(pos, ID{Node: node, Counter: op.dot}, len(str), Text(str), len(str) == 1)
				op.ins = &in
			}
			seen[r][node] = op.dot
			log = append(log, op)
			for j := range applied {
				applied[j] = append(applied[j], j == r)
			}
			check(t, s)
		}
		// Snapshot the partial states: their join must equal the
		// result of delivering everything.
		snaps := make([]*Seq[Text], n)
		for r := range reps {
			snaps[r] = reps[r].Clone()
			roundTrip(t, reps[r])
		}
		// Deliver everything, each replica in its own order.
		for r := range reps {
			for {
				var cands []int
				for k := range log {
					if ready(r, k) {
						cands = append(cands, k)
					}
				}
				if len(cands) == 0 {
					break
				}
				deliver(r, cands[rapid.IntRange(0, len(cands)-1).Draw(t, fmt.Sprint("pick", r))])
				check(t, reps[r])
			}
		}
		joined := snaps[rapid.IntRange(0, n-1).Draw(t, "first")].Clone()
		for _, r := range rapid.Permutation(snaps).Draw(t, "order") {
			if err := joined.Join(r, nil); err != nil {
				t.Fatalf("join: %v", err)
			}
			check(t, joined)
		}
		if string(joined.AppendState(nil)) != string(reps[0].AppendState(nil)) {
			t.Fatalf("join %q differs from delivery %q", text(joined), text(reps[0]))
		}
		want := text(reps[0])
		for r := 1; r < n; r++ {
			if got := text(reps[r]); got != want {
				t.Fatalf("replica %d: %q, replica 0: %q", r, got, want)
			}
			if string(reps[r].AppendState(nil)) != string(reps[0].AppendState(nil)) {
				t.Fatalf("replica %d state differs", r)
			}
			if reps[r].Digest() != reps[0].Digest() {
				t.Fatalf("replica %d digest differs", r)
			}
		}
	})
}

var testLimits = Limits{MaxElementBytes: 1 << 20, MaxContentBytes: 1 << 24}

func roundTrip[T Content[T]](t fataler, s *Seq[T]) {
	t.Helper()
	b := s.AppendState(nil)
	r := codec.NewReader(b)
	d, err := DecodeState[T](r, testLimits)
	if err == nil {
		err = r.Finish()
	}
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if string(d.AppendState(nil)) != string(b) || d.Digest() != s.Digest() || text(d) != text(s) {
		t.Fatalf("round trip differs")
	}
	check(t, d)
}

// TestNoInterleaving types two runs concurrently at one place, one
// character per transaction, forwards and backwards: each stays whole.
func TestNoInterleaving(t *testing.T) {
	for _, backwards := range []bool{false, true} {
		a, b := New[Text](), New[Text]()
		base := a.Insert(0, ID{Node: 9, Counter: 1}, 2, Text("[]"), false)
		b.Integrate(base)
		var opsA, opsB []Insert[Text]
		for i := 0; i < 5; i++ {
			pos := 1 + i
			if backwards {
				pos = 1
			}
			opsA = append(opsA, a.Insert(pos, ID{Node: 1, Counter: uint64(i + 1)}, 1, Text("a"), true))
			opsB = append(opsB, b.Insert(pos, ID{Node: 2, Counter: uint64(i + 1)}, 1, Text("b"), true))
		}
		for _, op := range opsB {
			if err := a.Integrate(op); err != nil {
				t.Fatal(err)
			}
		}
		for _, op := range opsA {
			if err := b.Integrate(op); err != nil {
				t.Fatal(err)
			}
		}
		if text(a) != text(b) {
			t.Fatalf("diverged: %q %q", text(a), text(b))
		}
		if got := text(a); got != "[aaaaabbbbb]" && got != "[bbbbbaaaaa]" {
			t.Fatalf("backwards=%v: interleaved: %q", backwards, got)
		}
	}
}

// TestIntegrateRunMatchesOneByOne: integrating a node's run of
// single-element insertions with IntegrateRun gives the state (encoding
// and digest) that integrating them one by one gives, also when other
// replicas' concurrent insertions at the same place were integrated
// first.
func TestIntegrateRunMatchesOneByOne(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := New[Text]()
		// Two writers' history.
		for i := 0; i < rapid.IntRange(0, 12).Draw(t, "base"); i++ {
			node := uint64(rapid.IntRange(1, 2).Draw(t, "node"))
			str := rapid.StringMatching(`[a-z]{1,3}`).Draw(t, "str")
			pos := rapid.IntRange(0, base.Len()).Draw(t, "pos")
			base.Insert(pos, ID{Node: node, Counter: uint64(100 + i)}, len(str), Text(str), len(str) == 1)
			if base.Len() > 1 && rapid.Bool().Draw(t, "del") {
				base.Delete(rapid.IntRange(0, base.Len()-1).Draw(t, "dpos"), 1, nil)
			}
		}
		// Writer 9 types a run at pos; writer 5, concurrently, types at
		// the same place.
		pos := rapid.IntRange(0, base.Len()).Draw(t, "runpos")
		typer := base.Clone()
		k := rapid.IntRange(2, 8).Draw(t, "k")
		var ops []Insert[Text]
		content := Text(nil)
		for j := 0; j < k; j++ {
			ch := Text{byte('A' + j)}
			ops = append(ops, typer.Insert(pos+j, ID{Node: 9, Counter: uint64(1000 + j)}, 1, ch, true))
			content = append(content, ch...)
			if j > 0 && (ops[j].Right != ops[0].Right || ops[j].Left != ops[j-1].ID) {
				t.Fatalf("typing made op %+v after %+v", ops[j], ops[j-1])
			}
		}
		other := base.Clone()
		var conc []Insert[Text]
		for j := 0; j < rapid.IntRange(0, 3).Draw(t, "conc"); j++ {
			str := rapid.StringMatching(`[0-9]{1,2}`).Draw(t, "cstr")
			conc = append(conc, other.Insert(pos, ID{Node: uint64(rapid.SampledFrom([]int{5, 12}).Draw(t, "cnode")), Counter: uint64(2000 + j)}, len(str), Text(str), false))
		}
		one, run := base.Clone(), base.Clone()
		for _, op := range conc {
			if err := one.Integrate(op); err != nil {
				t.Fatalf("integrate concurrent: %v", err)
			}
			if err := run.Integrate(op); err != nil {
				t.Fatalf("integrate concurrent: %v", err)
			}
		}
		for _, op := range ops {
			if err := one.Integrate(op); err != nil {
				t.Fatalf("integrate: %v", err)
			}
		}
		if err := run.IntegrateRun(ops[0], k, content); err != nil {
			t.Fatalf("IntegrateRun: %v", err)
		}
		check(t, one)
		check(t, run)
		if text(one) != text(run) || one.Digest() != run.Digest() || string(one.AppendState(nil)) != string(run.AppendState(nil)) {
			t.Fatalf("one by one %q, as a run %q", text(one), text(run))
		}
	})
}

// TestLaterInsertNamesTombstone: an insertion made after a deletion (not
// concurrently) names the tombstone right after its place as its origin
// right. This is why a tombstone cannot be dropped below the collapsed
// cut, stable or not, while another member may still hold it (doc.go,
// "Deletion"): that member's next insertion there names it.
func TestLaterInsertNamesTombstone(t *testing.T) {
	s := New[Text]()
	s.Insert(0, ID{Node: 1, Counter: 1}, 2, Text("ab"), false)
	gone := s.Delete(1, 1, nil)
	op := s.Insert(1, ID{Node: 1, Counter: 2}, 1, Text("x"), true)
	if len(gone) != 1 || op.Right != gone[0].ID || s.Visible(op.Right) {
		t.Fatalf("insertion after a deleted element names %+v as origin right, want the tombstone %+v", op.Right, gone)
	}
}
