package crdt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"pgregory.net/rapid"
)

// TestConcurrentSequencePairs is TestConcurrentPairs for lists and text:
// A (node 1) and B (node 2) start from base, run a and b without seeing
// each other, exchange, and must agree byte for byte and pass the checks.
// docs/semantics.md lists exactly these rows. Concurrent insertions at
// one place order node 1's run first (ties go to the lower node).
func TestConcurrentSequencePairs(t *testing.T) {
	cases := []pairCase{
		{"rpush || rpush (runs do not interleave)", []string{"RPUSH l x"},
			[]string{"RPUSH l a1", "RPUSH l a2"}, []string{"RPUSH l b1", "RPUSH l b2"},
			[]string{"LRANGE l -> [x a1 a2 b1 b2]"}},
		{"lpush || lpush (runs do not interleave)", []string{"RPUSH l x"},
			[]string{"LPUSH l a1", "LPUSH l a2"}, []string{"LPUSH l b1", "LPUSH l b2"},
			[]string{"LRANGE l -> [a2 a1 b2 b1 x]"}},
		{"linsert || linsert (one place)", []string{"RPUSH l x y"},
			[]string{"LINSERTAT l 1 a"}, []string{"LINSERTAT l 1 b"},
			[]string{"LRANGE l -> [x a b y]"}},
		{"linsert || delete of its left neighbour", []string{"RPUSH l x y"},
			[]string{"LINSERTAT l 1 a"}, []string{"LDELAT l 0"},
			[]string{"LRANGE l -> [a y]"}},
		{"linsert || delete of its right neighbour", []string{"RPUSH l x y"},
			[]string{"LINSERTAT l 1 a"}, []string{"LDELAT l 1"},
			[]string{"LRANGE l -> [x a]"}},
		{"lpop || lpop (one element: both get it, removed once)", []string{"RPUSH l x y"},
			[]string{"LPOP l -> x"}, []string{"LPOP l -> x"},
			[]string{"LRANGE l -> [y]", "LLEN l -> 1"}},
		{"ldel || ldel (same element)", []string{"RPUSH l x y z"},
			[]string{"LDELRANGE l 0 2 -> 2"}, []string{"LDELRANGE l 1 2 -> 2"},
			[]string{"LRANGE l -> []", "TYPE l -> none"}},
		{"lset || lset (same position: both values kept)", []string{"RPUSH l x"},
			[]string{"LSET l 0 a"}, []string{"LSET l 0 b"},
			[]string{"LRANGE l -> [a b]"}},
		{"lset || ldel (same position)", []string{"RPUSH l x y"},
			[]string{"LSET l 0 a"}, []string{"LDELAT l 0"},
			[]string{"LRANGE l -> [a y]"}},
		{"ltrim || rpush", []string{"RPUSH l x y z"},
			[]string{"LTRIMTO l 0 1"}, []string{"RPUSH l w"},
			[]string{"LRANGE l -> [x w]"}},
		{"rpush || del (concurrent push survives)", []string{"RPUSH l x y"},
			[]string{"RPUSH l a"}, []string{"DEL l"},
			[]string{"LRANGE l -> [a]"}},
		{"del then rpush || rpush", []string{"RPUSH l x"},
			[]string{"DEL l", "RPUSH l a"}, []string{"RPUSH l b"},
			[]string{"LRANGE l -> [a b]"}},
		{"rpush || set", []string{"RPUSH l x"},
			[]string{"RPUSH l a"}, []string{"SET l v"},
			[]string{"TYPE l -> list", "LRANGE l -> [a]"}},
		{"tins || tins (typed at one place: no interleaving)", []string{"TINS t 0 []"},
			[]string{"TINS t 1 a", "TINS t 2 b", "TINS t 3 c"}, []string{"TINS t 1 x", "TINS t 2 y", "TINS t 3 z"},
			[]string{"TGET t -> '[abcxyz]'"}},
		{"tins || tins (typed backwards at one place)", []string{"TINS t 0 []"},
			[]string{"TINS t 1 c", "TINS t 1 b", "TINS t 1 a"}, []string{"TINS t 1 z", "TINS t 1 y", "TINS t 1 x"},
			[]string{"TGET t -> '[abcxyz]'"}},
		{"tdel || tins inside the deleted span", []string{"TINS t 0 hello"},
			[]string{"TDEL t 1 3 -> 3"}, []string{"TINS t 2 X"},
			[]string{"TGET t -> 'hXo'", "TLEN t -> 3"}},
		{"tdel || tdel (overlapping: deleted once)", []string{"TINS t 0 abcdef"},
			[]string{"TDEL t 1 3 -> 3"}, []string{"TDEL t 2 3 -> 3"},
			[]string{"TGET t -> 'af'"}},
		{"tins || del", []string{"TINS t 0 abc"},
			[]string{"TINS t 3 d"}, []string{"DEL t"},
			[]string{"TGET t -> 'd'"}},
		{"tins || rpush (fresh key)", nil,
			[]string{"TINS k 0 a"}, []string{"RPUSH k e"},
			[]string{"TYPE k -> text"}},
		{"rpush || hset (fresh key)", nil,
			[]string{"RPUSH k e"}, []string{"HSET k f v"},
			[]string{"TYPE k -> list"}},
	}
	runPairs(t, cases)
}

