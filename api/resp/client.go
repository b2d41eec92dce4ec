package resp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// client is one connection's state. Until the connection subscribes it is
// used only by the connection's goroutine; after (shared), by that
// goroutine and the notification pump, which serialize on mu.
type client struct {
	server *Server
	id     int64
	name   string
	// authed: the connection may run commands (it authenticated, or no
	// credential is configured). user is the client user it runs them
	// as, "" before it authenticated; ctx is the server's context
	// carrying user (api.WithUser), the context of its writes.
	authed bool
	user   string
	ctx    context.Context

	// out receives replies and holds the socket.
	out *conn
	// in parses the requests; the arguments it returns alias its buffer.
	in parser
	// batch collects the plain writes of a pipeline (runBuffered).
	batch [][][]byte
	// charged is what the connection holds of the server's input budget.
	charged int64
	// tx is what the transaction callbacks of run and runWrites run.
	tx txCall
	// buf is reused for replies built inside View and Update callbacks.
	buf []byte

	// MULTI state.
	multi       bool
	dirty       bool // a command failed at queue time: EXEC aborts
	queued      []queuedCommand
	queuedBytes int

	// lastToken names the client's last write, for WAIT.
	lastToken api.Token

	scan scanCursors

	// Pub/sub state. mu guards everything below, and out, once shared is
	// set; only the connection's goroutine sets shared.
	mu           sync.Mutex
	shared       bool
	sharePending bool // subscribed: to be shared once the command returns
	channels     map[string]struct{}
	patterns     map[string]struct{}
	pump         *pump
	quit         bool
}

type queuedCommand struct {
	cmd  *command
	args [][]byte
}

// maxReuseBytes is the largest reply buffer a client keeps between
// commands; a larger one (a big HGETALL) is dropped after use.
const maxReuseBytes = 64 << 10

// respErr is an error reply, complete with its Redis error code
// ("ERR ...", "WRONGTYPE ..."). A write command that returns one has not
// touched the transaction builder.
type respErr string

func (e respErr) Error() string { return string(e) }

// Error replies, with Redis's texts.
const (
	errWrongType   respErr = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errSyntax      respErr = "ERR syntax error"
	errNotInteger  respErr = "ERR value is not an integer or out of range"
	errOverflow    respErr = "ERR increment or decrement would overflow"
	errHashInteger respErr = "ERR hash value is not an integer"
	errReserved    respErr = "ERR reserved key"
	errKeyTooLong  respErr = "ERR key or field longer than 1024 bytes"
	errTooLarge    respErr = respErr("ERR string exceeds maximum allowed size (" + maxValueText + " bytes)")
	errTxnTooBig   respErr = "ERR transaction too large (more than 4096 keys, 65536 members and fields, or 12 MiB encoded)"
	errNoAuth      respErr = "NOAUTH Authentication required."
	errWrongPass   respErr = "WRONGPASS invalid username-password pair or user is disabled."
	errStopped     respErr = "ERR Spook node stopped"
	errReadOnly    respErr = "READONLY You can't write against a read only replica."
	errCanceled    respErr = "ERR request canceled: server shutting down"
)

// maxValueText is crdt.MaxValueBytes in decimal, for errTooLarge.
const maxValueText = "8388608"

// unknownPrefix starts the reply to a write whose outcome is unknown
// (api.ErrUnknownOutcome): applied in memory, durability not confirmed. A
// distinct error code, so clients never take it for "not written".
const unknownPrefix = "UNKNOWN write applied locally but its durability is unknown: "

// errorText turns any error from a command or the backend into the text
// of an error reply.
func errorText(err error) string {
	var re respErr
	switch {
	case errors.As(err, &re):
		return string(re)
	case errors.Is(err, api.ErrUnknownOutcome):
		return unknownPrefix + oneLine(err.Error())
	case errors.Is(err, api.ErrRemoved):
		return "REMOVED " + oneLine(err.Error())
	case errors.Is(err, api.ErrReadOnly):
		return string(errReadOnly)
	case errors.Is(err, api.ErrStopped):
		return string(errStopped)
	case errors.Is(err, audit.ErrNoRights):
		// Outside the write rights of the signed policy (docs/audit.md).
		return "NOPERM " + oneLine(err.Error())
	case errors.Is(err, crdt.ErrTxnTooBig):
		return string(errTxnTooBig)
	case errors.Is(err, crdt.ErrOverflow):
		return string(errOverflow)
	case errors.Is(err, crdt.ErrKeyTooLong):
		return string(errKeyTooLong)
	case errors.Is(err, crdt.ErrTooLarge):
		return string(errTooLarge)
	case errors.Is(err, crdt.ErrNotInteger):
		return string(errNotInteger)
	case errors.Is(err, crdt.ErrWrongType):
		return string(errWrongType)
	}
	return "ERR " + oneLine(err.Error())
}

