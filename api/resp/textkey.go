package resp

import (
	"github.com/spooksystems/spook/crdt"
)

// textOf returns the text at key as code points: nil for an absent,
// expired or emptied key, errWrongType for another type.
func textOf(v view, key []byte) ([]rune, error) {
	val := v.get(key)
	switch {
	case val == nil || val.Expired(v.now()) || val.Type() == crdt.TypeNone:
		return nil, nil
	case val.Type() != crdt.TypeText:
		return nil, errWrongType
	}
	return []rune(val.Text()), nil
}

func insertText(tx *crdt.Builder, key []byte, pos int, s string) error {
	_, err := tx.TextInsert(key, pos, []byte(s))
	return err
}

func deleteText(tx *crdt.Builder, key []byte, pos, n int) error {
	_, err := tx.TextDelete(key, pos, n)
	return err
}
