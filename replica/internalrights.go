package replica

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Write rights of internal keys. The policy says nothing of the keys
// under InternalPrefix (policy.go), but with write rights on their
// writers are still bound, by the kind of record, whatever the policy:
//
//   - A membership record (MemberPrefix + the node's id) is its node's:
//     only that node writes it, any field. Another member may only mark
//     it removed (Remove, an operator action taken through any member):
//     a write of the status field alone, to "removed". So no member can
//     change another's address, name or region (and so redirect its
//     peers' connections), or make it look left.
//   - The checkpoint key is the checkpointer's (checkpoint.go): the
//     bootstrap member with the lowest id, the same on every node.
//   - Policy keys are checked by checkPolicyWrite.
//   - An internal key of no other kind is written by no correct member
//     and is refused.
//
// The rules read only the transaction and the bootstrap list, so every
// correct replica decides alike. A refused local write returns
// ErrNoRights; a refused remote one is not applied (EventRightsRefused),
// as for the policy's rules.

// checkInternalWrite checks txn's write of internal key k, not a policy
// key (rights on).
func (r *Replica) checkInternalWrite(txn *crdt.Txn, k []byte) error {
	origin := txn.Dot.Node
	switch {
	case bytes.Equal(k, []byte(CheckpointKey)):
		if cp := r.checkpointer(); origin != cp {
			return fmt.Errorf("%w: %s may not write the checkpoint key (the checkpointer is %s)", ErrNoRights, origin, cp)
		}
		return nil
	case bytes.HasPrefix(k, []byte(MemberPrefix)):
		id, ok := memberKeyID(k)
		if !ok {
			return fmt.Errorf("%w: %q is not a membership record", ErrNoRights, k)
		}
		if id == origin {
			return nil
		}
		fields, removal := 0, false
		plain := txn.MapFieldSets(k, func(field, value []byte) {
			fields++
			removal = bytes.Equal(field, fieldStatus) && bytes.Equal(value, []byte(statusRemoved))
		})
		if !plain || fields != 1 || !removal {
			return fmt.Errorf("%w: %s may not write %s's membership record but to mark it removed", ErrNoRights, origin, id)
		}
		return nil
	}
	return fmt.Errorf("%w: %q is an internal key of no known kind", ErrNoRights, k)
}

// memberKeyID reads the node id of a membership record's key.
func memberKeyID(key []byte) (causal.NodeID, bool) {
	digits, ok := bytes.CutPrefix(key, []byte(MemberPrefix))
	if !ok || len(digits) != 16 {
		return 0, false
	}
	var raw [8]byte
	if _, err := hex.Decode(raw[:], digits); err != nil {
		return 0, false
	}
	var id causal.NodeID
	for _, c := range raw {
		id = id<<8 | causal.NodeID(c)
	}
	return id, id != 0
}

// checkRepairInternal applies the rules above to an internal key, not a
// policy key, of an incoming state (repairrights.go): every writer dot
// new here (not in ours) must be one the rules allow: the checkpointer's
// at the checkpoint key; at a membership record, the record's node's, or
// another's only on the status field with the value "removed". It
// returns the least offending dot, or the zero dot. checkpointer is the
// checkpointer of the state's cluster.
func (r *Replica) checkRepairInternal(key []byte, v *crdt.Value, ours *causal.Context, checkpointer causal.NodeID) causal.Dot {
	if v == nil {
		return causal.Dot{}
	}
	var bad causal.Dot
	refuse := func(d causal.Dot) {
		if bad == (causal.Dot{}) || d.Less(bad) {
			bad = d
		}
	}
	allowed := func(ok func(d causal.Dot) bool) func(d causal.Dot) bool {
		return func(d causal.Dot) bool {
			if !ours.Contains(d) && !ok(d) {
				refuse(d)
			}
			return true
		}
	}
	switch {
	case bytes.Equal(key, []byte(CheckpointKey)):
		v.Writers(allowed(func(d causal.Dot) bool { return d.Node == checkpointer }))
	case bytes.HasPrefix(key, []byte(MemberPrefix)):
		owner, ok := memberKeyID(key)
		if !ok {
			v.Writers(allowed(func(causal.Dot) bool { return false }))
			break
		}
		// The fields' entries are all a record has; anything else at
		// the key (no correct member writes it) counts as the owner's
		// only.
		fielded := map[causal.Dot]bool{}
		v.Fields(func(name []byte, f *crdt.Value) bool {
			status := bytes.Equal(name, fieldStatus)
			for _, s := range f.Siblings() {
				fielded[s.Dot] = true
				if !ours.Contains(s.Dot) && s.Dot.Node != owner && (!status || !bytes.Equal(s.Value, []byte(statusRemoved))) {
					refuse(s.Dot)
				}
			}
			f.Writers(allowed(func(d causal.Dot) bool { return d.Node == owner || fielded[d] }))
			return true
		})
		v.Writers(allowed(func(d causal.Dot) bool { return d.Node == owner || fielded[d] }))
	default:
		v.Writers(allowed(func(causal.Dot) bool { return false }))
	}
	return bad
}
