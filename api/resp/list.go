package resp

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Lists: LPUSH, RPUSH, LPUSHX, RPUSHX, LRANGE, LINDEX, LLEN, LINSERT, LSET,
// LREM, LTRIM, LPOS, LPOP, RPOP, LMOVE, RPOPLPUSH, and the blocking BLPOP,
// BRPOP, BLMOVE (waiting on this node, blocking.go). A list is crdt's
// sequence (crdt/list.go): positions are translated to element identities
// where a command runs, so a concurrent push or insert elsewhere is never
// lost, and two replicas that pop one element at once both return it while
// it is removed once (docs/semantics.md). SPOOK.LPOPONCE and
// SPOOK.RPOPONCE are pops that never deliver an element twice
// (claimpop.go).

// Error replies of the list commands, with Redis's texts.
const (
	errNoSuchKey      respErr = "ERR no such key"
	errIndexRange     respErr = "ERR index out of range"
	errPositive       respErr = "ERR value is out of range, must be positive"
	errTimeoutFloat   respErr = "ERR timeout is not a float or out of range"
	errRankZero       respErr = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
	errCountNegative  respErr = "ERR COUNT can't be negative"
	errMaxLenNegLPos  respErr = "ERR MAXLEN can't be negative"
	errRankOutOfRange respErr = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)

// listOf returns the list at key: nil if absent, errWrongType if another
// type.
func listOf(v view, key []byte) (*crdt.Value, error) {
	val := v.get(key)
	if val != nil && val.Type() != crdt.TypeList {
		return nil, errWrongType
	}
	return val, nil
}

// listIndex translates a Redis index (negative from the tail) to a
// position, which may lie outside [0, n).
func listIndex(i int64, n int) int64 {
	if i < 0 {
		i += int64(n)
	}
	return i
}

// listRange translates LRANGE/LTRIM bounds to [from, to) positions, empty
// when from ≥ to.
func listRange(start, stop int64, n int) (int, int) {
	if start < 0 {
		start = max(start+int64(n), 0)
	}
	if stop < 0 {
		stop += int64(n)
	}
	if start > stop || start >= int64(n) {
		return 0, 0
	}
	stop = min(stop, int64(n)-1)
	return int(start), int(stop) + 1
}

func push(tx *crdt.Builder, args [][]byte, out []byte, left, onlyIfExists bool) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	for _, e := range args[2:] {
		if err := checkValue(e); err != nil {
			return out, err
		}
	}
	val, err := listOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil && onlyIfExists {
		return redcon.AppendInt(out, 0), nil
	}
	n, err := tx.ListPush(key, left, args[2:]...)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

func writeLPush(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return push(tx, args, out, true, false)
}

func writeRPush(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return push(tx, args, out, false, false)
}

func writeLPushX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return push(tx, args, out, true, true)
}

func writeRPushX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return push(tx, args, out, false, true)
}

func readLLen(v view, args [][]byte, out []byte) []byte {
	val, err := listOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendInt(out, int64(val.ListLen()))
}

func readLRange(v view, args [][]byte, out []byte) []byte {
	start, err1 := parseInt(args[2])
	stop, err2 := parseInt(args[3])
	if err1 != nil || err2 != nil {
		return redcon.AppendError(out, string(errNotInteger))
	}
	val, err := listOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	from, to := listRange(start, stop, val.ListLen())
	out = redcon.AppendArray(out, to-from)
	val.ListRange(from, to, func(_ int, e []byte) bool {
		out = redcon.AppendBulk(out, e)
		return true
	})
	return out
}

func readLIndex(v view, args [][]byte, out []byte) []byte {
	// Redis looks the key up before it parses the index.
	val, err := listOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if val == nil {
		return redcon.AppendNull(out)
	}
	i, err := parseInt(args[2])
	if err != nil {
		return redcon.AppendError(out, string(errNotInteger))
	}
	pos := listIndex(i, val.ListLen())
	if pos < 0 || pos >= int64(val.ListLen()) {
		return redcon.AppendNull(out)
	}
	e, _ := val.ListIndex(int(pos))
	return redcon.AppendBulk(out, e)
}

