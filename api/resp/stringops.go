package resp

import (
	"bytes"
	"math/big"
	"math/bits"
	"strings"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// String commands that read or rewrite part of a string: GETDEL,
// GETRANGE, SETRANGE, GETBIT, SETBIT, BITCOUNT, INCRBYFLOAT, LCS.
//
// The rewriting ones (SETRANGE, SETBIT, INCRBYFLOAT, like APPEND) read the
// string as the transaction sees it and SET the result: concurrent
// rewrites on two replicas resolve last-writer-wins like two SETs (see
// docs/semantics.md). Only INCR and its relatives merge by adding.

// Named limits.
const (
	// MaxLCSCells bounds LCS's table: (len(a)+1)·(len(b)+1) cells of
	// four bytes. LCS of longer strings is refused with an error; Redis
	// bounds the same table only by memory.
	MaxLCSCells = 1 << 24
	// MaxBitOffset is one past the largest bit offset GETBIT and SETBIT
	// accept, Redis's 512 MB string. SETBIT past crdt.MaxValueBytes bytes
	// still fails as a too large string.
	MaxBitOffset = 512 << 20 * 8
)

// Error replies of these commands, with Redis's texts.
const (
	errBitOffset   respErr = "ERR bit offset is not an integer or out of range"
	errBitValue    respErr = "ERR bit is not an integer or out of range"
	errOffsetRange respErr = "ERR offset is out of range"
	errNotFloat    respErr = "ERR value is not a valid float"
	errHashFloat   respErr = "ERR hash value is not a float"
	errNaN         respErr = "ERR increment would produce NaN or Infinity"
	errLCSType     respErr = "ERR The specified keys must contain string values"
)

// stringOf returns the string at key as the client sees it (a counter as
// its decimal text): nil and false if absent, errWrongType for a set or a
// hash. The bytes alias state; copy them before changing the key.
func stringOf(v view, key []byte) ([]byte, bool, error) {
	val := v.get(key)
	if val == nil {
		return nil, false, nil
	}
	s, ok := stringBytes(val, make([]byte, 0, 20))
	if !ok {
		return nil, false, errWrongType
	}
	return s, true, nil
}

func writeGetDel(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	s, ok, err := stringOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if !ok {
		return redcon.AppendNull(out), nil
	}
	res := redcon.AppendBulk(out, s) // copied before Delete changes what s aliases
	if err := tx.Delete(key); err != nil {
		return out, mutationError(err)
	}
	return res, nil
}

// clampRange converts Redis's inclusive [start, end] with negative indexes
// counted from the end into a slice range of a length-n sequence; ok is
// false if the range is empty.
func clampRange(start, end, n int64) (int64, int64, bool) {
	if start < 0 && end < 0 && start > end {
		return 0, 0, false
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return 0, 0, false
	}
	return start, end + 1, true
}

func readGetRange(v view, args [][]byte, out []byte) []byte {
	start, err1 := parseInt(args[2])
	end, err2 := parseInt(args[3])
	if err1 != nil || err2 != nil {
		return redcon.AppendError(out, string(errNotInteger))
	}
	s, _, err := stringOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	from, to, ok := clampRange(start, end, int64(len(s)))
	if !ok {
		return redcon.AppendBulk(out, nil)
	}
	return redcon.AppendBulk(out, s[from:to])
}

func writeSetRange(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, value := args[1], args[3]
	offset, err := parseInt(args[2])
	if err != nil {
		return out, err
	}
	if offset < 0 {
		return out, errOffsetRange
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	s, exists, err := stringOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if len(value) == 0 {
		return redcon.AppendInt(out, int64(len(s))), nil // nothing to set, nothing created
	}
	if offset > crdt.MaxValueBytes || offset+int64(len(value)) > crdt.MaxValueBytes {
		return out, errTooLarge
	}
	next := make([]byte, max(len(s), int(offset)+len(value)))
	copy(next, s)
	copy(next[offset:], value)
	if !exists || !bytes.Equal(next, s) {
		if err := tx.SetKeepTTL(key, next); err != nil {
			return out, mutationError(err)
		}
	}
	return redcon.AppendInt(out, int64(len(next))), nil
}

// parseBitOffset parses GETBIT's and SETBIT's offset.
func parseBitOffset(b []byte) (int64, error) {
	n, err := parseInt(b)
	if err != nil || n < 0 || n >= MaxBitOffset {
		return 0, errBitOffset
	}
	return n, nil
}

func readGetBit(v view, args [][]byte, out []byte) []byte {
	offset, err := parseBitOffset(args[2])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	s, _, err := stringOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	i := offset >> 3
	if i >= int64(len(s)) {
		return redcon.AppendInt(out, 0)
	}
	return redcon.AppendInt(out, int64(s[i]>>(7-offset&7)&1))
}

func writeSetBit(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	offset, err := parseBitOffset(args[2])
	if err != nil {
		return out, err
	}
	if len(args[3]) != 1 || (args[3][0] != '0' && args[3][0] != '1') {
		return out, errBitValue
	}
	on := args[3][0] == '1'
	if err := checkKey(key); err != nil {
		return out, err
	}
	s, _, err := stringOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	i := offset >> 3
	if i >= crdt.MaxValueBytes {
		return out, errTooLarge
	}
	next := make([]byte, max(int64(len(s)), i+1))
	copy(next, s)
	mask := byte(1) << (7 - offset&7)
	old := int64(0)
	if next[i]&mask != 0 {
		old = 1
	}
	if on {
		next[i] |= mask
	} else {
		next[i] &^= mask
	}
	if !bytes.Equal(next, s) || s == nil {
		if err := tx.SetKeepTTL(key, next); err != nil {
			return out, mutationError(err)
		}
	}
	return redcon.AppendInt(out, old), nil
}

// readBitCount is BITCOUNT key [start end [BYTE|BIT]]. As Redis 7.0 it
// looks the key up first: a missing key is 0 and a wrong type WRONGTYPE
// whatever the other arguments.
func readBitCount(v view, args [][]byte, out []byte) []byte {
	s, exists, err := stringOf(v, args[1])
	switch {
	case err != nil:
		return redcon.AppendError(out, err.Error())
	case !exists:
		return redcon.AppendInt(out, 0)
	}
	var start, end int64
	isBit := false
	switch len(args) {
	case 2:
		return redcon.AppendInt(out, int64(popcount(s)))
	case 4, 5:
		var err1, err2 error
		start, err1 = parseInt(args[2])
		end, err2 = parseInt(args[3])
		if err1 != nil || err2 != nil {
			return redcon.AppendError(out, string(errNotInteger))
		}
		if len(args) == 5 {
			switch strings.ToLower(string(args[4])) {
			case "bit":
				isBit = true
			case "byte":
			default:
				return redcon.AppendError(out, string(errSyntax))
			}
		}
	default:
		return redcon.AppendError(out, string(errSyntax))
	}
	n := int64(len(s))
	if isBit {
		n *= 8
	}
	from, to, ok := clampRange(start, end, n)
	if !ok {
		return redcon.AppendInt(out, 0)
	}
	if !isBit {
		return redcon.AppendInt(out, int64(popcount(s[from:to])))
	}
	count := 0
	for b := from; b < to; b++ {
		count += int(s[b>>3] >> (7 - b&7) & 1)
	}
	return redcon.AppendInt(out, int64(count))
}

func popcount(s []byte) int {
	n := 0
	for _, b := range s {
		n += bits.OnesCount8(b)
	}
	return n
}

// longDoublePrec is the mantissa precision of the C long double (x87
// extended) that Redis's INCRBYFLOAT computes in; big.Float at this
// precision gives the same sums and, printed as Redis prints them, the
// same text.
const longDoublePrec = 64

// The exponent range of a long double, as big.Float.MantExp counts it
// (mantissa in [0.5, 1)): past the maximum it is infinite, below the
// minimum (the smallest subnormal) it rounds to zero.
const (
	longDoubleMaxExp = 16384
	longDoubleMinExp = -16444
)

// parseFloat parses a float argument or stored value as Redis's strtold
// use does: the whole string, no spaces, decimal or hexadecimal ("0x1p3"),
// "inf" and "infinity" in any case (which then fail as a result), no NaN.
func parseFloat(s []byte) (*big.Float, bool) {
	if len(s) == 0 || len(s) > 5000 || bytes.ContainsAny(s, "_ \t\r\n\v\f") {
		return nil, false
	}
	lower := strings.ToLower(string(s))
	body := strings.TrimPrefix(strings.TrimPrefix(lower, "-"), "+")
	switch {
	case len(body) < len(lower)-1:
		return nil, false // two signs
	case body == "inf" || body == "infinity":
		return new(big.Float).SetInf(lower[0] == '-'), true
	case strings.HasPrefix(body, "0b") || strings.HasPrefix(body, "0o"):
		return nil, false // prefixes strtold does not know
	}
	f, _, err := big.ParseFloat(lower, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	if exp := f.MantExp(nil); f.Sign() != 0 && (exp > longDoubleMaxExp || exp < longDoubleMinExp) {
		return nil, false // strtold's ERANGE: infinite, or rounded to zero
	}
	return f, true
}

// addFloats returns a+b as Redis stores it, or false if the sum is not
// finite.
func addFloats(a, b *big.Float) ([]byte, bool) {
	if a.IsInf() || b.IsInf() {
		return nil, false
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven).Add(a, b)
	if sum.MantExp(nil) > longDoubleMaxExp {
		return nil, false
	}
	return formatLongDouble(sum), true
}

// formatLongDouble prints f as Redis's human-friendly long double: 17
// decimals, trailing zeros and a trailing point removed, no "-0".
func formatLongDouble(f *big.Float) []byte {
	s := f.Text('f', 17)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return []byte(s)
}

func writeIncrByFloat(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	s, _, err := stringOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	cur := new(big.Float)
	if s != nil {
		var ok bool
		if cur, ok = parseFloat(s); !ok {
			return out, errNotFloat
		}
	}
	by, ok := parseFloat(args[2])
	if !ok {
		return out, errNotFloat
	}
	next, ok := addFloats(cur, by)
	if !ok {
		return out, errNaN
	}
	if err := tx.SetKeepTTL(key, next); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendBulk(out, next), nil
}

// lcsOptions are LCS's options.
type lcsOptions struct {
	length, idx, withMatchLen bool
	minMatchLen               int64
}

func readLCS(v view, args [][]byte, out []byte) []byte {
	a, _, errA := stringOf(v, args[1])
	b, _, errB := stringOf(v, args[2])
	if errA != nil || errB != nil {
		return redcon.AppendError(out, string(errLCSType))
	}
	var o lcsOptions
	for i := 3; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "idx":
			o.idx = true
		case "len":
			o.length = true
		case "withmatchlen":
			o.withMatchLen = true
		case "minmatchlen":
			if i+1 == len(args) {
				return redcon.AppendError(out, string(errSyntax))
			}
			n, err := parseInt(args[i+1])
			if err != nil {
				return redcon.AppendError(out, string(errNotInteger))
			}
			o.minMatchLen = max(n, 0)
			i++
		default:
			return redcon.AppendError(out, string(errSyntax))
		}
	}
	if o.idx && o.length {
		return redcon.AppendError(out, "ERR If you want both the length and indexes, please just use IDX.")
	}
	if (uint64(len(a))+1)*(uint64(len(b))+1) > MaxLCSCells {
		return redcon.AppendError(out, "ERR LCS of strings this long exceeds Spook's limit (MaxLCSCells)")
	}
	return appendLCS(out, a, b, o)
}

// appendLCS computes the longest common subsequence of a and b by the
// classic dynamic program and appends the reply LCS's options ask for:
// the subsequence, its length, or its matching ranges (IDX), which are
// emitted from the end of the strings backwards as Redis does.
func appendLCS(out, a, b []byte, o lcsOptions) []byte {
	w := len(b) + 1
	table := make([]uint32, (len(a)+1)*w)
	at := func(i, j int) uint32 { return table[i*w+j] }
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				table[i*w+j] = at(i-1, j-1) + 1
			default:
				table[i*w+j] = max(at(i-1, j), at(i, j-1))
			}
		}
	}
	total := at(len(a), len(b))
	if o.length {
		return redcon.AppendInt(out, int64(total))
	}
	lcs := make([]byte, total)
	type match struct{ aStart, aEnd, bStart, bEnd int }
	var matches []match
	// cur is the range being extended backwards; aStart < 0: none.
	cur := match{aStart: -1}
	k := int(total)
	i, j := len(a), len(b)
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			lcs[k-1] = a[i-1]
			switch {
			case cur.aStart < 0:
				cur = match{aStart: i - 1, aEnd: i - 1, bStart: j - 1, bEnd: j - 1}
			case cur.aStart == i && cur.bStart == j:
				cur.aStart--
				cur.bStart--
			default:
				emit = true
			}
			if cur.aStart == 0 || cur.bStart == 0 {
				emit = true
			}
			k, i, j = k-1, i-1, j-1
		} else {
			if at(i-1, j) > at(i, j-1) {
				i--
			} else {
				j--
			}
			emit = cur.aStart >= 0
		}
		if emit {
			if n := cur.aEnd - cur.aStart + 1; o.minMatchLen == 0 || int64(n) >= o.minMatchLen {
				matches = append(matches, cur)
			}
			cur = match{aStart: -1}
		}
	}
	if !o.idx {
		return redcon.AppendBulk(out, lcs)
	}
	out = redcon.AppendArray(out, 4)
	out = redcon.AppendBulkString(out, "matches")
	out = redcon.AppendArray(out, len(matches))
	for _, m := range matches {
		n := 2
		if o.withMatchLen {
			n = 3
		}
		out = redcon.AppendArray(out, n)
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendInt(out, int64(m.aStart))
		out = redcon.AppendInt(out, int64(m.aEnd))
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendInt(out, int64(m.bStart))
		out = redcon.AppendInt(out, int64(m.bEnd))
		if o.withMatchLen {
			out = redcon.AppendInt(out, int64(m.aEnd-m.aStart+1))
		}
	}
	out = redcon.AppendBulkString(out, "len")
	return redcon.AppendInt(out, int64(total))
}
