package replica

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
)

// takeTxns runs name's Ready by hand: its records are kept as the
// harness keeps them, and the transactions it pushes to to are returned
// instead of being delivered (every other message is dropped).
func takeTxns(c *cluster, name, to string) []*crdt.Txn {
	n := c.node(name)
	rd := n.r.Ready()
	n.records = append(n.records, rd.Records...)
	n.events = append(n.events, rd.Events...)
	var out []*crdt.Txn
	for _, env := range rd.Messages {
		if env.To == id(to) && env.Message.Type == MsgTxns {
			out = append(out, env.Message.Txns...)
		}
	}
	n.r.Advance()
	return out
}

// sealKinds returns, per transaction, "l" for a linked (unsigned) seal
// and "s" for a signed one.
func sealKinds(txns []*crdt.Txn) string {
	s := ""
	for _, t := range txns {
		switch len(t.Seal) {
		case audit.LinkBytes:
			s += "l"
		case audit.SealBytes:
			s += "s"
		default:
			s += "?"
		}
	}
	return s
}

// TestBatchSealHeadAtReadyBoundary: an origin signs only the last of the
// transactions a Ready hands out; the others carry their chain link. The
// records logged say the same, and every peer applies all of them.
func TestBatchSealHeadAtReadyBoundary(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for i := 0; i < 5; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	txns := takeTxns(c, "n1", "n2")
	if got := sealKinds(txns); got != "lllls" {
		t.Fatalf("seals %q, want lllls", got)
	}
	kinds := ""
	for _, rec := range c.node("n1").records {
		switch rec[0] {
		case recordLinkedTxn:
			kinds += "l"
		case recordSignedTxn:
			kinds += "s"
		}
	}
	if kinds != "lllls" {
		t.Fatalf("records %q, want lllls", kinds)
	}
	stepOver(c, "n1", "n2", txns...)
	if got := c.get("n2", "k"); got != "e" {
		t.Fatalf("n2: k=%q, want e", got)
	}
	stepOver(c, "n1", "n3", txns...)
	c.deliver()
	c.requireConverged()
	for _, name := range c.names {
		if c.node(name).r.AuditRefused() != 0 {
			t.Fatalf("%s refused: %v", name, c.node(name).events)
		}
	}
}

// TestBatchSealUnsignedRunHeld: transactions without a signature are
// held, not applied, until a signed transaction of their origin that
// chains back to them arrives; then all apply in order. A signed head
// that came first releases its predecessors when they come.
func TestBatchSealUnsignedRunHeld(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for i := 0; i < 3; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	txns := takeTxns(c, "n1", "n2")
	stepOver(c, "n1", "n2", txns[:2]...)
	if ctx := c.node("n2").r.ks.Context(); ctx.Contains(txns[0].Dot) {
		t.Fatalf("n2 applied an unsigned transaction before its signed head: k=%q", c.get("n2", "k"))
	}
	stepOver(c, "n1", "n2", txns[2])
	if got := c.get("n2", "k"); got != "c" {
		t.Fatalf("n2: k=%q after the signed head, want c", got)
	}
	// The head first, then the run: n3.
	stepOver(c, "n1", "n3", txns[2])
	stepOver(c, "n1", "n3", txns[0])
	stepOver(c, "n1", "n3", txns[1])
	if got := c.get("n3", "k"); got != "c" {
		t.Fatalf("n3: k=%q after the run, want c", got)
	}
	for _, name := range c.names {
		if c.node(name).r.AuditRefused() != 0 {
			t.Fatalf("%s refused: %v", name, c.node(name).events)
		}
	}
}

// tamper returns a copy of txn with its time moved (so its hash differs)
// and the same seal.
func tamper(t *testing.T, txn *crdt.Txn) *crdt.Txn {
	cp, err := crdt.DecodeTxn(txn.AppendBinary(nil))
	if err != nil {
		t.Fatal(err)
	}
	cp.Time.WallMs++
	cp.Seal = txn.Seal
	return cp
}

