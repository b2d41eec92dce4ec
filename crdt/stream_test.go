package crdt

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/spooksystems/spook/internal/codec"
	"pgregory.net/rapid"
)

// parseID reads "ms-seq" for the stream script commands.
func parseID(s string) StreamID {
	ms, seq, _ := strings.Cut(s, "-")
	a, _ := strconv.ParseUint(ms, 10, 64)
	b, _ := strconv.ParseUint(seq, 10, 64)
	return StreamID{Ms: a, Seq: b}
}

// runStream runs the stream script commands:
//
//	XADD k id|*|ms-* f v... | XDEL k id... | XTRIM k MAXLEN n | XTRIM k MINID id
//	XTRIM k APPROX n | XRANGE k | XLEN k | XLAST k
func runStream(b *Builder, args []string) (string, bool) {
	reply := func(v any, err error) string {
		switch {
		case errors.Is(err, ErrWrongType):
			return "WRONGTYPE"
		case errors.Is(err, ErrStreamID):
			return "ERR ID too small"
		case errors.Is(err, ErrStreamIDZero):
			return "ERR ID zero"
		case err != nil:
			return "ERR " + err.Error()
		}
		switch v := v.(type) {
		case StreamID:
			return v.String()
		}
		return strconv.FormatInt(toInt(v), 10)
	}
	key := []byte(args[0])
	if len(args) > 1 {
		key = []byte(args[1])
	}
	switch strings.ToUpper(args[0]) {
	case "XADD":
		var fields [][]byte
		for _, a := range args[3:] {
			fields = append(fields, []byte(a))
		}
		mode, id := StreamIDExplicit, parseID(args[2])
		switch {
		case args[2] == "*":
			mode = StreamIDAuto
		case strings.HasSuffix(args[2], "-*"):
			mode = StreamIDAutoSeq
		}
		return reply(b.StreamAdd(key, mode, id, fields)), true
	case "XDEL":
		var ids []StreamID
		for _, a := range args[2:] {
			ids = append(ids, parseID(a))
		}
		return reply(b.StreamDelete(key, ids...)), true
	case "XTRIM":
		var tr StreamTrim
		switch args[2] {
		case "MAXLEN":
			tr.MaxLen, _ = strconv.ParseInt(args[3], 10, 64)
		case "APPROX":
			tr.MaxLen, _ = strconv.ParseInt(args[3], 10, 64)
			tr.Approx = true
		case "MINID":
			tr.ByMinID, tr.MinID = true, parseID(args[3])
		}
		return reply(b.StreamTrim(key, tr)), true
	case "XRANGE":
		var parts []string
		b.Get(key).StreamRange(StreamID{}, StreamID{Ms: ^uint64(0), Seq: ^uint64(0)}, false, func(e StreamEntry) bool {
			parts = append(parts, e.String())
			return true
		})
		return "[" + strings.Join(parts, " ") + "]", true
	case "XLEN":
		return strconv.Itoa(b.Get(key).StreamLen()), true
	case "XLAST":
		return b.Get(key).StreamLast().String(), true
	}
	return "", false
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	}
	return -1
}

func genStreamCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	id := func() string {
		return rapid.SampledFrom([]string{"1-1", "2-0", "5-7", "9-1", "1-2"}).Draw(t, "id")
	}
	switch rapid.IntRange(0, 11).Draw(t, "command") {
	case 0:
		return "DEL " + k
	case 1:
		return "SET " + k + " v"
	case 2:
		return "XDEL " + k + " " + id() + " " + id()
	case 3:
		return "XTRIM " + k + " MAXLEN " + rapid.SampledFrom([]string{"0", "1", "2"}).Draw(t, "maxlen")
	case 4:
		return "XTRIM " + k + " MINID " + id()
	case 5:
		return "XADD " + k + " " + id() + " f " + rapid.SampledFrom(propValues).Draw(t, "value")
	case 6:
		return "XADD " + k + " 7-* f v"
	case 7:
		return "XRANGE " + k
	case 8:
		return "SADD " + k + " m"
	case 9:
		return "EXPIREAT " + k + " " + rapid.SampledFrom([]string{"5", "40"}).Draw(t, "deadline")
	}
	return "XADD " + k + " * f " + rapid.SampledFrom(propValues).Draw(t, "value") + " g x"
}

