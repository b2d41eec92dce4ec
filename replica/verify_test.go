package replica

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spooksystems/spook/audit"
)

// verifyHistory runs a HistoryVerifier over records (indexes from 1).
func verifyHistory(c *cluster, self string, records [][]byte) (HistoryReport, error) {
	v := HistoryVerifier{Keys: audit.Keys{}, Names: map[uint64]string{}, Self: self}
	for _, n := range c.names {
		v.Keys[uint64(id(n))] = c.node(n).cfg.Audit.Keys[uint64(id(n))]
		v.Names[uint64(id(n))] = n
	}
	for i, rec := range records {
		if err := v.Record(uint64(i+1), rec); err != nil {
			return v.Report(), err
		}
	}
	return v.Report(), nil
}

// TestHistoryVerifier: every member's history verifies, transactions
// and checkpoints; a changed transaction body, a dropped transaction and
// a changed checkpoint are each found at their position.
func TestHistoryVerifier(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for round := 0; round < 4; round++ {
		for i, name := range c.names {
			c.set(name, string(rune('a'+i)), string(rune('0'+round)))
		}
		c.tick(120)
	}
	for _, name := range c.names {
		rep, err := verifyHistory(c, name, c.node(name).records)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rep.Transactions < 12 || rep.Checkpoints < 2 || rep.Size == 0 {
			t.Fatalf("%s: %+v", name, rep)
		}
	}
	records := c.node("n2").records
	firstTxn, firstCP := -1, -1
	for i, rec := range records {
		if rec[0] == recordSignedTxn && firstTxn < 0 && bytes.Contains(rec, []byte("1")) {
			firstTxn = i
		}
		if rec[0] == recordCheckpoint && firstCP < 0 {
			firstCP = i
		}
	}
	tamper := func(i int, fn func([]byte) []byte) [][]byte {
		out := make([][]byte, len(records))
		copy(out, records)
		out[i] = fn(bytes.Clone(records[i]))
		return out
	}
	// A changed value byte: only the signature can tell.
	changed := tamper(firstTxn, func(b []byte) []byte {
		i := bytes.LastIndexByte(b, '1')
		b[i] = '9'
		return b
	})
	_, err := verifyHistory(c, "n2", changed)
	var he *HistoryError
	if !errors.As(err, &he) || he.Index != uint64(firstTxn+1) || !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("changed body at record %d: %v", firstTxn+1, err)
	}
	// A dropped transaction: the chain breaks at the next one of its origin.
	dropped := append(append([][]byte(nil), records[:firstTxn]...), records[firstTxn+1:]...)
	if _, err := verifyHistory(c, "n2", dropped); !errors.Is(err, audit.ErrBrokenChain) && !errors.Is(err, audit.ErrCheckpoint) {
		t.Fatalf("dropped record %d: %v", firstTxn+1, err)
	}
	// A changed checkpoint root: the note's signature fails.
	cp := tamper(firstCP, func(b []byte) []byte {
		b[len("\x08go.sum database tree\n")+3] ^= 1
		return b
	})
	if _, err := verifyHistory(c, "n2", cp); !errors.As(err, &he) || he.Index != uint64(firstCP+1) || !errors.Is(err, audit.ErrCheckpoint) {
		t.Fatalf("changed checkpoint at record %d: %v", firstCP+1, err)
	}
}
