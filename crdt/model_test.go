package crdt

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// The model property: on ONE replica, any sequence of commands, grouped at
// random into transactions, gives the replies and the visible state that a
// sequential model of Redis gives. Replication metadata (resets of deleted
// counters, hidden components, a node's cumulative sums) must never show:
// not in a reply, not as an error. This is the class of "history survives
// DEL and produces a false overflow" bugs.

// modelValue is one key in the Redis model: exactly one of str, set, hash.
type modelValue struct {
	kind string // "string", "set", "hash"
	str  string
	set  map[string]bool
	hash map[string]string
}

// model is a sequential Redis keyspace of strings, sets and hashes.
type model map[string]*modelValue

// modelInteger parses a string as Redis's INCR does (string2ll).
func modelInteger(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// modelAdd adds by to n and reports Redis's overflow check.
func modelAdd(n, by int64) (int64, bool) {
	if (by > 0 && n > math.MaxInt64-by) || (by < 0 && n < math.MinInt64-by) {
		return 0, false
	}
	return n + by, true
}

// apply runs one command line on the model and returns the reply in the
// form run renders it.
func (m model) apply(line string) string {
	args := strings.Fields(line)
	for i, a := range args {
		if a == `""` {
			args[i] = ""
		}
	}
	k := ""
	if len(args) > 1 {
		k = args[1]
	}
	v := m[k]
	wrong := func(kind string) bool { return v != nil && v.kind != kind }
	switch args[0] {
	case "SET":
		m[k] = &modelValue{kind: "string", str: args[2]}
		return "OK"
	case "GET":
		if v == nil {
			return "(nil)"
		}
		if wrong("string") {
			return "WRONGTYPE"
		}
		return v.str
	case "DEL":
		if v == nil {
			return "0"
		}
		delete(m, k)
		return "1"
	case "FLUSHALL":
		clear(m)
		return "OK"
	case "INCRBY":
		if wrong("string") {
			return "WRONGTYPE"
		}
		var n int64
		if v != nil {
			var ok bool
			if n, ok = modelInteger(v.str); !ok {
				return "ERR not integer"
			}
		}
		by, _ := strconv.ParseInt(args[2], 10, 64)
		n, ok := modelAdd(n, by)
		if !ok {
			return "ERR overflow"
		}
		m[k] = &modelValue{kind: "string", str: strconv.FormatInt(n, 10)}
		return strconv.FormatInt(n, 10)
	case "SADD", "SREM":
		if wrong("set") {
			return "WRONGTYPE"
		}
		if v == nil {
			v = &modelValue{kind: "set", set: map[string]bool{}}
		}
		count := 0
		for _, mem := range args[2:] {
			if v.set[mem] == (args[0] == "SREM") {
				count++
			}
			if args[0] == "SADD" {
				v.set[mem] = true
			} else {
				delete(v.set, mem)
			}
		}
		m.store(k, v, len(v.set))
		return strconv.Itoa(count)
	case "SCARD", "HLEN":
		if wrong(map[string]string{"SCARD": "set", "HLEN": "hash"}[args[0]]) {
			return "WRONGTYPE"
		}
		if v == nil {
			return "0"
		}
		return strconv.Itoa(len(v.set) + len(v.hash))
	case "SMEMBERS":
		if wrong("set") {
			return "WRONGTYPE"
		}
		var out []string
		if v != nil {
			for mem := range v.set {
				out = append(out, mem)
			}
		}
		slices.Sort(out)
		return "[" + strings.Join(out, " ") + "]"
	case "HSET", "HINCRBY", "HDEL", "HGET":
		if wrong("hash") {
			return "WRONGTYPE"
		}
		if v == nil {
			if args[0] == "HGET" {
				return "(nil)"
			}
			v = &modelValue{kind: "hash", hash: map[string]string{}}
		}
		f := args[2]
		old, had := v.hash[f]
		reply := ""
		switch args[0] {
		case "HGET":
			if !had {
				return "(nil)"
			}
			return old
		case "HSET":
			v.hash[f] = args[3]
			reply = map[bool]string{true: "0", false: "1"}[had]
		case "HDEL":
			delete(v.hash, f)
			reply = map[bool]string{true: "1", false: "0"}[had]
		case "HINCRBY":
			var n int64
			if had {
				var ok bool
				if n, ok = modelInteger(old); !ok {
					return "ERR not integer"
				}
			}
			by, _ := strconv.ParseInt(args[3], 10, 64)
			n, ok := modelAdd(n, by)
			if !ok {
				return "ERR overflow"
			}
			v.hash[f] = strconv.FormatInt(n, 10)
			reply = v.hash[f]
		}
		m.store(k, v, len(v.hash))
		return reply
	case "HGETALL":
		if wrong("hash") {
			return "WRONGTYPE"
		}
		var out []string
		if v != nil {
			for f, s := range v.hash {
				out = append(out, f+"="+s)
			}
		}
		slices.Sort(out)
		return "[" + strings.Join(out, " ") + "]"
	}
	panic("model: unknown command " + line)
}

// store keeps v at k, or removes k when the collection is empty (Redis
// deletes empty sets and hashes).
func (m model) store(k string, v *modelValue, n int) {
	if n == 0 {
		delete(m, k)
		return
	}
	m[k] = v
}

// runChecked runs line against b as run does, adding the WRONGTYPE checks
// run leaves out for reads (SCARD, HLEN, HGET, HGETALL) and FLUSHALL.
func runChecked(b *Builder, line string) string {
	args := strings.Fields(line)
	typeIs := func(want ...Type) bool {
		return slices.Contains(append(want, TypeNone), b.Get([]byte(args[1])).Type())
	}
	switch args[0] {
	case "FLUSHALL":
		var keys [][]byte
		b.ks.Range(nil, func(key []byte, _ *Value) bool {
			keys = append(keys, key)
			return true
		})
		for _, kb := range b.keys { // keys written earlier in the transaction
			keys = append(keys, kb.key)
		}
		for _, key := range keys {
			if err := b.Delete(key); err != nil {
				return "ERR " + err.Error()
			}
		}
		return "OK"
	case "SCARD":
		if !typeIs(TypeSet) {
			return "WRONGTYPE"
		}
	case "HLEN", "HGET", "HGETALL":
		if !typeIs(TypeMap) {
			return "WRONGTYPE"
		}
	}
	return run(b, line)
}

// visibleState renders every key of the model as the replica's reads
// would show it.
func (m model) visibleState() string {
	var out []string
	for k, v := range m {
		switch v.kind {
		case "string":
			out = append(out, k+":"+v.str)
		case "set":
			out = append(out, k+":"+m.apply("SMEMBERS "+k))
		case "hash":
			out = append(out, k+":"+m.apply("HGETALL "+k))
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// replicaState renders the replica's visible keys the same way.
func replicaState(r *replica) string {
	var out []string
	b := r.begin() // a read-only view: never finished
	r.ks.Range(nil, func(key []byte, v *Value) bool {
		k := string(key)
		switch v.Type() {
		case TypeRegister, TypeCounter:
			out = append(out, k+":"+run(b, "GET "+k))
		case TypeSet:
			out = append(out, k+":"+run(b, "SMEMBERS "+k))
		case TypeMap:
			out = append(out, k+":"+run(b, "HGETALL "+k))
		}
		return true
	})
	slices.Sort(out)
	return strings.Join(out, " ")
}

var (
	modelKeys   = []string{"a", "b"}
	modelValues = []string{"10", "-0", "x", `""`, "9223372036854775000", "-9223372036854775808", "007"}
	modelBy     = []string{"1", "-1", "1000", "5000000000000000000", "-5000000000000000000",
		"9223372036854775000", "9223372036854775807", "-9223372036854775808"}
)

// genModelCommand draws one command for the model property.
func genModelCommand(t *rapid.T) string {
	k := rapid.SampledFrom(modelKeys).Draw(t, "key")
	m := func() string { return rapid.SampledFrom(propMembers[:2]).Draw(t, "member") }
	f := func() string { return rapid.SampledFrom(propFields).Draw(t, "field") }
	v := func() string { return rapid.SampledFrom(modelValues).Draw(t, "value") }
	n := func() string { return rapid.SampledFrom(modelBy).Draw(t, "by") }
	cmds := []func() string{
		func() string { return "SET " + k + " " + v() },
		func() string { return "GET " + k },
		func() string { return "DEL " + k },
		func() string { return "FLUSHALL" },
		func() string { return "INCRBY " + k + " " + n() },
		func() string { return "INCRBY " + k + " " + n() },
		func() string { return "SADD " + k + " " + m() + " " + m() },
		func() string { return "SREM " + k + " " + m() },
		func() string { return "SCARD " + k },
		func() string { return "HSET " + k + " " + f() + " " + v() },
		func() string { return "HINCRBY " + k + " " + f() + " " + n() },
		func() string { return "HINCRBY " + k + " " + f() + " " + n() },
		func() string { return "HDEL " + k + " " + f() },
		func() string { return "HGET " + k + " " + f() },
		func() string { return "HLEN " + k },
	}
	return cmds[rapid.IntRange(0, len(cmds)-1).Draw(t, "command")]()
}

// TestModelOneReplica is the model property (see the top of this file).
func TestModelOneReplica(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := newReplicas(1)[0]
		m := model{}
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < steps; {
			// A transaction of 1–3 commands, as MULTI/EXEC runs them.
			size := rapid.IntRange(1, 3).Draw(t, "txn")
			b := r.begin()
			for j := 0; j < size && i < steps; j, i = j+1, i+1 {
				line := genModelCommand(t)
				want := m.apply(line)
				if got := runChecked(b, line); got != want {
					t.Fatalf("%s: got %q, Redis gives %q\nstate:\n%s", line, got, want, dump(r.ks))
				}
			}
			if !b.Empty() {
				r.deliver(t, b.Finish())
			}
			if got, want := replicaState(r), m.visibleState(); got != want {
				t.Fatalf("visible state %q, Redis has %q\nstate:\n%s", got, want, dump(r.ks))
			}
			if r.ks.Len() != len(m) {
				t.Fatalf("DBSIZE %d, Redis %d", r.ks.Len(), len(m))
			}
		}
	})
}

// TestCounterHistoryAfterClear is issue 15's three cases: a counter's
// cumulative history before a DEL, SET or HDEL must not make a later
// increment overflow.
func TestCounterHistoryAfterClear(t *testing.T) {
	for _, lines := range [][]string{
		{"INCRBY w1 5000000000000000000 -> 5000000000000000000", "DEL w1 -> 1", "INCRBY w1 5000000000000000000 -> 5000000000000000000"},
		{"INCRBY w3 9223372036854775000", "SET w3 10 -> OK", "INCRBY w3 1000 -> 1010"},
		{"HINCRBY w4 f 9223372036854775000", "HDEL w4 f -> 1", "HINCRBY w4 f 1000 -> 1000"},
		{"HINCRBY w5 f 9223372036854775000", "HSET w5 f 10 -> 0", "HINCRBY w5 f 1000 -> 1010"},
		{"INCRBY w6 -9223372036854775808", "DEL w6 -> 1", "INCRBY w6 -9223372036854775808 -> -9223372036854775808",
			"DEL w6 -> 1", "INCRBY w6 -1 -> -1"},
	} {
		t.Run(fmt.Sprint(lines[0]), func(t *testing.T) {
			script(t, newReplicas(1)[0], lines...)
		})
	}
}
