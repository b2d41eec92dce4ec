package main

import (
	"context"
	"strings"
	"testing"

	"github.com/spooksystems/spook/api"
	httpapi "github.com/spooksystems/spook/api/http"
	"github.com/spooksystems/spook/causal"
)

// LeaveCluster makes the test backend a httpapi.Leaver whose members n2
// and n3 acknowledge at once.
func (b *testBackend) LeaveCluster(ctx context.Context) (api.Token, []string, []string, error) {
	return api.Token{Dot: causal.Dot{Node: b.ID(), Counter: 9}}, []string{"n2", "n3"}, nil, nil
}

var _ httpapi.Leaver = (*testBackend)(nil)

// TestMemberLeave: spook member leave asks the node to leave, says who has
// the departure and prints its token.
func TestMemberLeave(t *testing.T) {
	f := start(t, httpapi.Config{})
	out, errOut, err := f.run("member", "leave")
	if err != nil || strings.TrimSpace(out) != f.backend.ID().String()+":9" ||
		!strings.Contains(errOut, "n1 has left the cluster (acknowledged by: n2, n3)") {
		t.Fatalf("member leave: %v %q %q", err, out, errOut)
	}
	if _, _, err := f.run("member", "leave", "n2"); err == nil {
		t.Fatal("member leave n2 accepted")
	}
}
