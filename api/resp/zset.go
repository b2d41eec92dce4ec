package resp

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Sorted sets: crdt's sorted-set component (docs/semantics.md). Replies,
// options and error texts follow Redis 7.0; scores are formatted as Redis
// 7.0 does (%.17g, "inf", "-inf"). ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE
// accept sets as inputs (every member scores 1), as Redis does. A STORE
// form overwrites its destination like SET: it removes what the writer
// observed there and adds the result, in one transaction. ZPOPMIN and
// ZPOPMAX on two nodes at once can pop the same member (both clients get
// it; it is removed once), as SPOP can.

const (
	errNaNScore    respErr = "ERR resulting score is not a number (NaN)"
	errMinMaxFloat respErr = "ERR min or max is not a float"
	errMinMaxLex   respErr = "ERR min or max not valid string range item"
	errWeight      respErr = "ERR weight value is not a float"
	errZSetFull    respErr = "ERR sorted set full (crdt.MaxZSetMembers members, removed ones with increments included)"
)

// formatScore formats a score as Redis 7.0 replies it.
func formatScore(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

func appendScore(out []byte, f float64) []byte {
	return redcon.AppendBulkString(out, formatScore(f))
}

// parseScore parses a score as Redis does (strtod, hexadecimal included;
// NaN, overflow and trailing bytes refused). Negative zero reads as zero.
func parseScore(b []byte) (float64, bool) {
	s := string(b)
	if s == "" || s[0] == ' ' || s[0] == '\t' || strings.ContainsRune(s, '_') {
		return 0, false
	}
	if h := strings.TrimLeft(s, "+-"); len(s)-len(h) <= 1 && len(h) > 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X') && !strings.ContainsAny(h, "pP") {
		s += "p0" // strtod's hexadecimal without an exponent; Go requires one
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f {
		return 0, false
	}
	return f, true
}

// zsetOf returns the sorted set at key: nil if absent, errWrongType if
// another type.
func zsetOf(v view, key []byte) (*crdt.Value, error) {
	val := v.get(key)
	if val != nil && val.Type() != crdt.TypeZSet {
		return nil, errWrongType
	}
	return val, nil
}

// zsetError maps a crdt error of a sorted-set write to its reply. Members
// are checked against MaxValueBytes before any write, so ErrTooLarge from
// one means the set is full (crdt.MaxZSetMembers).
func zsetError(err error) error {
	switch {
	case errors.Is(err, crdt.ErrNotFloat):
		return errNaNScore
	case errors.Is(err, crdt.ErrTooLarge):
		return errZSetFull
	}
	return mutationError(err)
}

// zpair is one member and its score, copied out of state.
type zpair struct {
	member []byte
	score  float64
}

func appendPairs(out []byte, ps []zpair, withScores bool) []byte {
	if withScores {
		out = redcon.AppendArray(out, 2*len(ps))
	} else {
		out = redcon.AppendArray(out, len(ps))
	}
	for _, p := range ps {
		out = redcon.AppendBulk(out, p.member)
		if withScores {
			out = appendScore(out, p.score)
		}
	}
	return out
}

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]

type zaddOptions struct {
	nx, xx, gt, lt, ch, incr bool
}

func writeZAdd(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	var o zaddOptions
	i := 2
options:
	for ; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "nx":
			o.nx = true
		case "xx":
			o.xx = true
		case "gt":
			o.gt = true
		case "lt":
			o.lt = true
		case "ch":
			o.ch = true
		case "incr":
			o.incr = true
		default:
			break options
		}
	}
	rest := args[i:]
	if o.nx && o.xx {
		return out, respErr("ERR XX and NX options at the same time are not compatible")
	}
	if (o.gt && o.nx) || (o.lt && o.nx) || (o.gt && o.lt) {
		return out, respErr("ERR GT, LT, and/or NX options at the same time are not compatible")
	}
	if len(rest) == 0 || len(rest)%2 != 0 {
		return out, errSyntax
	}
	if o.incr && len(rest) > 2 {
		return out, respErr("ERR INCR option supports a single increment-element pair")
	}
	scores := make([]float64, len(rest)/2)
	for j := range scores {
		s, ok := parseScore(rest[2*j])
		if !ok {
			return out, errNotFloat
		}
		scores[j] = s
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	for j := 1; j < len(rest); j += 2 {
		if err := checkValue(rest[j]); err != nil {
			return out, err
		}
	}
	if _, _, err := tx.ZScore(key, nil); err != nil {
		return out, mutationError(err)
	}
	if o.incr {
		return zaddIncr(tx, key, rest[1], scores[0], o, out)
	}
	added, changed := 0, 0
	for j, score := range scores {
		member := rest[2*j+1]
		cur, exists, err := tx.ZScore(key, member)
		if err != nil {
			return out, mutationError(err)
		}
		switch {
		case exists && (o.nx || (o.gt && score <= cur) || (o.lt && score >= cur) || score == cur):
			continue
		case !exists && o.xx:
			continue
		}
		if _, err := tx.ZAdd(key, member, score); err != nil {
			return out, zsetError(err)
		}
		if exists {
			changed++
		} else {
			added++
		}
	}
	if o.ch {
		added += changed
	}
	return redcon.AppendInt(out, int64(added)), nil
}

