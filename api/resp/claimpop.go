package resp

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/seq"
)

// Pops that never deliver an element twice: SPOOK.LPOPONCE key and
// SPOOK.RPOPONCE key.
//
// A plain LPOP on two nodes at once can return one element to both (each
// deletes it; it is removed once). A queue whose consumers must not both
// get a job uses these instead. A pop-once is a claim:
//
//  1. One transaction pops the element at the end of the list, as LPOP
//     does, and writes a claim into the hash spook:claims:<key>: the field
//     is the element's identity (the dot that inserted it and its offset,
//     the same on every node), the value the claim's hybrid-clock ms and a
//     random 64-bit nonce. Concurrent claims of one element are concurrent
//     writes of one field: the register keeps them all as siblings. The
//     hash's deadline is set to ClaimTTL from now.
//  2. The node waits until the claim is collapsed (every member applied
//     it). From then on no member can claim that element again (it is
//     gone from every member's list), so the claims of it that can exist
//     are the ones made concurrently, each by a member before it applied
//     ours.
//  3. The node reads each member's own transaction counter from the
//     applied vector that member last acknowledged (which already covers
//     our claim), and waits until it has applied that much of every
//     member: then it holds every claim of the element.
//  4. The winner among the claims of the element (the field's siblings)
//     is the smallest (earliest ms, then nonce): the same answer on every
//     node. The winner answers the element and then deletes the field
//     (HDEL, removing exactly the claims it judged); a loser pops again
//     (the next element), until it wins, the list is empty (a null reply,
//     as LPOP) or MaxClaimWait passes. A loser that finds the field gone
//     has lost (only a winner deletes it).
//
// So an element is delivered at most once. It is delivered exactly once
// unless the winning client's node fails, or the wait times out
// (errClaimTimeout), between the claim and the answer: then the element
// is lost, never duplicated. While a member is unreachable nothing
// collapses and pop-once waits (plain LPOP does not). A field whose
// winner failed before deleting it stays until the hash's deadline (no
// claim for ClaimTTL).

const (
	// ClaimTTL is the deadline a pop-once gives the claims hash,
	// refreshed by every claim: ten times MaxClaimWait, so a claim is
	// never forgotten while a pop-once may still judge it.
	ClaimTTL = 10 * MaxClaimWait
	// MaxClaimWait bounds one SPOOK.LPOPONCE: past it the client gets
	// errClaimTimeout and any element it claimed is lost.
	MaxClaimWait = 30 * time.Second
	// claimPollInterval is how often a pop-once checks whether it has
	// applied what the members had made (step 3).
	claimPollInterval = 2 * time.Millisecond
)

// claimsPrefix names the claims hash of a list: claimsPrefix + key.
const claimsPrefix = "spook:claims:"

const errClaimTimeout respErr = "TIMEOUT the claim did not collapse within MaxClaimWait (a member may be unreachable); the claimed element may be lost, it was not delivered twice"

func cmdLPopOnce(s *Server, c *client, args [][]byte) { popOnce(s, c, args[1], true) }
func cmdRPopOnce(s *Server, c *client, args [][]byte) { popOnce(s, c, args[1], false) }

// claimField names an element in the claims hash.
func claimField(id seq.ID) []byte {
	return fmt.Appendf(nil, "%x.%x.%x", id.Node, id.Counter, id.Offset)
}

func popOnce(s *Server, c *client, key []byte, left bool) {
	if err := checkKey(key); err != nil {
		c.out.WriteError(err.Error())
		return
	}
	claimsKey := append([]byte(claimsPrefix), key...)
	if err := checkKey(claimsKey); err != nil {
		c.out.WriteError(err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, MaxClaimWait)
	defer cancel()
	for {
		var elem, field []byte
		var claim string
		tok, err := s.backend.Update(ctx, func(tx *crdt.Builder) error {
			elem, claim = nil, ""
			val, err := listOf(view{tx}, key)
			if err != nil || val == nil || val.ListLen() == 0 {
				return err
			}
			if _, err := mapOf(view{tx}, claimsKey); err != nil {
				return err
			}
			pos := 0
			if !left {
				pos = val.ListLen() - 1
			}
			id, _ := val.ListID(pos)
			elems, err := tx.ListPop(key, left, 1)
			if err != nil {
				return err
			}
			field = claimField(id)
			claim = fmt.Sprintf("%016x.%016x", tx.Now(), rand.Uint64())
			if _, err := tx.MapSet(claimsKey, field, []byte(claim)); err != nil {
				return err
			}
			if _, err := tx.Expire(claimsKey, tx.Now()+uint64(ClaimTTL/time.Millisecond)); err != nil {
				return err
			}
			elem = bytes.Clone(elems[0])
			return nil
		})
		switch {
		case err != nil:
			c.out.WriteError(s.claimError(ctx, err))
			return
		case claim == "":
			c.out.WriteNull() // empty list, as LPOP
			return
		}
		c.lastToken = tok
		won, err := s.judgeClaim(ctx, tok, claimsKey, field, claim)
		if err != nil {
			c.out.WriteError(s.claimError(ctx, err))
			return
		}
		if won {
			c.out.WriteBulk(elem)
			// Forget the element's claims; a failure only leaves them
			// to the hash's deadline.
			_, _ = s.backend.Update(c.ctx, func(tx *crdt.Builder) error {
				if v, err := mapOf(view{tx}, claimsKey); err != nil || v == nil {
					return err
				}
				_, err := tx.MapDelete(claimsKey, field)
				return err
			})
			return
		}
	}
}

func (s *Server) claimError(ctx context.Context, err error) string {
	if ctx.Err() != nil && s.ctx.Err() == nil {
		return string(errClaimTimeout)
	}
	return s.errorText(err)
}

// judgeClaim waits until every claim concurrent with ours is known here
// (steps 2 and 3 of the pop-once) and reports whether ours is the winner.
func (s *Server) judgeClaim(ctx context.Context, tok api.Token, claimsKey, field []byte, claim string) (bool, error) {
	if _, err := s.backend.Wait(ctx, tok, 0); err != nil {
		return false, err
	}
	want := map[string]uint64{}
	for _, m := range s.backend.Status().Members {
		if m.State == "removed" || m.State == "left" {
			continue
		}
		want[m.Name] = m.Applied[m.Name]
	}
	for {
		have := s.backend.Status().Applied
		caught := true
		for name, n := range want {
			if have[name] < n {
				caught = false
				break
			}
		}
		if caught {
			break
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(claimPollInterval):
		}
	}
	winner := ""
	err := s.backend.View(func(ks *crdt.Keyspace) error {
		v := readView(ks).get(claimsKey)
		if v.Type() != crdt.TypeMap {
			return nil
		}
		for _, sib := range v.Field(field).Siblings() {
			if winner == "" || string(sib.Value) < winner {
				winner = string(sib.Value)
			}
		}
		return nil
	})
	return winner == claim, err
}

// claimCommands are the pop-once entries of the command table.
var claimCommands = []*command{
	{name: "spook.lpoponce", arity: 2, flags: flagWrite, first: 1, last: 1, step: 1, conn: cmdLPopOnce},
	{name: "spook.rpoponce", arity: 2, flags: flagWrite, first: 1, last: 1, step: 1, conn: cmdRPopOnce},
}
