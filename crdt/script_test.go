package crdt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// run executes one Redis-like command against a builder and returns the
// reply as text, the form the semantics tables compare against:
//
//	SET k v | GET k | DEL k | INCR k | INCRBY k n | TYPE k
//	SADD k m... | SREM k m... | SMEMBERS k | SCARD k | SISMEMBER k m
//	HSET k f v | HGET k f | HINCRBY k f n | HDEL k f... | HLEN k | HGETALL k
//	ZADD k score m [score m...] | ZINCRBY k by m | ZREM k m... | ZSCORE k m
//	ZCARD k | ZRANGE k (all, as [m=score ...])
//	LPUSH/RPUSH k v... | LINSERTAT k i v... | LDELAT k i | LDELRANGE k i n |
//	LTRIMTO k from to | LSET k i v | LPOP/RPOP k | LRANGE k | LLEN k
//	TINS k pos str | TDEL k pos n | TGET k | TLEN k
//
// Errors render as "ERR not integer", "ERR overflow", "WRONGTYPE".
func run(b *Builder, line string) string {
	args := strings.Fields(line)
	for i, a := range args {
		if a == `""` {
			args[i] = "" // the empty string
		}
	}
	bs := func(i int) []byte { return []byte(args[i]) }
	rest := func(i int) [][]byte {
		var out [][]byte
		for _, a := range args[i:] {
			out = append(out, []byte(a))
		}
		return out
	}
	reply := func(v any, err error) string {
		switch {
		case errors.Is(err, ErrNotInteger):
			return "ERR not integer"
		case errors.Is(err, ErrOverflow):
			return "ERR overflow"
		case errors.Is(err, ErrWrongType):
			return "WRONGTYPE"
		case errors.Is(err, ErrNotFloat):
			return "ERR NaN"
		case errors.Is(err, ErrRange):
			return "ERR range"
		case err != nil:
			return "ERR " + err.Error()
		}
		return fmt.Sprint(v)
	}
	switch strings.ToUpper(args[0]) {
	case "SET":
		return reply("OK", b.Set(bs(1), bs(2)))
	case "GET":
		v := b.Get(bs(1))
		switch v.Type() {
		case TypeNone:
			return "(nil)"
		case TypeRegister:
			s, _ := v.Register()
			return string(s)
		case TypeCounter:
			n, _ := v.Counter()
			return strconv.FormatInt(n, 10)
		}
		return "WRONGTYPE"
	case "DEL":
		existed := b.Get(bs(1)) != nil
		if err := b.Delete(bs(1)); err != nil {
			return reply(nil, err)
		}
		if existed {
			return "1"
		}
		return "0"
	case "TYPE":
		return b.Get(bs(1)).Type().String()
	case "INCR":
		return reply(b.Increment(bs(1), 1))
	case "INCRBY":
		n, _ := strconv.ParseInt(args[2], 10, 64)
		return reply(b.Increment(bs(1), n))
	case "SADD":
		return reply(b.SetAdd(bs(1), rest(2)...))
	case "SREM":
		return reply(b.SetRemove(bs(1), rest(2)...))
	case "SMEMBERS":
		v := b.Get(bs(1))
		if t := v.Type(); t != TypeNone && t != TypeSet {
			return "WRONGTYPE"
		}
		return "[" + strings.Join(members(v), " ") + "]"
	case "SCARD":
		return fmt.Sprint(b.Get(bs(1)).Len())
	case "SISMEMBER":
		if b.Get(bs(1)).Contains(bs(2)) {
			return "1"
		}
		return "0"
	case "HSET":
		added, err := b.MapSet(bs(1), bs(2), bs(3))
		if added {
			return reply(1, err)
		}
		return reply(0, err)
	case "HGET":
		f := b.Get(bs(1)).Field(bs(2))
		switch f.Type() {
		case TypeNone:
			return "(nil)"
		case TypeRegister:
			s, _ := f.Register()
			return string(s)
		case TypeCounter:
			n, _ := f.Counter()
			return strconv.FormatInt(n, 10)
		}
		return "WRONGTYPE"
	case "HINCRBY":
		n, _ := strconv.ParseInt(args[3], 10, 64)
		return reply(b.MapIncrement(bs(1), bs(2), n))
	case "HDEL":
		return reply(b.MapDelete(bs(1), rest(2)...))
	case "HLEN":
		return fmt.Sprint(b.Get(bs(1)).Len())
	case "HGETALL":
		var parts []string
		b.Get(bs(1)).Fields(func(name []byte, v *Value) bool {
			s := "?"
			switch v.Type() {
			case TypeRegister:
				r, _ := v.Register()
				s = string(r)
			case TypeCounter:
				n, _ := v.Counter()
				s = strconv.FormatInt(n, 10)
			}
			parts = append(parts, string(name)+"="+s)
			return true
		})
		return "[" + strings.Join(parts, " ") + "]"
	case "ZADD":
		n := 0
		for i := 2; i+1 < len(args); i += 2 {
			s, _ := strconv.ParseFloat(args[i], 64)
			added, err := b.ZAdd(bs(1), bs(i+1), s)
			if err != nil {
				return reply(nil, err)
			}
			n += b2i(added)
		}
		return fmt.Sprint(n)
	case "ZINCRBY":
		by, _ := strconv.ParseFloat(args[2], 64)
		s, err := b.ZIncrement(bs(1), bs(3), by)
		return reply(strconv.FormatFloat(s, 'g', -1, 64), err)
	case "ZREM":
		return reply(b.ZRemove(bs(1), rest(2)...))
	case "ZSCORE":
		s, ok, err := b.ZScore(bs(1), bs(2))
		if err == nil && !ok {
			return "(nil)"
		}
		return reply(strconv.FormatFloat(s, 'g', -1, 64), err)
	case "ZCARD":
		return fmt.Sprint(b.Get(bs(1)).ZCard())
	case "ZRANGE":
		v := b.Get(bs(1))
		if t := v.Type(); t != TypeNone && t != TypeZSet {
			return "WRONGTYPE"
		}
		var parts []string
		v.ZAscend(0, func(m []byte, s float64) bool {
			parts = append(parts, string(m)+"="+strconv.FormatFloat(s, 'g', -1, 64))
			return true
		})
		return "[" + strings.Join(parts, " ") + "]"
	case "EXPIREAT":
		d, _ := strconv.ParseUint(args[2], 10, 64)
		ok, err := b.Expire(bs(1), d)
		return reply(b2i(ok), err)
	case "PERSIST":
		ok, err := b.Persist(bs(1))
		return reply(b2i(ok), err)
	case "SETKEEPTTL":
		return reply("OK", b.SetKeepTTL(bs(1), bs(2)))
	case "RECLAIM":
		ok, err := b.Reclaim(bs(1))
		return reply(b2i(ok), err)
	case "LPUSH", "RPUSH":
		return reply(b.ListPush(bs(1), strings.EqualFold(args[0], "LPUSH"), rest(2)...))
	case "LINSERTAT":
		i, _ := strconv.Atoi(args[2])
		return reply(b.ListInsert(bs(1), i, rest(3)...))
	case "LDELAT":
		i, _ := strconv.Atoi(args[2])
		return reply(b.ListRemove(bs(1), i))
	case "LDELRANGE":
		i, _ := strconv.Atoi(args[2])
		n, _ := strconv.Atoi(args[3])
		return reply(b.ListDelete(bs(1), i, n))
	case "LTRIMTO":
		i, _ := strconv.Atoi(args[2])
		j, _ := strconv.Atoi(args[3])
		return reply(b.ListTrim(bs(1), i, j))
	case "LSET":
		i, _ := strconv.Atoi(args[2])
		return reply("OK", b.ListSet(bs(1), i, bs(3)))
	case "LPOP", "RPOP":
		vs, err := b.ListPop(bs(1), strings.EqualFold(args[0], "LPOP"), 1)
		if err == nil && len(vs) == 0 {
			return "(nil)"
		}
		if err != nil {
			return reply(nil, err)
		}
		return string(vs[0])
	case "LRANGE":
		v := b.Get(bs(1))
		if t := v.Type(); t != TypeNone && t != TypeList {
			return "WRONGTYPE"
		}
		var parts []string
		for _, e := range v.List() {
			parts = append(parts, string(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case "LLEN":
		return fmt.Sprint(b.Get(bs(1)).ListLen())
	case "TINS":
		i, _ := strconv.Atoi(args[2])
		return reply(b.TextInsert(bs(1), i, bs(3)))
	case "TDEL":
		i, _ := strconv.Atoi(args[2])
		n, _ := strconv.Atoi(args[3])
		return reply(b.TextDelete(bs(1), i, n))
	case "TGET":
		v := b.Get(bs(1))
		if t := v.Type(); t != TypeNone && t != TypeText {
			return "WRONGTYPE"
		}
		return "'" + v.Text() + "'"
	case "TLEN":
		return fmt.Sprint(b.Get(bs(1)).TextLen())
	case "DEADLINE":
		v := b.Get(bs(1))
		if v == nil {
			return "(nil)"
		}
		if d, ok := v.Deadline(); ok {
			return strconv.FormatUint(d, 10)
		}
		return "none"
	}
	if out, ok := runStream(b, args); ok {
		return out
	}
	if out, ok := runBCounter(b, args); ok {
		return out
	}
	panic("unknown command " + line)
}

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// script runs lines against replica r. Each line is "COMMAND ... ->
// expected"; lines between MULTI and EXEC form one transaction (replies
// inside it are checked as the transaction sees them), every other line is
// its own transaction. It returns the transactions committed.
func script(t tb, r *replica, lines ...string) []*Txn {
	t.Helper()
	var txns []*Txn
	var b *Builder
	commit := func() {
		if b.Empty() {
			b = nil
			return
		}
		txn := b.Finish()
		r.deliver(t, txn)
		txns = append(txns, txn)
		b = nil
	}
	for _, line := range lines {
		switch line {
		case "MULTI":
			b = r.begin()
			continue
		case "EXEC":
			commit()
			continue
		}
		cmd, want, _ := strings.Cut(line, "->")
		cmd, want = strings.TrimSpace(cmd), strings.TrimSpace(want)
		single := b == nil
		if single {
			b = r.begin()
		}
		if got := run(b, cmd); want != "" && got != want {
			t.Fatalf("node %v: %s: got %q, want %q", r.id, cmd, got, want)
		}
		if single {
			commit()
		}
	}
	return txns
}
