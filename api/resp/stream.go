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

// Streams: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD (BLOCK waits
// on this node), XINFO STREAM. IDs, merge and trimming are crdt's (see
// crdt/stream.go and docs/semantics.md): an ID XADD generates is
// ms-(n<<32 | node tag), unique per node; an explicit ID must exceed the
// stream's last ID on this node.
//
// Consumer groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM)
// are refused with errNoGroups: a group delivers each entry to one
// consumer and tracks acknowledgements, which needs the nodes to agree on
// who took what — coordination Spook's writes never wait for. Per-node
// groups would deliver an entry once per node, which is not what an
// application using a group asks for.

// Stream error replies, with Redis's texts.
const (
	errStreamID       respErr = "ERR Invalid stream ID specified as stream command argument"
	errStreamIDSmall  respErr = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
	errStreamIDZero   respErr = "ERR The ID specified in XADD must be greater than 0-0"
	errMaxLenNegative respErr = "ERR The MAXLEN argument must be >= 0."
	errLimitNegative  respErr = "ERR The LIMIT argument must be >= 0."
	errLimitNoApprox  respErr = "ERR syntax error, LIMIT cannot be used without the special ~ option"
	errMaxLenMinID    respErr = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
	errXReadUnbalance respErr = "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified."
	errTimeoutInt     respErr = "ERR timeout is not an integer or out of range"
	errTimeoutNeg     respErr = "ERR timeout is negative"
	errNoGroups       respErr = "ERR Spook does not support stream consumer groups: delivering each entry to one consumer needs the nodes to agree, which Spook's writes never wait for (docs/api.md)"
)

var maxStreamID = crdt.StreamID{Ms: math.MaxUint64, Seq: math.MaxUint64}

// parseStreamID parses "ms" or "ms-seq" as Redis does; a missing seq is
// missingSeq. With special, "-" and "+" are the smallest and greatest IDs.
func parseStreamID(b []byte, missingSeq uint64, special bool) (crdt.StreamID, error) {
	if special && len(b) == 1 {
		switch b[0] {
		case '-':
			return crdt.StreamID{}, nil
		case '+':
			return maxStreamID, nil
		}
	}
	if len(b) >= maxIDArgBytes {
		return crdt.StreamID{}, errStreamID
	}
	msPart, seqPart, hasSeq := bytes.Cut(b, []byte("-"))
	ms, ok := parseUint(msPart)
	if !ok {
		return crdt.StreamID{}, errStreamID
	}
	if !hasSeq {
		return crdt.StreamID{Ms: ms, Seq: missingSeq}, nil
	}
	seq, ok := parseUint(seqPart)
	if !ok {
		return crdt.StreamID{}, errStreamID
	}
	return crdt.StreamID{Ms: ms, Seq: seq}, nil
}

// maxIDArgBytes bounds an ID argument, as Redis's 128-byte buffer does.
const maxIDArgBytes = 128