// TestBatchSealTamperedUnsignedRefused: an unsigned transaction whose
// body was changed, followed by its origin's valid signed head, is
// refused (the head does not chain back to it) and never applied; nor is
// anything after it until the genuine one arrives.
func TestBatchSealTamperedUnsignedRefused(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for i := 0; i < 3; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	txns := takeTxns(c, "n1", "n2")
	bad := tamper(t, txns[1])
	n := c.node("n2")
	snap, recs := n.snapshot, n.records
	for _, run := range [][]*crdt.Txn{{txns[0], bad, txns[2]}, {bad, txns[0], txns[2]}} {
		n.snapshot, n.records, n.events = snap, recs, nil
		n.r = mustRestoreFresh(t, c, "n2")
		stepOver(c, "n1", "n2", run...)
		if n.r.AuditRefused() == 0 || !n.hasEvent(EventAuditRefused, id("n1")) {
			t.Fatalf("the tampered transaction was not refused: %v", n.events)
		}
		if ctx := n.r.ks.Context(); ctx.Contains(txns[1].Dot) || ctx.Contains(txns[2].Dot) {
			t.Fatalf("n2 applied past a tampered transaction: k=%q", c.get("n2", "k"))
		}
		if ev := n.events[len(n.events)-1]; !errors.Is(errorOf(ev.Reason, audit.ErrBrokenChain), audit.ErrBrokenChain) {
			t.Fatalf("event %v, want a broken chain", ev)
		}
		// The genuine one releases the rest.
		stepOver(c, "n1", "n2", txns[1])
		if got := c.get("n2", "k"); got != "c" {
			t.Fatalf("n2: k=%q after the genuine transaction, want c", got)
		}
	}
}

