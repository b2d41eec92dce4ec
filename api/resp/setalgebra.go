package resp

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Set algebra and the random set commands: SINTER, SUNION, SDIFF and
// their STORE forms, SINTERCARD, SMOVE, SRANDMEMBER, SPOP, SSCAN.
//
// Results are sorted bytewise (Redis's order is its hash table's; clients
// must not rely on either). A STORE form overwrites its destination like
// SET: it removes what the writer observed there and adds the result, in
// one transaction. Random choices are made by the node that runs the
// command, from its own random source: two replicas choose independently,
// and SPOP on two replicas at once can pop the same member (both clients
// get it; it is removed once) — see docs/semantics.md.

// MaxRandomCount bounds the count of SRANDMEMBER and HRANDFIELD with a
// negative count (repetitions allowed), which Redis bounds only by memory;
// a larger count is refused with an error.
const MaxRandomCount = 1 << 20

// members returns the members of the set at key, sorted and copied (so
// they stay valid while the transaction changes the key), or
// errWrongType.
func members(v view, key []byte) ([][]byte, error) {
	val, err := setOf(v, key)
	if err != nil || val == nil {
		return nil, err
	}
	var out [][]byte
	val.Members(func(m []byte) bool {
		out = append(out, bytes.Clone(m))
		return true
	})
	return out, nil
}

// setOp is which algebra a command computes.
type setOp int

const (
	opInter setOp = iota
	opUnion
	opDiff
)

// setAlgebra computes op over the sets at keys, sorted. Every key is
// checked for its type first, so a wrong type anywhere is WRONGTYPE as in
// Redis, even after a missing key. limit > 0 stops an intersection after
// that many members (SINTERCARD).
func setAlgebra(v view, op setOp, keys [][]byte, limit int) ([][]byte, error) {
	sets := make([]*crdt.Value, len(keys))
	for i, k := range keys {
		val, err := setOf(v, k)
		if err != nil {
			return nil, err
		}
		sets[i] = val
	}
	var out [][]byte
	switch op {
	case opInter:
		smallest := -1
		for i, s := range sets {
			if s == nil {
				return nil, nil // a missing key is the empty set
			}
			if smallest < 0 || s.Len() < sets[smallest].Len() {
				smallest = i
			}
		}
		sets[smallest].Members(func(m []byte) bool {
			for i, s := range sets {
				if i != smallest && !s.Contains(m) {
					return true
				}
			}
			out = append(out, bytes.Clone(m))
			return limit <= 0 || len(out) < limit
		})
	case opUnion:
		seen := map[string]struct{}{}
		for _, s := range sets {
			s.Members(func(m []byte) bool {
				seen[string(m)] = struct{}{}
				return true
			})
		}
		for m := range seen {
			out = append(out, []byte(m))
		}
		slices.SortFunc(out, bytes.Compare)
	case opDiff:
		sets[0].Members(func(m []byte) bool {
			for _, s := range sets[1:] {
				if s.Contains(m) {
					return true
				}
			}
			out = append(out, bytes.Clone(m))
			return true
		})
	}
	return out, nil
}

func appendMembers(out []byte, ms [][]byte) []byte {
	out = redcon.AppendArray(out, len(ms))
	for _, m := range ms {
		out = redcon.AppendBulk(out, m)
	}
	return out
}

func readSetAlgebra(op setOp) func(v view, args [][]byte, out []byte) []byte {
	return func(v view, args [][]byte, out []byte) []byte {
		ms, err := setAlgebra(v, op, args[1:], 0)
		if err != nil {
			return redcon.AppendError(out, err.Error())
		}
		return appendMembers(out, ms)
	}
}

func writeSetAlgebraStore(op setOp) func(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return func(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
		dst := args[1]
		if err := checkKey(dst); err != nil {
			return out, err
		}
		ms, err := setAlgebra(view{tx}, op, args[2:], 0)
		if err != nil {
			return out, err
		}
		if err := storeSet(tx, dst, ms); err != nil {
			return out, err
		}
		return redcon.AppendInt(out, int64(len(ms))), nil
	}
}

