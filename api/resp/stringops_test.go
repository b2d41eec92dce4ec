package resp

import "testing"

// step is one command and the reply it must get, rendered as raw.read
// renders it.
type step struct {
	want string
	args []string
}

// expectSteps runs steps in order on one connection of a fresh server.
func expectSteps(t *testing.T, steps []step) {
	t.Helper()
	r := start(t, Config{}).raw()
	for _, s := range steps {
		r.expect(s.want, s.args...)
	}
}

const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value"

// TestCounterHistoryAfterClearRESP is issue 15's wrong result, as a
// client meets it: history before DEL, SET or HDEL must not produce a
// false overflow.
func TestCounterHistoryAfterClearRESP(t *testing.T) {
	expectSteps(t, []step{
		{":5000000000000000000", []string{"INCRBY", "w1", "5000000000000000000"}},
		{":1", []string{"DEL", "w1"}},
		{":5000000000000000000", []string{"INCRBY", "w1", "5000000000000000000"}},
		{":9223372036854775000", []string{"INCRBY", "w3", "9223372036854775000"}},
		{"+OK", []string{"SET", "w3", "10"}},
		{":1010", []string{"INCRBY", "w3", "1000"}},
		{":9223372036854775000", []string{"HINCRBY", "w4", "f", "9223372036854775000"}},
		{":1", []string{"HDEL", "w4", "f"}},
		{":1000", []string{"HINCRBY", "w4", "f", "1000"}},
		{":9223372036854775000", []string{"INCRBY", "w5", "9223372036854775000"}},
		{"+OK", []string{"FLUSHALL"}},
		{":1000", []string{"INCRBY", "w5", "1000"}},
		{"-ERR increment or decrement would overflow", []string{"INCRBY", "w5", "9223372036854775000"}},
	})
}