// mustRestoreFresh restarts name from its snapshot and records.
func mustRestoreFresh(t *testing.T, c *cluster, name string) *Replica {
	n := c.node(name)
	r, err := Restore(n.cfg, n.snapshot, n.records)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBatchSealForgedHeadNeverApplied: a run of unsigned transactions
// whose signed head is forged (another key) is never applied: the head is
// refused and the run stays held.
func TestBatchSealForgedHeadNeverApplied(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for i := 0; i < 3; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	txns := takeTxns(c, "n1", "n2")
	head := txns[2]
	forged, err := crdt.DecodeTxn(head.AppendBinary(nil))
	if err != nil {
		t.Fatal(err)
	}
	prev := audit.SealPrev(head.Seal)
	h := audit.TxnHash("", uint64(head.Dot.Node), head.Dot.Counter, prev, forged.AppendBinary(nil))
	forged.Seal = audit.Sign(testKey("n3"), prev, h)
	n := c.node("n2")
	stepOver(c, "n1", "n2", txns[0], txns[1], forged)
	if n.r.AuditRefused() == 0 {
		t.Fatalf("the forged head was not refused")
	}
	if ctx := n.r.ks.Context(); ctx.Contains(txns[0].Dot) {
		t.Fatalf("n2 applied a run under a forged head: k=%q", c.get("n2", "k"))
	}
}

// TestBatchSealVerifierRuns: the offline verifier accepts linked records
// that a later signed one of their origin chains to, finds a changed
// linked record at its own position (the signed head no longer chains to
// it), and reports an
// unsigned run that ends the history as unverifiable, at its first
// record.
func TestBatchSealVerifierRuns(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2")
	for i := 0; i < 5; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	c.deliver()
	for _, name := range c.names {
		rep, err := verifyHistory(c, name, c.node(name).records)
		if err != nil || rep.Transactions < 5 {
			t.Fatalf("%s: %v %+v", name, err, rep)
		}
	}
	records := c.node("n2").records
	var linked []int
	for i, rec := range records {
		if rec[0] == recordLinkedTxn {
			linked = append(linked, i)
		}
	}
	if len(linked) != 4 {
		t.Fatalf("n2 logged %d linked records, want 4", len(linked))
	}
	// Tampered: the second linked record's body changes.
	bad := append([][]byte(nil), records...)
	bad[linked[1]] = bytes.Replace(bytes.Clone(records[linked[1]]), []byte("b"), []byte("X"), 1)
	_, err := verifyHistory(c, "n2", bad)
	var he *HistoryError
	if !errors.Is(err, audit.ErrBrokenChain) || !errors.As(err, &he) || he.Index != uint64(linked[1]+1) {
		t.Fatalf("a changed linked record: %v, want ErrBrokenChain at record %d", err, linked[1]+1)
	}
	// Trailing: the log ends before the signed head.
	_, err = verifyHistory(c, "n2", records[:linked[3]+1])
	if !errors.Is(err, audit.ErrUnverified) || !errors.As(err, &he) || he.Index != uint64(linked[0]+1) {
		t.Fatalf("a trailing unsigned run: %v, want ErrUnverified at record %d", err, linked[0]+1)
	}
}

// TestBatchSealRestartSignsTail: a crash that tore a Ready's records
// leaves the origin's own last transaction unsigned in its log; on
// restart it logs a head seal for it, serves it signed, and its history
// verifies.
func TestBatchSealRestartSignsTail(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2")
	for i := 0; i < 3; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	takeTxns(c, "n1", "n2") // lost with the crash
	n1 := c.node("n1")
	if last := n1.records[len(n1.records)-1]; last[0] != recordSignedTxn {
		t.Fatalf("last record kind %d, want a signed transaction", last[0])
	}
	n1.records = n1.records[:len(n1.records)-1] // the torn tail
	r, err := Restore(n1.cfg, n1.snapshot, n1.records)
	if err != nil {
		t.Fatal(err)
	}
	n1.r = r
	c.collect()
	if last := n1.records[len(n1.records)-1]; last[0] != recordHeadSeal {
		t.Fatalf("after restart, last record kind %d, want a head seal", last[0])
	}
	if rep, err := verifyHistory(c, "n1", n1.records); err != nil || rep.Transactions != 2 {
		t.Fatalf("restarted history: %v %+v", err, rep)
	}
	// The head seal replays, and catch-up serves the head signed.
	r, err = Restore(n1.cfg, n1.snapshot, n1.records)
	if err != nil {
		t.Fatal(err)
	}
	n1.r = r
	c.tick(20)
	c.deliver()
	c.requireConverged()
	if got := c.get("n2", "k"); got != "b" {
		t.Fatalf("n2: k=%q, want b", got)
	}
	c.set("n1", "k", "z")
	c.deliver()
	c.requireConverged()
	if rep, err := verifyHistory(c, "n2", c.node("n2").records); err != nil || rep.Transactions != 3 {
		t.Fatalf("n2's history: %v %+v", err, rep)
	}
	if c.node("n2").r.AuditRefused() != 0 {
		t.Fatalf("n2 refused: %v", c.node("n2").events)
	}
}

// TestBatchSealFetchAnswerEndsSigned: a catch-up answer cut at its byte
// limit goes on with an origin's run until its signed transaction, so the
// receiver never gets a run it must hold with nothing to release it.
func TestBatchSealFetchAnswerEndsSigned(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for i := 0; i < 6; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	stepOver(c, "n1", "n2", takeTxns(c, "n1", "n2")...)
	n2 := c.node("n2").r
	n2.cfg.MaxFetchBytes = 1
	if err := n2.Step(id("n3"), Message{Type: MsgFetch}); err != nil {
		t.Fatal(err)
	}
	rd := n2.Ready()
	n2.Advance()
	var got []*crdt.Txn
	for _, env := range rd.Messages {
		if env.To == id("n3") && env.Message.Type == MsgTxns {
			got = append(got, env.Message.Txns...)
		}
	}
	if s := sealKinds(got); s != "llllls" {
		t.Fatalf("answer seals %q, want llllls", s)
	}
	stepOver(c, "n2", "n3", got...)
	if v := c.get("n3", "k"); v != "f" {
		t.Fatalf("n3: k=%q, want f", v)
	}
}

// TestBatchSealSignTicks: with AuditConfig.SignTicks 1, a Ready within a
// tick of the last signature hands its last transaction out unsigned;
// peers hold it until the next Tick, when the origin logs a head seal and
// pushes a signed copy, which releases the run. The histories verify, and
// a restart replays the head seal.
func TestBatchSealSignTicks(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	n1 := c.node("n1")
	n1.cfg.Audit.SignTicks = 1
	r, err := Restore(n1.cfg, n1.snapshot, n1.records)
	if err != nil {
		t.Fatal(err)
	}
	n1.r = r
	for i := 0; i < 3; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	txns := takeTxns(c, "n1", "n2")
	if got := sealKinds(txns); got != "lll" {
		t.Fatalf("seals %q, want lll", got)
	}
	stepOver(c, "n1", "n2", txns...)
	if ctx := c.node("n2").r.ks.Context(); ctx.Contains(txns[0].Dot) {
		t.Fatal("n2 applied unsigned transactions")
	}
	c.tick(1)
	if last := n1.records[len(n1.records)-1]; last[0] != recordHeadSeal {
		t.Fatalf("after a tick, n1's last record is of kind %d, want a head seal", last[0])
	}
	c.deliver()
	if got := c.get("n2", "k"); got != "c" {
		t.Fatalf("n2: k=%q after the head seal, want c", got)
	}
	c.tick(30)
	c.deliver()
	c.requireConverged()
	for _, name := range c.names {
		if c.node(name).r.AuditRefused() != 0 {
			t.Fatalf("%s refused: %v", name, c.node(name).events)
		}
		if rep, err := verifyHistory(c, name, c.node(name).records); err != nil || rep.Transactions < 3 {
			t.Fatalf("%s's history: %v %+v", name, err, rep)
		}
	}
	// A restart replays the head seal: the retained record is signed.
	r, err = Restore(n1.cfg, n1.snapshot, n1.records)
	if err != nil {
		t.Fatal(err)
	}
	if last := r.log[len(r.log)-1]; last.dot != txns[2].Dot || last.record[0] != recordSignedTxn {
		t.Fatalf("restored tail %s of kind %d, want %s signed", last.dot, last.record[0], txns[2].Dot)
	}
	n1.r = r
	c.set("n1", "k", "d")
	c.tick(2)
	c.deliver()
	c.requireConverged()
}

// TestBatchSealResumedHeadReleasesNothing: a signed transaction with an
// all-zero prev (its origin resuming its chain) neither authenticates
// nor refuses the linked transaction held before it: that one waits for
// a signed transaction that chains to it.
func TestBatchSealResumedHeadReleasesNothing(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2")
	for i := 0; i < 3; i++ {
		c.set("n1", "k", string(rune('a'+i)))
	}
	txns := takeTxns(c, "n1", "n2")
	resumed, err := crdt.DecodeTxn(txns[2].AppendBinary(nil))
	if err != nil {
		t.Fatal(err)
	}
	h := audit.TxnHash("", uint64(resumed.Dot.Node), resumed.Dot.Counter, audit.Hash{}, resumed.AppendBinary(nil))
	resumed.Seal = audit.Sign(testKey("n1"), audit.Hash{}, h)
	n2 := c.node("n2")
	stepOver(c, "n1", "n2", txns[0], txns[1], resumed)
	if n2.r.AuditRefused() != 0 {
		t.Fatalf("n2 refused: %v", n2.events)
	}
	if ctx := n2.r.ks.Context(); ctx.Contains(txns[0].Dot) {
		t.Fatal("a resumed chain authenticated the run before it")
	}
	stepOver(c, "n1", "n2", txns[2])
	if got := c.get("n2", "k"); got != "c" || n2.r.AuditRefused() != 0 {
		t.Fatalf("n2: k=%q after the genuine head, want c (%v)", got, n2.events)
	}
}

// TestBatchSealWitnessOfRefusedHead: a compromised n1 makes a linked
// write within its rights and signs the next one, outside them. Its peers
// apply the first (the signature authenticates it) and refuse the second;
// they log a witness of the refused signature, so their histories still
// verify, and a witness whose signature was changed fails.
func TestBatchSealWitnessOfRefusedHead(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2")
	applyPolicy(c, "n2", signedPolicy(testKey("operator"), 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}))
	c.set("n1", "a/ok", "1") // handed out signed at this Ready
	c.deliver()
	// Both made in one Ready: the first is linked, the last signed.
	var made []*crdt.Txn
	for _, fn := range []func(b *crdt.Builder) error{setFn("a/x", "in"), setFn("b/x", "out")} {
		o := c.node("n1").r
		dot := causal.Dot{Node: o.ID(), Counter: o.ks.Context().Vector.Get(o.ID()) + 1}
		b := o.ks.Begin(dot, causal.Timestamp{WallMs: c.nowMs})
		if err := fn(b); err != nil {
			t.Fatal(err)
		}
		txn := b.Finish()
		o.sealLocal(txn)
		if err := o.ks.Apply(txn); err != nil {
			t.Fatal(err)
		}
		rec := o.txnRecord(txn)
		o.applied(txnEntry{txn: txn, record: rec})
		o.noteTail(txn, rec)
		made = append(made, txn)
	}
	c.deliver()
	bad := made[1]
	if sealKinds(made) != "ls" {
		t.Fatalf("seals %q, want ls", sealKinds(made))
	}
	n2 := c.node("n2")
	if got := c.get("n2", "a/x"); got != "in" || n2.r.ks.Context().Contains(bad.Dot) {
		t.Fatalf("n2: a/x=%q, applied %s: %v", got, bad.Dot, n2.r.ks.Context().Contains(bad.Dot))
	}
	witness := -1
	for i, rec := range n2.records {
		if rec[0] == recordWitness {
			witness = i
		}
	}
	if witness < 0 {
		t.Fatal("n2 logged no witness")
	}
	if rep, err := verifyHistory(c, "n2", n2.records); err != nil {
		t.Fatalf("n2's history with a refused head: %v %+v", err, rep)
	}
	records := append([][]byte(nil), n2.records...)
	records[witness] = bytes.Clone(records[witness])
	records[witness][len(records[witness])-1] ^= 1
	if _, err := verifyHistory(c, "n2", records); !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("a changed witness: %v, want ErrBadSignature", err)
	}
	without := append(append([][]byte(nil), n2.records[:witness]...), n2.records[witness+1:]...)
	if _, err := verifyHistory(c, "n2", without); !errors.Is(err, audit.ErrUnverified) {
		t.Fatalf("without the witness: %v, want ErrUnverified", err)
	}
}

