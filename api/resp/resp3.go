package resp

import (
	"bytes"
	"strconv"
)

// RESP3 (HELLO 3). Commands append their replies in RESP2, the one form
// the command functions know; for a connection that chose RESP3, dispatch
// rewrites each reply into the RESP3 types Redis 7 uses for that command
// (resp3Shapes): nil bulk and nil array become null ("_"), field-value
// arrays become maps ("%"), set members sets ("~"), scores doubles (","),
// and WITHSCORES / WITHVALUES replies arrays of pairs. Pub/sub messages
// are written as pushes (">") directly (conn.WritePush). A RESP2
// connection is never rewritten, so its bytes are unchanged.

// shape is how a command's RESP2 reply maps onto RESP3.
type shape uint8

const (
	shapePlain    shape = iota // nulls only
	shapeMap                   // flat field-value array → map
	shapeSet                   // array → set
	shapeDouble                // bulk → double
	shapeDoubles               // array of bulks → array of doubles
	shapeScores                // flat member-score array → pairs, when WITHSCORES
	shapeValues                // flat field-value array → pairs, when WITHVALUES
	shapePop                   // ZPOPMIN/ZPOPMAX: flat pair, or pairs with a count
	shapeBPop                  // BZPOPMIN/BZPOPMAX: key, member, double score
	shapeStreams               // XREAD: array of [key, entries] → map key → entries
	shapeSetCount              // SPOP/… with a count: array → set
	shapeRank                  // ZRANK … WITHSCORE: rank, double score
	shapeMPop                  // ZMPOP/BZMPOP: key, pairs with double scores
)

// resp3Shapes lists the commands whose RESP3 reply is not just their
// RESP2 reply with nulls rewritten. CONFIG GET is keyed "config get".
var resp3Shapes = map[string]shape{
	"hgetall":          shapeMap,
	"config get":       shapeMap,
	"smembers":         shapeSet,
	"sinter":           shapeSet,
	"sunion":           shapeSet,
	"sdiff":            shapeSet,
	"spop":             shapeSetCount,
	"zscore":           shapeDouble,
	"zincrby":          shapeDouble,
	"zadd":             shapeDouble,
	"zmscore":          shapeDoubles,
	"zrange":           shapeScores,
	"zrevrange":        shapeScores,
	"zrangebyscore":    shapeScores,
	"zrevrangebyscore": shapeScores,
	"zunion":           shapeScores,
	"zinter":           shapeScores,
	"zdiff":            shapeScores,
	"zrandmember":      shapeScores,
	"zpopmin":          shapePop,
	"zpopmax":          shapePop,
	"bzpopmin":         shapeBPop,
	"bzpopmax":         shapeBPop,
	"hrandfield":       shapeValues,
	"zrank":            shapeRank,
	"zmpop":            shapeMPop,
	"bzmpop":           shapeMPop,
	"zrevrank":         shapeRank,
	"xread":            shapeStreams,
}

// resp3Shape is the shape of the reply to args.
func resp3Shape(name string, args [][]byte) shape {
	if name == "config" && len(args) > 1 && bytes.EqualFold(args[1], []byte("get")) {
		name = "config get"
	}
	sh := resp3Shapes[name]
	switch sh {
	case shapeScores:
		if !hasArg(args, "withscores") {
			return shapePlain
		}
	case shapeValues:
		if !hasArg(args, "withvalues") {
			return shapePlain
		}
	}
	return sh
}

func hasArg(args [][]byte, word string) bool {
	for _, a := range args[1:] {
		if bytes.EqualFold(a, []byte(word)) {
			return true
		}
	}
	return false
}

// toRESP3 rewrites the RESP2 replies in b[start:] (whole replies, one or
// more) into RESP3 for a command of shape sh with nargs arguments
// (command name included).
func toRESP3(b []byte, start int, sh shape, nargs int) []byte {
	if sh == shapePlain && !bytes.Contains(b[start:], []byte("-1\r\n")) {
		return b // no null to rewrite: the common case costs one scan
	}
	in := append([]byte(nil), b[start:]...)
	out := b[:start]
	for len(in) > 0 {
		v, rest := parseReply(in)
		out = v.appendRESP3(out, sh, nargs)
		in = rest
	}
	return out
}

// reply2 is one parsed RESP2 reply of our own writing (well formed).
type reply2 struct {
	kind  byte   // '+', '-', ':', '$', '*'
	n     int    // bulk length or element count; -1 for nil
	data  []byte // simple string, error, integer text, or bulk bytes
	elems []reply2
}

// parseReply parses one reply at the start of b and returns the rest.
func parseReply(b []byte) (reply2, []byte) {
	i := bytes.IndexByte(b, '\r')
	line, rest := b[1:i], b[i+2:]
	v := reply2{kind: b[0]}
	switch v.kind {
	case '$':
		v.n, _ = strconv.Atoi(string(line))
		if v.n >= 0 {
			v.data, rest = rest[:v.n], rest[v.n+2:]
		}
	case '*':
		v.n, _ = strconv.Atoi(string(line))
		for range max(v.n, 0) {
			var e reply2
			e, rest = parseReply(rest)
			v.elems = append(v.elems, e)
		}
	default:
		v.data = line
	}
	return v, rest
}

// append2 appends v in RESP3 with only nulls rewritten.
func (v reply2) append2(out []byte) []byte {
	switch v.kind {
	case '$':
		if v.n < 0 {
			return append(out, "_\r\n"...)
		}
		out = append(append(append(out, '$'), strconv.Itoa(v.n)...), "\r\n"...)
		return append(append(out, v.data...), "\r\n"...)
	case '*':
		if v.n < 0 {
			return append(out, "_\r\n"...)
		}
		return v.appendElems(out, '*')
	}
	return append(append(append(out, v.kind), v.data...), "\r\n"...)
}

