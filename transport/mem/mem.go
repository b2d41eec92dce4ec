package mem

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

var (
	// ErrAddrInUse is returned by Listen for a name already listening.
	ErrAddrInUse = errors.New("mem: address already in use")
	// ErrRefused is returned by Dial when nothing listens on the name.
	ErrRefused = errors.New("mem: connection refused")
)

const (
	// DefaultMaxPipeBytes is the default buffer per direction of a
	// connection, about a loopback TCP socket's.
	DefaultMaxPipeBytes = 256 << 10
	// MaxAcceptQueue is how many dialled connections may wait for Accept;
	// Dial blocks (until its context ends) while the queue is full.
	MaxAcceptQueue = 64
)

// Network is a registry of named in-memory listeners. The zero value is
// not usable; call NewNetwork.
type Network struct {
	// MaxPipeBytes is the buffer per direction of new connections; zero
	// means DefaultMaxPipeBytes.
	MaxPipeBytes int

	mu        sync.Mutex
	listeners map[string]*Listener
	dials     int // numbers dialling ends for their addresses
}

// NewNetwork returns an empty Network.
func NewNetwork() *Network { return &Network{listeners: make(map[string]*Listener)} }

// Addr is an in-memory address: a listener's name, or a dialler's
// generated one.
type Addr string

func (a Addr) Network() string { return "mem" }
func (a Addr) String() string  { return string(a) }

// Listen starts listening on name.
func (n *Network) Listen(name string) (*Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[name]; ok {
		return nil, fmt.Errorf("%w: %q", ErrAddrInUse, name)
	}
	l := &Listener{
		network: n,
		name:    name,
		queue:   make(chan net.Conn, MaxAcceptQueue),
		closed:  make(chan struct{}),
	}
	n.listeners[name] = l
	return l, nil
}

// Dial connects to the listener called name. It blocks while that
// listener's accept queue is full, until ctx ends.
func (n *Network) Dial(ctx context.Context, name string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[name]
	n.dials++
	local := Addr(fmt.Sprintf("%s-dialer-%d", name, n.dials))
	maxBytes := n.MaxPipeBytes
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("%w: %q", ErrRefused, name)
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPipeBytes
	}
	client, server := Pipe(local, Addr(name), maxBytes)
	select {
	case l.queue <- server:
		return client, nil
	case <-l.closed:
		return nil, fmt.Errorf("%w: %q", ErrRefused, name)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Listener accepts connections dialled to its name. It implements
// net.Listener.
type Listener struct {
	network   *Network
	name      string
	queue     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

var _ net.Listener = (*Listener)(nil)

// Accept waits for the next connection, or returns net.ErrClosed once the
// listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops listening, frees the name and closes connections still
// waiting in the accept queue.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.network.mu.Lock()
		delete(l.network.listeners, l.name)
		l.network.mu.Unlock()
		close(l.closed)
		for {
			select {
			case c := <-l.queue:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr is the listener's name.
func (l *Listener) Addr() net.Addr { return Addr(l.name) }
