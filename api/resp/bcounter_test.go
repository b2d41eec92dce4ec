package resp

import (
	"testing"
	"time"
)

// TestBCounterReplies checks the BCOUNTER.* commands' replies on one
// node, errors included.
func TestBCounterReplies(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	for _, s := range []struct {
		want string
		args []string
	}{
		{"(nil)", []string{"BCOUNTER.GET", "b"}},
		{":0", []string{"BCOUNTER.RIGHTS", "b"}},
		{"-ERR no such bounded counter", []string{"BCOUNTER.INCRBY", "b", "1"}},
		{"-ERR amount must be non-negative and initial not below floor", []string{"BCOUNTER.CREATE", "b", "5", "1"}},
		{"+OK", []string{"BCOUNTER.CREATE", "b", "0", "10"}},
		{"-ERR bounded counter exists", []string{"BCOUNTER.CREATE", "b", "0", "10"}},
		{":10", []string{"BCOUNTER.GET", "b"}},
		{":10", []string{"BCOUNTER.RIGHTS", "b"}},
		{":13", []string{"BCOUNTER.INCRBY", "b", "3"}},
		{":1", []string{"BCOUNTER.DECRBY", "b", "12"}},
		{":1", []string{"BCOUNTER.RIGHTS", "b"}},
		{"-ERR amount must be non-negative and initial not below floor", []string{"BCOUNTER.DECRBY", "b", "-1"}},
		{"-ERR value is not an integer or out of range", []string{"BCOUNTER.DECRBY", "b", "x"}},
		{"+bcounter", []string{"TYPE", "b"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"INCR", "b"}},
		{"-ERR a bounded counter cannot be renamed or copied", []string{"RENAME", "b", "c"}},
		{"-ERR a bounded counter cannot be renamed or copied", []string{"COPY", "b", "c"}},
		{"+OK", []string{"SET", "s", "v"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"BCOUNTER.GET", "s"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"BCOUNTER.CREATE", "s", "0", "1"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"BCOUNTER.RIGHTS", "s"}},
		// Inside MULTI a short decrement fails at once.
		{"+OK", []string{"MULTI"}},
		{"+QUEUED", []string{"BCOUNTER.DECRBY", "b", "1"}},
		{"+QUEUED", []string{"BCOUNTER.DECRBY", "b", "1"}},
		{"[:0 -INSUFFICIENT rights on this node: holds 0, needs 1]", []string{"EXEC"}},
		{":0", []string{"BCOUNTER.GET", "b"}},
		{":1", []string{"DEL", "b"}},
		{"(nil)", []string{"BCOUNTER.GET", "b"}},
	} {
		r.expect(s.want, s.args...)
	}
	// Outside MULTI a short decrement asks, waits MaxBCounterWait (no
	// other node holds rights here) and fails, taking nothing.
	r.expect("+OK", "BCOUNTER.CREATE", "w", "0", "2")
	start := time.Now()
	r.expect("-INSUFFICIENT rights on this node: holds 2, needs 3 (waited 500 ms)", "BCOUNTER.DECRBY", "w", "3")
	if time.Since(start) < MaxBCounterWait {
		t.Fatalf("answered after %v, before MaxBCounterWait", time.Since(start))
	}
	r.expect(":2", "BCOUNTER.GET", "w")
	r.expect(":2", "BCOUNTER.RIGHTS", "w")
}
