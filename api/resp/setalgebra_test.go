package resp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSetAlgebra(t *testing.T) {
	expectSteps(t, []step{
		{":4", []string{"SADD", "a", "1", "2", "3", "4"}},
		{":3", []string{"SADD", "b", "3", "4", "5"}},
		{":2", []string{"SADD", "c", "4", "6"}},
		{"+OK", []string{"SET", "str", "x"}},

		{`["3" "4"]`, []string{"SINTER", "a", "b"}},
		{`["4"]`, []string{"SINTER", "a", "b", "c"}},
		{`[]`, []string{"SINTER", "a", "missing"}},
		{`["1" "2" "3" "4"]`, []string{"SINTER", "a"}},
		{wrongType, []string{"SINTER", "a", "str"}},
		{wrongType, []string{"SINTER", "missing", "str"}},
		{`["1" "2" "3" "4" "5" "6"]`, []string{"SUNION", "a", "b", "c", "missing"}},
		{wrongType, []string{"SUNION", "a", "str"}},
		{`["1" "2"]`, []string{"SDIFF", "a", "b", "c"}},
		{`[]`, []string{"SDIFF", "missing", "a"}},
		{`["1" "2" "3" "4"]`, []string{"SDIFF", "a", "missing"}},
		{wrongType, []string{"SDIFF", "a", "str"}},

		{":2", []string{"SINTERSTORE", "dst", "a", "b"}},
		{`["3" "4"]`, []string{"SMEMBERS", "dst"}},
		{":6", []string{"SUNIONSTORE", "dst", "a", "b", "c"}},
		{":6", []string{"SCARD", "dst"}},
		{":2", []string{"SDIFFSTORE", "dst", "a", "b"}},
		{`["1" "2"]`, []string{"SMEMBERS", "dst"}},
		{":0", []string{"SINTERSTORE", "dst", "a", "missing"}},
		{":0", []string{"EXISTS", "dst"}},
		{":4", []string{"SUNIONSTORE", "str2", "a"}}, // overwrites any type
		{"+OK", []string{"SET", "str2", "x"}},
		{":2", []string{"SINTERSTORE", "str2", "a", "b"}},
		{"+set", []string{"TYPE", "str2"}},
		{":4", []string{"SINTERSTORE", "a", "a"}}, // destination among the sources
		{`["1" "2" "3" "4"]`, []string{"SMEMBERS", "a"}},
		{wrongType, []string{"SDIFFSTORE", "dst", "str"}},
		{"-ERR wrong number of arguments for 'sinterstore' command", []string{"SINTERSTORE", "dst"}},

		{":2", []string{"SINTERCARD", "2", "a", "b"}},
		{":1", []string{"SINTERCARD", "2", "a", "b", "LIMIT", "1"}},
		{":2", []string{"SINTERCARD", "2", "a", "b", "LIMIT", "0"}},
		{":0", []string{"SINTERCARD", "2", "a", "missing"}},
		{"-ERR numkeys should be greater than 0", []string{"SINTERCARD", "0", "a"}},
		{"-ERR numkeys should be greater than 0", []string{"SINTERCARD", "x", "a"}},
		{"-ERR Number of keys can't be greater than number of args", []string{"SINTERCARD", "3", "a", "b"}},
		{"-ERR LIMIT can't be negative", []string{"SINTERCARD", "1", "a", "LIMIT", "-1"}},
		{"-ERR syntax error", []string{"SINTERCARD", "1", "a", "LIMIT"}},
		{"-ERR syntax error", []string{"SINTERCARD", "1", "a", "b"}},
		{wrongType, []string{"SINTERCARD", "1", "str"}},

		{":1", []string{"SMOVE", "a", "m", "1"}},
		{":0", []string{"SMOVE", "a", "m", "1"}},
		{`["2" "3" "4"]`, []string{"SMEMBERS", "a"}},
		{`["1"]`, []string{"SMEMBERS", "m"}},
		{":1", []string{"SMOVE", "a", "a", "2"}},
		{":0", []string{"SMOVE", "missing", "m", "1"}},
		{":0", []string{"SMOVE", "missing", "str", "1"}}, // Redis checks types only for an existing source
		{":1", []string{"SMOVE", "m", "fresh", "1"}},
		{":0", []string{"EXISTS", "m"}},
		{wrongType, []string{"SMOVE", "a", "str", "2"}},
		{wrongType, []string{"SMOVE", "str", "a", "2"}},

		{"(nil)", []string{"SRANDMEMBER", "missing"}},
		{"[]", []string{"SRANDMEMBER", "missing", "3"}},
		{`["1"]`, []string{"SRANDMEMBER", "fresh", "5"}},
		{`["1" "1" "1"]`, []string{"SRANDMEMBER", "fresh", "-3"}},
		{`"1"`, []string{"SRANDMEMBER", "fresh"}},
		{"[]", []string{"SRANDMEMBER", "fresh", "0"}},
		{"-ERR value is not an integer or out of range", []string{"SRANDMEMBER", "fresh", "x"}},
		{"-ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807", []string{"SRANDMEMBER", "fresh", "-9223372036854775808"}},
		{"-ERR syntax error", []string{"SRANDMEMBER", "fresh", "1", "2"}},
		{wrongType, []string{"SRANDMEMBER", "str"}},

		{"(nil)", []string{"SPOP", "missing"}},
		{"[]", []string{"SPOP", "missing", "2"}},
		{`"1"`, []string{"SPOP", "fresh"}},
		{":0", []string{"EXISTS", "fresh"}},
		{"-ERR value is out of range, must be positive", []string{"SPOP", "a", "-1"}},
		{"-ERR value is out of range, must be positive", []string{"SPOP", "a", "x"}},
		{"[]", []string{"SPOP", "a", "0"}},
		{`["2" "3" "4"]`, []string{"SPOP", "a", "10"}},
		{":0", []string{"EXISTS", "a"}},
		{wrongType, []string{"SPOP", "str"}},

		{":3", []string{"SADD", "sc", "x1", "x2", "y1"}},
		{`["0" ["x1" "x2" "y1"]]`, []string{"SSCAN", "sc", "0"}},
		// A small set comes back whole, whatever the cursor and COUNT, as
		// Redis returns its small encodings.
		{`["0" ["x1" "x2" "y1"]]`, []string{"SSCAN", "sc", "0", "COUNT", "2"}},
		{`["0" ["x1" "x2" "y1"]]`, []string{"SSCAN", "sc", "2", "COUNT", "2"}},
		{`["0" ["x1" "x2"]]`, []string{"SSCAN", "sc", "0", "MATCH", "x*"}},
		{`["0" []]`, []string{"SSCAN", "missing", "0"}},
		{`["0" ["x1" "x2" "y1"]]`, []string{"SSCAN", "sc", "-1"}},
		{"-ERR invalid cursor", []string{"SSCAN", "sc", "x"}},
		{"-ERR syntax error", []string{"SSCAN", "sc", "0", "COUNT", "0"}},
		{"-ERR syntax error", []string{"SSCAN", "sc", "0", "MATCH"}},
		{wrongType, []string{"SSCAN", "str", "0"}},
	})
}