// parseUint parses one part of an ID as Redis's string2ull: what C's
// strtoull accepts (leading white space, a sign, leading zeros; a '-'
// negates modulo 2^64), all of it digits after that, within uint64.
func parseUint(b []byte) (uint64, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	if i == len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:]), 10, 64)
	if err != nil || b[i] == '+' || b[i] == '-' {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseRangeID parses an XRANGE bound: an ID, "-", "+", or "(" and an ID
// for an exclusive bound (Redis 6.2).
func parseRangeID(b []byte, missingSeq uint64, start bool) (crdt.StreamID, error) {
	if len(b) > 1 && b[0] == '(' {
		id, err := parseStreamID(b[1:], missingSeq, false)
		if err != nil {
			return id, err
		}
		if start {
			if id == maxStreamID {
				return id, respErr("ERR invalid start ID for the interval")
			}
			if id.Seq == math.MaxUint64 {
				return crdt.StreamID{Ms: id.Ms + 1}, nil
			}
			id.Seq++
			return id, nil
		}
		if id.IsZero() {
			return id, respErr("ERR invalid end ID for the interval")
		}
		if id.Seq == 0 {
			return crdt.StreamID{Ms: id.Ms - 1, Seq: math.MaxUint64}, nil
		}
		id.Seq--
		return id, nil
	}
	return parseStreamID(b, missingSeq, true)
}

// streamOf returns the stream at key: nil if absent, errWrongType if
// another type.
func streamOf(v view, key []byte) (*crdt.Value, error) {
	val := v.get(key)
	if val != nil && val.Type() != crdt.TypeStream {
		return nil, errWrongType
	}
	return val, nil
}

func appendStreamEntry(out []byte, e crdt.StreamEntry) []byte {
	out = redcon.AppendArray(out, 2)
	out = redcon.AppendBulkString(out, e.ID.String())
	out = redcon.AppendArray(out, len(e.Fields))
	for _, f := range e.Fields {
		out = redcon.AppendBulk(out, f)
	}
	return out
}

// appendStreamRange appends the entries of val in [start, end], at most
// count (≤ 0: all), as an array.
func appendStreamRange(out []byte, val *crdt.Value, start, end crdt.StreamID, rev bool, count int64) []byte {
	var entries []crdt.StreamEntry
	val.StreamRange(start, end, rev, func(e crdt.StreamEntry) bool {
		entries = append(entries, e)
		return count <= 0 || int64(len(entries)) < count
	})
	out = redcon.AppendArray(out, len(entries))
	for _, e := range entries {
		out = appendStreamEntry(out, e)
	}
	return out
}

// addTrimArgs is XADD's and XTRIM's options.
type addTrimArgs struct {
	trim     crdt.StreamTrim
	trimming bool
	noMk     bool
	idPos    int // XADD: the position of the ID argument
}

// parseAddTrim parses the options of XADD (xadd) or XTRIM from args[2]
// on, in the order and with the errors of Redis's
// streamParseAddOrTrimArgsOrReply.
func parseAddTrim(args [][]byte, xadd bool) (addTrimArgs, error) {
	var a addTrimArgs
	limit, limitGiven := int64(-1), false
	i := 2
	for ; i < len(args); i++ {
		more := len(args) - 1 - i
		opt := string(bytes.ToLower(args[i]))
		switch {
		case xadd && opt == "*":
		case (opt == "maxlen" || opt == "minid") && more > 0:
			if a.trimming {
				return a, errMaxLenMinID
			}
			a.trim.Approx = false
			if next := string(args[i+1]); more >= 2 && (next == "~" || next == "=") {
				a.trim.Approx = next == "~"
				i++
			}
			if opt == "maxlen" {
				n, err := parseInt(args[i+1])
				if err != nil {
					return a, err
				}
				if n < 0 {
					return a, errMaxLenNegative
				}
				a.trim.MaxLen, a.trim.ByMinID = n, false
			} else {
				id, err := parseStreamID(args[i+1], 0, false)
				if err != nil {
					return a, err
				}
				a.trim.MinID, a.trim.ByMinID = id, true
			}
			a.trimming = true
			i++
			continue
		case opt == "limit" && more > 0:
			n, err := parseInt(args[i+1])
			if err != nil {
				return a, err
			}
			if n < 0 {
				return a, errLimitNegative
			}
			limit, limitGiven = n, true
			i++
			continue
		case xadd && opt == "nomkstream":
			a.noMk = true
			continue
		case xadd:
			if _, _, err := parseXAddID(args[i]); err != nil {
				return a, err
			}
		default:
			return a, errSyntax
		}
		break
	}
	if limit > 0 && !a.trimming {
		return a, respErr("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
	}
	if !xadd && !a.trimming {
		return a, respErr("ERR syntax error, XTRIM must be called with a trimming strategy")
	}
	if limitGiven && !a.trim.Approx {
		return a, errLimitNoApprox
	}
	a.trim.Limit = limit
	if limitGiven && limit == 0 {
		a.trim.Limit = math.MaxInt64 // Redis: LIMIT 0 means no limit
	}
	a.idPos = i
	return a, nil
}

// parseXAddID parses XADD's ID argument: "*", "ms-*" or an ID.
func parseXAddID(arg []byte) (crdt.StreamIDMode, crdt.StreamID, error) {
	switch {
	case string(arg) == "*":
		return crdt.StreamIDAuto, crdt.StreamID{}, nil
	case bytes.HasSuffix(arg, []byte("-*")) && len(arg) < maxIDArgBytes:
		ms, ok := parseUint(arg[:len(arg)-2])
		if !ok {
			return 0, crdt.StreamID{}, errStreamID
		}
		return crdt.StreamIDAutoSeq, crdt.StreamID{Ms: ms}, nil
	}
	id, err := parseStreamID(arg, 0, false)
	return crdt.StreamIDExplicit, id, err
}

func streamError(err error) error {
	switch {
	case errors.Is(err, crdt.ErrStreamID):
		return errStreamIDSmall
	case errors.Is(err, crdt.ErrStreamIDZero):
		return errStreamIDZero
	}
	return mutationError(err)
}

func writeXAdd(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	a, err := parseAddTrim(args, true)
	if err != nil {
		return out, err
	}
	i := a.idPos
	if i >= len(args) || (len(args)-i-1) < 2 || (len(args)-i-1)%2 != 0 {
		return out, respErr("ERR wrong number of arguments for 'xadd' command")
	}
	mode, id, _ := parseXAddID(args[i])
	if mode == crdt.StreamIDExplicit && id.IsZero() {
		return out, errStreamIDZero
	}
	fields := args[i+1:]
	for _, f := range fields {
		if err := checkValue(f); err != nil {
			return out, err
		}
	}
	val, err := streamOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil && a.noMk {
		return redcon.AppendNull(out), nil
	}
	nid, err := tx.StreamAdd(key, mode, id, fields)
	if err != nil {
		return out, streamError(err)
	}
	if a.trimming {
		if _, err := tx.StreamTrim(key, a.trim); err != nil {
			return out, err // follows the add: abort
		}
	}
	return redcon.AppendBulkString(out, nid.String()), nil
}

func writeXTrim(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	a, err := parseAddTrim(args, false)
	if err != nil {
		return out, err
	}
	val, err := streamOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil {
		return redcon.AppendInt(out, 0), nil
	}
	n, err := tx.StreamTrim(key, a.trim)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, n), nil
}

func writeXDel(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	key := args[1]
	if err := checkKey(key); err != nil {
		return out, err
	}
	// Redis looks the key up before it parses the IDs.
	val, err := streamOf(view{tx}, key)
	if err != nil {
		return out, err
	}
	if val == nil {
		return redcon.AppendInt(out, 0), nil
	}
	ids := make([]crdt.StreamID, 0, len(args)-2)
	for _, a := range args[2:] {
		id, err := parseStreamID(a, 0, false)
		if err != nil {
			return out, err
		}
		ids = append(ids, id)
	}
	n, err := tx.StreamDelete(key, ids...)
	if err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, int64(n)), nil
}

