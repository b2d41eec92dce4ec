package resp

import (
	"strconv"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Keys, sets and hashes.

func writeDel(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	for _, key := range args[1:] {
		if err := checkKey(key); err != nil {
			return out, err
		}
	}
	n := int64(0)
	for _, key := range args[1:] {
		if tx.Get(key) == nil {
			continue // absent, or named twice
		}
		if err := tx.Delete(key); err != nil {
			return out, err // may follow earlier deletes: abort
		}
		n++
	}
	return redcon.AppendInt(out, n), nil
}

func readExists(v view, args [][]byte, out []byte) []byte {
	n := int64(0)
	for _, key := range args[1:] {
		if v.get(key) != nil {
			n++
		}
	}
	return redcon.AppendInt(out, n)
}

// typeName is the Redis type name of v (nil: "none").
func typeName(v *crdt.Value) string {
	if v == nil {
		return "none"
	}
	switch v.Type() {
	case crdt.TypeRegister, crdt.TypeCounter:
		return "string"
	case crdt.TypeSet:
		return "set"
	case crdt.TypeMap:
		return "hash"
	case crdt.TypeZSet:
		return "zset"
	case crdt.TypeText:
		return "text"
	case crdt.TypeStream:
		return "stream"
	case crdt.TypeList:
		return "list"
	case crdt.TypeBCounter:
		return "bcounter"
	}
	return "none"
}

func readType(v view, args [][]byte, out []byte) []byte {
	return redcon.AppendString(out, typeName(v.get(args[1])))
}

// readTTL is TTL and PTTL: -2 for a missing key, -1 (no expiry) for any
// other, since Spook has no TTLs yet.
// Sets.

// setOf returns the set at key: nil if absent, errWrongType if another
// type.
func setOf(v view, key []byte) (*crdt.Value, error) {
	val := v.get(key)
	if val != nil && val.Type() != crdt.TypeSet {
		return nil, errWrongType
	}
	return val, nil
}

func writeSAdd(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	if _, err := setOf(view{tx}, key); err != nil {
		return out, err
	}
	for _, m := range args[2:] {
		if err := checkValue(m); err != nil {
			return out, err
		}
	}
	n, err := tx.SetAdd(key, args[2:]...)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

func writeSRem(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	cur, err := setOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if cur == nil {
		return redcon.AppendInt(out, 0), nil
	}
	n, err := tx.SetRemove(key, args[2:]...)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

func readSMembers(v view, args [][]byte, out []byte) []byte {
	val, err := setOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if val == nil {
		return redcon.AppendArray(out, 0)
	}
	n := 0
	val.Members(func([]byte) bool { n++; return true })
	out = redcon.AppendArray(out, n)
	val.Members(func(m []byte) bool { out = redcon.AppendBulk(out, m); return true })
	return out
}

func readSIsMember(v view, args [][]byte, out []byte) []byte {
	val, err := setOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendInt(out, b2i(val != nil && val.Contains(args[2])))
}

func readSMIsMember(v view, args [][]byte, out []byte) []byte {
	val, err := setOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	out = redcon.AppendArray(out, len(args)-2)
	for _, m := range args[2:] {
		out = redcon.AppendInt(out, b2i(val != nil && val.Contains(m)))
	}
	return out
}

func readSCard(v view, args [][]byte, out []byte) []byte {
	val, err := setOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if val == nil {
		return redcon.AppendInt(out, 0)
	}
	return redcon.AppendInt(out, int64(val.Len()))
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Hashes: crdt maps whose fields hold registers (HSET) or counters
// (HINCRBY).

// mapOf returns the map at key: nil if absent, errWrongType if another
// type.
func mapOf(v view, key []byte) (*crdt.Value, error) {
	val := v.get(key)
	if val != nil && val.Type() != crdt.TypeMap {
		return nil, errWrongType
	}
	return val, nil
}

// appendField appends a field's value as a bulk: a register's value or a
// counter's decimal text; anything else (absent) as a null.
func appendField(out []byte, f *crdt.Value) []byte {
	if f != nil {
		if res, ok := appendString(out, f); ok {
			return res
		}
	}
	return redcon.AppendNull(out)
}

func hset(tx *crdt.Builder, name string, args [][]byte) (int64, error) {
	key := args[1]
	if len(args)%2 != 0 {
		return 0, respErr("ERR wrong number of arguments for '" + name + "' command")
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if _, err := mapOf(view{tx}, key); err != nil {
		return 0, err
	}
	for i := 2; i < len(args); i += 2 {
		if err := checkField(args[i]); err != nil {
			return 0, err
		}
		if err := checkValue(args[i+1]); err != nil {
			return 0, err
		}
	}
	n := int64(0)
	for i := 2; i < len(args); i += 2 {
		added, err := tx.MapSet(key, args[i], args[i+1])
		if err != nil {
			return 0, err // may follow earlier fields: abort
		}
		n += b2i(added)
	}
	return n, nil
}

func writeHSet(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	n, err := hset(tx, "hset", args)
	if err != nil {
		return out, err
	}
	return redcon.AppendInt(out, n), nil
}

func writeHMSet(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if _, err := hset(tx, "hmset", args); err != nil {
		return out, err
	}
	return redcon.AppendOK(out), nil
}

func writeHSetNX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, field, value := args[1], args[2], args[3]
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkField(field); err != nil {
		return out, err
	}
	if err := checkValue(value); err != nil {
		return out, err
	}
	cur, err := mapOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if cur != nil && cur.Field(field) != nil {
		return redcon.AppendInt(out, 0), nil
	}
	if _, err := tx.MapSet(key, field, value); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, 1), nil
}

func readHGet(v view, args [][]byte, out []byte) []byte {
	val, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if val == nil {
		return redcon.AppendNull(out)
	}
	return appendField(out, val.Field(args[2]))
}

func readHMGet(v view, args [][]byte, out []byte) []byte {
	val, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	out = redcon.AppendArray(out, len(args)-2)
	for _, f := range args[2:] {
		if val == nil {
			out = redcon.AppendNull(out)
			continue
		}
		out = appendField(out, val.Field(f))
	}
	return out
}

func writeHDel(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	cur, err := mapOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if cur == nil {
		return redcon.AppendInt(out, 0), nil
	}
	n, err := tx.MapDelete(key, args[2:]...)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

// appendFields appends the map's fields as an array: names, values or
// name-value pairs.
func appendFields(out []byte, val *crdt.Value, names, values bool) []byte {
	if val == nil {
		return redcon.AppendArray(out, 0)
	}
	n := 0
	val.Fields(func([]byte, *crdt.Value) bool { n++; return true })
	per := 0
	if names {
		per++
	}
	if values {
		per++
	}
	out = redcon.AppendArray(out, n*per)
	val.Fields(func(name []byte, f *crdt.Value) bool {
		if names {
			out = redcon.AppendBulk(out, name)
		}
		if values {
			out = appendField(out, f)
		}
		return true
	})
	return out
}

func readHGetAll(v view, args [][]byte, out []byte) []byte {
	val, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return appendFields(out, val, true, true)
}

func readHKeys(v view, args [][]byte, out []byte) []byte {
	val, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return appendFields(out, val, true, false)
}

func readHVals(v view, args [][]byte, out []byte) []byte {
	val, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return appendFields(out, val, false, true)
}

func readHLen(v view, args [][]byte, out []byte) []byte {
	val, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if val == nil {
		return redcon.AppendInt(out, 0)
	}
	return redcon.AppendInt(out, int64(val.Len()))
}

func readHExists(v view, args [][]byte, out []byte) []byte {
	val, err := mapOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendInt(out, b2i(val != nil && val.Field(args[2]) != nil))
}

func writeHIncrBy(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, field := args[1], args[2]
	by, err := parseInt(args[3])
	if err != nil {
		return out, err
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkField(field); err != nil {
		return out, err
	}
	cur, err := mapOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if cur != nil {
		if f := cur.Field(field); f != nil && !isString(f) {
			return out, errHashInteger
		}
	}
	n, err := tx.MapIncrement(key, field, by)
	switch {
	case err == nil:
		return redcon.AppendInt(out, n), nil
	case errorText(err) == string(errNotInteger):
		return out, errHashInteger
	}
	return out, mutationError(err)
}

// formatInt is strconv.FormatInt, named for the replies that need text.
func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
