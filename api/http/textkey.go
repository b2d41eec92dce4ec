package httpapi

import (
	"errors"
	"time"

	"github.com/spooksystems/spook/crdt"
)

// readText returns the text at v (nil: no key) as code points and whether
// the key holds one: an absent or emptied key reads as no text, a key of
// another type as errWrongType. Within a transaction pass Builder.Get's
// value; in a view, liveValue's.
func readText(v *crdt.Value) ([]rune, bool, error) {
	switch {
	case v == nil || v.Type() == crdt.TypeNone:
		return nil, false, nil
	case v.Type() != crdt.TypeText:
		return nil, false, errWrongType
	}
	return []rune(v.Text()), true, nil
}

// liveValue is ks's value at key, nil when it has expired by this node's
// clock (an expired key reads as absent: docs/semantics.md).
func liveValue(ks *crdt.Keyspace, key []byte) *crdt.Value {
	if v := ks.Get(key); v != nil && !v.Expired(uint64(time.Now().UnixMilli())) {
		return v
	}
	return nil
}

// insertText and deleteText are the crdt's text operations, with a
// position outside the text or bytes that are not UTF-8 as 400
// bad_request (the crdt's other errors classify as usual).
func insertText(b *crdt.Builder, key []byte, pos int, s string) error {
	_, err := b.TextInsert(key, pos, []byte(s))
	return textError(err)
}

func deleteText(b *crdt.Builder, key []byte, pos, n int) error {
	_, err := b.TextDelete(key, pos, n)
	return textError(err)
}

func textError(err error) error {
	if errors.Is(err, crdt.ErrRange) || errors.Is(err, crdt.ErrNotText) {
		return badOp("%v", err)
	}
	return err
}
