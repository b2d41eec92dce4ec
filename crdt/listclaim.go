package crdt

import "github.com/spooksystems/spook/seq"

// ListID returns the identity of the list element at position pos (the
// dot that inserted it and its offset), the same on every replica that
// holds it, or false outside the list. A claiming pop (api/resp's
// SPOOK.LPOPONCE) names the element it took by this identity.
func (v *Value) ListID(pos int) (seq.ID, bool) {
	s := v.listSeq()
	if s == nil || pos < 0 || pos >= s.Len() {
		return seq.ID{}, false
	}
	return s.At(pos), true
}