// oneLine makes s safe inside a simple string or error reply.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// unknownCommand is Redis's reply to an unknown command.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		s := a
		if len(s) > 128-b.Len() {
			s = s[:128-b.Len()]
		}
		fmt.Fprintf(&b, "'%s' ", s)
	}
	name := args[0]
	if len(name) > 128 {
		name = name[:128]
	}
	return oneLine(fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", name, b.String()))
}

func (c *client) subscribed() bool { return len(c.channels)+len(c.patterns) > 0 }

func (c *client) resetMulti() {
	c.multi, c.dirty, c.queued, c.queuedBytes = false, false, nil, 0
}

// dispatch runs or queues one command and writes its reply to c.out, in
// the connection's protocol (RESP2, or RESP3 after HELLO 3).
func (s *Server) dispatch(c *client, args [][]byte) {
	if c.out.proto != 3 {
		s.dispatch2(c, args)
		return
	}
	cmd := lookup(args[0])
	start := len(c.out.wbuf)
	switch {
	case cmd == nil || cmd.flags&flagPubSub != 0 || cmd.name == "hello":
		// Errors, pushes and HELLO are written in RESP3 already.
		s.dispatch2(c, args)
	case cmd.name == "exec" && c.multi:
		queued := c.queued
		s.dispatch2(c, args)
		c.out.wbuf = execToRESP3(c.out.wbuf, start, queued)
	default:
		sh := resp3Shape(cmd.name, args)
		nargs := len(args)
		s.dispatch2(c, args)
		c.out.wbuf = toRESP3(c.out.wbuf, start, sh, nargs)
	}
}

