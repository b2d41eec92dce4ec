package resp

import (
	"net"
	"testing"

	"github.com/spooksystems/spook/api/apitest"
)

// TestWaitRegion: SPOOK.WAITREGION asks the backend's WaitRegion for
// numreplicas+1 region members and replies the others; a backend without
// regions refuses it; WAIT still asks Wait.
func TestWaitRegion(t *testing.T) {
	f := start(t, Config{})
	f.raw().expect("-ERR SPOOK.WAITREGION is not supported by this node", "SPOOK.WAITREGION", "1", "0")

	rb := &apitest.RegionBackend{Backend: apitest.New("n1"), Have: 2}
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
	if want := []int{2, 4}; len(rb.Asked) != 2 || rb.Asked[0] != want[0] || rb.Asked[1] != want[1] {
		t.Fatalf("WaitRegion asked %v, want %v", rb.Asked, want)
	}
}
