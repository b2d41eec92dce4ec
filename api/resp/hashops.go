package resp

import (
	"bytes"
	"math/big"
	"strconv"
	"strings"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Hash commands beyond the basic ones: HINCRBYFLOAT, HRANDFIELD, HSTRLEN,
// HSCAN. HINCRBYFLOAT sets the field to the new text (a read-modify-write:
// concurrent ones resolve last-writer-wins like two HSETs); HINCRBY is
// the one that adds.

// hashField is one field as the client sees it: its name and its value's
// text (a counter field as its decimal text).
type hashField struct {
	name, value []byte
}

// hashFields returns the fields of the hash at key in name order, copied,
// or errWrongType.
func hashFields(v view, key []byte) ([]hashField, error) {
	val, err := mapOf(v, key)
	if err != nil || val == nil {
		return nil, err
	}
	var out []hashField
	val.Fields(func(name []byte, f *crdt.Value) bool {
		s, ok := stringBytes(f, nil)
		if ok {
			out = append(out, hashField{name: bytes.Clone(name), value: bytes.Clone(s)})
		}
		return true
	})
	return out, nil
}

func writeHIncrByFloat(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, field := args[1], args[2]
	by, ok := parseFloat(args[3])
	if !ok {
		return out, errNotFloat
	}
	if by.IsInf() {
		return out, respErr("ERR value is NaN or Infinity")
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkField(field); err != nil {
		return out, err
	}
	h, err := mapOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	cur := new(big.Float)
	if f := h.Field(field); f != nil {
		s, isString := stringBytes(f, nil)
		if !isString {
			return out, errHashFloat
		}
		if cur, ok = parseFloat(s); !ok {
			return out, errHashFloat
		}
	}
	next, ok := addFloats(cur, by)
	if !ok {
		return out, errNaN
	}
	if _, err := tx.MapSet(key, field, next); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendBulk(out, next), nil
}

func readHStrlen(v view, args [][]byte, out []byte) []byte {
	h, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	s, _ := stringBytes(h.Field(args[2]), make([]byte, 0, 20))
	return redcon.AppendInt(out, int64(len(s)))
}

func readHRandField(v view, args [][]byte, out []byte) []byte {
	count := int64(1)
	withValues := false
	if len(args) >= 3 {
		var err error
		if count, err = parseRandomCount(args[2]); err != nil {
			return redcon.AppendError(out, err.Error())
		}
		if len(args) > 4 || (len(args) == 4 && !strings.EqualFold(string(args[3]), "withvalues")) {
			return redcon.AppendError(out, string(errSyntax))
		}
		if len(args) == 4 {
			withValues = true
			if count < -(1<<62-1) || count > 1<<62-1 { // ±LONG_MAX/2, as Redis
				return redcon.AppendError(out, "ERR value is out of range")
			}
		}
	}
	fields, err := hashFields(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	picks, err := randomPicks(len(fields), count)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if len(args) == 2 {
		if len(picks) == 0 {
			return redcon.AppendNull(out)
		}
		return redcon.AppendBulk(out, fields[picks[0]].name)
	}
	n := len(picks)
	if withValues {
		n *= 2
	}
	out = redcon.AppendArray(out, n)
	for _, p := range picks {
		out = redcon.AppendBulk(out, fields[p].name)
		if withValues {
			out = redcon.AppendBulk(out, fields[p].value)
		}
	}
	return out
}

func readHScan(v view, args [][]byte, out []byte) []byte {
	cursor, o, err := parseScanArgs(args)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	fields, err := hashFields(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	from, to, next := scanPage(len(fields), cursor, o.count)
	var page []hashField
	for _, f := range fields[from:to] {
		if o.pattern == nil || globMatch(o.pattern, f.name) {
			page = append(page, f)
		}
	}
	out = redcon.AppendArray(out, 2)
	out = redcon.AppendBulkString(out, strconv.FormatUint(next, 10))
	out = redcon.AppendArray(out, 2*len(page))
	for _, f := range page {
		out = redcon.AppendBulk(out, f.name)
		out = redcon.AppendBulk(out, f.value)
	}
	return out
}
