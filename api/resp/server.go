package resp

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// Named limits. A request over a protocol limit gets "ERR Protocol error:
// ..." and its connection is closed (as Redis does); the others get an
// error reply and the connection stays usable.
const (
	// MaxCommandArgs bounds the arguments of one command, name included.
	MaxCommandArgs = 1 << 17
	// MaxBulkBytes bounds one argument on the wire. It is twice the
	// largest storable value (crdt.MaxValueBytes), so a SET a little too
	// large still parses and gets a clear "string exceeds maximum allowed
	// size" reply on a connection that stays open; only a larger argument
	// is a protocol error that closes the connection, as in Redis.
	MaxBulkBytes = 2 * crdt.MaxValueBytes
	// MaxCommandBytes bounds the argument bytes of one command. The
	// parser holds a whole command in its read buffer and doubles the
	// buffer to fit it, so one connection reads into at most about twice
	// this.
	MaxCommandBytes = 64 << 20
	// MaxInlineBytes bounds an inline (telnet-style) command line, as
	// Redis's PROTO_INLINE_MAX_SIZE.
	MaxInlineBytes = 64 << 10
	// MaxUnauthenticatedArgs bounds a command's arguments before the
	// client has authenticated (with Config.Password set), as Redis does:
	// more gets "ERR Protocol error: unauthenticated multibulk length".
	MaxUnauthenticatedArgs = 10
	// MaxUnauthenticatedBulkBytes bounds one argument before the client
	// has authenticated, as Redis does: longer gets "ERR Protocol error:
	// unauthenticated bulk length". So a stranger costs the node a few
	// KiB per connection, not MaxCommandBytes.
	MaxUnauthenticatedBulkBytes = 16 << 10
	// DefaultMaxClientInputBytesTotal is Config.MaxClientInputBytesTotal
	// when zero: four commands of MaxCommandBytes.
	DefaultMaxClientInputBytesTotal = 4 * MaxCommandBytes
	// MaxQueuedCommands bounds the commands queued between MULTI and
	// EXEC; one more is refused and aborts the transaction.
	MaxQueuedCommands = 1 << 14
	// MaxQueuedBytes bounds the argument bytes queued between MULTI and
	// EXEC.
	MaxQueuedBytes = 256 << 20
	// DefaultMaxClients is Config.MaxClients when zero (Redis's default).
	DefaultMaxClients = 10_000
	// MaxKeysReply bounds the keys KEYS returns; past it KEYS fails and
	// the client should use SCAN.
	MaxKeysReply = 1 << 20
	// MaxScanCount caps SCAN's COUNT hint.
	MaxScanCount = 1 << 14
	// MaxScanCursors is how many SCAN cursors a connection remembers the
	// resume key of (see SCAN in docs/api.md).
	MaxScanCursors = 16
	// MaxSubscriptions bounds the channels plus patterns of one client.
	MaxSubscriptions = 1 << 12
	// PubSubBuffer is the change buffer of a subscribed client's watch;
	// a client that falls further behind is disconnected.
	PubSubBuffer = 1 << 12
	// PubSubWriteTimeout bounds how long one push to a subscribed client
	// may block before the client is disconnected.
	PubSubWriteTimeout = 10 * time.Second
)

// ReservedPrefix starts the keys the replica keeps for itself. They are
// hidden from every read and refused for writes with "ERR reserved key".
const ReservedPrefix = "\x00spook/"

// Errors returned by Serve.
var (
	ErrServerClosed = errors.New("resp: server closed")
)

