package resp

import (
	"bytes"
	"math"
	"strconv"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Strings. A Redis string is a crdt register or a counter: INCR turns an
// integer register into a counter (crdt.Builder.Increment), GET of a
// counter returns its decimal text, TYPE of both is "string".

// stringBytes returns the string a client sees for v, or false if v is a
// set or a hash. scratch receives a counter's decimal text.
func stringBytes(v *crdt.Value, scratch []byte) ([]byte, bool) {
	switch v.Type() {
	case crdt.TypeRegister:
		b, _ := v.Register()
		return b, true
	case crdt.TypeCounter:
		n, _ := v.Counter()
		return strconv.AppendInt(scratch[:0], n, 10), true
	}
	return nil, false
}

// appendString appends v's string as a bulk, or reports false for a set or
// a hash.
func appendString(out []byte, v *crdt.Value) ([]byte, bool) {
	switch v.Type() {
	case crdt.TypeRegister:
		b, _ := v.Register()
		return redcon.AppendBulk(out, b), true
	case crdt.TypeCounter:
		n, _ := v.Counter()
		return redcon.AppendBulkInt(out, n), true
	}
	return out, false
}

// isString reports whether v (non-nil) is a Redis string.
func isString(v *crdt.Value) bool {
	t := v.Type()
	return t == crdt.TypeRegister || t == crdt.TypeCounter
}

// parseInt parses a Redis integer argument as Redis's string2ll: optional
// '-', decimal digits without leading zeros, within int64 (no '+', no
// spaces, no "-0").
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 20 || b[0] == '+' {
		return 0, errNotInteger
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, errNotInteger
	}
	digits := b
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if digits[0] == '0' && len(b) > 1 {
		return 0, errNotInteger // "007", "-0"
	}
	return n, nil
}

func readPing(_ view, args [][]byte, out []byte) []byte {
	if len(args) > 1 {
		return redcon.AppendBulk(out, args[1])
	}
	return redcon.AppendString(out, "PONG")
}

func readEcho(_ view, args [][]byte, out []byte) []byte {
	return redcon.AppendBulk(out, args[1])
}

func readOK(_ view, _ [][]byte, out []byte) []byte { return redcon.AppendOK(out) }

func readGet(v view, args [][]byte, out []byte) []byte {
	val := v.get(args[1])
	if val == nil {
		return redcon.AppendNull(out)
	}
	res, ok := appendString(out, val)
	if !ok {
		return redcon.AppendError(out, string(errWrongType))
	}
	return res
}

func readMGet(v view, args [][]byte, out []byte) []byte {
	out = redcon.AppendArray(out, len(args)-1)
	for _, key := range args[1:] {
		val := v.get(key)
		if val == nil {
			out = redcon.AppendNull(out)
			continue
		}
		res, ok := appendString(out, val)
		if !ok {
			res = redcon.AppendNull(out) // MGET answers nil for other types
		}
		out = res
	}
	return out
}

func readStrlen(v view, args [][]byte, out []byte) []byte {
	val := v.get(args[1])
	if val == nil {
		return redcon.AppendInt(out, 0)
	}
	var scratch [20]byte
	s, ok := stringBytes(val, scratch[:])
	if !ok {
		return redcon.AppendError(out, string(errWrongType))
	}
	return redcon.AppendInt(out, int64(len(s)))
}

func readSiblings(v view, args [][]byte, out []byte) []byte {
	val := v.get(args[1])
	if val == nil {
		return redcon.AppendArray(out, 0)
	}
	switch val.Type() {
	case crdt.TypeRegister:
		sibs := val.Siblings()
		out = redcon.AppendArray(out, len(sibs))
		for _, s := range sibs {
			out = redcon.AppendBulk(out, s.Value)
		}
		return out
	case crdt.TypeCounter:
		n, _ := val.Counter()
		return redcon.AppendBulkInt(redcon.AppendArray(out, 1), n)
	}
	return redcon.AppendError(out, string(errWrongType))
}

// setOptions holds SET's options.
type setOptions struct {
	nx, xx, get bool
	expiry      expiryOption
}

// parseSetOptions parses SET's options (args[3:]) as Redis does: the
// combination first (syntax errors), then the time argument.
func parseSetOptions(args [][]byte) (setOptions, error) {
	var o setOptions
	for i := 3; i < len(args); i++ {
		switch string(bytes.ToUpper(args[i])) {
		case "NX":
			if o.xx {
				return o, errSyntax
			}
			o.nx = true
		case "XX":
			if o.nx {
				return o, errSyntax
			}
			o.xx = true
		case "GET":
			o.get = true
		default:
			n := o.expiry.parse(args, i, true, false)
			if n == 0 {
				return o, errSyntax
			}
			i += n - 1
		}
	}
	return o, nil
}