func writeLInsert(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, pivot, elem := args[1], args[3], args[4]
	var after bool
	switch {
	case bytes.EqualFold(args[2], []byte("before")):
	case bytes.EqualFold(args[2], []byte("after")):
		after = true
	default:
		return out, errSyntax
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkValue(elem); err != nil {
		return out, err
	}
	val, err := listOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil {
		return redcon.AppendInt(out, 0), nil
	}
	pos := -1
	val.ListRange(0, val.ListLen(), func(i int, e []byte) bool {
		if bytes.Equal(e, pivot) {
			pos = i
			return false
		}
		return true
	})
	if pos < 0 {
		return redcon.AppendInt(out, -1), nil
	}
	if after {
		pos++
	}
	n, err := tx.ListInsert(key, pos, elem)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

func writeLSet(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	// Redis looks the key up before it parses the index.
	val, err := listOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil {
		return out, errNoSuchKey
	}
	i, err := parseInt(args[2])
	if err != nil {
		return out, err
	}
	if err := checkValue(args[3]); err != nil {
		return out, err
	}
	pos := listIndex(i, val.ListLen())
	if pos < 0 || pos >= int64(val.ListLen()) {
		return out, errIndexRange
	}
	if err := tx.ListSet(key, int(pos), args[3]); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendOK(out), nil
}

func writeLRem(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, elem := args[1], args[3]
	if err := checkKey(key); err != nil {
		return out, err
	}
	count, err := parseInt(args[2])
	if err != nil {
		return out, err
	}
	val, err := listOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil {
		return redcon.AppendInt(out, 0), nil
	}
	var matches []int
	val.ListRange(0, val.ListLen(), func(i int, e []byte) bool {
		if bytes.Equal(e, elem) {
			matches = append(matches, i)
		}
		return true
	})
	switch {
	case count > 0 && int64(len(matches)) > count:
		matches = matches[:count]
	case count < 0 && int64(len(matches)) > -count:
		matches = matches[int64(len(matches))+count:]
	}
	if len(matches) == 0 {
		return redcon.AppendInt(out, 0), nil
	}
	n, err := tx.ListRemove(key, matches...)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

func writeLTrim(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	start, err1 := parseInt(args[2])
	stop, err2 := parseInt(args[3])
	if err1 != nil || err2 != nil {
		return out, errNotInteger
	}
	val, err := listOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil {
		return redcon.AppendOK(out), nil
	}
	from, to := listRange(start, stop, val.ListLen())
	if from == 0 && to == val.ListLen() {
		return redcon.AppendOK(out), nil
	}
	if _, err := tx.ListTrim(key, from, to); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendOK(out), nil
}

func readLPos(v view, args [][]byte, out []byte) []byte {
	rank, count, maxLen := int64(1), int64(-1), int64(0)
	for i := 3; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return redcon.AppendError(out, string(errSyntax))
		}
		n, err := parseInt(args[i+1])
		opt := string(bytes.ToLower(args[i]))
		if err != nil && (opt == "rank" || opt == "count" || opt == "maxlen") {
			return redcon.AppendError(out, string(errNotInteger))
		}
		switch opt {
		case "rank":
			if n == math.MinInt64 {
				return redcon.AppendError(out, string(errRankOutOfRange))
			}
			if n == 0 {
				return redcon.AppendError(out, string(errRankZero))
			}
			rank = n
		case "count":
			if n < 0 {
				return redcon.AppendError(out, string(errCountNegative))
			}
			count = n
		case "maxlen":
			if n < 0 {
				return redcon.AppendError(out, string(errMaxLenNegLPos))
			}
			maxLen = n
		default:
			return redcon.AppendError(out, string(errSyntax))
		}
	}
	val, err := listOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	var found []int64
	want := count
	if want == 0 {
		want = math.MaxInt64
	} else if want < 0 {
		want = 1
	}
	if n := val.ListLen(); n > 0 {
		elems := val.List()
		skip := rank - 1
		step, i := 1, 0
		if rank < 0 {
			skip, step, i = -rank-1, -1, n-1
		}
		for seen := int64(0); i >= 0 && i < n && int64(len(found)) < want; i += step {
			if maxLen > 0 && seen >= maxLen {
				break
			}
			seen++
			if !bytes.Equal(elems[i], args[2]) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			found = append(found, int64(i))
		}
	}
	if count < 0 {
		if len(found) == 0 {
			return redcon.AppendNull(out)
		}
		return redcon.AppendInt(out, found[0])
	}
	out = redcon.AppendArray(out, len(found))
	for _, p := range found {
		out = redcon.AppendInt(out, p)
	}
	return out
}

// pop is LPOP and RPOP: one element as a bulk, or with a count an array.
func pop(tx *crdt.Builder, args [][]byte, out []byte, left bool) ([]byte, error) {
	key := args[1]
	if len(args) > 3 {
		return out, respErr("ERR wrong number of arguments for '" + map[bool]string{true: "lpop", false: "rpop"}[left] + "' command")
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	hasCount := len(args) == 3
	count := int64(1)
	if hasCount {
		n, err := parseInt(args[2])
		if err != nil || n < 0 {
			return out, errPositive
		}
		count = n
	}
	val, err := listOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil {
		if hasCount {
			return append(out, "*-1\r\n"...), nil
		}
		return redcon.AppendNull(out), nil
	}
	if count == 0 {
		return redcon.AppendArray(out, 0), nil
	}
	elems, err := tx.ListPop(key, left, int(min(count, math.MaxInt32)))
	if err != nil {
		return out, mutationError(err)
	}
	if !hasCount {
		return redcon.AppendBulk(out, elems[0]), nil
	}
	out = redcon.AppendArray(out, len(elems))
	for _, e := range elems {
		out = redcon.AppendBulk(out, e)
	}
	return out, nil
}

func writeLPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return pop(tx, args, out, true)
}

func writeRPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return pop(tx, args, out, false)
}

