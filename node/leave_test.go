package node

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// TestLeave: a node that leaves gracefully waits until the others have
// its departure (and so its writes), refuses writes afterwards, and once
// it stops, collapse on the others no longer waits for it.
func TestLeave(t *testing.T) {
	nodes, _ := startCluster(t, 3, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := nodes[2].Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("from n3")) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Wait(ctx, tok, 0); err != nil {
		t.Fatal(err)
	}
	res, err := nodes[2].Leave(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Token.IsZero() || !slices.Equal(res.Acknowledged, []string{"n1", "n2"}) || len(res.Pending) != 0 {
		t.Fatalf("leave: %+v", res)
	}
	if _, err := nodes[2].Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("x")) }); !errors.Is(err, api.ErrReadOnly) {
		t.Fatalf("write after leave: %v", err)
	}
	again, err := nodes[2].Leave(ctx)
	if err != nil || !again.Token.IsZero() || len(again.Acknowledged) != 2 {
		t.Fatalf("second leave: %+v %v", again, err)
	}
	if st := memberState(nodes[0].Status(), "n3"); st != "left" {
		t.Fatalf("n1 sees n3 as %q", st)
	}
	nodes[2].Close()
	tok, err = nodes[0].Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte("after"), []byte("1")) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Wait(ctx, tok, 0); err != nil {
		t.Fatalf("collapse without the left node: %v", err)
	}
}

// TestLeaveTimesOut: with the other members gone, Leave returns at its
// deadline naming the members that did not acknowledge.
func TestLeaveTimesOut(t *testing.T) {
	nodes, _ := startCluster(t, 2, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := nodes[0].Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("v")) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].Wait(ctx, tok, 2); err != nil {
		t.Fatal(err)
	}
	nodes[1].Close()
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	res, err := nodes[0].Leave(short)
	if !errors.Is(err, ErrLeaveUnacknowledged) || !slices.Equal(res.Pending, []string{"n2"}) {
		t.Fatalf("leave with n2 down: %+v %v", res, err)
	}
}

func memberState(st api.Status, name string) string {
	for _, m := range st.Members {
		if m.Name == name {
			return m.State
		}
	}
	return ""
}
