package resp

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestPublishLocal(t *testing.T) {
	f := start(t, Config{})
	sub := f.raw()
	sub.expect(`["subscribe" "news" :1]`, "SUBSCRIBE", "news")
	sub.expect(`["psubscribe" "n*" :2]`, "PSUBSCRIBE", "n*")
	other := f.raw()
	other.expect(`["psubscribe" "n*" :1]`, "PSUBSCRIBE", "n*")

	p := f.raw()
	p.expect(":3", "PUBLISH", "news", "hello") // sub twice, other once
	if got := sub.read(); got != `["message" "news" "hello"]` {
		t.Errorf("channel message: %s", got)
	}
	if got := sub.read(); got != `["pmessage" "n*" "news" "hello"]` {
		t.Errorf("pattern message: %s", got)
	}
	if got := other.read(); got != `["pmessage" "n*" "news" "hello"]` {
		t.Errorf("other's pattern message: %s", got)
	}
	p.expect(":0", "PUBLISH", "sports", "goal")
	p.expect(`["news"]`, "PUBSUB", "CHANNELS")
	p.expect(`[]`, "PUBSUB", "CHANNELS", "x*")
	p.expect(`["news" :1 "sports" :0]`, "PUBSUB", "NUMSUB", "news", "sports")
	p.expect(`[]`, "PUBSUB", "NUMSUB")
	p.expect(":1", "PUBSUB", "NUMPAT") // one distinct pattern
	p.expect("-ERR unknown subcommand 'x'. Try PUBSUB HELP.", "PUBSUB", "x")
	p.expect("-ERR wrong number of arguments for 'pubsub|numpat' command", "PUBSUB", "NUMPAT", "a")
	p.expect("-ERR wrong number of arguments for 'publish' command", "PUBLISH", "news")
	sub.expect("-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", "PUBLISH", "news", "x")

}

// TestPublishFromDetachedConnections: connections that subscribed and
// unsubscribed again are served by their own goroutine holding their
// lock; two of them publishing to each other at once must not deadlock.
func TestPublishFromDetachedConnections(t *testing.T) {
	f := start(t, Config{})
	var conns [2]*raw
	for i := range conns {
		conns[i] = f.raw()
		conns[i].expect(`["subscribe" "c" :1]`, "SUBSCRIBE", "c")
		conns[i].expect(`["unsubscribe" "c" :0]`, "UNSUBSCRIBE", "c")
	}
	listener := f.raw()
	listener.expect(`["subscribe" "c" :1]`, "SUBSCRIBE", "c")
	const n = 200
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n {
				conns[i].send("PUBLISH", "c", strconv.Itoa(j))
				if s, err := readReply(conns[i].r); err != nil || s != ":1" {
					t.Errorf("PUBLISH: %q, %v", s, err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishers did not finish: deadlock")
	}
	for range 2 * n {
		if got := listener.read(); len(got) < 12 || got[:12] != `["message" "` {
			t.Fatalf("listener got %s", got)
		}
	}
}