// storeSet overwrites dst with a set of ms (deletes it if ms is empty).
// A failure after the delete aborts the transaction.
func storeSet(tx *crdt.Builder, dst []byte, ms [][]byte) error {
	if tx.Get(dst) != nil {
		if err := tx.Delete(dst); err != nil {
			return mutationError(err)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	_, err := tx.SetAdd(dst, ms...)
	return err
}

func readSInterCard(v view, args [][]byte, out []byte) []byte {
	n, err := parseInt(args[1])
	if err != nil || n <= 0 {
		return redcon.AppendError(out, "ERR numkeys should be greater than 0")
	}
	if n > int64(len(args)-2) {
		return redcon.AppendError(out, "ERR Number of keys can't be greater than number of args")
	}
	limit := int64(0)
	for i := 2 + int(n); i < len(args); i++ {
		if !strings.EqualFold(string(args[i]), "limit") || i+1 == len(args) {
			return redcon.AppendError(out, string(errSyntax))
		}
		limit, err = parseInt(args[i+1])
		if err != nil || limit < 0 {
			return redcon.AppendError(out, "ERR LIMIT can't be negative")
		}
		i++
	}
	ms, err := setAlgebra(v, opInter, args[2:2+n], int(min(limit, 1<<62)))
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendInt(out, int64(len(ms)))
}

func writeSMove(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	src, dst, m := args[1], args[2], args[3]
	if err := checkKey(src); err != nil {
		return out, err
	}
	if err := checkKey(dst); err != nil {
		return out, err
	}
	if err := checkValue(m); err != nil {
		return out, err
	}
	if tx.Get(src) == nil {
		return redcon.AppendInt(out, 0), nil // as Redis: before any type check
	}
	from, err := setOf(view{tx}, src)
	if err != nil {
		return out, err
	}
	if _, err := setOf(view{tx}, dst); err != nil {
		return out, err
	}
	if !from.Contains(m) {
		return redcon.AppendInt(out, 0), nil
	}
	if bytes.Equal(src, dst) {
		return redcon.AppendInt(out, 1), nil
	}
	if _, err := tx.SetRemove(src, m); err != nil {
		return out, mutationError(err)
	}
	if _, err := tx.SetAdd(dst, m); err != nil {
		return out, err // after the remove: abort
	}
	return redcon.AppendInt(out, 1), nil
}

// parseRandomCount parses the count of SRANDMEMBER and HRANDFIELD: an
// integer within ±(2^63−1), as Redis's range check.
func parseRandomCount(b []byte) (int64, error) {
	n, err := parseInt(b)
	if err != nil {
		return 0, err
	}
	if n == -1<<63 {
		return 0, respErr("ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807")
	}
	return n, nil
}

// randomPicks chooses count of n positions: distinct ones (at most n) for
// count ≥ 0, |count| with repetition for a negative count. Distinct picks
// come back in ascending order; repeated ones in draw order.
func randomPicks(n int, count int64) ([]int, error) {
	if count < 0 {
		if -count > MaxRandomCount {
			return nil, respErr("ERR count is larger than " + strconv.Itoa(MaxRandomCount) + " (MaxRandomCount)")
		}
		if n == 0 {
			return nil, nil
		}
		picks := make([]int, -count)
		for i := range picks {
			picks[i] = rand.IntN(n)
		}
		return picks, nil
	}
	if count >= int64(n) {
		picks := make([]int, n)
		for i := range picks {
			picks[i] = i
		}
		return picks, nil
	}
	picks := rand.Perm(n)[:count]
	slices.Sort(picks)
	return picks, nil
}

func readSRandMember(v view, args [][]byte, out []byte) []byte {
	if len(args) > 3 {
		return redcon.AppendError(out, string(errSyntax))
	}
	count := int64(1)
	if len(args) == 3 {
		var err error
		if count, err = parseRandomCount(args[2]); err != nil {
			return redcon.AppendError(out, err.Error())
		}
	}
	ms, err := members(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	picks, err := randomPicks(len(ms), count)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if len(args) == 2 {
		if len(picks) == 0 {
			return redcon.AppendNull(out)
		}
		return redcon.AppendBulk(out, ms[picks[0]])
	}
	out = redcon.AppendArray(out, len(picks))
	for _, p := range picks {
		out = redcon.AppendBulk(out, ms[p])
	}
	return out
}

func writeSPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if len(args) > 3 {
		return out, errSyntax
	}
	count := int64(1)
	if len(args) == 3 {
		n, err := parseInt(args[2])
		if err != nil || n < 0 {
			return out, respErr("ERR value is out of range, must be positive")
		}
		count = n
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	ms, err := members(view{tx}, key)
	if err != nil {
		return out, err
	}
	picks, _ := randomPicks(len(ms), count) // count ≥ 0: no error
	popped := make([][]byte, len(picks))
	for i, p := range picks {
		popped[i] = ms[p]
	}
	if len(popped) > 0 {
		if _, err := tx.SetRemove(key, popped...); err != nil {
			return out, mutationError(err)
		}
	}
	if len(args) == 2 {
		if len(popped) == 0 {
			return redcon.AppendNull(out), nil
		}
		return redcon.AppendBulk(out, popped[0]), nil
	}
	return appendMembers(out, popped), nil
}

// parseCursor parses a SCAN-family cursor as Redis 7.0 does (strtoul): an
// optional sign, decimal digits, nothing else; a negative cursor wraps
// (SCAN -1 is cursor 2^64−1, past every position).
func parseCursor(b []byte) (uint64, error) {
	s := string(b)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" && len(b) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, respErr("ERR invalid cursor")
	}
	if neg {
		n = -n
	}
	return n, nil
}

// scanOptions are SSCAN's and HSCAN's MATCH and COUNT.
type scanOptions struct {
	pattern []byte
	count   int64
}

func parseScanOptions(args [][]byte) (scanOptions, error) {
	o := scanOptions{count: 10}
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			return o, errSyntax
		}
		switch strings.ToLower(string(args[i])) {
		case "match":
			o.pattern = args[i+1]
		case "count":
			n, err := parseInt(args[i+1])
			if err != nil {
				return o, errNotInteger
			}
			if n < 1 {
				return o, errSyntax
			}
			o.count = n
		default:
			return o, errSyntax
		}
	}
	o.count = min(o.count, MaxScanCount)
	return o, nil
}

