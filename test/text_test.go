package test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestTextConcurrentInsertsOnThreeNodes: three clients on three real
// nodes insert into one text at the same place at once, each its run in
// one TEXT.INSERT. Every node ends with the same text holding each run
// whole, and TEXT.DELETE of another node's run replicates too. (Typing
// a character at a time needs positions that follow remote edits: the
// text WebSocket does that, and test/browser types through it.)
func TestTextConcurrentInsertsOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, write := threeNodeClients(t, ctx)
	write(0, func(c *redis.Conn) error { return c.Do(ctx, "TEXT.INSERT", "doc", 0, "[]").Err() })
	runs := []string{"aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccc"}
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nodes[i].Do(ctx, "TEXT.INSERT", "doc", 1, run).Err(); err != nil {
				t.Errorf("n%d: TEXT.INSERT: %v", i+1, err)
			}
		}()
	}
	wg.Wait()
	text := textConverged(t, ctx, nodes, 2+3*20)
	for _, run := range runs {
		if !strings.Contains(text, run) {
			t.Errorf("text %q does not hold %q whole", text, run)
		}
	}
	if !strings.HasPrefix(text, "[") || !strings.HasSuffix(text, "]") {
		t.Errorf("text %q: the runs left the brackets", text)
	}
	// n3 deletes n1's run.
	at := strings.Index(text, runs[0])
	write(2, func(c *redis.Conn) error { return c.Do(ctx, "TEXT.DELETE", "doc", at, 20).Err() })
	if got := textConverged(t, ctx, nodes, 2+2*20); strings.Contains(got, "a") {
		t.Errorf("after n3 deleted n1's run: %q", got)
	}
}

// converged waits until every node holds the same text of length n.
func textConverged(t *testing.T, ctx context.Context, nodes []*redis.Client, n int) string {
	t.Helper()
	for {
		var texts []string
		for _, c := range nodes {
			s, _ := c.Do(ctx, "TEXT.GET", "doc").Text()
			texts = append(texts, s)
		}
		if len([]rune(texts[0])) == n && texts[0] == texts[1] && texts[1] == texts[2] {
			return texts[0]
		}
		if ctx.Err() != nil {
			t.Fatalf("nodes did not converge on a text of %d: %q", n, texts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