func TestStreamSequential(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
	}{
		{"add range", []string{"XADD s 1-1 f a -> 1-1", "XADD s 2-0 f b g c -> 2-0", "XLEN s -> 2", `XRANGE s -> [1-1{"f"="a"} 2-0{"f"="b","g"="c"}]`, "TYPE s -> stream"}},
		{"explicit ID must grow", []string{"XADD s 5-5 f a", "XADD s 5-5 f b -> ERR ID too small", "XADD s 5-4 f b -> ERR ID too small", "XADD s 0-0 f b -> ERR ID zero", "XADD t 0-0 f b -> ERR ID zero", "XADD s 5-6 f c -> 5-6"}},
		// Node 1 writes at ms 1, 2...: an auto ID is ms-(n<<32 | tag) with tag 1.
		{"auto IDs", []string{"XADD s * f a -> 1-1", "XADD s * f b -> 2-1", "XADD s 100-1 f c", "XADD s * f d -> 100-4294967297", "XADD s 100-* f e -> 100-8589934593", "XADD s 99-* f e -> ERR ID too small", "XADD s 200-* f e -> 200-1"}},
		{"xdel keeps last ID", []string{"XADD s 3-0 f a", "XDEL s 3-0 9-9 -> 1", "XLEN s -> 0", "TYPE s -> stream", "XLAST s -> 3-0", "XADD s 3-0 f b -> ERR ID too small", "XDEL s 3-0 -> 0"}},
		{"xtrim maxlen", []string{"XADD s 1-0 f a", "XADD s 2-0 f b", "XADD s 3-0 f c", "XTRIM s MAXLEN 1 -> 2", `XRANGE s -> [3-0{"f"="c"}]`, "XTRIM s MAXLEN 5 -> 0"}},
		{"xtrim minid", []string{"XADD s 1-0 f a", "XADD s 2-0 f b", "XADD s 3-0 f c", "XTRIM s MINID 2-5 -> 2", "XLEN s -> 1"}},
		{"xtrim approx keeps small streams", []string{"XADD s 1-0 f a", "XADD s 2-0 f b", "XTRIM s APPROX 0 -> 0", "XLEN s -> 2"}},
		{"del and set clear", []string{"XADD s 1-0 f a", "DEL s -> 1", "TYPE s -> none", "XADD s 1-0 f a -> 1-0", "SET s v", "TYPE s -> register", "XADD s 2-0 f a -> WRONGTYPE"}},
		{"wrong types", []string{"SADD k m", "XADD k 1-0 f a -> WRONGTYPE", "XADD s 1-0 f a", "SADD s m -> WRONGTYPE", "INCR s -> WRONGTYPE", "HSET s f v -> WRONGTYPE"}},
		{"multi add del", []string{"XADD s 1-0 f a", "MULTI", "XADD s 2-0 f b -> 2-0", "XDEL s 2-0 1-0 -> 2", "XLEN s -> 0", "XADD s 3-0 f c", "XTRIM s MAXLEN 0 -> 1", "EXEC", "XLEN s -> 0", "XLAST s -> 3-0"}},
		{"expired stream starts afresh", []string{"XADD s 1-0 f a", "EXPIREAT s 3", "XADD s 1-0 f b -> 1-0", "XLEN s -> 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReplicas(1)[0]
			txns := script(t, r, c.lines...)
			other := newReplicas(2)[1]
			for _, txn := range txns {
				other.deliver(t, txn)
			}
			sameState(t, "replay", r.ks, other.ks)
		})
	}
}