// zaddIncr is ZADD INCR: ZINCRBY under ZADD's conditions; a skipped
// update replies null.
func zaddIncr(tx *crdt.Builder, key, member []byte, by float64, o zaddOptions, out []byte) ([]byte, error) {
	cur, exists, err := tx.ZScore(key, member)
	if err != nil {
		return out, mutationError(err)
	}
	if (exists && o.nx) || (!exists && o.xx) {
		return redcon.AppendNull(out), nil
	}
	next := cur + by
	if next != next {
		return out, errNaNScore
	}
	if exists && ((o.gt && next <= cur) || (o.lt && next >= cur)) {
		return redcon.AppendNull(out), nil
	}
	return zincr(tx, key, member, by, exists, out)
}

// zincr runs ZINCRBY. Redis replies a new member's score as the
// increment itself: "-0" for an increment of -0 (it stores 0).
func zincr(tx *crdt.Builder, key, member []byte, by float64, exists bool, out []byte) ([]byte, error) {
	s, err := tx.ZIncrement(key, member, by)
	if err != nil {
		return out, zsetError(err)
	}
	if !exists && by == 0 && math.Signbit(by) {
		return redcon.AppendBulkString(out, "-0"), nil
	}
	return appendScore(out, s), nil
}

func writeZIncrBy(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key, member := args[1], args[3]
	by, ok := parseScore(args[2])
	if !ok {
		return out, errNotFloat
	}
	if err := checkKey(key); err != nil {
		return out, err
	}
	if err := checkValue(member); err != nil {
		return out, err
	}
	_, exists, err := tx.ZScore(key, member)
	if err != nil {
		return out, mutationError(err)
	}
	return zincr(tx, key, member, by, exists, out)
}