// TestBatchSealHeaderFlags: a link crosses the transaction header as flag
// bit 6 and its 32 bytes; a header with both the seal and the link bits
// is refused.
func TestBatchSealHeaderFlags(t *testing.T) {
	txn := &crdt.Txn{Dot: causal.Dot{Node: 1, Counter: 1}, Seal: audit.Link(audit.Hash{9})}
	var enc linkState
	b := enc.appendTxnHeader(nil, txn)
	if b[0]&hdrLink == 0 || b[0]&hdrSeal != 0 {
		t.Fatalf("flags %08b, want the link bit alone", b[0])
	}
	var dec linkState
	var got crdt.Txn
	dec.readTxnHeader(codec.NewReader(b), &got)
	if got.Dot != txn.Dot || !bytes.Equal(got.Seal, txn.Seal) {
		t.Fatalf("decoded %s seal %x, want %s %x", got.Dot, got.Seal, txn.Dot, txn.Seal)
	}
	both := bytes.Clone(b)
	both[0] |= hdrSeal
	var dec2 linkState
	rd := codec.NewReader(append(both, make([]byte, audit.SealBytes)...))
	dec2.readTxnHeader(rd, &got)
	if rd.Err() == nil {
		t.Fatal("a header with both the seal and the link bits was accepted")
	}
}

// TestBatchSealRunBound: however many transactions one Ready holds, an
// origin leaves at most MaxUnsignedRun linked in a row.
func TestBatchSealRunBound(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2")
	for i := 0; i < 2*MaxUnsignedRun+10; i++ {
		c.set("n1", "k", string(rune('a'+i%26)))
	}
	txns := takeTxns(c, "n1", "n2")
	run := 0
	for _, txn := range txns {
		if run++; !audit.Linked(txn.Seal) {
			run = 0
		}
		if run > MaxUnsignedRun {
			t.Fatalf("%d linked transactions in a row, limit %d", run, MaxUnsignedRun)
		}
	}
	if !strings.HasSuffix(sealKinds(txns), "s") || strings.Count(sealKinds(txns), "s") != 3 {
		t.Fatalf("seals %s: want the 65th, the 130th and the last signed", sealKinds(txns))
	}
	stepOver(c, "n1", "n2", txns...)
	if c.node("n2").r.ks.Context().Vector.Get(id("n1")) != uint64(len(txns)) {
		t.Fatalf("n2 applied %d of %d", c.node("n2").r.ks.Context().Vector.Get(id("n1")), len(txns))
	}
}
