package trace

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Key is the key the keyspace replay edits.
var Key = []byte("doc")

// KeyspaceHistory is the transactions of a keyspace replay, each encoded
// with Txn.AppendBinary (self-contained: dot, time, deps, body), in trace
// order. BodyBytes sums their bodies (Txn.AppendBody with plain keys):
// the operation delta a link carries besides its compressed header.
type KeyspaceHistory struct {
	Txns      [][]byte
	BodyBytes int
}

// LocalKeyspace replays t as crdt transactions (Builder.TextInsert and
// TextDelete, Finish, Keyspace.Apply) on one keyspace per agent and
// returns the final keyspace (as Local chooses it) and the history.
func LocalKeyspace(t *Trace) (*crdt.Keyspace, *KeyspaceHistory, error) {
	type agent struct {
		ks      *crdt.Keyspace
		node    causal.NodeID
		applied []bool
	}
	agents := make([]*agent, t.Agents)
	for i := range agents {
		agents[i] = &agent{ks: crdt.NewKeyspace(), node: causal.NodeID(i + 1), applied: make([]bool, len(t.Txns))}
	}
	h := &KeyspaceHistory{Txns: make([][]byte, 0, len(t.Txns))}
	var body []byte
	clock := uint64(0)
	make1 := func(a *agent, tx *Txn) (*crdt.Txn, error) {
		clock++
		dot := causal.Dot{Node: a.node, Counter: a.ks.Context().Vector.Get(a.node) + 1}
		b := a.ks.Begin(dot, causal.Timestamp{WallMs: clock})
		for _, p := range tx.Patches {
			if p.Del > 0 {
				if n, err := b.TextDelete(Key, p.Pos, p.Del); err != nil || n != p.Del {
					return nil, fmt.Errorf("%w: delete %d+%d: %v", ErrReplay, p.Pos, p.Del, err)
				}
			}
			if p.Ins != "" {
				if _, err := b.TextInsert(Key, p.Pos, []byte(p.Ins)); err != nil {
					return nil, fmt.Errorf("%w: insert at %d: %v", ErrReplay, p.Pos, err)
				}
			}
		}
		txn := b.Finish()
		if err := a.ks.Apply(txn); err != nil {
			return nil, err
		}
		return txn, nil
	}
	if t.Start != "" {
		// The start content is the history's first transaction.
		txn, err := make1(agents[0], &Txn{Patches: []Patch{{Ins: t.Start}}})
		if err != nil {
			return nil, nil, err
		}
		h.Txns = append(h.Txns, txn.AppendBinary(nil))
	}
	apply := func(a *agent, j int) error {
		txn, err := crdt.DecodeTxn(h.Txns[j])
		if err == nil {
			err = a.ks.Apply(txn)
		}
		a.applied[j] = true
		return err
	}
	closure := func(a *agent, from []int) []int { return missingFrom(t, a.applied, from, nil) }
	for i := range t.Txns {
		tx := &t.Txns[i]
		a := agents[tx.Agent]
		if t.Concurrent {
			for _, j := range closure(a, tx.Parents) {
				if err := apply(a, j); err != nil {
					return nil, nil, fmt.Errorf("txn %d: %w", j, err)
				}
			}
		}
		a.applied[i] = true
		txn, err := make1(a, tx)
		if err != nil {
			return nil, nil, fmt.Errorf("txn %d: %w", i, err)
		}
		h.Txns = append(h.Txns, txn.AppendBinary(nil))
		body = txn.AppendBody(body[:0], crdt.PlainKeys{})
		h.BodyBytes += len(body)
	}
	final := agents[0]
	if t.Concurrent {
		all := make([]int, len(t.Txns))
		for i := range all {
			all[i] = i
		}
		for _, j := range closure(final, all) {
			if err := apply(final, j); err != nil {
				return nil, nil, fmt.Errorf("txn %d: %w", j, err)
			}
		}
	}
	return final.ks, h, nil
}

// MergeKeyspace decodes a keyspace history and applies it to an empty
// keyspace as remote transactions.
func MergeKeyspace(h *KeyspaceHistory) (*crdt.Keyspace, error) {
	ks := crdt.NewKeyspace()
	for i, b := range h.Txns {
		txn, err := crdt.DecodeTxn(b)
		if err == nil {
			err = ks.Apply(txn)
		}
		if err != nil {
			return nil, fmt.Errorf("txn %d: %w", i, err)
		}
	}
	return ks, nil
}

// KeyspaceText returns the text at Key.
func KeyspaceText(ks *crdt.Keyspace) string { return ks.Get(Key).Text() }