// TestSequenceInTransaction checks that operations of one transaction see
// each other (a working copy after the first) and that a clear in the
// transaction does not remove its own insertions.
func TestSequenceInTransaction(t *testing.T) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	txns := script(t, a,
		"RPUSH l x y",
		"MULTI",
		"RPUSH l a -> 3",
		"LPUSH l b c -> 5",
		"LRANGE l -> [c b x y a]",
		"LDELAT l 2 -> 1",
		"LSET l 0 C -> OK",
		"LRANGE l -> [C b y a]",
		"DEL l -> 1",
		"RPUSH l z -> 1",
		"LRANGE l -> [z]",
		"EXEC",
		"LRANGE l -> [z]",
		"MULTI",
		"TINS t 0 hello -> 5",
		"TINS t 5 ! -> 6",
		"TDEL t 0 1 -> 1",
		"TGET t -> 'ello!'",
		"EXEC",
		"TGET t -> 'ello!'",
	)
	for _, txn := range txns {
		b.deliver(t, txn)
	}
	sameState(t, "replayed", a.ks, b.ks)
}

// TestSequenceLargeNodeIDs: real node IDs are 64-bit name hashes; element
// references naming another node's elements must survive encoding.
func TestSequenceLargeNodeIDs(t *testing.T) {
	reps := newReplicas(2)
	reps[0].id = causal.NodeIDFromName("alpha")
	reps[1].id = causal.NodeID(0xffffffffffffff00)
	a, b := reps[0], reps[1]
	for _, txn := range script(t, a, "RPUSH l x y", "TINS t 0 ab") {
		b.deliver(t, txn)
	}
	var fromB []*Txn
	for _, txn := range script(t, b, "LINSERTAT l 1 m", "LDELAT l 0", "TINS t 1 Z", "TDEL t 0 1") {
		d, err := DecodeTxn(txn.AppendBinary(nil))
		if err != nil {
			t.Fatal(err)
		}
		fromB = append(fromB, d)
	}
	for _, txn := range fromB {
		a.deliver(t, txn)
	}
	sameState(t, "after exchange", a.ks, b.ks)
	script(t, a, "LRANGE l -> [m y]", "TGET t -> 'Zb'")
	if _, err := DecodeKeyspace(enc(a.ks)); err != nil {
		t.Fatal(err)
	}
}

// seqModel is a sequential model of one list (key l) and one text (key t).
type seqModel struct {
	list []string
	text []rune
}