// TestSetRandomCoversMembers checks that SRANDMEMBER with a count returns
// distinct members of the set, and that repeated single picks reach every
// member (the choice is random, not always the first).
func TestSetRandomCoversMembers(t *testing.T) {
	r := start(t, Config{}).raw()
	r.expect(":5", "SADD", "s", "a", "b", "c", "d", "e")
	got := r.do("SRANDMEMBER", "s", "3")
	parts := strings.Fields(strings.Trim(got, "[]"))
	seen := map[string]bool{}
	for _, p := range parts {
		if seen[p] || !strings.Contains(`"a" "b" "c" "d" "e"`, p) {
			t.Fatalf("SRANDMEMBER s 3 = %s: not 3 distinct members", got)
		}
		seen[p] = true
	}
	if len(parts) != 3 {
		t.Fatalf("SRANDMEMBER s 3 = %s", got)
	}
	picked := map[string]bool{}
	for range 400 {
		picked[r.do("SRANDMEMBER", "s")] = true
	}
	if len(picked) != 5 {
		t.Fatalf("400 SRANDMEMBER picks reached only %v", picked)
	}
}

// TestSScanPagesLargeSets: a set larger than MaxScanWhole is scanned
// COUNT members at a time in bytewise order, the cursor being the
// position of the next member, and every member comes back once.
func TestSScanPagesLargeSets(t *testing.T) {
	r := start(t, Config{}).raw()
	args := []string{"SADD", "big"}
	for i := range MaxScanWhole + 72 {
		args = append(args, fmt.Sprintf("m%03d", i))
	}
	r.expect(":200", args...)
	var seen []string
	cursor := "0"
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("SSCAN does not end")
		}
		got := r.do("SSCAN", "big", cursor, "COUNT", "50")
		parts := strings.SplitN(strings.Trim(got, "[]"), " ", 2)
		cursor = strings.Trim(parts[0], `"`)
		page := strings.Fields(strings.Trim(parts[1], "[]"))
		if len(page) != 50 {
			t.Fatalf("SSCAN page of %d members: %s", len(page), got)
		}
		seen = append(seen, page...)
		if cursor == "0" {
			break
		}
	}
	if len(seen) != 200 || !slices.IsSorted(seen) || seen[0] != `"m000"` || seen[199] != `"m199"` {
		t.Fatalf("SSCAN saw %d members: %v", len(seen), seen)
	}
	r.expect(`["0" []]`, "SSCAN", "big", "-1") // past the end
}
