package replica

import (
	"errors"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
)

func newTestVerifier(c *cluster, self string) *HistoryVerifier {
	v := &HistoryVerifier{Keys: audit.Keys{}, Names: map[uint64]string{}, Self: self, KeepProofs: true}
	for _, n := range c.names {
		v.Keys[uint64(id(n))] = c.node(n).cfg.Audit.Keys[uint64(id(n))]
		v.Names[uint64(id(n))] = n
	}
	return v
}

// TestHistoryBase: a base written after any record, loaded into a fresh
// verifier that then reads only the later records, ends in the report of
// a verification from record 1 (tree size, checkpoints, transactions),
// and every consistency proof still checks; a proof of a transaction the
// base stands for fails with audit.ErrDropped; a damaged base is refused.
func TestHistoryBase(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for round := 0; round < 5; round++ {
		for i, name := range c.names {
			c.set(name, string(rune('a'+i)), string(rune('0'+round)))
		}
		c.tick(120)
	}
	records := c.node("n2").records
	full := newTestVerifier(c, "n2")
	for i, rec := range records {
		if err := full.Record(uint64(i+1), rec); err != nil {
			t.Fatal(err)
		}
	}
	want := full.Report()
	if want.Checkpoints < 3 {
		t.Fatalf("only %d checkpoints", want.Checkpoints)
	}
	var firstDot causal.Dot
	for d, i := range full.leafIndex {
		if i == 0 {
			firstDot = d
		}
	}
	for cut := 1; cut < len(records); cut++ {
		head := newTestVerifier(c, "n2")
		for i, rec := range records[:cut] {
			if err := head.Record(uint64(i+1), rec); err != nil {
				t.Fatal(err)
			}
		}
		base := head.AppendBase(nil, uint64(cut))
		v := newTestVerifier(c, "n2")
		from, err := v.LoadBase(base)
		if err != nil || from != uint64(cut) {
			t.Fatalf("cut %d: load: %d %v", cut, from, err)
		}
		for i := cut; i < len(records); i++ {
			if err := v.Record(uint64(i+1), records[i]); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
		got := v.Report()
		if got.Size != want.Size || got.Checkpoints != want.Checkpoints || got.Transactions != want.Transactions ||
			got.LastIndex != want.LastIndex || got.BaseRecord != uint64(cut) {
			t.Fatalf("cut %d: %+v, want %+v", cut, got, want)
		}
		for from := uint64(1); from <= want.LastIndex; from++ {
			a, _ := v.Checkpoint(from)
			b, _ := v.Checkpoint(want.LastIndex)
			if _, err := v.Tree().ProveTree(a.N, b.N); err != nil {
				t.Fatalf("cut %d: consistency %d..%d: %v", cut, from, want.LastIndex, err)
			}
		}
		if _, bcp := v.Base(); bcp > 0 {
			if _, _, _, _, err := v.LeafProof(firstDot); !errors.Is(err, audit.ErrDropped) {
				t.Fatalf("cut %d: proof of dropped %s: %v", cut, firstDot, err)
			}
		}
		if cut == len(records)/2 {
			for _, at := range []int{len(baseMagic) + 3, len(base) / 2, len(base) - 1} {
				bad := append([]byte(nil), base...)
				bad[at] ^= 1
				if _, err := newTestVerifier(c, "n2").LoadBase(bad); !errors.Is(err, ErrBase) {
					t.Fatalf("damaged at %d: %v", at, err)
				}
			}
			if _, err := newTestVerifier(c, "n1").LoadBase(base); !errors.Is(err, ErrBase) {
				t.Fatalf("n2's base loaded as n1's: %v", err)
			}
		}
	}
}

// TestHistoryBaseAfterJoinStart: a history that starts past checkpoint 1
// (a member that joined by snapshot: the verifier starts from the
// snapshot's checkpoint, without its note) still gives a base that loads:
// the base keeps the checkpoint its first note follows.
func TestHistoryBaseAfterJoinStart(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for round := 0; round < 5; round++ {
		for i, name := range c.names {
			c.set(name, string(rune('a'+i)), string(rune('0'+round)))
		}
		c.tick(120)
	}
	records := c.node("n2").records
	full := newTestVerifier(c, "n2")
	for i, rec := range records {
		if err := full.Record(uint64(i+1), rec); err != nil {
			t.Fatal(err)
		}
	}
	second, ok := full.Checkpoint(2)
	if !ok || full.Report().LastIndex < 4 {
		t.Fatalf("want ≥ 4 checkpoints, have %d", full.Report().LastIndex)
	}
	head := newTestVerifier(c, "n2")
	for i, rec := range records[:second.Record] {
		if err := head.Record(uint64(i+1), rec); err != nil {
			t.Fatal(err)
		}
	}
	// What a join at checkpoint 2 leaves a verifier with: chain heads and
	// the checkpoint, no tree, no notes.
	joined := newTestVerifier(c, "n2")
	joined.chains = head.chains
	joined.last = second.Checkpoint
	joined.report.LastIndex, joined.report.Unrecomputed, joined.report.Joins = 2, 3, 1
	for i := int(second.Record); i < len(records)-1; i++ {
		if err := joined.Record(uint64(i+1), records[i]); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
	}
	base := joined.AppendBase(nil, uint64(len(records)-1))
	v := newTestVerifier(c, "n2")
	if _, err := v.LoadBase(base); err != nil {
		t.Fatalf("base of a history starting at checkpoint 2: %v", err)
	}
	if err := v.Record(uint64(len(records)), records[len(records)-1]); err != nil {
		t.Fatal(err)
	}
	if got, want := v.Report().LastIndex, full.Report().LastIndex; got != want || v.Report().Joins != 1 {
		t.Fatalf("last checkpoint %d, want %d; report %+v", got, want, v.Report())
	}
}
