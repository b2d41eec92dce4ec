package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
)

// TestBundleCarriesWritesToAnIsolatedNode partitions b away, writes on a,
// carries a bundle from a to b and checks b has a's writes; importing it
// again changes nothing; a corrupted bundle is refused.
func TestBundleCarriesWritesToAnIsolatedNode(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.deliver()
	c.partition([]string{"a"}, []string{"b"})
	for i := 0; i < 30; i++ {
		c.set("a", fmt.Sprint("k", i), fmt.Sprint("v", i))
		c.incr("a", "n", 1)
	}
	c.deliver()
	a, b := c.node("a").r, c.node("b").r
	since := b.Applied()
	txns, err := a.TxnsSince(&since)
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 60 {
		t.Fatalf("TxnsSince gave %d transactions, want the 60 b lacks", len(txns))
	}
	file := EncodeBundle(a.ID(), &since, txns)
	if v := file[len(bundleMagic)]; v != bundleV1 {
		t.Fatalf("a bundle without audit is written as version %d, want 1 (readable by older binaries)", v)
	}
	exporter, gotSince, decoded, err := DecodeBundle(file)
	if err != nil || exporter != a.ID() || !gotSince.Equal(&since) || len(decoded) != len(txns) {
		t.Fatalf("decode: exporter %v since %v %d txns, %v", exporter, gotSince, len(decoded), err)
	}
	if n := b.Import(decoded); n != 60 {
		t.Fatalf("Import applied %d, want 60", n)
	}
	if got := c.get("b", "k29"); got != "v29" {
		t.Fatalf("b: k29 = %q after import", got)
	}
	if got := c.get("b", "n"); got != "30" {
		t.Fatalf("b: n = %q after import, want 30", got)
	}
	hash := b.Keyspace().Hash()
	_, _, again, _ := DecodeBundle(file)
	if n := b.Import(again); n != 0 || b.Keyspace().Hash() != hash {
		t.Fatalf("importing twice applied %d and changed the state", n)
	}
	if got, want := b.Keyspace().Hash(), a.Keyspace().Hash(); got != want {
		t.Fatalf("after import b's hash %x differs from a's %x", got, want)
	}
	// Out of order: the second half first waits for the first half.
	c2 := newCluster(t, "a", "b")
	c2.deliver()
	c2.partition([]string{"a"}, []string{"b"})
	for i := 0; i < 10; i++ {
		c2.incr("a", "n", 1)
	}
	c2.deliver()
	var empty causal.VersionVector
	all, _ := c2.node("a").r.TxnsSince(&empty)
	own := all[len(all)-10:]
	b2 := c2.node("b").r
	if n := b2.Import(own[5:]); n != 0 {
		t.Fatalf("out-of-order half applied %d transactions before its causal past", n)
	}
	if n := b2.Import(own[:5]); n != 10 {
		t.Fatalf("after the first half, %d applied, want all 10", n)
	}
	// Corruption is refused with a reason.
	bad := append([]byte(nil), file...)
	bad[len(bad)/2] ^= 1
	if _, _, _, err := DecodeBundle(bad); !errors.Is(err, ErrBadBundle) {
		t.Fatalf("corrupted bundle: err = %v", err)
	}
	if _, _, _, err := DecodeBundle(file[:len(file)-1]); !errors.Is(err, ErrBadBundle) {
		t.Fatalf("truncated bundle: err = %v", err)
	}
	// A version this node does not read is refused by name.
	future := append([]byte(nil), file[:len(file)-4]...)
	future[len(bundleMagic)] = 3
	future = binary.BigEndian.AppendUint32(future, crc32.Checksum(future, castagnoli))
	if _, _, _, err := DecodeBundle(future); !errors.Is(err, ErrBadBundle) || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("version-3 bundle: err = %v", err)
	}
}

func FuzzDecodeBundle(f *testing.F) {
	var since causal.VersionVector
	since.Set(causal.NodeIDFromName("a"), 3)
	f.Add(EncodeBundle(causal.NodeIDFromName("a"), &since, nil))
	f.Add([]byte(bundleMagic))
	c := newAuditCluster(f, "a", "b")
	c.set("a", "k", "v")
	c.set("a", "k", "w")
	c.deliver()
	var empty causal.VersionVector
	sealed, err := c.node("a").r.TxnsSince(&empty)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(EncodeBundle(causal.NodeIDFromName("a"), &empty, sealed))
	f.Fuzz(func(t *testing.T, b []byte) {
		exporter, since, txns, err := DecodeBundle(b)
		if err != nil {
			return
		}
		again := EncodeBundle(exporter, &since, txns)
		if _, _, _, err := DecodeBundle(again); err != nil {
			t.Fatalf("re-encoded bundle does not decode: %v", err)
		}
	})
}