func readXLen(v view, args [][]byte, out []byte) []byte {
	val, err := streamOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return redcon.AppendInt(out, int64(val.StreamLen()))
}

func readXRange(v view, args [][]byte, out []byte) []byte    { return xrange(v, args, out, false) }
func readXRevRange(v view, args [][]byte, out []byte) []byte { return xrange(v, args, out, true) }

func xrange(v view, args [][]byte, out []byte, rev bool) []byte {
	startArg, endArg := args[2], args[3]
	if rev {
		startArg, endArg = endArg, startArg
	}
	start, err := parseRangeID(startArg, 0, true)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	end, err := parseRangeID(endArg, math.MaxUint64, false)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	count := int64(-1)
	for i := 4; i < len(args); i += 2 {
		if !bytes.EqualFold(args[i], []byte("count")) || i+1 >= len(args) {
			return redcon.AppendError(out, string(errSyntax))
		}
		n, err := parseInt(args[i+1])
		if err != nil {
			return redcon.AppendError(out, err.Error())
		}
		count = max(n, 0)
	}
	val, err := streamOf(v, args[1])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	switch {
	case val == nil:
		return redcon.AppendArray(out, 0)
	case count == 0:
		return append(out, "*-1\r\n"...) // Redis: COUNT 0 (or negative) is a null array
	}
	return appendStreamRange(out, val, start, end, rev, count)
}

// xreadArgs is a parsed XREAD.
type xreadArgs struct {
	count   int64 // ≤ 0: no limit
	block   bool
	timeout time.Duration // with block; 0: no limit
	keys    [][]byte
	idArgs  [][]byte        // as given; resolve parses them
	ids     []crdt.StreamID // nil until resolve
}