// Config configures a Server. The zero value serves without a password.
type Config struct {
	// Password, when not empty, is the default user's password
	// (api.DefaultUser): AUTH PASSWORD, AUTH default PASSWORD or HELLO
	// ... AUTH default PASSWORD. Compared in constant time.
	Password string
	// Users, when not nil, are the named client users: AUTH NAME
	// PASSWORD (or HELLO ... AUTH NAME PASSWORD) makes the connection
	// NAME's, and its writes are NAME's (api.WithUser: the node checks
	// the user rules of the write-rights policy in force). It may hold
	// the default user when Password is empty.
	//
	// With Password or Users set, a connection must authenticate before
	// any other command; with neither, every connection is the default
	// user from the start.
	Users *api.Users
	// MaxClients bounds concurrent connections; a connection over it gets
	// "ERR max number of clients reached" and is closed. Zero means
	// DefaultMaxClients.
	MaxClients int
	// MaxClientInputBytesTotal bounds the bytes of unfinished commands
	// (read, not yet whole) held for all connections together; the parser
	// buffers each in up to about twice its size. It is counted after
	// each read (at most 1 MiB): the client whose read passed it gets
	// "ERR max client input buffered on this node reached ..." and is
	// disconnected; other clients are not affected. Whole commands do not count, so pipelines of ordinary
	// commands never meet it. Zero means DefaultMaxClientInputBytesTotal.
	MaxClientInputBytesTotal int64
	// Version is reported by INFO and HELLO as spook_version; empty means
	// "dev".
	Version string
}

func (c *Config) validate() {
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxClientInputBytesTotal <= 0 {
		c.MaxClientInputBytesTotal = DefaultMaxClientInputBytesTotal
	}
	if c.Version == "" {
		c.Version = "dev"
	}
}

// Server serves the Redis protocol over a Backend. Create it with New, run
// it with Serve on a listener, stop it with Close or Shutdown.
type Server struct {
	backend api.Backend
	cfg     Config
	creds   api.Credentials // cfg's Password and Users
	start   time.Time

	// ctx ends when the server closes; it bounds every blocking backend
	// call (WAIT, Update) so Close never waits on a client.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	ln     *limitListener
	closed bool
	served chan struct{} // closed when Serve returns; nil if never served
	// conns holds every open connection, subscribers the ones shared with
	// a notification pump (client.shared).
	conns       map[*client]struct{}
	subscribers map[*client]struct{}
	// notify holds the notify-keyspace-events flags (config.go).
	notify atomic.Uint32

	// wg counts every goroutine the server starts: connections and
	// notification pumps.
	wg sync.WaitGroup

	clients  atomic.Int64
	clientID atomic.Int64
	input    inputBudget // MaxClientInputBytesTotal
	blocks   blockRegistry
}

// New returns a server over backend.
func New(backend api.Backend, cfg Config) *Server {
	cfg.validate()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		backend:     backend,
		cfg:         cfg,
		creds:       api.Credentials{Password: cfg.Password, Users: cfg.Users},
		start:       time.Now(),
		ctx:         ctx,
		cancel:      cancel,
		conns:       map[*client]struct{}{},
		subscribers: map[*client]struct{}{},
	}
	s.input.max = cfg.MaxClientInputBytesTotal
	s.notify.Store(defaultNotify)
	return s
}

// Serve accepts connections on l until Close or Shutdown; it then returns
// nil. It returns ErrServerClosed if the server was closed before, and
// fails if called twice. l is closed when Serve returns.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	if s.ln != nil {
		s.mu.Unlock()
		return errors.New("resp: Serve called twice")
	}
	s.ln = newLimitListener(l)
	s.served = make(chan struct{})
	s.mu.Unlock()
	defer close(s.served)
	defer s.ln.Close()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue // a temporary error (out of descriptors): backed off
		}
		s.accept(nc)
	}
}

// Close stops accepting, closes every connection and waits for every
// goroutine of the server to end. It is idempotent.
func (s *Server) Close() error {
	return s.Shutdown(context.Background())
}

// Shutdown is Close bounded by ctx: RESP has no graceful drain, so it
// closes at once and waits for the connection goroutines until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	ln, served := s.ln, s.served
	s.cancel()
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
		<-served // no connection is accepted after this
	}
	s.mu.Lock()
	for c := range s.conns {
		c.out.nc.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// accept admits a connection and starts its goroutine, or refuses it
// over MaxClients.
func (s *Server) accept(nc net.Conn) {
	if s.clients.Add(1) > int64(s.cfg.MaxClients) {
		s.clients.Add(-1)
		_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
		nc.Close()
		return
	}
	c := &client{
		server: s,
		id:     s.clientID.Add(1),
		out:    &conn{nc: nc},
	}
	c.resetUser()
	c.tx.init(c)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go s.serveConn(c)
}
