package test

import "testing"

// mpopDiffCommands exercise ZRANDMEMBER, ZMPOP, BZPOPMIN/BZPOPMAX,
// BZMPOP, LMPOP and BLMPOP (results that do not depend on chance, and
// Redis's error texts).
var mpopDiffCommands = [][]string{
	{"ZADD", "z", "1", "a", "2", "b", "3", "c"},
	{"RPUSH", "l", "a", "b", "c"},
	{"ZRANDMEMBER", "nokey"},
	{"ZRANDMEMBER", "nokey", "2"},
	{"ZRANDMEMBER", "z", "0"},
	{"ZRANDMEMBER", "z", "x"},
	{"ZRANDMEMBER", "z", "1", "withscores", "x"},
	{"ZRANDMEMBER", "z", "1", "foo"},
	{"ZRANDMEMBER", "z", "-9223372036854775807", "withscores"},
	{"ZRANDMEMBER", "l"},
	{"ZADD", "one", "1.5", "m"},
	{"ZRANDMEMBER", "one"},
	{"ZRANDMEMBER", "one", "1", "WITHSCORES"},
	{"ZRANDMEMBER", "one", "-3", "WITHSCORES"},
	{"ZRANDMEMBER", "one", "5"},
	{"ZMPOP", "0", "z", "MIN"},
	{"ZMPOP", "1", "z"},
	{"ZMPOP", "1", "z", "MID"},
	{"ZMPOP", "x", "z", "MIN"},
	{"ZMPOP", "2", "z", "MIN"},
	{"ZMPOP", "1", "z", "MIN", "COUNT", "0"},
	{"ZMPOP", "1", "z", "MIN", "COUNT", "-1"},
	{"ZMPOP", "1", "z", "MIN", "COUNT"},
	{"ZMPOP", "1", "z", "MIN", "COUNT", "2", "COUNT", "1"},
	{"ZMPOP", "1", "z", "MIN", "FOO"},
	{"ZMPOP", "1", "z", "MIN", "COUNT", "100000000000000000000"},
	{"ZMPOP", "1", "nokey", "MIN"},
	{"ZMPOP", "1", "l", "MIN"},
	{"ZMPOP", "1", "z", "MIN"},
	{"ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "10"},
	{"EXISTS", "z"},
	{"LMPOP", "1", "l", "LEFT", "COUNT", "2"},
	{"LMPOP", "1", "nol", "LEFT"},
	{"LMPOP", "0", "l", "LEFT"},
	{"LMPOP", "1", "l", "UP"},
	{"LMPOP", "1", "one", "LEFT"},
	{"LMPOP", "1", "l", "RIGHT", "COUNT", "0"},
	{"LMPOP", "-1", "l", "LEFT"},
	{"LMPOP", "3", "l", "LEFT"},
	{"LMPOP", "1", "l", "LEFT", "COUNT", "x"},
	{"LMPOP", "2", "nol", "l", "RIGHT", "COUNT", "9"},
	{"EXISTS", "l"},
	{"BZPOPMIN", "nokey", "0.01"},
	{"BZPOPMIN", "nokey", "x"},
	{"BZPOPMIN", "nokey", "-1"},
	{"ZADD", "z", "1", "a", "2", "b"},
	{"BZPOPMAX", "nokey", "z", "0"},
	{"BZPOPMIN", "z", "0"},
	{"BZMPOP", "0.01", "1", "nokey", "MIN"},
	{"BZMPOP", "x", "1", "nokey", "MIN"},
	{"BZMPOP", "0", "0", "nokey", "MIN"},
	{"ZADD", "z", "1", "a", "2", "b"},
	{"BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"},
	{"BLMPOP", "0.01", "1", "nokey", "LEFT"},
	{"BLMPOP", "0.01", "1", "nokey", "MIDDLE"},
	{"RPUSH", "l", "p", "q"},
	{"BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5"},
	{"MULTI"},
	{"BZPOPMIN", "nokey", "0"},
	{"BLMPOP", "0", "1", "nokey", "LEFT"},
	{"ZMPOP", "1", "one", "MAX"},
	{"EXEC"},
}

// TestMPopMatchesRealRedis compares the replies to mpopDiffCommands on
// one spookd and a real redis-server, over RESP2 and over RESP3.
func TestMPopMatchesRealRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	redisAddr := startRedis(t)
	spook := startCluster(t, 1)[0]
	for _, proto := range []string{"2", "3"} {
		rc, sc := dialRESP(t, redisAddr), dialRESP(t, spook.addr)
		rc.rawDo(t, "HELLO", proto)
		sc.rawDo(t, "HELLO", proto)
		for _, args := range mpopDiffCommands {
			want, got := rc.rawDo(t, args...), sc.rawDo(t, args...)
			if got != want {
				t.Errorf("RESP%s %q:\n spook %q\n redis %q", proto, args, got, want)
			}
		}
		rc.rawDo(t, "FLUSHALL")
		sc.rawDo(t, "FLUSHALL")
	}
}