// MaxScanWhole is the size up to which SSCAN and HSCAN return a whole
// set or hash in one reply with cursor 0, whatever the cursor and COUNT:
// what Redis does for collections in its small encodings (128 entries is
// its default listpack threshold), so clients see the same replies.
const MaxScanWhole = 128

// scanPage returns the page of a sorted collection of n elements that a
// cursor starts: positions [from, to) and the next cursor (0 at the end).
// A cursor is the position of the next element in sorted order, so an
// element present for the whole scan is returned once, and elements added
// or removed meanwhile can shift others by as many positions. A
// collection of at most MaxScanWhole elements comes back whole.
func scanPage(n int, cursor uint64, count int64) (from, to int, next uint64) {
	if n <= MaxScanWhole {
		return 0, n, 0
	}
	if cursor >= uint64(n) {
		return n, n, 0
	}
	from = int(cursor)
	to = int(min(int64(from)+count, int64(n)))
	if to < n {
		next = uint64(to)
	}
	return from, to, next
}

// parseScanArgs reads the cursor and options of SSCAN and HSCAN (key
// cursor [MATCH pattern] [COUNT count]).
func parseScanArgs(args [][]byte) (uint64, scanOptions, error) {
	cursor, err := parseCursor(args[2])
	if err != nil {
		return 0, scanOptions{}, err
	}
	o, err := parseScanOptions(args[3:])
	return cursor, o, err
}

func readSScan(v view, args [][]byte, out []byte) []byte {
	cursor, o, err := parseScanArgs(args)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	ms, err := members(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	from, to, next := scanPage(len(ms), cursor, o.count)
	var page [][]byte
	for _, m := range ms[from:to] {
		if o.pattern == nil || globMatch(o.pattern, m) {
			page = append(page, m)
		}
	}
	out = redcon.AppendArray(out, 2)
	out = redcon.AppendBulkString(out, strconv.FormatUint(next, 10))
	return appendMembers(out, page)
}