// parseWhere reads LEFT or RIGHT.
func parseWhere(b []byte) (left bool, err error) {
	switch {
	case bytes.EqualFold(b, []byte("left")):
		return true, nil
	case bytes.EqualFold(b, []byte("right")):
		return false, nil
	}
	return false, errSyntax
}

// move pops from src (its head if fromLeft) and pushes onto dst: LMOVE.
// It appends the element, or a null when src is empty (done false).
func move(tx *crdt.Builder, src, dst []byte, fromLeft, toLeft bool, out []byte) ([]byte, bool, error) {
	if err := checkKey(src); err != nil {
		return out, false, err
	}
	if err := checkKey(dst); err != nil {
		return out, false, err
	}
	sv, err := listOf(view{tx}, src)
	if err != nil {
		return out, false, err
	}
	if sv == nil || sv.ListLen() == 0 {
		return redcon.AppendNull(out), false, nil
	}
	if _, err := listOf(view{tx}, dst); err != nil {
		return out, false, err
	}
	elems, err := tx.ListPop(src, fromLeft, 1)
	if err != nil {
		return out, false, mutationError(err)
	}
	if _, err := tx.ListPush(dst, toLeft, elems[0]); err != nil {
		return out, false, err // follows the pop: abort
	}
	return redcon.AppendBulk(out, elems[0]), true, nil
}

func writeLMove(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	fromLeft, err := parseWhere(args[3])
	if err != nil {
		return out, err
	}
	toLeft, err := parseWhere(args[4])
	if err != nil {
		return out, err
	}
	out, _, err = move(tx, args[1], args[2], fromLeft, toLeft, out)
	return out, err
}

func writeRPopLPush(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	out, _, err := move(tx, args[1], args[2], false, true, out)
	return out, err
}

// parseTimeoutSeconds reads a blocking command's timeout in seconds (a
// float, as Redis), 0 meaning no limit.
func parseTimeoutSeconds(b []byte) (time.Duration, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || len(b) == 0 || b[0] == ' ' {
		return 0, errTimeoutFloat
	}
	if f < 0 {
		return 0, errTimeoutNeg
	}
	if f > float64(math.MaxInt64/int64(time.Second)) {
		return 0, respErr("ERR timeout is out of range")
	}
	return time.Duration(f * float64(time.Second)), nil
}

// bpop tries BLPOP/BRPOP once: it pops from the first non-empty list of
// keys and appends [key, element], or appends a null array (done false).
func bpop(tx *crdt.Builder, keys [][]byte, left bool, out []byte) ([]byte, bool, error) {
	for _, key := range keys {
		if err := checkKey(key); err != nil {
			return out, false, err
		}
		val, err := listOf(view{tx}, key)
		if err != nil {
			return out, false, err
		}
		if val == nil || val.ListLen() == 0 {
			continue
		}
		elems, err := tx.ListPop(key, left, 1)
		if err != nil {
			return out, false, mutationError(err)
		}
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendBulk(out, key)
		return redcon.AppendBulk(out, elems[0]), true, nil
	}
	return append(out, "*-1\r\n"...), false, nil
}

// writeBLPop and writeBRPop are the forms inside MULTI: they never block.
func writeBLPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if _, err := parseTimeoutSeconds(args[len(args)-1]); err != nil {
		return out, err
	}
	out, _, err := bpop(tx, args[1:len(args)-1], true, out)
	return out, err
}

func writeBRPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if _, err := parseTimeoutSeconds(args[len(args)-1]); err != nil {
		return out, err
	}
	out, _, err := bpop(tx, args[1:len(args)-1], false, out)
	return out, err
}

