package resp

import (
	"bytes"
	"math"
	"strings"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// ZRANDMEMBER, the multi-key pops ZMPOP and LMPOP, and the blocking pops
// BZPOPMIN, BZPOPMAX, BZMPOP and BLMPOP (Server.blockingWrite: they
// block on the local node only, as BLPOP does).

// mpopCommands are the entries of the command table defined here.
var mpopCommands = []*command{
	{name: "zrandmember", arity: -2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readZRandMember},
	{name: "zmpop", arity: -4, flags: flagWrite, write: writeZMPop},
	{name: "lmpop", arity: -4, flags: flagWrite, write: writeLMPop},
	{name: "bzpopmin", arity: -3, flags: flagWrite, first: 1, last: -2, step: 1, conn: cmdBZPopMin, write: writeBZPopMin},
	{name: "bzpopmax", arity: -3, flags: flagWrite, first: 1, last: -2, step: 1, conn: cmdBZPopMax, write: writeBZPopMax},
	{name: "bzmpop", arity: -5, flags: flagWrite, conn: cmdBZMPop, write: writeBZMPop},
	{name: "blmpop", arity: -5, flags: flagWrite, conn: cmdBLMPop, write: writeBLMPop},
}

func readZRandMember(v view, args [][]byte, out []byte) []byte {
	count := int64(1)
	withScores := false
	if len(args) >= 3 {
		var err error
		if count, err = parseRandomCount(args[2]); err != nil {
			return redcon.AppendError(out, err.Error())
		}
		if len(args) > 4 || (len(args) == 4 && !strings.EqualFold(string(args[3]), "withscores")) {
			return redcon.AppendError(out, string(errSyntax))
		}
		if len(args) == 4 {
			withScores = true
			if count < -(1<<62-1) || count > 1<<62-1 { // ±LONG_MAX/2, as Redis
				return redcon.AppendError(out, "ERR value is out of range")
			}
		}
	}
	val, err := zsetOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	var all []zpair
	if val != nil && val.ZCard() > 0 {
		val.ZAscend(0, func(m []byte, s float64) bool {
			all = append(all, zpair{member: m, score: s})
			return true
		})
	}
	picks, err := randomPicks(len(all), count)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if len(args) == 2 {
		if len(picks) == 0 {
			return redcon.AppendNull(out)
		}
		return redcon.AppendBulk(out, all[picks[0]].member)
	}
	ps := make([]zpair, len(picks))
	for i, p := range picks {
		ps[i] = all[p]
	}
	return appendPairs(out, ps, withScores)
}

// mpopArgs are the parsed arguments of ZMPOP/LMPOP (and their blocking
// forms): numkeys key [key ...] where [COUNT count].
type mpopArgs struct {
	keys  [][]byte
	first bool // MIN or LEFT
	count int
}

// parseMPop parses args from the numkeys argument on, with where the two
// words for first and last (MIN/MAX or LEFT/RIGHT). Checks and error
// texts are Redis's.
func parseMPop(args [][]byte, firstWord, lastWord string) (mpopArgs, error) {
	var a mpopArgs
	numkeys, err := parseInt(args[0])
	if err != nil || numkeys <= 0 {
		return a, respErr("ERR numkeys should be greater than 0")
	}
	if numkeys > int64(len(args)-2) {
		return a, errSyntax
	}
	a.keys = args[1 : 1+numkeys]
	where := args[1+numkeys]
	switch {
	case bytes.EqualFold(where, []byte(firstWord)):
		a.first = true
	case bytes.EqualFold(where, []byte(lastWord)):
	default:
		return a, errSyntax
	}
	count := int64(-1)
	for i := 2 + int(numkeys); i < len(args); i++ {
		if !bytes.EqualFold(args[i], []byte("count")) || i+1 == len(args) || count != -1 {
			return a, errSyntax
		}
		i++
		n, err := parseInt(args[i])
		if err != nil || n <= 0 {
			return a, respErr("ERR count should be greater than 0")
		}
		count = n
	}
	a.count = int(min(max(count, 1), math.MaxInt32))
	for _, k := range a.keys {
		if err := checkKey(k); err != nil {
			return a, err
		}
	}
	return a, nil
}

// zpopFrom pops up to count members of key's sorted set, lowest scores
// first (highest if !min), and returns them.
func zpopFrom(tx *crdt.Builder, key []byte, count int, min bool) ([]zpair, error) {
	val, err := zsetOf(view{tx}, key)
	if err != nil || val == nil {
		return nil, err
	}
	n := val.ZCard()
	take := int(math.Min(float64(count), float64(n)))
	if take == 0 {
		return nil, nil
	}
	ps := make([]zpair, 0, take)
	collect := func(m []byte, s float64) bool {
		ps = append(ps, zpair{member: bytes.Clone(m), score: s})
		return len(ps) < take
	}
	if min {
		val.ZAscend(0, collect)
	} else {
		val.ZDescend(n-1, collect)
	}
	ms := make([][]byte, len(ps))
	for i := range ps {
		ms[i] = ps[i].member
	}
	if _, err := tx.ZRemove(key, ms...); err != nil {
		return nil, zsetError(err)
	}
	return ps, nil
}

// zmpop tries ZMPOP once: from the first non-empty sorted set of a.keys
// it appends [key, [[member, score] ...]], else a null array (done false).
func zmpop(tx *crdt.Builder, a mpopArgs, out []byte) ([]byte, bool, error) {
	for _, key := range a.keys {
		ps, err := zpopFrom(tx, key, a.count, a.first)
		if err != nil {
			return out, false, err
		}
		if len(ps) == 0 {
			continue
		}
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendBulk(out, key)
		out = redcon.AppendArray(out, len(ps))
		for _, p := range ps {
			out = redcon.AppendArray(out, 2)
			out = appendScore(redcon.AppendBulk(out, p.member), p.score)
		}
		return out, true, nil
	}
	return append(out, "*-1\r\n"...), false, nil
}

// lmpop tries LMPOP once: from the first non-empty list of a.keys it
// appends [key, [element ...]], else a null array (done false).
func lmpop(tx *crdt.Builder, a mpopArgs, out []byte) ([]byte, bool, error) {
	for _, key := range a.keys {
		val, err := listOf(view{tx}, key)
		if err != nil {
			return out, false, err
		}
		if val == nil || val.ListLen() == 0 {
			continue
		}
		elems, err := tx.ListPop(key, a.first, min(a.count, val.ListLen()))
		if err != nil {
			return out, false, mutationError(err)
		}
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendBulk(out, key)
		out = redcon.AppendArray(out, len(elems))
		for _, e := range elems {
			out = redcon.AppendBulk(out, e)
		}
		return out, true, nil
	}
	return append(out, "*-1\r\n"...), false, nil
}

// bzpop tries BZPOPMIN/BZPOPMAX once: from the first non-empty sorted set
// of keys it appends [key, member, score], else a null array.
func bzpop(tx *crdt.Builder, keys [][]byte, min bool, out []byte) ([]byte, bool, error) {
	for _, key := range keys {
		if err := checkKey(key); err != nil {
			return out, false, err
		}
		ps, err := zpopFrom(tx, key, 1, min)
		if err != nil {
			return out, false, err
		}
		if len(ps) == 0 {
			continue
		}
		out = redcon.AppendArray(out, 3)
		out = redcon.AppendBulk(redcon.AppendBulk(out, key), ps[0].member)
		return appendScore(out, ps[0].score), true, nil
	}
	return append(out, "*-1\r\n"...), false, nil
}

func writeZMPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	a, err := parseMPop(args[1:], "min", "max")
	if err != nil {
		return out, err
	}
	out, _, err = zmpop(tx, a, out)
	return out, err
}

func writeLMPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	a, err := parseMPop(args[1:], "left", "right")
	if err != nil {
		return out, err
	}
	out, _, err = lmpop(tx, a, out)
	return out, err
}

// The write forms of the blocking pops run inside MULTI: they never block.

func writeBZPopMin(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return writeBZPop(tx, args, out, true)
}

func writeBZPopMax(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return writeBZPop(tx, args, out, false)
}

func writeBZPop(tx *crdt.Builder, args [][]byte, out []byte, min bool) ([]byte, error) {
	if _, err := parseTimeoutSeconds(args[len(args)-1]); err != nil {
		return out, err
	}
	out, _, err := bzpop(tx, args[1:len(args)-1], min, out)
	return out, err
}

func writeBZMPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if _, err := parseTimeoutSeconds(args[1]); err != nil {
		return out, err
	}
	return writeZMPop(tx, args[1:], out)
}

func writeBLMPop(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	if _, err := parseTimeoutSeconds(args[1]); err != nil {
		return out, err
	}
	return writeLMPop(tx, args[1:], out)
}

func cmdBZPopMin(s *Server, c *client, args [][]byte) { cmdBZPop(s, c, args, true) }
func cmdBZPopMax(s *Server, c *client, args [][]byte) { cmdBZPop(s, c, args, false) }

func cmdBZPop(s *Server, c *client, args [][]byte, min bool) {
	timeout, err := parseTimeoutSeconds(args[len(args)-1])
	if err != nil {
		c.out.WriteError(err.Error())
		return
	}
	keys := args[1 : len(args)-1]
	s.blockingWrite(c, keys, timeout, func(tx *crdt.Builder, out []byte) ([]byte, bool, error) {
		return bzpop(tx, keys, min, out)
	})
}

func cmdBZMPop(s *Server, c *client, args [][]byte) {
	cmdBMPop(s, c, args, "min", "max", zmpop)
}

func cmdBLMPop(s *Server, c *client, args [][]byte) {
	cmdBMPop(s, c, args, "left", "right", lmpop)
}

// cmdBMPop is BZMPOP and BLMPOP: timeout numkeys key [key ...] where
// [COUNT count].
func cmdBMPop(s *Server, c *client, args [][]byte, firstWord, lastWord string, try func(*crdt.Builder, mpopArgs, []byte) ([]byte, bool, error)) {
	timeout, err := parseTimeoutSeconds(args[1])
	if err != nil {
		c.out.WriteError(err.Error())
		return
	}
	a, err := parseMPop(args[2:], firstWord, lastWord)
	if err != nil {
		c.out.WriteError(errorText(err))
		return
	}
	s.blockingWrite(c, a.keys, timeout, func(tx *crdt.Builder, out []byte) ([]byte, bool, error) {
		return try(tx, a, out)
	})
}
