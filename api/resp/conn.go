package resp

import (
	"errors"
	"net"
	"strconv"

	"github.com/tidwall/redcon"
)

// conn is a client connection's socket and its reply buffer. Commands
// append their replies with the Write... methods; the connection's
// goroutine writes the buffer to the socket once per batch of commands
// read together (one write per pipeline), or sooner when it passes
// maxPendingReplyBytes. Until the client subscribes only that goroutine
// uses it; after, every use holds client.mu (the notification pump
// writes too).
type conn struct {
	nc   net.Conn
	wbuf []byte
	// proto is the protocol the client chose with HELLO: 2 (also when
	// zero, before any HELLO) or 3.
	proto int
}

// maxPendingReplyBytes: replies past it are written out before the rest
// of the pipeline runs, so a long pipeline of large replies does not
// buffer them all.
const maxPendingReplyBytes = 1 << 20

// WriteError appends an error reply ("-msg"); line breaks in msg become
// spaces.
func (w *conn) WriteError(msg string) { w.wbuf = redcon.AppendError(w.wbuf, msg) }

// WriteString appends a simple string reply ("+s").
func (w *conn) WriteString(s string) { w.wbuf = redcon.AppendString(w.wbuf, s) }

// WriteBulk appends a bulk string reply.
func (w *conn) WriteBulk(b []byte) { w.wbuf = redcon.AppendBulk(w.wbuf, b) }

// WriteBulkString appends a bulk string reply.
func (w *conn) WriteBulkString(s string) { w.wbuf = redcon.AppendBulkString(w.wbuf, s) }

// WriteInt appends an integer reply.
func (w *conn) WriteInt(n int) { w.wbuf = redcon.AppendInt(w.wbuf, int64(n)) }

// WriteInt64 appends an integer reply.
func (w *conn) WriteInt64(n int64) { w.wbuf = redcon.AppendInt(w.wbuf, n) }

// WriteArray appends an array header of n elements; the elements follow.
func (w *conn) WriteArray(n int) { w.wbuf = redcon.AppendArray(w.wbuf, n) }

// WritePush appends the header of a pub/sub message or confirmation of n
// elements: a push (">") in RESP3, an array in RESP2.
func (w *conn) WritePush(n int) {
	if w.proto == 3 {
		w.wbuf = append(append(append(w.wbuf, '>'), strconv.Itoa(n)...), "\r\n"...)
		return
	}
	w.WriteArray(n)
}

// WriteMap appends the header of a map of n field-value pairs: a map
// ("%") in RESP3, an array of 2n elements in RESP2.
func (w *conn) WriteMap(n int) {
	if w.proto == 3 {
		w.wbuf = append(append(append(w.wbuf, '%'), strconv.Itoa(n)...), "\r\n"...)
		return
	}
	w.WriteArray(2 * n)
}

// WriteNull appends a nil bulk reply.
func (w *conn) WriteNull() { w.wbuf = redcon.AppendNull(w.wbuf) }

// WriteRaw appends an encoded reply as is.
func (w *conn) WriteRaw(b []byte) { w.wbuf = append(w.wbuf, b...) }

// RemoteAddr is the client's address, as CLIENT LIST shows it.
func (w *conn) RemoteAddr() string { return w.nc.RemoteAddr().String() }

// Flush writes the buffered replies to the socket.
func (w *conn) Flush() error {
	if len(w.wbuf) == 0 {
		return nil
	}
	_, err := w.nc.Write(w.wbuf)
	if cap(w.wbuf) > maxReuseBytes {
		w.wbuf = nil
	} else {
		w.wbuf = w.wbuf[:0]
	}
	return err
}

// serveConn serves one accepted connection until it closes: it reads,
// runs every whole command the read completed (a pipeline), writes their
// replies at once, and reads again.
func (s *Server) serveConn(c *client) {
	defer s.endConn(c)
	for {
		err := s.runBuffered(c)
		if err != nil {
			msg := "Protocol error: " + err.Error()
			if errors.Is(err, errInputLimit) {
				msg = err.Error()
			}
			c.lock()
			c.out.WriteError("ERR " + msg)
			_ = c.out.Flush()
			c.unlock()
			return
		}
		c.lock()
		ferr := c.out.Flush()
		quit := c.quit
		c.unlock()
		if ferr != nil || quit || s.ctx.Err() != nil {
			return
		}
		if err := c.settleInput(); err != nil {
			c.lock()
			c.out.WriteError("ERR " + err.Error())
			_ = c.out.Flush()
			c.unlock()
			return
		}
		n, err := c.out.nc.Read(c.in.room())
		c.in.filled(n)
		if n == 0 && err != nil {
			return
		}
	}
}

