package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWebSocketLink runs two spookd where b advertises a WebSocket URL on
// its single port (ws://.../v1/peer): a reaches b only over WebSocket,
// so a's writes arrive at b only if that link works.
func TestWebSocketLink(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	a, b := freePort(t), freePort(t)
	bURL := "ws://" + b + "/v1/peer"
	peers := fmt.Sprintf("--peers=a=%s,b=%s", a, bURL)
	key := "--cluster-key-file=" + writeClusterKey(t, t.TempDir(), "cluster.key")
	pa := startSpookd(t, a, "--node-id", "a", peers, key, "--tick", "20ms", "--log-level", "debug")
	defer pa.kill()
	pb := startSpookd(t, b, "--node-id", "b", "--advertise", bURL, peers, key, "--tick", "20ms", "--log-level", "debug")
	defer pb.kill()
	ctx := context.Background()
	ca := redis.NewClient(&redis.Options{Addr: a, Protocol: 2})
	cb := redis.NewClient(&redis.Options{Addr: b, Protocol: 2})
	defer ca.Close()
	defer cb.Close()
	for i := 0; i < 20; i++ {
		if err := ca.Incr(ctx, "over-ws").Err(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, _ := cb.Get(ctx, "over-ws").Int()
		if n == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b has over-ws=%d, want 20\na: %s\nb: %s", n, pa.logs, pb.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(pa.logs.String(), `msg="link up" node=a peer=b addr=ws://`) {
		t.Fatalf("a's link to b did not come up over WebSocket:\n%s", pa.logs)
	}
}
