package spook

import (
	"context"
	"errors"
	"time"

	"github.com/spooksystems/spook/api/resp"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// Bounded counters (docs/api.md, "Bounded counters"): create one with
// tx.BCounterCreate in Update, add with tx.BCounterIncrement; take with
// DB.BCounterDecrement, which asks for rights and waits as
// BCOUNTER.DECRBY does.

// ErrInsufficient is returned by BCounterDecrement when this node's
// rights stayed short of the amount for MaxBCounterWait; it wraps
// crdt.ErrBCounterInsufficient.
var ErrInsufficient = crdt.ErrBCounterInsufficient

// MaxBCounterWait bounds how long BCounterDecrement waits for rights
// (the RESP server's resp.MaxBCounterWait).
const MaxBCounterWait = resp.MaxBCounterWait

// bcounterPoll is how often BCounterDecrement retries while it waits.
const bcounterPoll = 10 * time.Millisecond

// BCounter returns the bounded counter at key and whether the key holds
// one; a key whose deadline has passed on this node's clock reads as
// absent.
func (db *DB) BCounter(key []byte) (crdt.BCounter, bool) {
	var out crdt.BCounter
	var ok bool
	db.n.View(func(ks *crdt.Keyspace) error {
		v := ks.Get(key)
		if v == nil || replica.IsInternalKey(key) || v.Expired(uint64(time.Now().UnixMilli())) {
			return nil
		}
		out, ok = v.BCounter()
		return nil
	})
	return out, ok
}

// BCounterRights returns this node's rights at key (0 when absent).
func (db *DB) BCounterRights(key []byte) int64 {
	var r int64
	id := db.n.Status().ID
	db.n.View(func(ks *crdt.Keyspace) error {
		if !replica.IsInternalKey(key) {
			r = ks.Get(key).BCounterRights(id)
		}
		return nil
	})
	return r
}

// BCounterDecrement takes n from the bounded counter at key out of this
// node's rights and returns the new value. When the rights are short it
// records a want (the holders give on their next ticks) and retries for
// up to MaxBCounterWait, then returns ErrInsufficient having taken
// nothing; the node withdraws a want still unmet after
// node.BCounterWantAge. Other errors are the crdt's (ErrBCounterMissing,
// ErrWrongType, ...) or the node's.
func (db *DB) BCounterDecrement(ctx context.Context, key []byte, n int64) (int64, error) {
	deadline := time.Now().Add(MaxBCounterWait)
	for try := 0; ; try++ {
		var v int64
		done := false
		_, err := db.Update(ctx, func(tx *Tx) error {
			var err error
			v, err = tx.BCounterDecrement(key, n)
			switch {
			case err == nil:
				done = true
				return nil
			case errors.Is(err, crdt.ErrBCounterInsufficient) && try == 0:
				return tx.BCounterWant(key, n) // committed; the loop retries
			case errors.Is(err, crdt.ErrBCounterInsufficient):
				return nil // nothing written
			}
			return err
		})
		switch {
		case err != nil:
			return 0, err
		case done:
			return v, nil
		case time.Now().After(deadline):
			return 0, ErrInsufficient
		}
		t := time.NewTimer(bcounterPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}
