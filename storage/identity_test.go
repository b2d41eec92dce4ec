package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/spooksystems/spook/storage/vfs"
)

// TestIdentityGuardsTheDataDirectory: the first check records the
// identity; the same node and cluster pass; another node or cluster is
// refused naming both; a removal mark survives; a damaged file is
// corruption, not a silent new identity.
func TestIdentityGuardsTheDataDirectory(t *testing.T) {
	fsys := vfs.NewMemFS()
	if err := fsys.MkdirAll("d"); err != nil {
		t.Fatal(err)
	}
	want := Identity{Node: "n1", Cluster: "prod"}
	if _, err := CheckIdentity(fsys, "d", want); err != nil {
		t.Fatal(err)
	}
	if got, err := CheckIdentity(fsys, "d", want); err != nil || got != want {
		t.Fatalf("same identity: %+v %v", got, err)
	}
	for _, other := range []Identity{{Node: "n2", Cluster: "prod"}, {Node: "n1", Cluster: "test"}} {
		_, err := CheckIdentity(fsys, "d", other)
		if !errors.Is(err, ErrIdentityMismatch) || !strings.Contains(err.Error(), `"n1"`) ||
			!strings.Contains(err.Error(), `"`+other.Node+`"`) || !strings.Contains(err.Error(), `"`+other.Cluster+`"`) {
			t.Fatalf("%+v: %v", other, err)
		}
	}
	removed := Identity{Node: "n1", Cluster: "prod", RemovedAtMs: 1234}
	if err := WriteIdentity(fsys, "d", removed); err != nil {
		t.Fatal(err)
	}
	if got, err := CheckIdentity(fsys, "d", want); err != nil || got != removed {
		t.Fatalf("removal mark: %+v %v", got, err)
	}
	f, _ := fsys.OpenAppend("d/" + IdentityFile)
	f.Write([]byte("x"))
	f.Close()
	if _, err := CheckIdentity(fsys, "d", want); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged identity: %v", err)
	}
}

func TestIdentityQuotesNames(t *testing.T) {
	id := Identity{Node: "a b\n\"c\"", Cluster: "é", RemovedAtMs: 7}
	got, reason := decodeIdentity(encodeIdentity(id))
	if reason != "" || got != id {
		t.Fatalf("%+v %q", got, reason)
	}
}
