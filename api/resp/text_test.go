package resp

import "testing"

// TestTextReplies checks the TEXT.* commands' replies, errors included.
func TestTextReplies(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	for _, s := range []struct {
		want string
		args []string
	}{
		{"(nil)", []string{"TEXT.GET", "t"}},
		{":0", []string{"TEXT.LEN", "t"}},
		{":0", []string{"TEXT.DELETE", "t", "0", "5"}},
		{":5", []string{"TEXT.INSERT", "t", "0", "héllo"}},
		{":11", []string{"TEXT.INSERT", "t", "5", " wörld"}},
		{":12", []string{"TEXT.INSERT", "t", "0", "😀"}},
		{`"😀héllo wörld"`, []string{"TEXT.GET", "t"}},
		{":12", []string{"TEXT.LEN", "t"}},
		{`"héllo"`, []string{"TEXT.RANGE", "t", "1", "5"}},
		{`"wörld"`, []string{"TEXT.RANGE", "t", "-5", "-1"}},
		{`""`, []string{"TEXT.RANGE", "t", "5", "1"}},
		{":1", []string{"TEXT.DELETE", "t", "0", "1"}},
		{":6", []string{"TEXT.DELETE", "t", "5", "100"}}, // clamped to the end
		{`"héllo"`, []string{"TEXT.GET", "t"}},
		{":0", []string{"TEXT.DELETE", "t", "5", "1"}},
		{":5", []string{"TEXT.INSERT", "t", "5", ""}},
		{"-ERR index out of range", []string{"TEXT.INSERT", "t", "6", "x"}},
		{"-ERR index out of range", []string{"TEXT.INSERT", "t", "-1", "x"}},
		{"-ERR index out of range", []string{"TEXT.DELETE", "t", "6", "1"}},
		{"-ERR index out of range", []string{"TEXT.DELETE", "t", "0", "-1"}},
		{"-ERR value is not an integer or out of range", []string{"TEXT.INSERT", "t", "x", "y"}},
		{"-ERR value is not an integer or out of range", []string{"TEXT.DELETE", "t", "0", "y"}},
		{"-ERR value is not an integer or out of range", []string{"TEXT.RANGE", "t", "0", "y"}},
		{"-ERR wrong number of arguments for 'text.insert' command", []string{"TEXT.INSERT", "t", "0"}},
		{"-ERR wrong number of arguments for 'text.get' command", []string{"TEXT.GET"}},
		{"+OK", []string{"SET", "s", "v"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"TEXT.INSERT", "s", "0", "x"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"TEXT.GET", "s"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"TEXT.LEN", "s"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"GET", "t"}},
		{"+text", []string{"TYPE", "t"}},
		// Inside MULTI the text commands queue and run atomically with
		// the others.
		{"+OK", []string{"MULTI"}},
		{"+QUEUED", []string{"TEXT.INSERT", "t", "0", ">"}},
		{"+QUEUED", []string{"SET", "s", "w"}},
		{`[:6 +OK]`, []string{"EXEC"}},
		{`">héllo"`, []string{"TEXT.GET", "t"}},
		// RENAME and COPY carry the text.
		{"+OK", []string{"RENAME", "t", "t2"}},
		{"(nil)", []string{"TEXT.GET", "t"}},
		{`">héllo"`, []string{"TEXT.GET", "t2"}},
		{":1", []string{"COPY", "t2", "t3"}},
		{`">héllo"`, []string{"TEXT.GET", "t3"}},
		{`"text"`, []string{"OBJECT", "ENCODING", "t3"}},
		// Deleting every code point leaves no key, as Redis's lists do.
		{":6", []string{"TEXT.DELETE", "t3", "0", "6"}},
		{":0", []string{"EXISTS", "t3"}},
		{"(nil)", []string{"TEXT.GET", "t3"}},
	} {
		r.expect(s.want, s.args...)
	}
}
