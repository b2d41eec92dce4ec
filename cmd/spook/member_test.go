package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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

// TestStatusStructuredEvents: events sent as objects print on one line
// each, the member by name.
func TestStatusStructuredEvents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"name":"n2","cluster":"c","version":"v1.0.0+abc","applied":{},"collapsed":{},"members":[],
			"recent_events":[{"type":"peer-unreachable","time":"2026-12-06T21:40:00Z","peer":"n3","peer_id":"0000000000000003","detail":"no answer for 1s"}]}`)
	}))
	defer srv.Close()
	out, _, err := run("status", "--addr", srv.URL)
	if err != nil || !strings.Contains(out, " peer-unreachable peer=n3 no answer for 1s\n") || !strings.Contains(out, "version        v1.0.0+abc\n") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestGetKeysWithPathSegments: a key the CLI can write it can read, even
// one whose slashes and dots a URL path would clean away.
func TestGetKeysWithPathSegments(t *testing.T) {
	f := start(t, httpapi.Config{})
	for _, key := range []string{"dir//x", "a/./b", "a/../b", "/lead", "trail/", "..", "sp ace?&#%"} {
		f.must("set", key, "v:"+key)
		if out := f.must("get", key); out != "v:"+key+"\n" {
			t.Errorf("get %q: %q", key, out)
		}
	}
}