func writeSet(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if len(args) == 3 {
		// The common plain SET: no read of the current value.
		if err := checkKey(args[1]); err != nil {
			return out, err
		}
		if err := checkValue(args[2]); err != nil {
			return out, err
		}
		if err := tx.Set(args[1], args[2]); err != nil {
			return out, mutationError(err)
		}
		return redcon.AppendOK(out), nil
	}
	o, err := parseSetOptions(args)
	if err != nil {
		return out, err
	}
	return set(tx, args[1], args[2], o, out)
}

// set is SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL].
func set(tx *crdt.Builder, key, value []byte, o setOptions, out []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkValue(value); err != nil {
		return out, err
	}
	var when int64
	if o.expiry.kind != "" {
		var err error
		if when, err = o.expiry.resolve("set", tx.Now()); err != nil {
			return out, err
		}
	}
	var cur *crdt.Value
	if o.nx || o.xx || o.get {
		cur = tx.Get(key)
	}
	res := out
	if o.get {
		if cur == nil {
			res = redcon.AppendNull(res)
		} else if r, ok := appendString(res, cur); ok {
			res = r // copied before Set changes the state it aliases
		} else {
			return out, errWrongType
		}
	}
	if (o.nx && cur != nil) || (o.xx && cur == nil) {
		if o.get {
			return res, nil
		}
		return redcon.AppendNull(out), nil
	}
	var err error
	if o.expiry.keepTTL {
		err = tx.SetKeepTTL(key, value)
	} else {
		err = tx.Set(key, value)
	}
	if err == nil && o.expiry.kind != "" {
		_, err = tx.Expire(key, toDeadline(when))
	}
	if err != nil {
		return out, mutationError(err)
	}
	if o.get {
		return res, nil
	}
	return redcon.AppendOK(out), nil
}

func writeGetSet(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return set(tx, args[1], args[2], setOptions{get: true}, out)
}

func writeSetNX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if err := checkKey(args[1]); err != nil {
		return out, err
	}
	if err := checkValue(args[2]); err != nil {
		return out, err
	}
	if tx.Get(args[1]) != nil {
		return redcon.AppendInt(out, 0), nil
	}
	if err := tx.Set(args[1], args[2]); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, 1), nil
}

// checkPairs validates MSET-style key value pairs.
func checkPairs(name string, args [][]byte) error {
	if len(args)%2 == 0 {
		return respErr("ERR wrong number of arguments for '" + name + "' command")
	}
	for i := 1; i < len(args); i += 2 {
		if err := checkKey(args[i]); err != nil {
			return err
		}
		if err := checkValue(args[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func writeMSet(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if err := checkPairs("mset", args); err != nil {
		return out, err
	}
	for i := 1; i < len(args); i += 2 {
		// A failure here (the transaction grew past the crdt limits)
		// may follow earlier Sets: it aborts the whole transaction.
		if err := tx.Set(args[i], args[i+1]); err != nil {
			return out, err
		}
	}
	return redcon.AppendOK(out), nil
}

func writeMSetNX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if err := checkPairs("msetnx", args); err != nil {
		return out, err
	}
	for i := 1; i < len(args); i += 2 {
		if tx.Get(args[i]) != nil {
			return redcon.AppendInt(out, 0), nil
		}
	}
	for i := 1; i < len(args); i += 2 {
		if err := tx.Set(args[i], args[i+1]); err != nil {
			return out, err
		}
	}
	return redcon.AppendInt(out, 1), nil
}

func writeAppend(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, suffix := args[1], args[2]
	if err := checkKey(key); err != nil {
		return out, err
	}
	var next []byte
	if cur := tx.Get(key); cur != nil {
		var scratch [20]byte
		s, ok := stringBytes(cur, scratch[:])
		if !ok {
			return out, errWrongType
		}
		if len(s)+len(suffix) > crdt.MaxValueBytes {
			return out, errTooLarge
		}
		next = make([]byte, 0, len(s)+len(suffix))
		next = append(append(next, s...), suffix...)
	} else {
		if err := checkValue(suffix); err != nil {
			return out, err
		}
		next = bytes.Clone(suffix)
	}
	if err := tx.SetKeepTTL(key, next); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(len(next))), nil
}

func writeIncr(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return incrBy(tx, args[1], 1, out)
}

func writeDecr(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return incrBy(tx, args[1], -1, out)
}

func writeIncrBy(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	by, err := parseInt(args[2])
	if err != nil {
		return out, err
	}
	return incrBy(tx, args[1], by, out)
}

func writeDecrBy(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	by, err := parseInt(args[2])
	if err != nil {
		return out, err
	}
	if by == math.MinInt64 {
		return out, respErr("ERR decrement would overflow")
	}
	return incrBy(tx, args[1], -by, out)
}

func incrBy(tx *crdt.Builder, key []byte, by int64, out []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return out, err
	}
	if cur := tx.Get(key); cur != nil && !isString(cur) {
		return out, errWrongType
	}
	n, err := tx.Increment(key, by)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, n), nil
}