func parseXRead(args [][]byte) (xreadArgs, error) {
	var x xreadArgs
	i := 1
	for ; i < len(args); i++ {
		switch string(bytes.ToLower(args[i])) {
		case "count":
			if i+1 >= len(args) {
				return x, errSyntax
			}
			n, err := parseInt(args[i+1])
			if err != nil {
				return x, err
			}
			x.count = max(n, 0)
			i++
			continue
		case "block":
			if i+1 >= len(args) {
				return x, errSyntax
			}
			ms, err := parseInt(args[i+1])
			if err != nil {
				return x, errTimeoutInt
			}
			if ms < 0 {
				return x, errTimeoutNeg
			}
			x.block, x.timeout = true, time.Duration(min(ms, math.MaxInt64/int64(time.Millisecond)))*time.Millisecond
			i++
			continue
		case "streams":
		default:
			return x, errSyntax
		}
		break
	}
	if i >= len(args) {
		return x, errSyntax
	}
	rest := args[i+1:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		return x, errXReadUnbalance
	}
	n := len(rest) / 2
	x.keys, x.idArgs = rest[:n], rest[n:]
	return x, nil
}

// resolve checks each key's type and parses its ID, in Redis's order (key
// by key), the first time it runs: "$" is the stream's last ID now.
func (x *xreadArgs) resolve(v view) error {
	if x.ids != nil {
		return nil
	}
	ids := make([]crdt.StreamID, len(x.keys))
	for i, key := range x.keys {
		val, err := streamOf(v, key)
		if err != nil {
			return err
		}
		if string(x.idArgs[i]) == "$" {
			ids[i] = val.StreamLast()
			continue
		}
		if ids[i], err = parseStreamID(x.idArgs[i], 0, false); err != nil {
			return err
		}
	}
	x.ids = ids
	return nil
}

// appendXRead appends XREAD's reply for what v holds now: the entries
// after each stream's ID, or a null array if there are none. It reports
// whether there were any.
func (x *xreadArgs) appendReply(v view, out []byte) ([]byte, bool, error) {
	type result struct {
		key     []byte
		entries []crdt.StreamEntry
	}
	var results []result
	for i, key := range x.keys {
		val, err := streamOf(v, key)
		if err != nil {
			return out, false, err
		}
		if val == nil || x.ids[i] == maxStreamID {
			continue
		}
		from := x.ids[i]
		if from.Seq == math.MaxUint64 {
			from = crdt.StreamID{Ms: from.Ms + 1}
		} else {
			from.Seq++
		}
		var entries []crdt.StreamEntry
		val.StreamRange(from, maxStreamID, false, func(e crdt.StreamEntry) bool {
			entries = append(entries, e)
			return x.count <= 0 || int64(len(entries)) < x.count
		})
		if len(entries) > 0 {
			results = append(results, result{key, entries})
		}
	}
	if len(results) == 0 {
		return append(out, "*-1\r\n"...), false, nil
	}
	out = redcon.AppendArray(out, len(results))
	for _, r := range results {
		out = redcon.AppendArray(out, 2)
		out = redcon.AppendBulk(out, r.key)
		out = redcon.AppendArray(out, len(r.entries))
		for _, e := range r.entries {
			out = appendStreamEntry(out, e)
		}
	}
	return out, true, nil
}

// readXRead is XREAD without waiting (inside MULTI, BLOCK is ignored as
// in Redis).
func readXRead(v view, args [][]byte, out []byte) []byte {
	x, err := parseXRead(args)
	if err == nil {
		err = x.resolve(v)
	}
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	out, _, err = x.appendReply(v, out)
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	return out
}