// dispatch2 is dispatch with the reply in RESP2.
func (s *Server) dispatch2(c *client, args [][]byte) {
	cmd := lookup(args[0])
	if cmd == nil {
		c.dirty = c.dirty || c.multi
		c.out.WriteError(unknownCommand(args))
		return
	}
	if !cmd.arityOK(len(args)) {
		c.dirty = c.dirty || c.multi
		c.out.WriteError("ERR wrong number of arguments for '" + cmd.name + "' command")
		return
	}
	if !c.authed && cmd.flags&flagNoAuth == 0 {
		c.dirty = c.dirty || c.multi
		c.out.WriteError(string(errNoAuth))
		return
	}
	if c.subscribed() && cmd.flags&flagPubSub == 0 {
		c.out.WriteError("ERR Can't execute '" + cmd.name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	if c.multi && cmd.flags&flagTxnControl == 0 {
		s.enqueue(c, cmd, args)
		return
	}
	s.run(c, cmd, args)
}

func (s *Server) enqueue(c *client, cmd *command, args [][]byte) {
	if cmd.read == nil && cmd.write == nil {
		c.dirty = true
		c.out.WriteError("ERR Command not allowed inside a transaction")
		return
	}
	n := 0
	for _, a := range args {
		n += len(a)
	}
	if len(c.queued) >= MaxQueuedCommands || c.queuedBytes+n > MaxQueuedBytes {
		c.dirty = true
		c.out.WriteError(fmt.Sprintf("ERR too many commands queued in MULTI (at most %d commands, %d bytes)", MaxQueuedCommands, MaxQueuedBytes))
		return
	}
	// The arguments alias the read buffer, which the next read reuses:
	// a queued command keeps a copy, in one allocation.
	c.queued = append(c.queued, queuedCommand{cmd, copyArgs(args, n)})
	c.queuedBytes += n
	c.out.WriteString("QUEUED")
}

// copyArgs copies args, of n bytes in all, into one new allocation.
func copyArgs(args [][]byte, n int) [][]byte {
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

// run executes one command now.
func (s *Server) run(c *client, cmd *command, args [][]byte) {
	switch {
	case cmd.conn != nil:
		cmd.conn(s, c, args)
	case cmd.read != nil:
		c.tx.cmd, c.tx.args, c.tx.base = cmd, args, len(c.out.wbuf)
		err := s.backend.View(c.tx.readOne)
		c.tx.cmd, c.tx.args = nil, nil
		if err != nil {
			c.out.WriteError(errorText(err))
			return
		}
		c.out.wbuf = c.tx.out
	case cmd.write != nil:
		c.tx.cmd, c.tx.args, c.tx.base = cmd, args, len(c.out.wbuf)
		tok, err := s.backend.Update(c.ctx, c.tx.writeOne)
		c.tx.cmd, c.tx.args = nil, nil
		if err != nil {
			c.out.WriteError(s.errorText(err))
			return
		}
		if !tok.IsZero() {
			c.lastToken = tok
		}
		c.out.wbuf = c.tx.out
	}
}

// errorText is errorText with context errors of the server mapped.
func (s *Server) errorText(err error) string {
	if s.ctx.Err() != nil && errors.Is(err, s.ctx.Err()) {
		return string(errCanceled)
	}
	return errorText(err)
}

// reply writes out, the encoded reply, and keeps the buffer for reuse.
func (c *client) reply(out []byte) {
	c.out.WriteRaw(out)
	if cap(out) <= maxReuseBytes {
		c.buf = out[:0]
	} else {
		c.buf = nil
	}
}

// exec runs the queued commands as one transaction: one Backend.Update, so
// every write of the EXEC is applied atomically under one dot. A command
// that fails at run time (WRONGTYPE, overflow) has changed nothing; its
// slot gets the error and the others still run, as in Redis. An error
// that cannot be confined to one command (the transaction grew past the
// crdt limits) fails the whole EXEC and writes nothing.
func (s *Server) exec(c *client) {
	queued, dirty := c.queued, c.dirty
	c.resetMulti()
	if dirty {
		c.out.WriteError("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	writes := false
	for _, q := range queued {
		writes = writes || q.cmd.write != nil
	}
	out := c.buf[:0]
	run := func(r reader, tx *crdt.Builder) error {
		out = redcon.AppendArray(out[:0], len(queued))
		for _, q := range queued {
			if q.cmd.read != nil {
				out = q.cmd.read(view{r}, q.args, out)
				continue
			}
			var err error
			if out, err = runWrite(q.cmd, tx, q.args, out); err != nil {
				return err
			}
		}
		return nil
	}
	if !writes {
		if err := s.backend.View(func(ks *crdt.Keyspace) error { return run(readView(ks).r, nil) }); err != nil {
			c.out.WriteError(errorText(err))
			return
		}
		c.reply(out)
		return
	}
	tok, err := s.backend.Update(c.ctx, func(tx *crdt.Builder) error { return run(tx, tx) })
	if err != nil {
		c.out.WriteError(s.errorText(err))
		return
	}
	if !tok.IsZero() {
		c.lastToken = tok
	}
	c.reply(out)
}

// view reads keys through a keyspace or a transaction builder, hiding the
// replica's reserved keys.
type view struct{ r reader }

// reader is what *crdt.Keyspace and *crdt.Builder have in common.
type reader interface {
	Get(key []byte) *crdt.Value
}

func (v view) get(key []byte) *crdt.Value {
	if isReserved(key) {
		return nil
	}
	return v.r.Get(key)
}

func isReserved(key []byte) bool { return bytes.HasPrefix(key, []byte(ReservedPrefix)) }

// checkKey refuses a key a write may not touch.
func checkKey(key []byte) error {
	if isReserved(key) {
		return errReserved
	}
	if len(key) > crdt.MaxKeyBytes {
		return errKeyTooLong
	}
	return nil
}

// checkValue refuses a register value, set member or map field value
// longer than the crdt accepts.
func checkValue(v []byte) error {
	if len(v) > crdt.MaxValueBytes {
		return errTooLarge
	}
	return nil
}

// checkField refuses a map field name longer than the crdt accepts.
func checkField(f []byte) error {
	if len(f) > crdt.MaxKeyBytes {
		return errKeyTooLong
	}
	return nil
}

// mutationError converts the error of a single builder operation (which
// leaves the builder as it was) into an error reply.
func mutationError(err error) error {
	if err == nil {
		return nil
	}
	return respErr(errorText(err))
}

// setUser makes the connection user's: authenticated, its writes
// user's.
func (c *client) setUser(user string) {
	c.authed, c.user = true, user
	c.ctx = api.WithUser(c.server.ctx, user)
}

// resetUser puts the connection in its state before any AUTH: the
// default user if no credential is configured, else unauthenticated.
func (c *client) resetUser() {
	if !c.server.creds.Required() {
		c.setUser(api.DefaultUser)
		return
	}
	c.authed, c.user, c.ctx = false, "", c.server.ctx
}
