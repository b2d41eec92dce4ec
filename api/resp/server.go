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
	"github.com/tidwall/redcon"
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
	// MaxCommandBytes bounds the argument bytes of one command. redcon
	// buffers a whole command and doubles its buffer to fit it, so one
	// connection reads into at most about twice this.
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
	// Password, when not empty, is required by AUTH (or HELLO ... AUTH)
	// before any other command. Compared in constant time.
	Password string
	// MaxClients bounds concurrent connections; a connection over it gets
	// "ERR max number of clients reached" and is closed. Zero means
	// DefaultMaxClients.
	MaxClients int
	// MaxClientInputBytesTotal bounds the bytes of unfinished commands
	// (read, not yet whole) held for all connections together; redcon
	// buffers each in up to about twice its size. A read that would pass
	// it is refused: that client gets "ERR max client input buffered on
	// this node reached ..." and is disconnected; other clients are not
	// affected. Whole commands do not count, so pipelines of ordinary
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
	start   time.Time

	// ctx ends when the server closes; it bounds every blocking backend
	// call (WAIT, Update) so Close never waits on a client.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	ln       *limitListener
	closed   bool
	served   chan struct{}        // closed when Serve returns; nil if never served
	detached map[*client]struct{} // pub/sub clients, which redcon no longer tracks

	// wg counts every goroutine the server starts or hands out a conn to:
	// redcon's connection handlers, detached pub/sub readers and pumps.
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
		backend:  backend,
		cfg:      cfg,
		start:    time.Now(),
		ctx:      ctx,
		cancel:   cancel,
		detached: map[*client]struct{}{},
	}
	s.input.max = cfg.MaxClientInputBytesTotal
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
	s.ln = newLimitListener(l, &s.input)
	s.served = make(chan struct{})
	s.mu.Unlock()
	defer close(s.served)

	rs := redcon.NewServerNetwork(l.Addr().Network(), l.Addr().String(), s.handle, s.accept, s.closedConn)
	// A temporary accept error (out of file descriptors) is retried by
	// redcon; nothing to log here without a logger.
	rs.AcceptError = func(error) {}
	err := rs.Serve(s.ln)
	if err != nil && errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
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
		<-served // redcon closes its tracked connections as Serve returns
	}
	s.mu.Lock()
	for c := range s.detached {
		c.dconn.NetConn().Close()
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

// accept admits a connection (redcon's accept callback, run on the accept
// goroutine). Its handler goroutine is counted from here until closedConn.
func (s *Server) accept(conn redcon.Conn) bool {
	if s.clients.Add(1) > int64(s.cfg.MaxClients) {
		s.clients.Add(-1)
		conn.WriteError("ERR max number of clients reached")
		return false
	}
	s.wg.Add(1)
	c := &client{
		server: s,
		id:     s.clientID.Add(1),
		authed: s.cfg.Password == "",
	}
	conn.SetContext(c)
	if lc, ok := conn.NetConn().(*limitConn); ok {
		// Read on this connection's goroutine, which also runs AUTH.
		lc.scan.authed = &c.authed
	}
	return true
}

// closedConn is redcon's closed callback: the connection's handler
// goroutine is ending. A detached (pub/sub) connection lives on in its own
// goroutine, which releases its client slot when it ends.
func (s *Server) closedConn(conn redcon.Conn, _ error) {
	if c, ok := conn.Context().(*client); ok && c.dconn == nil {
		s.clients.Add(-1)
	}
	s.wg.Done()
}

// handle is redcon's command handler, run on the connection's goroutine
// for each command of a pipeline in order; redcon flushes the replies
// after the pipeline.
func (s *Server) handle(conn redcon.Conn, cmd redcon.Command) {
	c := conn.Context().(*client)
	c.out = conn
	if batch := takePipeline(conn, c, cmd); batch != nil {
		s.runWrites(c, batch)
		return
	}
	s.dispatch(c, cmd.Args)
	if c.detachPending {
		c.detachPending = false
		s.detach(c, conn)
	}
}
