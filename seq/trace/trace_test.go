package trace

import (
	"bytes"
	"os"
	"testing"

	"github.com/spooksystems/spook/seq"
)

// traceDirs are where the shared traces may be: $SPOOK_TRACE_DIR, the
// shared/ directory beside the repository (as CI lays it out), and the
// session machine's.
func traceDirs() []string {
	return []string{os.Getenv("SPOOK_TRACE_DIR"), "../../../shared/data/editing-traces", "/work/shared/data/editing-traces"}
}

func load(t testing.TB, name string) *Trace {
	var b []byte
	err := os.ErrNotExist
	for _, d := range traceDirs() {
		if d == "" {
			continue
		}
		if b, err = os.ReadFile(d + "/" + name + ".json.gz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Skipf("trace %s not available: %v", name, err)
	}
	tr, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestReplayTraces(t *testing.T) {
	for _, name := range []string{"automerge-paper", "friendsforever"} {
		tr := load(t, name)
		s, h, err := Local(tr)
		if err != nil {
			t.Fatalf("%s local: %v", name, err)
		}
		if got := String(s); got != tr.End {
			t.Fatalf("%s local: final text differs (len %d, want %d)", name, len(got), len(tr.End))
		}
		m, err := Merge(h)
		if err != nil {
			t.Fatalf("%s merge: %v", name, err)
		}
		if got := String(m); got != tr.End {
			t.Fatalf("%s merge: final text differs (len %d, want %d)", name, len(got), len(tr.End))
		}
		// Merge batches typed runs and deletions: record by record gives
		// the same state, and so does the local replay.
		one := seq.New[seq.Text]()
		var steps []step
		for i := range h.Records {
			if steps, err = applyRecord(one, h.record(i), steps); err != nil {
				t.Fatalf("%s record %d: %v", name, i, err)
			}
		}
		for what, other := range map[string]*seq.Seq[seq.Text]{"record by record": one, "local": s} {
			if m.Digest() != other.Digest() || !bytes.Equal(m.AppendState(nil), other.AppendState(nil)) {
				t.Fatalf("%s: merged state differs from the %s one", name, what)
			}
		}
		t.Logf("%s: ops %d, runs %d local, %d merged, history %d bytes", name, tr.Ops(), s.Runs(), m.Runs(), len(h.Bytes))
	}
}

func TestReplayTracesKeyspace(t *testing.T) {
	for _, name := range []string{"friendsforever", "automerge-paper"} {
		tr := load(t, name)
		ks, h, err := LocalKeyspace(tr)
		if err != nil {
			t.Fatalf("%s local: %v", name, err)
		}
		if KeyspaceText(ks) != tr.End {
			t.Fatalf("%s local: final text differs", name)
		}
		m, err := MergeKeyspace(h)
		if err != nil {
			t.Fatalf("%s merge: %v", name, err)
		}
		if KeyspaceText(m) != tr.End {
			t.Fatalf("%s merge: final text differs", name)
		}
		if testing.Short() {
			return
		}
	}
}
