package node

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// brokenListener fails every Accept with an error that will not pass.
type brokenListener struct{ net.Listener }

var errBroken = errors.New("listener broke")

func (l brokenListener) Accept() (net.Conn, error) { return nil, errBroken }

// TestListenerFailureFailsReadiness: a listener that fails for good makes
// the node not ready, naming the error, instead of leaving a node nobody
// can reach reporting ready.
func TestListenerFailureFailsReadiness(t *testing.T) {
	nodes, _ := startCluster(t, 1, false)
	n := nodes[0]
	eventually(t, "node ready", func() (bool, string) {
		err := n.ready()
		return err == nil, "ready: " + errString(err)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in, err := startIngress(n, brokenListener{ln})
	if err != nil {
		t.Fatal(err)
	}
	defer in.close()
	eventually(t, "the ingress reports its listener", func() (bool, string) {
		err := in.err()
		return errors.Is(err, errBroken) && strings.Contains(err.Error(), "listener stopped"), "err: " + errString(err)
	})
	// node.ready reports its ingress's error.
	own := n.ingress
	n.ingress = in
	err = n.ready()
	n.ingress = own
	if !errors.Is(err, errBroken) {
		t.Fatalf("ready with a dead listener: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestInboundConnLimit: the connection cap leaves the reserved
// descriptors, and a limit too low to serve is refused.
func TestInboundConnLimit(t *testing.T) {
	if n, err := inboundConnLimit(0); n != 0 || err != nil {
		t.Fatalf("unknown limit: %d %v", n, err)
	}
	if n, err := inboundConnLimit(1024); n != 1024-ReservedFileDescriptors || err != nil {
		t.Fatalf("1024: %d %v", n, err)
	}
	if _, err := inboundConnLimit(ReservedFileDescriptors + MinInboundConns - 1); err == nil {
		t.Fatal("a limit below the reserve was accepted")
	}
}