func writeBLMove(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	fromLeft, toLeft, _, err := parseBLMove(args)
	if err != nil {
		return out, err
	}
	// Inside MULTI an empty source answers a null bulk, as in Redis.
	out, _, err = move(tx, args[1], args[2], fromLeft, toLeft, out)
	return out, err
}

func parseBLMove(args [][]byte) (fromLeft, toLeft bool, timeout time.Duration, err error) {
	if fromLeft, err = parseWhere(args[3]); err != nil {
		return
	}
	if toLeft, err = parseWhere(args[4]); err != nil {
		return
	}
	timeout, err = parseTimeoutSeconds(args[5])
	return
}

// blockingWrite runs attempt in a transaction until it reports done,
// waiting on keys between attempts (Server.block); on timeout it answers
// a null array, as Redis does.
func (s *Server) blockingWrite(c *client, keys [][]byte, timeout time.Duration, attempt func(tx *crdt.Builder, out []byte) ([]byte, bool, error)) {
	try := func() (bool, error) {
		out := c.buf[:0]
		done := false
		tok, err := s.backend.Update(c.ctx, func(tx *crdt.Builder) error {
			var err error
			out, done, err = attempt(tx, out[:0])
			if err == nil && !done && !tx.Empty() {
				return errors.New("resp: a failed attempt wrote")
			}
			return err
		})
		if err != nil {
			return false, err
		}
		if !done {
			return false, nil
		}
		if !tok.IsZero() {
			c.lastToken = tok
		}
		c.reply(out)
		return true, nil
	}
	switch err := s.block(c, keys, timeout, try); {
	case err == nil:
	case errors.Is(err, errBlockTimeout):
		c.out.WriteRaw([]byte("*-1\r\n"))
	default:
		c.out.WriteError(s.errorText(err))
	}
}

func cmdBLPop(s *Server, c *client, args [][]byte) { cmdBPop(s, c, args, true) }
func cmdBRPop(s *Server, c *client, args [][]byte) { cmdBPop(s, c, args, false) }

func cmdBPop(s *Server, c *client, args [][]byte, left bool) {
	timeout, err := parseTimeoutSeconds(args[len(args)-1])
	if err != nil {
		c.out.WriteError(err.Error())
		return
	}
	keys := args[1 : len(args)-1]
	s.blockingWrite(c, keys, timeout, func(tx *crdt.Builder, out []byte) ([]byte, bool, error) {
		return bpop(tx, keys, left, out)
	})
}

func cmdBLMove(s *Server, c *client, args [][]byte) {
	fromLeft, toLeft, timeout, err := parseBLMove(args)
	if err != nil {
		c.out.WriteError(err.Error())
		return
	}
	s.blockingWrite(c, args[1:2], timeout, func(tx *crdt.Builder, out []byte) ([]byte, bool, error) {
		return move(tx, args[1], args[2], fromLeft, toLeft, out)
	})
}

// listCommands are the list entries of the command table.
var listCommands = []*command{
	{name: "lpush", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeLPush},
	{name: "rpush", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeRPush},
	{name: "lpushx", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeLPushX},
	{name: "rpushx", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeRPushX},
	{name: "llen", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readLLen},
	{name: "lrange", arity: 4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readLRange},
	{name: "lindex", arity: 3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readLIndex},
	{name: "linsert", arity: 5, flags: flagWrite, first: 1, last: 1, step: 1, write: writeLInsert},
	{name: "lset", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeLSet},
	{name: "lrem", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeLRem},
	{name: "ltrim", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeLTrim},
	{name: "lpos", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readLPos},
	{name: "lpop", arity: -2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeLPop},
	{name: "rpop", arity: -2, flags: flagWrite, first: 1, last: 1, step: 1, write: writeRPop},
	{name: "lmove", arity: 5, flags: flagWrite, first: 1, last: 2, step: 1, write: writeLMove},
	{name: "rpoplpush", arity: 3, flags: flagWrite, first: 1, last: 2, step: 1, write: writeRPopLPush},
	{name: "blpop", arity: -3, flags: flagWrite, first: 1, last: -2, step: 1, conn: cmdBLPop, write: writeBLPop},
	{name: "brpop", arity: -3, flags: flagWrite, first: 1, last: -2, step: 1, conn: cmdBRPop, write: writeBRPop},
	{name: "blmove", arity: 6, flags: flagWrite, first: 1, last: 2, step: 1, conn: cmdBLMove, write: writeBLMove},
}