// TestStreamConcurrentPairs: the stream rows of docs/semantics.md (see
// TestConcurrentPairs for the harness: A is node 1, B node 2 and later).
func TestStreamConcurrentPairs(t *testing.T) {
	cases := []pairCase{
		{"xadd || xadd (auto IDs)", nil, []string{"XADD s * f a -> 1-1"}, []string{"XADD s * f b -> 2-2"}, []string{`XRANGE s -> [1-1{"f"="a"} 2-2{"f"="b"}]`, "XLAST s -> 2-2"}},
		{"xadd || xadd (same explicit ID)", nil, []string{"XADD s 5-0 f a"}, []string{"XADD s 5-0 f b"}, []string{`XRANGE s -> [5-0{"f"="a"} 5-0{"f"="b"}]`, "XLEN s -> 2"}},
		{"xadd || xdel", []string{"XADD s 1-0 f a"}, []string{"XADD s 2-0 f b"}, []string{"XDEL s 1-0"}, []string{`XRANGE s -> [2-0{"f"="b"}]`}},
		{"xdel || xdel", []string{"XADD s 1-0 f a", "XADD s 2-0 f b"}, []string{"XDEL s 1-0"}, []string{"XDEL s 1-0"}, []string{`XRANGE s -> [2-0{"f"="b"}]`}},
		{"xadd || xtrim", []string{"XADD s 1-0 f a", "XADD s 2-0 f b"}, []string{"XADD s 3-0 f c"}, []string{"XTRIM s MAXLEN 0 -> 2"}, []string{`XRANGE s -> [3-0{"f"="c"}]`}},
		{"xtrim || xtrim", []string{"XADD s 1-0 f a", "XADD s 2-0 f b", "XADD s 3-0 f c"}, []string{"XTRIM s MAXLEN 2"}, []string{"XTRIM s MAXLEN 1"}, []string{`XRANGE s -> [3-0{"f"="c"}]`}},
		{"xadd || del", []string{"XADD s 1-0 f a"}, []string{"XADD s 2-0 f b"}, []string{"DEL s"}, []string{`XRANGE s -> [2-0{"f"="b"}]`, "XLAST s -> 2-0"}},
		{"xdel || del", []string{"XADD s 1-0 f a"}, []string{"XDEL s 1-0"}, []string{"DEL s"}, []string{"TYPE s -> none"}},
		{"xadd || set", []string{"XADD s 1-0 f a"}, []string{"XADD s 2-0 f b"}, []string{"SET s v"}, []string{"TYPE s -> stream", "XLEN s -> 1"}},
		{"xadd || sadd (fresh key)", nil, []string{"XADD k 1-0 f a"}, []string{"SADD k m"}, []string{"TYPE k -> stream"}},
		{"xadd || rpush (fresh key)", nil, []string{"XADD k 1-0 f a"}, []string{"RPUSH k x"}, []string{"TYPE k -> stream"}},
		{"xadd || expire", []string{"XADD s 1-0 f a"}, []string{"XADD s 2-0 f b"}, []string{"EXPIREAT s 1000"}, []string{"XLEN s -> 2", "DEADLINE s -> 1000"}},
		// LMOVE is a pop and a push in one transaction: two nodes moving
		// the one element both take it, so it lands in both destinations.
		{"lmove || lmove (one element)", []string{"RPUSH l x"}, []string{"MULTI", "LPOP l -> x", "RPUSH d1 x", "EXEC"}, []string{"MULTI", "LPOP l -> x", "RPUSH d2 x", "EXEC"}, []string{"LRANGE l -> []", "LRANGE d1 -> [x]", "LRANGE d2 -> [x]"}},
		{"rpoplpush || rpush", []string{"RPUSH l x"}, []string{"MULTI", "RPOP l -> x", "LPUSH l x", "EXEC"}, []string{"RPUSH l y"}, []string{"LRANGE l -> [x y]"}},
	}
	runPairs(t, cases)
}

// TestStreamDecodeRefuses: the stream decoders refuse non-canonical input
// with a reason instead of accepting or panicking.
func TestStreamDecodeRefuses(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "XADD s 1-0 f a", "XADD s 2-0 f b")
	good := enc(r.ks)
	if _, err := DecodeKeyspace(good); err != nil {
		t.Fatalf("good state refused: %v", err)
	}
	for i := range good {
		for _, cut := range [][]byte{good[:i]} {
			if _, err := DecodeKeyspace(cut); err == nil {
				t.Fatalf("truncated state at %d accepted", i)
			}
		}
	}
	bad := []struct {
		name string
		body []byte
	}{
		{"empty stream", codec.AppendUvarint(codec.AppendUvarint(nil, 0), 0)},
		{"odd items", []byte{0, 1, 1, 0, 1, 1, 1, 1, 'f'}},
	}
	for _, c := range bad {
		rd := codec.NewReader(c.body)
		var h hasher
		if s := decodeStream(rd, nil, &h); s != nil || rd.Err() == nil {
			t.Fatalf("%s: accepted", c.name)
		}
	}
	for _, body := range [][]byte{{0}, {16}, {2, 1}, {8, 1, 1, 1, 1}} {
		rd := codec.NewReader(body)
		budget := MaxTxnOps
		if o := decodeStreamOp(rd, &budget); o != nil && rd.Err() == nil && rd.Len() == 0 {
			t.Fatalf("operation %v accepted", body)
		}
	}
}
