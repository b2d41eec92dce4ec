package test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestLoggingUnderAttack is issue 12 item 10: junk connections must not
// log a line each (repeats collapse, with a count), --insecure warns at
// start, and a torn log tail that recovery cut is logged.
func TestLoggingUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	addr := freePort(t)
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"--node-id", "n1", "--data", data, "--insecure", "--log-level", "info"}
	p := startSpookd(t, addr, args...)
	defer p.kill()
	if !strings.Contains(p.logs.String(), "--insecure") {
		t.Fatalf("no warning for --insecure at start:\n%s", p.logs)
	}
	const junk = 500
	for i := 0; i < junk; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("\x01\x02junk\r\n"))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 64))
		c.Close()
	}
	refused := strings.Count(p.logs.String(), "unrecognised protocol refused")
	if refused == 0 || refused > 5 {
		t.Fatalf("%d junk connections logged %d lines, want 1 to 5:\n%.2000s", junk, refused, p.logs)
	}

	// A write, then a crash, then a torn record at the log's end.
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(200 * time.Millisecond)
	p.kill()
	segs, _ := filepath.Glob(filepath.Join(data, "log", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no log segment")
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0x40, 0, 0, 0, 1, 2}) // half a record header
	f.Close()
	p2 := startSpookd(t, addr, args...)
	defer p2.kill()
	waitFor(t, 5*time.Second, "the torn tail logged", func() bool {
		return strings.Contains(p2.logs.String(), "torn tail")
	})
}