func (m *seqModel) apply(line string) string {
	args := strings.Fields(line)
	atoi := func(i int) int { n, _ := strconv.Atoi(args[i]); return n }
	n := len(m.list)
	switch args[0] {
	case "RPUSH":
		m.list = append(m.list, args[2:]...)
		return fmt.Sprint(len(m.list))
	case "LPUSH":
		for _, v := range args[2:] {
			m.list = slices.Insert(m.list, 0, v)
		}
		return fmt.Sprint(len(m.list))
	case "LINSERTAT":
		i := atoi(2)
		if i < 0 || i > n {
			return "ERR range"
		}
		m.list = slices.Insert(m.list, i, args[3:]...)
		return fmt.Sprint(len(m.list))
	case "LDELAT":
		i := atoi(2)
		if i < 0 || i >= n {
			return "ERR range"
		}
		m.list = slices.Delete(m.list, i, i+1)
		return "1"
	case "LDELRANGE":
		from, to := max(atoi(2), 0), min(atoi(2)+atoi(3), n)
		if from >= to {
			return "0"
		}
		m.list = slices.Delete(m.list, from, to)
		return fmt.Sprint(to - from)
	case "LTRIMTO":
		from, to := atoi(2), atoi(3)
		if from >= to {
			m.list = nil
			return fmt.Sprint(n)
		}
		from, to = min(max(from, 0), n), min(max(to, 0), n)
		kept := slices.Clone(m.list[from:max(from, to)])
		m.list = kept
		return fmt.Sprint(n - len(kept))
	case "LSET":
		i := atoi(2)
		if i < 0 || i >= n {
			return "ERR range"
		}
		m.list[i] = args[3]
		return "OK"
	case "LPOP", "RPOP":
		if n == 0 {
			return "(nil)"
		}
		i := 0
		if args[0] == "RPOP" {
			i = n - 1
		}
		v := m.list[i]
		m.list = slices.Delete(m.list, i, i+1)
		return v
	case "LRANGE":
		return "[" + strings.Join(m.list, " ") + "]"
	case "LLEN":
		return fmt.Sprint(n)
	case "TINS":
		pos := atoi(2)
		if pos < 0 || pos > len(m.text) {
			return "ERR range"
		}
		m.text = slices.Insert(m.text, pos, []rune(args[3])...)
		return fmt.Sprint(len(m.text))
	case "TDEL":
		pos := atoi(2)
		if pos < 0 || pos > len(m.text) {
			return "ERR range"
		}
		end := min(pos+max(atoi(3), 0), len(m.text))
		m.text = slices.Delete(m.text, pos, end)
		return fmt.Sprint(end - pos)
	case "TGET":
		return "'" + string(m.text) + "'"
	case "DEL":
		existed := (args[1] == "l" && n > 0) || (args[1] == "t" && len(m.text) > 0)
		if args[1] == "l" {
			m.list = nil
		} else {
			m.text = nil
		}
		if existed {
			return "1"
		}
		return "0"
	}
	panic("model: " + line)
}

func genSeqModelCommand(t *rapid.T) string {
	i := func() string { return fmt.Sprint(rapid.IntRange(-1, 5).Draw(t, "i")) }
	v := func() string { return rapid.SampledFrom([]string{"p", "q", "r"}).Draw(t, "v") }
	cmds := []func() string{
		func() string { return "RPUSH l " + v() + " " + v() },
		func() string { return "LPUSH l " + v() + " " + v() },
		func() string { return "LINSERTAT l " + i() + " " + v() },
		func() string { return "LDELAT l " + i() },
		func() string { return "LDELRANGE l " + i() + " " + i() },
		func() string { return "LTRIMTO l " + i() + " " + i() },
		func() string { return "LSET l " + i() + " " + v() },
		func() string { return "LPOP l" },
		func() string { return "RPOP l" },
		func() string { return "LRANGE l" },
		func() string { return "LLEN l" },
		func() string { return "DEL " + rapid.SampledFrom([]string{"l", "t"}).Draw(t, "k") },
		func() string {
			return "TINS t " + i() + " " + rapid.SampledFrom([]string{"a", "bc", "é€", "xyz"}).Draw(t, "s")
		},
		func() string { return "TDEL t " + i() + " " + i() },
		func() string { return "TGET t" },
	}
	return cmds[rapid.IntRange(0, len(cmds)-1).Draw(t, "command")]()
}

// TestSequenceModelOneReplica: on one replica, random list and text
// commands grouped at random into transactions give exactly the replies
// and contents of a slice model.
func TestSequenceModelOneReplica(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := newReplicas(1)[0]
		m := &seqModel{}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for i := 0; i < steps; {
			b := r.begin()
			size := rapid.IntRange(1, 3).Draw(t, "txn")
			for j := 0; j < size && i < steps; j, i = j+1, i+1 {
				line := genSeqModelCommand(t)
				want := m.apply(line)
				if got := run(b, line); got != want {
					t.Fatalf("%s: got %q, model %q", line, got, want)
				}
			}
			if !b.Empty() {
				r.deliver(t, b.Finish())
			}
			b = r.begin() // a read-only view: never finished
			if l, tx := run(b, "LRANGE l"), run(b, "TGET t"); l != m.apply("LRANGE l") || tx != m.apply("TGET t") {
				t.Fatalf("state %s %s, model %s %s", l, tx, m.apply("LRANGE l"), m.apply("TGET t"))
			}
		}
	})
}
