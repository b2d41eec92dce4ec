package resp

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// errInputLimit is not a protocol error: the node holds
// MaxClientInputBytesTotal of unfinished commands already. The client is
// told so and disconnected.
var errInputLimit = errors.New("max client input buffered on this node reached (MaxClientInputBytesTotal); closing the connection")

// inputBudget bounds the bytes of unfinished commands held for all the
// connections of a server (MaxClientInputBytesTotal). Each connection
// charges it for what its read buffer holds of its unfinished command
// after every read (client.settleInput) and gives its charge back when
// the command completes or the connection ends.
type inputBudget struct {
	used atomic.Int64
	max  int64
}

// limitListener backs off after a failed Accept and reports net.ErrClosed
// once closed.
type limitListener struct {
	net.Listener
	once   sync.Once
	cerr   error
	closed atomic.Bool
	done   chan struct{} // closed by Close; ends an accept backoff early

	backoff time.Duration // current delay after a failed Accept
}

// Accept backoff bounds: a lasting Accept error (out of file descriptors)
// retried at once would spin a core; the listener waits between attempts
// instead, as net/http does.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

func newLimitListener(l net.Listener) *limitListener {
	return &limitListener{Listener: l, done: make(chan struct{})}
}

// Accept returns net.ErrClosed once Close was called, whatever error the
// wrapped listener reports: Serve stops only on that error, and a
// listener from the single-port mux may close with its own.
func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if l.closed.Load() {
			return nil, net.ErrClosed
		}
		l.backoff = min(max(2*l.backoff, minAcceptBackoff), maxAcceptBackoff)
		t := time.NewTimer(l.backoff)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.done:
			return nil, net.ErrClosed
		}
		return nil, err
	}
	l.backoff = 0
	return c, nil
}

// Close closes the listener once; later calls return the first result.
func (l *limitListener) Close() error {
	l.closed.Store(true)
	l.once.Do(func() {
		close(l.done)
		l.cerr = l.Listener.Close()
	})
	return l.cerr
}
