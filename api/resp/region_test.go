package resp

import (
	"context"
	"net"
	"testing"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
)

// regionBackend answers WaitRegion with a fixed count of region members
// and records what it was asked.
type regionBackend struct {
	*apitest.Backend
	have  int
	asked []int
}

func (b *regionBackend) WaitRegion(ctx context.Context, t api.Token, n int) (int, error) {
	b.asked = append(b.asked, n)
	if b.have >= n {
		return b.have, nil
	}
	<-ctx.Done()
	return b.have, ctx.Err()
}

// TestWaitRegion: SPOOK.WAITREGION asks the backend's WaitRegion for
// numreplicas+1 region members and replies the others; a backend without
// regions refuses it; WAIT still asks Wait.
func TestWaitRegion(t *testing.T) {
	f := start(t, Config{})
	f.raw().expect("-ERR SPOOK.WAITREGION is not supported by this node", "SPOOK.WAITREGION", "1", "0")

	rb := &regionBackend{Backend: apitest.New("n1"), have: 2}
	defer rb.Close()
	s := New(rb, Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	defer func() { s.Close(); <-done }()
	r := (&fixture{t: t, addr: l.Addr().String()}).raw()
	r.expect(":0", "SPOOK.WAITREGION", "1", "0") // no write yet, no other member
	r.expect("+OK", "SET", "a", "1")
	r.expect(":1", "SPOOK.WAITREGION", "1", "0")
	r.expect(":1", "SPOOK.WAITREGION", "3", "20") // the timeout decides
	r.expect(":0", "WAIT", "0", "0")              // cluster WAIT: the backend's Wait
	r.expect("-ERR value is not an integer or out of range", "SPOOK.WAITREGION", "x", "0")
	r.expect("-ERR wrong number of arguments for 'spook.waitregion' command", "SPOOK.WAITREGION", "1")
	if want := []int{2, 4}; len(rb.asked) != 2 || rb.asked[0] != want[0] || rb.asked[1] != want[1] {
		t.Fatalf("WaitRegion asked %v, want %v", rb.asked, want)
	}
}
