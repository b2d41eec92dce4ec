package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// randomOps makes n valid ops on text, each on the text the previous left.
func randomOps(rng *rand.Rand, text []rune, n int) []textOp {
	var ops []textOp
	for range n {
		var o textOp
		if len(text) == 0 || rng.IntN(2) == 0 {
			ins := make([]rune, 1+rng.IntN(3))
			for i := range ins {
				ins[i] = []rune("ab€😀")[rng.IntN(4)]
			}
			o = textOp{Pos: rng.IntN(len(text) + 1), Insert: string(ins)}
		} else {
			p := rng.IntN(len(text))
			o = textOp{Pos: p, Delete: 1 + rng.IntN(len(text)-p)}
		}
		text, _ = applyTextOps(text, []textOp{o})
		ops = append(ops, o)
	}
	return ops
}

// TestTextTransformConverges: for random concurrent op lists a and b on
// one text, a then b' equals b then a' (the property the WebSocket
// editor rests on), with either tie-break.
func TestTextTransformConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		base := []rune("héllo wörld")[:rng.IntN(12)]
		a := randomOps(rng, slices.Clone(base), 1+rng.IntN(3))
		b := randomOps(rng, slices.Clone(base), 1+rng.IntN(3))
		aFirst := rng.IntN(2) == 0
		a2, b2 := transformText(a, b, aFirst)
		viaA, err1 := applyTextOps(slices.Clone(base), append(slices.Clone(a), b2...))
		viaB, err2 := applyTextOps(slices.Clone(base), append(slices.Clone(b), a2...))
		if err1 != nil || err2 != nil || string(viaA) != string(viaB) {
			t.Fatalf("case %d: base %q a %v b %v (aFirst %v): a,b' = %q (%v); b,a' = %q (%v)",
				i, string(base), a, b, aFirst, string(viaA), err1, string(viaB), err2)
		}
	}
}

// TestTextTransformTieBreak: two inserts at one place put the first
// list's text first, on both sides.
func TestTextTransformTieBreak(t *testing.T) {
	a, b := []textOp{{Pos: 1, Insert: "A"}}, []textOp{{Pos: 1, Insert: "B"}}
	a2, b2 := transformText(a, b, true)
	x, _ := applyTextOps([]rune("xy"), append(a, b2...))
	y, _ := applyTextOps([]rune("xy"), append(b, a2...))
	if string(x) != "xABy" || string(y) != "xABy" {
		t.Fatalf("got %q and %q, want xABy twice", string(x), string(y))
	}
}

func TestDiffText(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"", ""}, {"", "abc"}, {"abc", ""}, {"abc", "abc"}, {"abc", "aXc"}, {"héllo", "hé😀llo"}, {"aaa", "aaaa"}, {"abcabc", "abc"},
	} {
		got, err := applyTextOps([]rune(c.from), diffText([]rune(c.from), []rune(c.to)))
		if err != nil || string(got) != c.to {
			t.Errorf("diff %q → %q applied gives %q (%v)", c.from, c.to, string(got), err)
		}
	}
	if ops := diffText([]rune("abc"), []rune("abc")); len(ops) != 0 {
		t.Errorf("diff of equal texts: %v, want none", ops)
	}
}

func TestApplyTextOpsRefusesOutOfRange(t *testing.T) {
	for _, o := range []textOp{{Pos: 4, Insert: "x"}, {Pos: -1, Insert: "x"}, {Pos: 1, Delete: 3}, {Pos: 0}, {Pos: 0, Delete: -1}} {
		if _, err := applyTextOps([]rune("abc"), []textOp{o}); err == nil {
			t.Errorf("%+v on \"abc\": no error", o)
		}
	}
}

// transformCase is one line of testdata/text_transform.json: inputs and
// this package's outputs, which test/browser requires editor.js to give
// too.
type transformCase struct {
	A      []textOp `json:"a"`
	B      []textOp `json:"b"`
	AFirst bool     `json:"a_first"`
	A2     []textOp `json:"a2"`
	B2     []textOp `json:"b2"`
}

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/text_transform.json")

// TestTextTransformGolden keeps testdata/text_transform.json equal to
// what transformText gives on 200 seeded random cases (-rewrite writes
// it). The browser test runs editor.js's transform on the same cases.
func TestTextTransformGolden(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := make([]transformCase, 200)
	for i := range cases {
		base := []rune("héllo wörld")[:rng.IntN(12)]
		c := transformCase{A: randomOps(rng, slices.Clone(base), 1+rng.IntN(3)), B: randomOps(rng, slices.Clone(base), 1+rng.IntN(3)), AFirst: rng.IntN(2) == 0}
		c.A2, c.B2 = transformText(c.A, c.B, c.AFirst)
		c.A2, c.B2 = append([]textOp{}, c.A2...), append([]textOp{}, c.B2...)
		cases[i] = c
	}
	var buf bytes.Buffer
	for _, c := range cases {
		line, _ := json.Marshal(c)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join("testdata", "text_transform.json")
	if *rewrite {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestTextTransformGolden -rewrite writes it)", err)
	}
	if !bytes.Equal(old, buf.Bytes()) {
		t.Fatalf("%s differs from transformText's results; if the change is meant, rerun with -rewrite and read the diff", path)
	}
}

// TestDiffTextRandom: the ops diffText returns turn one random text into
// another, and edits at a few places come back as a few ops, not one
// replacement of everything between them.
func TestDiffTextRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 5000 {
		from := []rune("the quick brown fox jumps over the lazy dog")[:rng.IntN(44)]
		ops := randomOps(rng, slices.Clone(from), 1+rng.IntN(6))
		to, _ := applyTextOps(from, ops)
		got, err := applyTextOps(from, diffText(from, to))
		if err != nil || string(got) != string(to) {
			t.Fatalf("case %d: diff %q → %q: %v gives %q (%v)", i, string(from), string(to), diffText(from, to), string(got), err)
		}
	}
	from := []rune("0123456789abcdefghij")
	to := []rune("X0123456789abcdefghijY")
	if ops := diffText(from, to); len(ops) != 2 || ops[0] != (textOp{Pos: 0, Insert: "X"}) || ops[1] != (textOp{Pos: 21, Insert: "Y"}) {
		t.Errorf("two inserts at both ends: %v, want them as two ops", ops)
	}
	from, to = []rune("ab----------cd"), []rune("a----------cXd")
	if ops := diffText(from, to); len(ops) != 2 {
		t.Errorf("a delete and an insert apart: %v, want two ops", ops)
	}
	// Further apart than MaxDiffEdits: one replacement of the middle.
	from, to = []rune(strings.Repeat("a", MaxDiffEdits)), []rune(strings.Repeat("b", MaxDiffEdits))
	ops := diffText(from, to)
	if got, _ := applyTextOps(from, ops); string(got) != string(to) || len(ops) != 2 {
		t.Errorf("distant texts: %v, want one delete and one insert", ops)
	}
}
