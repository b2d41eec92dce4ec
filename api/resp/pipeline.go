package resp

import (
	"errors"

	"github.com/tidwall/redcon"

	"github.com/spooksystems/spook/crdt"
)

// MaxPipelineBatch bounds the pipelined writes run as one transaction: well
// under crdt.MaxTxnKeys, so a batch of single-key writes always fits.
const MaxPipelineBatch = 256

// batchable reports whether args is a plain write this client may run now:
// a known command with a builder write, valid arity, allowed by auth, and
// no MULTI or subscription in force (those keep their own rules).
func batchable(c *client, args [][]byte) bool {
	cmd := lookupFolded(args[0])
	return cmd != nil && cmd.write != nil && cmd.conn == nil && cmd.arityOK(len(args)) &&
		(c.authed || cmd.flags&flagNoAuth != 0) && !c.subscribed() && !c.multi
}

// lookupFolded is lookup for the pipeline path without an allocation for
// a name in capitals (as clients send them): ASCII letters are folded in
// a stack buffer. A name it does not find (such as one that only
// strings.ToLower maps to a command) is simply not batched: the command
// then runs through dispatch and lookup as usual.
func lookupFolded(name []byte) *command {
	if c := commands[string(name)]; c != nil { // no allocation
		return c
	}
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	return commands[string(buf[:len(name)])]
}

// runWrites runs a pipeline of plain writes in transactions of up to
// MaxPipelineBatch commands: one Backend.Update each, so the node takes its
// lock, builds its Ready and (under fsync always) waits for its fsync once
// per batch instead of once per command. Replies are exactly those of
// running the commands one by one: each sees the ones before it, and a
// command refused with a Redis error gets that error in its own place
// (it did not touch the transaction). The only difference is stronger: a
// batch's writes become visible together. If a batch fails as a whole
// (node stopping, limits), its commands are run one at a time instead, so
// each gets the answer it would have had.
func (s *Server) runWrites(c *client, cmds [][][]byte) {
	for len(cmds) > 0 {
		batch := cmds[:min(len(cmds), MaxPipelineBatch)]
		cmds = cmds[len(batch):]
		c.tx.batch = batch
		c.tx.base = len(c.out.wbuf)
		tok, err := s.backend.Update(c.ctx, c.tx.writeBatch)
		c.tx.batch = nil
		if err != nil {
			for _, q := range batch {
				s.dispatch(c, q)
			}
			continue
		}
		if !tok.IsZero() {
			c.lastToken = tok
		}
		c.out.wbuf = c.tx.out // the replies, appended in place
		if c.out.proto == 3 {
			c.out.wbuf = batchToRESP3(c.out.wbuf, c.tx.base, batch)
		}
	}
}

// txCall holds what a client's transaction callbacks run, so that they
// are method values made once per connection (client.init) rather than a
// closure allocated per command. Replies are appended to the connection's
// reply buffer in place, from base on (a callback may run again: it
// starts over at base); the caller adopts out on success.
type txCall struct {
	c     *client
	cmd   *command
	args  [][]byte
	batch [][][]byte
	base  int
	out   []byte

	writeBatch func(*crdt.Builder) error
	writeOne   func(*crdt.Builder) error
	readOne    func(*crdt.Keyspace) error
}

func (t *txCall) init(c *client) {
	t.c = c
	t.writeBatch = t.runBatch
	t.writeOne = t.runOne
	t.readOne = t.runRead
}

func (t *txCall) runBatch(tx *crdt.Builder) error {
	out := t.c.out.wbuf[:t.base]
	for _, q := range t.batch {
		var err error
		if out, err = runWrite(lookupFolded(q[0]), tx, q, out); err != nil {
			return err
		}
	}
	t.out = out
	return nil
}

func (t *txCall) runOne(tx *crdt.Builder) error {
	out, err := t.cmd.write(tx, t.args, t.c.out.wbuf[:t.base])
	t.out = out
	return err
}

func (t *txCall) runRead(ks *crdt.Keyspace) error {
	t.out = t.cmd.read(readView(ks), t.args, t.c.out.wbuf[:t.base])
	return nil
}

// runWrite appends the reply of one write command run on tx: its result,
// or its Redis error in its own place (a respErr means the command refused
// before touching tx). Any other error is returned: it aborts the whole
// transaction.
func runWrite(cmd *command, tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	res, err := cmd.write(tx, args, out)
	if err == nil {
		return res, nil
	}
	var re respErr
	if !errors.As(err, &re) {
		return out, err
	}
	return redcon.AppendError(out, string(re)), nil
}
