package lograte

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newLogger(clock *fakeClock) (*slog.Logger, *bytes.Buffer) {
	var out bytes.Buffer
	text := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}})
	return slog.New(New(text, Config{Interval: 10 * time.Second, Now: clock.Now})), &out
}

func lines(b *bytes.Buffer) []string {
	s := strings.TrimSuffix(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestRepeatsCollapse: 5,000 identical warnings with different
// attributes within one interval are one line; the next one after the
// interval carries the count of those dropped.
func TestRepeatsCollapse(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	log, out := newLogger(clock)
	node := log.With("node", "n1")
	for i := range 5000 {
		node.Warn("peer refused", "remote", i)
		clock.advance(time.Millisecond) // 5 s in all: inside the interval
	}
	if got := lines(out); len(got) != 1 || got[0] != `level=WARN msg="peer refused" node=n1 remote=0` {
		t.Fatalf("lines within the interval: %q", got)
	}
	clock.advance(5 * time.Second)
	node.Warn("peer refused", "remote", "last")
	got := lines(out)
	if len(got) != 2 || got[1] != `level=WARN msg="peer refused" node=n1 remote=last repeated=4999 repeated_over=10s` {
		t.Fatalf("after the interval: %q", got)
	}
}

// TestDistinctMessagesAndLevelsPass: only the same level and message
// collapse; debug lines never do.
func TestDistinctMessagesAndLevelsPass(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	log, out := newLogger(clock)
	log.Warn("a")
	log.Warn("b")
	log.Error("a")
	log.Warn("a")
	for range 3 {
		log.Debug("detail")
	}
	if got := lines(out); len(got) != 6 {
		t.Fatalf("got %d lines, want 6 (a, b, error a, 3 debug): %q", len(got), got)
	}
}

// TestSummaryForAMessageThatStops: when a flood stops, its count is
// reported with the next line of any other message.
func TestSummaryForAMessageThatStops(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	log, out := newLogger(clock)
	for range 10 {
		log.With("node", "n1").Warn("junk connection")
	}
	clock.advance(11 * time.Second)
	log.Info("something else")
	got := lines(out)
	want := []string{
		`level=WARN msg="junk connection" node=n1`,
		`level=WARN msg="junk connection" node=n1 repeated=9 repeated_over=10s`,
		`level=INFO msg="something else"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Reported once: the next flood starts afresh.
	clock.advance(11 * time.Second)
	log.Info("again")
	if got := lines(out); len(got) != 4 {
		t.Fatalf("summary repeated: %q", got)
	}
}

// TestTableBounded: more distinct messages than MaxMessages still log,
// and the table never grows past the bound.
func TestTableBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	log, out := newLogger(clock)
	h := log.Handler().(*Handler)
	for i := range MaxMessages + 10 {
		log.Warn(strings.Repeat("m", 1) + string(rune('a'+i%26)) + strings.Repeat("x", i/26))
	}
	if n := len(lines(out)); n != MaxMessages+10 {
		t.Fatalf("%d lines, want %d", n, MaxMessages+10)
	}
	if n := len(h.state.seen); n > MaxMessages {
		t.Fatalf("table holds %d entries", n)
	}
}