// cmdXRead is XREAD outside MULTI: with BLOCK it waits on this node until
// an entry arrives after one of the IDs, or the timeout.
func cmdXRead(s *Server, c *client, args [][]byte) {
	x, err := parseXRead(args)
	if err != nil {
		c.out.WriteError(err.Error())
		return
	}
	try := func() (bool, error) {
		out := c.buf[:0]
		done := false
		err := s.backend.View(func(ks *crdt.Keyspace) error {
			v := readView(ks)
			if err := x.resolve(v); err != nil {
				return err
			}
			var err error
			out, done, err = x.appendReply(v, out)
			return err
		})
		if err != nil {
			return false, err
		}
		if done || !x.block {
			c.reply(out)
			return true, nil
		}
		return false, nil
	}
	if !x.block {
		if _, err := try(); err != nil {
			c.out.WriteError(errorText(err))
		}
		return
	}
	switch err := s.block(c, x.keys, x.timeout, try); {
	case err == nil:
	case errors.Is(err, errBlockTimeout):
		c.out.WriteRaw([]byte("*-1\r\n"))
	default:
		c.out.WriteError(s.errorText(err))
	}
}

// readXInfo is XINFO STREAM key: the length, last ID, first and last
// entries, and no groups. XINFO GROUPS and CONSUMERS are refused with
// errNoGroups; FULL is not supported.
func readXInfo(v view, args [][]byte, out []byte) []byte {
	switch sub := string(bytes.ToLower(args[1])); {
	case sub == "groups" || sub == "consumers":
		return redcon.AppendError(out, string(errNoGroups))
	case sub != "stream":
		return redcon.AppendError(out, "ERR unknown subcommand '"+oneLine(string(args[1]))+"'. Try XINFO HELP.")
	case len(args) != 3:
		return redcon.AppendError(out, string(errSyntax))
	}
	val, err := streamOf(v, args[2])
	if err != nil {
		return redcon.AppendError(out, err.Error())
	}
	if val == nil {
		return redcon.AppendError(out, "ERR no such key")
	}
	entry := func(out []byte, rev bool) []byte {
		found := false
		val.StreamRange(crdt.StreamID{}, maxStreamID, rev, func(e crdt.StreamEntry) bool {
			out = appendStreamEntry(out, e)
			found = true
			return false
		})
		if !found {
			out = redcon.AppendNull(out)
		}
		return out
	}
	out = redcon.AppendArray(out, 10)
	out = redcon.AppendBulkString(out, "length")
	out = redcon.AppendInt(out, int64(val.StreamLen()))
	out = redcon.AppendBulkString(out, "last-generated-id")
	out = redcon.AppendBulkString(out, val.StreamLast().String())
	out = redcon.AppendBulkString(out, "groups")
	out = redcon.AppendInt(out, 0)
	out = redcon.AppendBulkString(out, "first-entry")
	out = entry(out, false)
	out = redcon.AppendBulkString(out, "last-entry")
	return entry(out, true)
}

// cmdNoGroups refuses the consumer-group commands (see errNoGroups).
func cmdNoGroups(s *Server, c *client, args [][]byte) { c.out.WriteError(string(errNoGroups)) }

// streamCommands are the stream entries of the command table.
var streamCommands = []*command{
	{name: "xadd", arity: -5, flags: flagWrite, first: 1, last: 1, step: 1, write: writeXAdd},
	{name: "xtrim", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, write: writeXTrim},
	{name: "xdel", arity: -3, flags: flagWrite, first: 1, last: 1, step: 1, write: writeXDel},
	{name: "xlen", arity: 2, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readXLen},
	{name: "xrange", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readXRange},
	{name: "xrevrange", arity: -4, flags: flagReadOnly, first: 1, last: 1, step: 1, read: readXRevRange},
	{name: "xread", arity: -4, flags: flagReadOnly, conn: cmdXRead, read: readXRead},
	{name: "xinfo", arity: -2, flags: flagReadOnly, first: 2, last: 2, step: 1, read: readXInfo},
	{name: "xgroup", arity: -2, flags: flagWrite, conn: cmdNoGroups},
	{name: "xreadgroup", arity: -7, flags: flagWrite, conn: cmdNoGroups},
	{name: "xack", arity: -4, flags: flagWrite, first: 1, last: 1, step: 1, conn: cmdNoGroups},
	{name: "xpending", arity: -3, flags: flagReadOnly, first: 1, last: 1, step: 1, conn: cmdNoGroups},
	{name: "xclaim", arity: -6, flags: flagWrite, first: 1, last: 1, step: 1, conn: cmdNoGroups},
	{name: "xautoclaim", arity: -6, flags: flagWrite, first: 1, last: 1, step: 1, conn: cmdNoGroups},
}