func TestStringRangeCommands(t *testing.T) {
	expectSteps(t, []step{
		// GETDEL
		{"+OK", []string{"SET", "s", "hello"}},
		{`"hello"`, []string{"GETDEL", "s"}},
		{":0", []string{"EXISTS", "s"}},
		{"(nil)", []string{"GETDEL", "s"}},
		{":7", []string{"INCRBY", "n", "7"}},
		{`"7"`, []string{"GETDEL", "n"}},
		{":1", []string{"SADD", "set", "m"}},
		{wrongType, []string{"GETDEL", "set"}},

		// GETRANGE / SUBSTR
		{"+OK", []string{"SET", "s", "This is a string"}},
		{`"This"`, []string{"GETRANGE", "s", "0", "3"}},
		{`"ing"`, []string{"GETRANGE", "s", "-3", "-1"}},
		{`"This is a string"`, []string{"GETRANGE", "s", "0", "-1"}},
		{`"string"`, []string{"GETRANGE", "s", "10", "100"}},
		{`""`, []string{"GETRANGE", "s", "5", "3"}},
		{`""`, []string{"GETRANGE", "s", "-1", "-5"}},
		{`"This"`, []string{"SUBSTR", "s", "-100", "3"}},
		{`""`, []string{"GETRANGE", "missing", "0", "-1"}},
		{"-ERR value is not an integer or out of range", []string{"GETRANGE", "s", "a", "1"}},
		{wrongType, []string{"GETRANGE", "set", "0", "1"}},
		{":1234", []string{"INCRBY", "n", "1234"}},
		{`"23"`, []string{"GETRANGE", "n", "1", "2"}},

		// SETRANGE
		{"+OK", []string{"SET", "k", "Hello World"}},
		{":11", []string{"SETRANGE", "k", "6", "Redis"}},
		{`"Hello Redis"`, []string{"GET", "k"}},
		{":11", []string{"SETRANGE", "k", "0", ""}},
		{":0", []string{"SETRANGE", "fresh", "5", ""}},
		{":0", []string{"EXISTS", "fresh"}},
		{":6", []string{"SETRANGE", "fresh", "5", "x"}},
		{`"\x00\x00\x00\x00\x00x"`, []string{"GET", "fresh"}},
		{"-ERR offset is out of range", []string{"SETRANGE", "k", "-1", "x"}},
		{"-ERR value is not an integer or out of range", []string{"SETRANGE", "k", "x", "x"}},
		{"-ERR string exceeds maximum allowed size (8388608 bytes)", []string{"SETRANGE", "k", "8388608", "x"}},
		{wrongType, []string{"SETRANGE", "set", "0", "x"}},
		{":4", []string{"SETRANGE", "n", "0", "9"}},
		{`"9234"`, []string{"GET", "n"}},

		// GETBIT / SETBIT / BITCOUNT
		{":0", []string{"SETBIT", "b", "7", "1"}},
		{":1", []string{"SETBIT", "b", "7", "1"}},
		{`"\x01"`, []string{"GET", "b"}},
		{":1", []string{"GETBIT", "b", "7"}},
		{":0", []string{"GETBIT", "b", "6"}},
		{":0", []string{"GETBIT", "b", "100"}},
		{":0", []string{"GETBIT", "nobits", "0"}},
		{":0", []string{"SETBIT", "b", "16", "1"}},
		{`"\x01\x00\x80"`, []string{"GET", "b"}},
		{":1", []string{"SETBIT", "b", "16", "0"}},
		{"-ERR bit offset is not an integer or out of range", []string{"SETBIT", "b", "-1", "1"}},
		{"-ERR bit offset is not an integer or out of range", []string{"GETBIT", "b", "4294967296"}},
		{"-ERR bit is not an integer or out of range", []string{"SETBIT", "b", "1", "2"}},
		{wrongType, []string{"GETBIT", "set", "0"}},
		{"+OK", []string{"SET", "foobar", "foobar"}},
		{":26", []string{"BITCOUNT", "foobar"}},
		{":4", []string{"BITCOUNT", "foobar", "0", "0"}},
		{":6", []string{"BITCOUNT", "foobar", "1", "1"}},
		{":6", []string{"BITCOUNT", "foobar", "1", "1", "BYTE"}},
		{":17", []string{"BITCOUNT", "foobar", "5", "30", "BIT"}},
		{":26", []string{"BITCOUNT", "foobar", "0", "-1"}},
		{":0", []string{"BITCOUNT", "foobar", "-1", "-2"}},
		{":0", []string{"BITCOUNT", "missing"}},
		{":0", []string{"BITCOUNT", "missing", "1", "x"}}, // Redis 7.0 looks the key up first
		{wrongType, []string{"BITCOUNT", "set", "1", "x"}},
		{"-ERR syntax error", []string{"BITCOUNT", "foobar", "0"}},
		{"-ERR syntax error", []string{"BITCOUNT", "foobar", "0", "1", "WORD"}},
		{"-ERR value is not an integer or out of range", []string{"BITCOUNT", "foobar", "a", "1"}},
		{wrongType, []string{"BITCOUNT", "set"}},

		// INCRBYFLOAT
		{`"10.5"`, []string{"INCRBYFLOAT", "f", "10.5"}},
		{`"10.6"`, []string{"INCRBYFLOAT", "f", "0.1"}},
		{`"5.6"`, []string{"INCRBYFLOAT", "f", "-5"}},
		{"+OK", []string{"SET", "f2", "5.0e3"}},
		{`"5200"`, []string{"INCRBYFLOAT", "f2", "2.0e2"}},
		{`"17179869185.5"`, []string{"INCRBYFLOAT", "big", "17179869185.5"}},
		{`"3.0000000000000001"`, []string{"INCRBYFLOAT", "tiny", "3.0000000000000001"}},
		{`"0.1"`, []string{"INCRBYFLOAT", "pt", "0.1"}},
		{`"0.3"`, []string{"INCRBYFLOAT", "pt", "0.2"}},
		{`"1235"`, []string{"INCRBYFLOAT", "n", "-7999"}},
		{"-ERR value is not a valid float", []string{"INCRBYFLOAT", "f", "x"}},
		{"-ERR value is not a valid float", []string{"INCRBYFLOAT", "f", "nan"}},
		{"-ERR value is not a valid float", []string{"INCRBYFLOAT", "f", " 1"}},
		{"-ERR value is not a valid float", []string{"INCRBYFLOAT", "k", "1"}},
		{"-ERR increment would produce NaN or Infinity", []string{"INCRBYFLOAT", "f", "inf"}},
		{"-ERR increment would produce NaN or Infinity", []string{"INCRBYFLOAT", "f", "-Infinity"}},
		{"-ERR value is not a valid float", []string{"INCRBYFLOAT", "f", "1e4933"}},  // strtold's ERANGE
		{"-ERR value is not a valid float", []string{"INCRBYFLOAT", "f", "1e-5000"}}, // rounds to zero
		{"-ERR value is not a valid float", []string{"INCRBYFLOAT", "f", "0b1"}},
		{`"8.6"`, []string{"INCRBYFLOAT", "f", "0x1.8p1"}}, // hexadecimal, as strtold
		{wrongType, []string{"INCRBYFLOAT", "set", "1"}},
		{"+OK", []string{"SET", "z", "0.5"}},
		{`"0"`, []string{"INCRBYFLOAT", "z", "-0.5"}},

		// LCS
		{"+OK", []string{"MSET", "key1", "ohmytext", "key2", "mynewtext"}},
		{`"mytext"`, []string{"LCS", "key1", "key2"}},
		{":6", []string{"LCS", "key1", "key2", "LEN"}},
		{`["matches" [[[:4 :7] [:5 :8]] [[:2 :3] [:0 :1]]] "len" :6]`, []string{"LCS", "key1", "key2", "IDX"}},
		{`["matches" [[[:4 :7] [:5 :8] :4]] "len" :6]`, []string{"LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"}},
		{`""`, []string{"LCS", "key1", "missing"}},
		{"-ERR If you want both the length and indexes, please just use IDX.", []string{"LCS", "key1", "key2", "LEN", "IDX"}},
		{"-ERR syntax error", []string{"LCS", "key1", "key2", "BOGUS"}},
		{"-ERR syntax error", []string{"LCS", "key1", "key2", "MINMATCHLEN"}},
		{"-ERR The specified keys must contain string values", []string{"LCS", "key1", "set"}},
	})
}
