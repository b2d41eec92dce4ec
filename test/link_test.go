package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStdioLinkJoinsTwoNodes runs two spookd whose peer addresses are
// unreachable (port 1 and 2 on loopback: nothing listens there), so they
// can sync only through two `spook link --stdio` processes whose standard
// streams are joined by OS pipes. Writes on each side must reach the other.
func TestStdioLinkJoinsTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	a, b := freePort(t), freePort(t)
	peers := "--peers=a=127.0.0.1:1,b=127.0.0.1:2"
	// The nodes prove the cluster key to each other end to end, through
	// the bridges, which hold no key.
	key := "--cluster-key-file=" + writeClusterKey(t, t.TempDir(), "cluster.key")
	pa := startSpookd(t, a, "--node-id", "a", "--advertise", "127.0.0.1:1", peers, key, "--tick", "20ms", "--log-level", "warn")
	defer pa.kill()
	pb := startSpookd(t, b, "--node-id", "b", "--advertise", "127.0.0.1:2", peers, key, "--tick", "20ms", "--log-level", "warn")
	defer pb.kill()

	// Two pipes, crossed: bridge A's stdout feeds bridge B's stdin and back.
	aToB, bFromA, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	bToA, aFromB, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	spook := build(t, "spook")
	la := exec.Command(spook, "link", "--stdio", "--to", a)
	la.Stdin, la.Stdout = bToA, bFromA
	lb := exec.Command(spook, "link", "--stdio", "--to", b)
	lb.Stdin, lb.Stdout = aToB, aFromB
	var logs [2]safeBuffer
	la.Stderr, lb.Stderr = &logs[0], &logs[1]
	for _, c := range []*exec.Cmd{la, lb} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }(c)
	}
	// The parent's copies of the pipe ends are not needed.
	for _, f := range []*os.File{aToB, bFromA, bToA, aFromB} {
		f.Close()
	}

	ctx := context.Background()
	ca := redis.NewClient(&redis.Options{Addr: a, Protocol: 2})
	cb := redis.NewClient(&redis.Options{Addr: b, Protocol: 2})
	defer ca.Close()
	defer cb.Close()
	for i := 0; i < 20; i++ {
		if err := ca.Set(ctx, fmt.Sprint("from-a/", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := cb.Incr(ctx, "both").Err(); err != nil {
			t.Fatal(err)
		}
		if err := ca.Incr(ctx, "both").Err(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, errV := cb.Get(ctx, "from-a/19").Result()
		na, _ := ca.Get(ctx, "both").Int()
		nb, _ := cb.Get(ctx, "both").Int()
		if errV == nil && v == "19" && na == 40 && nb == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged through the stdio link: b has from-a/19=%q (%v), both=%d on a, %d on b\nbridge a: %s\nbridge b: %s\nnode a: %s\nnode b: %s",
				v, errV, na, nb, logs[0].String(), logs[1].String(), pa.logs, pb.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
