package resp

import (
	"errors"
	"strconv"
	"time"

	"github.com/tidwall/redcon"

	"github.com/spooksystems/spook/crdt"
)

// The bounded-counter commands: a key holding a counter that never goes
// below its floor on any node (crdt.TypeBCounter; docs/api.md,
// docs/semantics.md).
//
//	BCOUNTER.CREATE key floor initial → OK; this node holds initial − floor rights
//	BCOUNTER.INCRBY key n             → the new value (n ≥ 0; the rights go to this node)
//	BCOUNTER.DECRBY key n             → the new value, from this node's rights; when
//	                                    they are short it asks the holders and waits up
//	                                    to MaxBCounterWait, then -INSUFFICIENT
//	BCOUNTER.GET key                  → the value, or nil
//	BCOUNTER.RIGHTS key               → this node's rights (0 when absent)

// MaxBCounterWait bounds how long BCOUNTER.DECRBY waits for rights it
// asked for; then it answers -INSUFFICIENT and takes nothing. Inside
// MULTI it does not wait.
const MaxBCounterWait = 500 * time.Millisecond

// bcounterCommands are registered in command.go's table.
var bcounterCommands = []*command{
	{name: "bcounter.create", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeBCCreate},
	{name: "bcounter.incrby", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeBCIncrBy},
	{name: "bcounter.decrby", arity: 3, flags: flagWrite, first: 1, last: 1, step: 1, conn: cmdBCDecrBy, write: writeBCDecrBy},
	{name: "bcounter.get", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readBCGet},
	{name: "bcounter.rights", arity: 2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeBCRights},
}

const (
	errBCExists  respErr = "ERR bounded counter exists"
	errBCMissing respErr = "ERR no such bounded counter"
	errBCRange   respErr = "ERR amount must be non-negative and initial not below floor"
	// errBCNoCopy answers RENAME and COPY of a bounded counter: a copy
	// would hold rights nobody gave up.
	errBCNoCopy respErr = "ERR a bounded counter cannot be renamed or copied"
)

// bcError converts a bounded-counter builder error into a reply.
func bcError(err error) error {
	switch {
	case errors.Is(err, crdt.ErrBCounterExists):
		return errBCExists
	case errors.Is(err, crdt.ErrBCounterMissing):
		return errBCMissing
	case errors.Is(err, crdt.ErrBCounterRange):
		return errBCRange
	}
	return mutationError(err)
}

// insufficient is the -INSUFFICIENT reply: this node's rights and the
// amount asked for.
func insufficient(have, n int64, waited bool) respErr {
	s := "INSUFFICIENT rights on this node: holds " + strconv.FormatInt(have, 10) + ", needs " + strconv.FormatInt(n, 10)
	if waited {
		s += " (waited " + strconv.FormatInt(MaxBCounterWait.Milliseconds(), 10) + " ms)"
	}
	return respErr(s)
}

func bcArgs(args [][]byte) ([]byte, int64, error) {
	n, err := parseInt(args[2])
	if err != nil {
		return nil, 0, err
	}
	if err := checkKey(args[1]); err != nil {
		return nil, 0, err
	}
	return args[1], n, nil
}

func writeBCCreate(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	floor, err1 := parseInt(args[2])
	initial, err2 := parseInt(args[3])
	if err1 != nil || err2 != nil {
		return out, errNotInteger
	}
	if err := checkKey(args[1]); err != nil {
		return out, err
	}
	if err := tx.BCounterCreate(args[1], floor, initial); err != nil {
		return out, bcError(err)
	}
	return redcon.AppendOK(out), nil
}

func writeBCIncrBy(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, n, err := bcArgs(args)
	if err != nil {
		return out, err
	}
	v, err := tx.BCounterIncrement(key, n)
	if err != nil {
		return out, bcError(err)
	}
	return redcon.AppendInt(out, v), nil
}

// decrement runs one try of BCOUNTER.DECRBY: the new value, or (when the
// rights are short) this node's rights and ok false, nothing recorded.
func decrement(tx *crdt.Builder, key []byte, n int64) (v int64, ok bool, err error) {
	v, err = tx.BCounterDecrement(key, n)
	if errors.Is(err, crdt.ErrBCounterInsufficient) {
		have, _, _ := tx.BCounterRights(key)
		return have, false, nil
	}
	if err != nil {
		return 0, false, bcError(err)
	}
	return v, true, nil
}

// writeBCDecrBy is BCOUNTER.DECRBY inside MULTI: no asking, no waiting.
func writeBCDecrBy(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, n, err := bcArgs(args)
	if err != nil {
		return out, err
	}
	v, ok, err := decrement(tx, key, n)
	switch {
	case err != nil:
		return out, err
	case !ok:
		return out, insufficient(v, n, false)
	}
	return redcon.AppendInt(out, v), nil
}

// cmdBCDecrBy decrements from this node's rights; when they are short it
// records a want in the same step (the holders answer it on their next
// tick) and waits for rights, up to MaxBCounterWait.
func cmdBCDecrBy(s *Server, c *client, args [][]byte) {
	key, n, err := bcArgs(args)
	if err != nil {
		c.out.WriteError(errorText(err))
		return
	}
	var have int64
	attempt := func(ask bool) (bool, error) {
		out := c.buf[:0]
		done := false
		tok, err := s.backend.Update(c.ctx, func(tx *crdt.Builder) error {
			v, ok, err := decrement(tx, key, n)
			switch {
			case err != nil:
				return err
			case ok:
				out, done = redcon.AppendInt(out, v), true
				return nil
			}
			have = v
			if ask {
				return bcError(tx.BCounterWant(key, n))
			}
			return nil
		})
		if err != nil {
			return false, err
		}
		if !tok.IsZero() {
			c.lastToken = tok
		}
		if done {
			c.reply(out)
		}
		return done, nil
	}
	done, err := attempt(true)
	if err == nil && !done {
		err = s.block(c, [][]byte{key}, MaxBCounterWait, func() (bool, error) { return attempt(false) })
	}
	switch {
	case err == nil:
	case errors.Is(err, errBlockTimeout):
		c.out.WriteError(string(insufficient(have, n, true)))
	default:
		c.out.WriteError(s.errorText(err))
	}
}

func readBCGet(v view, args [][]byte, out []byte) []byte {
	val := v.get(args[1])
	if val == nil || val.Expired(v.now()) || val.Type() == crdt.TypeNone {
		return redcon.AppendNull(out)
	}
	c, ok := val.BCounter()
	if !ok {
		return redcon.AppendError(out, string(errWrongType))
	}
	return redcon.AppendInt(out, c.Value)
}

func writeBCRights(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if err := checkKey(args[1]); err != nil {
		return out, err
	}
	r, _, err := tx.BCounterRights(args[1])
	if err != nil {
		return out, bcError(err)
	}
	return redcon.AppendInt(out, r), nil
}