// runBuffered runs the whole commands in the read buffer, in order.
// Consecutive plain writes are collected and run as shared transactions
// (runWrites); anything else runs on its own after the writes before it.
// It returns a protocol error after running the commands before it.
func (s *Server) runBuffered(c *client) error {
	p := &c.in
	defer p.release()
	for {
		if len(c.batch) == 0 {
			p.release()
		}
		args, err := p.next(c.authed)
		if args == nil || err != nil {
			s.runBatch(c)
			return err
		}
		if !c.shared && batchable(c, args) {
			c.batch = append(c.batch, args)
			if len(c.batch) == MaxPipelineBatch {
				s.runBatch(c)
			}
			continue
		}
		s.runBatch(c)
		if c.shared {
			c.mu.Lock()
			s.dispatch(c, args)
			err := c.out.Flush()
			c.mu.Unlock()
			if err != nil {
				return nil // the next Flush or read fails too
			}
		} else {
			s.dispatch(c, args)
			if c.sharePending {
				c.sharePending = false
				s.share(c)
			}
		}
		if c.quit {
			return nil
		}
		if len(c.out.wbuf) > maxPendingReplyBytes {
			c.lock()
			_ = c.out.Flush()
			c.unlock()
		}
	}
}

// runBatch runs the writes collected by runBuffered.
func (s *Server) runBatch(c *client) {
	switch len(c.batch) {
	case 0:
		return
	case 1:
		s.dispatch(c, c.batch[0])
	default:
		s.runWrites(c, c.batch)
	}
	clear(c.batch)
	c.batch = c.batch[:0]
}

// lock takes c.mu if the connection is shared with a notification pump.
func (c *client) lock() {
	if c.shared {
		c.mu.Lock()
	}
}

func (c *client) unlock() {
	if c.shared {
		c.mu.Unlock()
	}
}

// settleInput brings the connection's charge on the server's input
// budget (MaxClientInputBytesTotal) to the bytes of the unfinished
// command it holds; errInputLimit if that would pass the budget.
func (c *client) settleInput() error {
	held := c.in.held()
	if held == c.charged {
		return nil
	}
	b := &c.server.input
	if held > c.charged {
		if b.used.Add(held-c.charged) > b.max {
			b.used.Add(c.charged - held)
			return errInputLimit
		}
	} else {
		b.used.Add(held - c.charged)
	}
	c.charged = held
	return nil
}

// share hands a connection that just subscribed over to shared use: from
// now on a notification pump writes to it too, and both hold c.mu.
func (s *Server) share(c *client) {
	c.mu.Lock()
	c.shared = true
	c.ensurePump()
	c.mu.Unlock()
	s.mu.Lock()
	s.subscribers[c] = struct{}{}
	s.mu.Unlock()
}

// endConn closes a connection whose goroutine is ending and returns what
// it held.
func (s *Server) endConn(c *client) {
	c.mu.Lock()
	c.stopPump()
	closeWrite(c.out.nc)
	c.out.nc.Close()
	c.mu.Unlock()
	s.mu.Lock()
	delete(s.conns, c)
	delete(s.subscribers, c)
	s.mu.Unlock()
	s.input.used.Add(-c.charged)
	c.charged = 0
	s.clients.Add(-1)
	s.wg.Done()
}

// closeWrite sends the connection's FIN ahead of its close, so a client
// that has sent more than the server read (commands after QUIT or after a
// protocol error) reads the last replies and then end of file, rather
// than losing them to the reset that closing with unread input sends.
func closeWrite(nc net.Conn) {
	for {
		switch c := nc.(type) {
		case interface{ CloseWrite() error }:
			_ = c.CloseWrite()
			return
		case interface{ Unwrap() net.Conn }:
			nc = c.Unwrap()
		default:
			return
		}
	}
}