func writeZRem(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	if _, _, err := tx.ZScore(key, nil); err != nil {
		return out, mutationError(err)
	}
	n, err := tx.ZRemove(key, args[2:]...)
	if err != nil {
		return out, zsetError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

func readZScore(v view, args [][]byte, out []byte) []byte {
	val, err := zsetOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	s, ok := val.ZScore(args[2])
	if !ok {
		return redcon.AppendNull(out)
	}
	return appendScore(out, s)
}

func readZMScore(v view, args [][]byte, out []byte) []byte {
	val, err := zsetOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	out = redcon.AppendArray(out, len(args)-2)
	for _, m := range args[2:] {
		if s, ok := val.ZScore(m); ok {
			out = appendScore(out, s)
		} else {
			out = redcon.AppendNull(out)
		}
	}
	return out
}

func readZCard(v view, args [][]byte, out []byte) []byte {
	val, err := zsetOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendInt(out, int64(val.ZCard()))
}

// Ranges.

// scoreBound is one end of a score range.
type scoreBound struct {
	value     float64
	exclusive bool
}

func parseScoreBound(b []byte) (scoreBound, bool) {
	var sb scoreBound
	if len(b) > 0 && b[0] == '(' {
		sb.exclusive, b = true, b[1:]
	}
	f, ok := parseScore(b)
	sb.value = f
	return sb, ok
}

// lexBound is one end of a lex range: "-", "+", "[m" or "(m".
type lexBound struct {
	inf       int // -1 for "-", 1 for "+", 0 for a member
	member    []byte
	exclusive bool
}

func parseLexBound(b []byte) (lexBound, bool) {
	switch {
	case len(b) == 1 && b[0] == '-':
		return lexBound{inf: -1}, true
	case len(b) == 1 && b[0] == '+':
		return lexBound{inf: 1}, true
	case len(b) > 0 && (b[0] == '[' || b[0] == '('):
		return lexBound{member: b[1:], exclusive: b[0] == '('}, true
	}
	return lexBound{}, false
}

// scoreRange is [min, max] with exclusive ends as parsed.
type scoreRange struct{ min, max scoreBound }

// first is the rank of the first member at or above min.
func (r scoreRange) first(val *crdt.Value) int {
	return val.ZCountBefore(func(s float64, _ []byte) bool {
		return s < r.min.value || (r.min.exclusive && s == r.min.value)
	})
}

// end is the rank after the last member at or below max.
func (r scoreRange) end(val *crdt.Value) int {
	return val.ZCountBefore(func(s float64, _ []byte) bool {
		return s < r.max.value || (!r.max.exclusive && s == r.max.value)
	})
}

type lexRange struct{ min, max lexBound }

// first is the rank of the first member at or above min (by member
// bytes; meaningful when every score is equal, as in Redis).
func (r lexRange) first(val *crdt.Value) int {
	switch r.min.inf {
	case -1:
		return 0
	case 1:
		return val.ZCard()
	}
	return val.ZCountBefore(func(_ float64, m []byte) bool {
		c := bytes.Compare(m, r.min.member)
		return c < 0 || (r.min.exclusive && c == 0)
	})
}

func (r lexRange) end(val *crdt.Value) int {
	switch r.max.inf {
	case -1:
		return 0
	case 1:
		return val.ZCard()
	}
	return val.ZCountBefore(func(_ float64, m []byte) bool {
		c := bytes.Compare(m, r.max.member)
		return c < 0 || (!r.max.exclusive && c == 0)
	})
}

// clampRanks turns Redis's start and stop ranks (negative from the end)
// over n members into the half-open range [from, to), empty if none.
func clampRanks(n int, start, stop int64) (int, int) {
	if start < 0 {
		start += int64(n)
	}
	if stop < 0 {
		stop += int64(n)
	}
	start = max(start, 0)
	if start > stop || start >= int64(n) {
		return 0, 0
	}
	stop = min(stop, int64(n)-1)
	return int(start), int(stop) + 1
}

// zrangeKind is how ZRANGE interprets its range.
type zrangeKind int

const (
	byRank zrangeKind = iota
	byScore
	byLex
)

// zrangeRequest is a parsed ZRANGE family command.
type zrangeRequest struct {
	key        []byte
	kind       zrangeKind
	rev        bool
	withScores bool
	limited    bool
	offset     int64
	count      int64 // < 0: all
	start      int64 // byRank
	stop       int64
	scores     scoreRange
	lex        lexRange
}

// parseZRange parses src min max [options] starting at args[at] (the
// source key), as Redis's zrangeGenericCommand does: kind and rev are
// fixed by legacy commands (auto false) or chosen by options (ZRANGE,
// ZRANGESTORE); store forbids WITHSCORES.
func parseZRange(args [][]byte, at int, kind zrangeKind, rev, auto, store bool) (zrangeRequest, error) {
	r := zrangeRequest{key: args[at], kind: kind, rev: rev, count: -1}
	kindSet, revSet := !auto, !auto
	for j := at + 3; j < len(args); j++ {
		left := len(args) - j - 1
		switch w := strings.ToLower(string(args[j])); {
		case !store && w == "withscores":
			r.withScores = true
		case w == "limit" && left >= 2:
			off, err := parseInt(args[j+1])
			if err != nil {
				return r, err
			}
			cnt, err := parseInt(args[j+2])
			if err != nil {
				return r, err
			}
			r.limited, r.offset, r.count = true, off, cnt
			j += 2
		case !revSet && w == "rev":
			r.rev = true
		case !kindSet && w == "bylex":
			r.kind, kindSet = byLex, true
		case !kindSet && w == "byscore":
			r.kind, kindSet = byScore, true
		default:
			return r, errSyntax
		}
	}
	if r.limited && r.kind == byRank {
		return r, respErr("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	}
	if r.withScores && r.kind == byLex {
		return r, respErr("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
	}
	lo, hi := args[at+1], args[at+2]
	if r.rev && r.kind != byRank {
		lo, hi = hi, lo
	}
	switch r.kind {
	case byRank:
		var err error
		if r.start, err = parseInt(lo); err != nil {
			return r, err
		}
		if r.stop, err = parseInt(hi); err != nil {
			return r, err
		}
	case byScore:
		var ok1, ok2 bool
		r.scores.min, ok1 = parseScoreBound(lo)
		r.scores.max, ok2 = parseScoreBound(hi)
		if !ok1 || !ok2 {
			return r, errMinMaxFloat
		}
	case byLex:
		var ok1, ok2 bool
		r.lex.min, ok1 = parseLexBound(lo)
		r.lex.max, ok2 = parseLexBound(hi)
		if !ok1 || !ok2 {
			return r, errMinMaxLex
		}
	}
	return r, nil
}

// run returns the members the request selects from val, in reply order,
// copied.
func (r *zrangeRequest) run(val *crdt.Value) []zpair {
	n := val.ZCard()
	var from, to int
	switch r.kind {
	case byRank:
		from, to = clampRanks(n, r.start, r.stop)
		if r.rev {
			from, to = n-to, n-from
		}
	case byScore:
		from, to = r.scores.first(val), r.scores.end(val)
	case byLex:
		from, to = r.lex.first(val), r.lex.end(val)
	}
	if r.limited {
		if r.offset < 0 {
			return nil
		}
		if r.rev {
			to -= int(min(r.offset, int64(to)))
		} else {
			from += int(min(r.offset, int64(n)))
		}
		if r.count >= 0 {
			if r.rev {
				from = max(from, to-int(min(r.count, int64(n))))
			} else {
				to = min(to, from+int(min(r.count, int64(n))))
			}
		}
	}
	if from >= to {
		return nil
	}
	out := make([]zpair, 0, to-from)
	collect := func(m []byte, s float64) bool {
		out = append(out, zpair{member: bytes.Clone(m), score: s})
		return len(out) < to-from
	}
	if r.rev {
		val.ZDescend(to-1, collect)
	} else {
		val.ZAscend(from, collect)
	}
	return out
}

// readZRange serves the read-only range commands; kind and rev are fixed
// unless auto (ZRANGE).
func readZRange(kind zrangeKind, rev, auto bool) func(v view, args [][]byte, out []byte) []byte {
	return func(v view, args [][]byte, out []byte) []byte {
		r, err := parseZRange(args, 1, kind, rev, auto, false)
		if err != nil {
			return redcon.AppendError(out, err.Error())
		}
		val, err := zsetOf(v, r.key)
		if err != nil {
			return redcon.AppendError(out, err.Error())
		}
		return appendPairs(out, r.run(val), r.withScores)
	}
}

// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
func writeZRangeStore(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	r, err := parseZRange(args, 2, byRank, false, true, true)
	if err != nil {
		return out, err
	}
	if err := checkKey(args[1]); err != nil {
		return out, err
	}
	val, err := zsetOf(view{tx}, r.key)
	if err != nil {
		return out, err
	}
	ps := r.run(val)
	if err := storeZSet(tx, args[1], ps); err != nil {
		return out, err
	}
	return redcon.AppendInt(out, int64(len(ps))), nil
}

// storeZSet overwrites dst with ps (deletes it if ps is empty). A failure
// after the delete aborts the transaction.
func storeZSet(tx *crdt.Builder, dst []byte, ps []zpair) error {
	if tx.Get(dst) != nil {
		if err := tx.Delete(dst); err != nil {
			return zsetError(err)
		}
	}
	for _, p := range ps {
		if _, err := tx.ZAdd(dst, p.member, p.score); err != nil {
			return zsetError(err)
		}
	}
	return nil
}

func readZCount(v view, args [][]byte, out []byte) []byte {
	lo, ok1 := parseScoreBound(args[2])
	hi, ok2 := parseScoreBound(args[3])
	if !ok1 || !ok2 {
		return redcon.AppendError(out, string(errMinMaxFloat))
	}
	val, err := zsetOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	r := scoreRange{min: lo, max: hi}
	return redcon.AppendInt(out, int64(max(0, r.end(val)-r.first(val))))
}

func readZLexCount(v view, args [][]byte, out []byte) []byte {
	lo, ok1 := parseLexBound(args[2])
	hi, ok2 := parseLexBound(args[3])
	if !ok1 || !ok2 {
		return redcon.AppendError(out, string(errMinMaxLex))
	}
	val, err := zsetOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	r := lexRange{min: lo, max: hi}
	return redcon.AppendInt(out, int64(max(0, r.end(val)-r.first(val))))
}

// readZRank is ZRANK and ZREVRANK, with Redis 7.2's WITHSCORE.
func readZRank(rev bool) func(v view, args [][]byte, out []byte) []byte {
	return func(v view, args [][]byte, out []byte) []byte {
		withScore := false
		switch {
		case len(args) == 4 && strings.EqualFold(string(args[3]), "withscore"):
			withScore = true
		case len(args) != 3:
			return redcon.AppendError(out, string(errSyntax))
		}
		val, err := zsetOf(v, args[1])
		if err != nil {
			return redcon.AppendError(out, err.Error())
		}
		rank, ok := val.ZRank(args[2])
		if !ok {
			if withScore {
				return append(out, "*-1\r\n"...)
			}
			return redcon.AppendNull(out)
		}
		if rev {
			rank = val.ZCard() - 1 - rank
		}
		if !withScore {
			return redcon.AppendInt(out, int64(rank))
		}
		s, _ := val.ZScore(args[2])
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendInt(out, int64(rank))
		return appendScore(out, s)
	}
}

// writeZPop is ZPOPMIN and ZPOPMAX.
func writeZPop(maxFirst bool) func(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return func(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
		key := args[1]
		count := int64(1)
		switch len(args) {
		case 2:
		case 3:
			n, err := parseInt(args[2])
			if err != nil || n < 0 {
				return out, respErr("ERR value is out of range, must be positive")
			}
			count = n
		default:
			return out, errSyntax
		}
		if err := checkKey(key); err != nil {
			return out, err
		}
		val, err := zsetOf(view{tx}, key)
		if err != nil {
			return out, err
		}
		n := val.ZCard()
		take := int(min(count, int64(n)))
		ps := make([]zpair, 0, take)
		collect := func(m []byte, s float64) bool {
			ps = append(ps, zpair{member: bytes.Clone(m), score: s})
			return len(ps) < take
		}
		if take > 0 {
			if maxFirst {
				val.ZDescend(n-1, collect)
			} else {
				val.ZAscend(0, collect)
			}
		}
		if len(ps) > 0 {
			ms := make([][]byte, len(ps))
			for i := range ps {
				ms[i] = ps[i].member
			}
			if _, err := tx.ZRemove(key, ms...); err != nil {
				return out, zsetError(err)
			}
		}
		return appendPairs(out, ps, true), nil
	}
}

// Algebra: ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE.

type zalgebra int

const (
	zunion zalgebra = iota
	zinter
	zdiff
)

type aggregate int

const (
	aggSum aggregate = iota
	aggMin
	aggMax
)

// zinput returns the members of a sorted set or set (score 1) at key,
// sorted by member, copied.
func zinput(v view, key []byte) ([]zpair, error) {
	val := v.get(key)
	if val == nil {
		return nil, nil
	}
	var ps []zpair
	switch val.Type() {
	case crdt.TypeZSet:
		val.ZAscend(0, func(m []byte, s float64) bool {
			ps = append(ps, zpair{member: bytes.Clone(m), score: s})
			return true
		})
	case crdt.TypeSet:
		val.Members(func(m []byte) bool {
			ps = append(ps, zpair{member: bytes.Clone(m), score: 1})
			return true
		})
	default:
		return nil, errWrongType
	}
	slices.SortFunc(ps, func(a, b zpair) int { return bytes.Compare(a.member, b.member) })
	return ps, nil
}

func combine(agg aggregate, a, b float64) float64 {
	switch agg {
	case aggMin:
		return min(a, b)
	case aggMax:
		return max(a, b)
	}
	s := a + b
	if s != s {
		return 0 // +inf + -inf, as Redis
	}
	return s
}

// zalgebraArgs parses and computes numkeys key... [WEIGHTS w...]
// [AGGREGATE SUM|MIN|MAX] [WITHSCORES] from args[at] (numkeys), as
// Redis's zunionInterDiffGenericCommand: WITHSCORES only without a
// destination (store false), no WEIGHTS or AGGREGATE for a difference.
func zalgebraArgs(v view, op zalgebra, name string, args [][]byte, at int, store bool) ([]zpair, bool, error) {
	numkeys, err := parseInt(args[at])
	if err != nil {
		return nil, false, err
	}
	if numkeys < 1 {
		return nil, false, respErr("ERR at least 1 input key is needed for '" + name + "' command")
	}
	if numkeys > int64(len(args)-at-1) {
		return nil, false, errSyntax
	}
	keys := args[at+1 : at+1+int(numkeys)]
	// Redis checks the inputs' types before it parses the options.
	inputs := make([][]zpair, len(keys))
	for i, k := range keys {
		if inputs[i], err = zinput(v, k); err != nil {
			return nil, false, err
		}
	}
	weights := make([]float64, numkeys)
	for i := range weights {
		weights[i] = 1
	}
	agg, withScores := aggSum, false
	for j := at + 1 + int(numkeys); j < len(args); j++ {
		left := len(args) - j - 1
		switch w := strings.ToLower(string(args[j])); {
		case op != zdiff && w == "weights" && left >= int(numkeys):
			for i := range weights {
				f, ok := parseScore(args[j+1+i])
				if !ok {
					return nil, false, errWeight
				}
				weights[i] = f
			}
			j += int(numkeys)
		case op != zdiff && w == "aggregate" && left >= 1:
			switch strings.ToLower(string(args[j+1])) {
			case "sum":
				agg = aggSum
			case "min":
				agg = aggMin
			case "max":
				agg = aggMax
			default:
				return nil, false, errSyntax
			}
			j++
		case !store && w == "withscores":
			withScores = true
		default:
			return nil, false, errSyntax
		}
	}
	return zcompute(op, agg, inputs, weights), withScores, nil
}

func writeZAlgebraStore(op zalgebra, name string) func(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return func(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
		dst := args[1]
		ps, _, err := zalgebraArgs(view{tx}, op, name, args, 2, true)
		if err != nil {
			return out, err
		}
		if err := checkKey(dst); err != nil {
			return out, err
		}
		if err := storeZSet(tx, dst, ps); err != nil {
			return out, err
		}
		return redcon.AppendInt(out, int64(len(ps))), nil
	}
}

// readZAlgebra is ZUNION, ZINTER and ZDIFF: the result in rank order.
func readZAlgebra(op zalgebra, name string) func(v view, args [][]byte, out []byte) []byte {
	return func(v view, args [][]byte, out []byte) []byte {
		ps, withScores, err := zalgebraArgs(v, op, name, args, 1, false)
		if err != nil {
			return redcon.AppendError(out, err.Error())
		}
		slices.SortFunc(ps, func(a, b zpair) int {
			switch {
			case a.score < b.score:
				return -1
			case a.score > b.score:
				return 1
			}
			return bytes.Compare(a.member, b.member)
		})
		return appendPairs(out, ps, withScores)
	}
}

// zcompute is the algebra over inputs sorted by member.
func zcompute(op zalgebra, agg aggregate, inputs [][]zpair, weights []float64) []zpair {
	weighted := func(i int, s float64) float64 {
		f := s * weights[i]
		if f != f {
			return 0 // inf * 0, as Redis
		}
		return f
	}
	acc := map[string]float64{}
	count := map[string]int{}
	var order []string
	for i, in := range inputs {
		for _, p := range in {
			m := string(p.member)
			switch op {
			case zdiff:
				if i == 0 {
					acc[m] = p.score
					order = append(order, m)
				} else {
					delete(acc, m)
				}
				continue
			}
			s := weighted(i, p.score)
			if prev, ok := acc[m]; ok {
				acc[m] = combine(agg, prev, s)
			} else {
				acc[m] = s
				order = append(order, m)
			}
			count[m]++
		}
	}
	var out []zpair
	for _, m := range order {
		s, ok := acc[m]
		if !ok || (op == zinter && count[m] != len(inputs)) {
			continue
		}
		out = append(out, zpair{member: []byte(m), score: s})
	}
	return out
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]: pages over rank order.
func readZScan(v view, args [][]byte, out []byte) []byte {
	cursor, o, err := parseScanArgs(args)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	val, err := zsetOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	from, to, next := scanPage(val.ZCard(), cursor, o.count)
	var page []zpair
	if from < to {
		val.ZAscend(from, func(m []byte, s float64) bool {
			if o.pattern == nil || globMatch(o.pattern, m) {
				page = append(page, zpair{member: m, score: s})
			}
			from++
			return from < to
		})
	}
	out = redcon.AppendArray(out, 2)
	out = redcon.AppendBulkString(out, strconv.FormatUint(next, 10))
	return appendPairs(out, page, true)
}
