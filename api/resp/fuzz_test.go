package resp

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// FuzzParser checks that what the parser makes of a stream does not
// depend on how it is split into reads: one piece and byte by byte give
// the same commands and the same error.
func FuzzParser(f *testing.F) {
	for _, seed := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
		"PING\r\n*1\r\n$4\r\nPING\r\n",
		"*1\r\n$-1\r\n",
		"*0\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$99999999999\r\n",
		"*1\r\n+x\r\n",
		"\r\n\r\n",
		"ECHO \"a\\x41\" 'b\\'c'\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, errWhole := parseChunks(true, in)
		bytewise, errBytes := parseChunks(true, splitEvery(string(in), 1)...)
		if fmt.Sprint(errWhole) != fmt.Sprint(errBytes) {
			t.Fatalf("whole: %v, byte by byte: %v", errWhole, errBytes)
		}
		if !slices.Equal(whole, bytewise) {
			t.Fatalf("commands differ: %q vs %q", whole, bytewise)
		}
	})
}

// globReference is a direct recursive reading of Redis's glob rules, for
// short inputs only.
func globReference(p, s []byte) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globReference(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return len(s) > 0 && globReference(p[1:], s[1:])
	case '[':
		if len(s) == 0 {
			return false
		}
		ok, next := matchClass(p, 0, s[0])
		return ok && globReference(p[next:], s[1:])
	case '\\':
		if len(p) >= 2 {
			return len(s) > 0 && s[0] == p[1] && globReference(p[2:], s[1:])
		}
	}
	return len(s) > 0 && s[0] == p[0] && globReference(p[1:], s[1:])
}

func FuzzGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"user:*", "user:1"}, {"h?llo", "hello"}, {"h[^e]llo", "hallo"}, {"h[a-b]llo", "hbllo"},
		{`\*`, "*"}, {"*a*b*", "xaybz"}, {"[", "["}, {"a\\", "a\\"}, {"[]]", "]"},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, p, s []byte) {
		if len(p) > 12 || len(s) > 12 || bytes.Count(p, []byte("*")) > 4 {
			return // the reference is exponential
		}
		if got, want := globMatch(p, s), globReference(p, s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, reference %v", p, s, got, want)
		}
	})
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"?", "", false}, {"h?llo", "hxllo", true}, {"h[ae]llo", "hello", true}, {"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hello", false}, {"h[a-c]llo", "hbllo", true}, {"h[c-a]llo", "hbllo", true},
		{`h\*llo`, "h*llo", true}, {`h\*llo`, "hello", false}, {"[abc", "b", true},
		{"__keyspace@0__:user:*", "__keyspace@0__:user:42", true},
		{"*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, // no blow-up
	}
	for _, c := range cases {
		if got := globMatch([]byte(c.p), []byte(c.s)); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}