func (v reply2) appendElems(out []byte, kind byte) []byte {
	out = append(append(append(out, kind), strconv.Itoa(len(v.elems))...), "\r\n"...)
	for _, e := range v.elems {
		out = e.append2(out)
	}
	return out
}

// appendDouble appends a bulk score as a RESP3 double (Redis writes the
// same text in both: %.17g, inf, -inf).
func (v reply2) appendDouble(out []byte) []byte {
	if v.kind != '$' || v.n < 0 {
		return v.append2(out)
	}
	return append(append(append(out, ','), v.data...), "\r\n"...)
}

// appendPairs appends a flat array of 2n elements as n pairs, the second
// of each a double when scores.
func (v reply2) appendPairs(out []byte, scores bool) []byte {
	if v.kind != '*' || v.n < 0 || len(v.elems)%2 != 0 {
		return v.append2(out)
	}
	out = append(append(append(out, '*'), strconv.Itoa(len(v.elems)/2)...), "\r\n"...)
	for i := 0; i < len(v.elems); i += 2 {
		out = append(out, "*2\r\n"...)
		out = v.elems[i].append2(out)
		if scores {
			out = v.elems[i+1].appendDouble(out)
		} else {
			out = v.elems[i+1].append2(out)
		}
	}
	return out
}

// appendRESP3 appends v as the RESP3 reply of a command of shape sh.
func (v reply2) appendRESP3(out []byte, sh shape, nargs int) []byte {
	array := v.kind == '*' && v.n >= 0
	switch {
	case sh == shapeMap && array && len(v.elems)%2 == 0:
		out = append(append(append(out, '%'), strconv.Itoa(len(v.elems)/2)...), "\r\n"...)
		for _, e := range v.elems {
			out = e.append2(out)
		}
		return out
	case (sh == shapeSet || sh == shapeSetCount) && array:
		return v.appendElems(out, '~')
	case sh == shapeDouble:
		return v.appendDouble(out)
	case sh == shapeDoubles && array:
		out = append(append(append(out, '*'), strconv.Itoa(len(v.elems))...), "\r\n"...)
		for _, e := range v.elems {
			out = e.appendDouble(out)
		}
		return out
	case sh == shapeScores || (sh == shapePop && nargs > 2):
		return v.appendPairs(out, true)
	case sh == shapeValues:
		return v.appendPairs(out, false)
	case sh == shapePop && array && len(v.elems) == 2:
		out = append(out, "*2\r\n"...)
		return v.elems[1].appendDouble(v.elems[0].append2(out))
	case sh == shapeRank && array && len(v.elems) == 2:
		out = append(out, "*2\r\n"...)
		return v.elems[1].appendDouble(v.elems[0].append2(out))
	case sh == shapeMPop && array && len(v.elems) == 2 && v.elems[1].kind == '*' && allPairs(v.elems[1].elems):
		out = v.elems[0].append2(append(out, "*2\r\n"...))
		out = append(append(append(out, '*'), strconv.Itoa(len(v.elems[1].elems))...), "\r\n"...)
		for _, p := range v.elems[1].elems {
			out = append(out, "*2\r\n"...)
			out = p.elems[1].appendDouble(p.elems[0].append2(out))
		}
		return out
	case sh == shapeBPop && array && len(v.elems) == 3:
		out = append(out, "*3\r\n"...)
		return v.elems[2].appendDouble(v.elems[1].append2(v.elems[0].append2(out)))
	case sh == shapeStreams && array && allPairs(v.elems):
		out = append(append(append(out, '%'), strconv.Itoa(len(v.elems))...), "\r\n"...)
		for _, e := range v.elems {
			out = e.elems[1].append2(e.elems[0].append2(out))
		}
		return out
	}
	return v.append2(out)
}

func allPairs(elems []reply2) bool {
	for _, e := range elems {
		if e.kind != '*' || len(e.elems) != 2 {
			return false
		}
	}
	return true
}

// execToRESP3 rewrites the RESP2 reply of EXEC in b[start:], each slot
// with the shape of its queued command.
func execToRESP3(b []byte, start int, queued []queuedCommand) []byte {
	in := append([]byte(nil), b[start:]...)
	v, _ := parseReply(in)
	if v.kind != '*' || v.n < 0 || len(v.elems) != len(queued) {
		return toRESP3(b, start, shapePlain, 1)
	}
	out := append(append(append(b[:start], '*'), strconv.Itoa(len(v.elems))...), "\r\n"...)
	for i, e := range v.elems {
		q := queued[i]
		out = e.appendRESP3(out, resp3Shape(q.cmd.name, q.args), len(q.args))
	}
	return out
}

// batchToRESP3 rewrites the RESP2 replies in b[start:] of a batch of
// plain writes (runWrites), one reply per command, each with its
// command's shape.
func batchToRESP3(b []byte, start int, batch [][][]byte) []byte {
	shapes := make([]shape, len(batch))
	rewrite := bytes.Contains(b[start:], []byte("-1\r\n"))
	for i, args := range batch {
		shapes[i] = resp3Shape(lookupFolded(args[0]).name, args)
		rewrite = rewrite || shapes[i] != shapePlain
	}
	if !rewrite {
		return b
	}
	in := append([]byte(nil), b[start:]...)
	out := b[:start]
	for i := 0; len(in) > 0; i++ {
		v, rest := parseReply(in)
		sh, nargs := shapePlain, 1
		if i < len(batch) {
			sh, nargs = shapes[i], len(batch[i])
		}
		out = v.appendRESP3(out, sh, nargs)
		in = rest
	}
	return out
}
