package bench

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// pipeServer answers every command read on the server side with the next
// canned reply, after checking the command's encoding.
func pipeConn(t *testing.T, wantCmds string, replies string) *RESPConn {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		buf := make([]byte, len(wantCmds))
		server.SetDeadline(time.Now().Add(5 * time.Second))
		n := 0
		for n < len(buf) {
			m, err := server.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
		}
		if string(buf) != wantCmds {
			server.Write([]byte("-ERR test: unexpected encoding " + strings.ReplaceAll(string(buf), "\r\n", "|") + "\r\n"))
			return
		}
		server.Write([]byte(replies))
		server.Close()
	}()
	client.SetDeadline(time.Now().Add(5 * time.Second))
	return &RESPConn{conn: client, r: bufio.NewReader(client)}
}

func TestRESPPipelineEncodingAndReplies(t *testing.T) {
	c := pipeConn(t,
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n",
		"+OK\r\n$2\r\nvv\r\n:7\r\n")
	rc := respClient{c}
	if err := rc.Do([]Op{{Kind: OpSet, Key: []byte("k"), Value: []byte("vv")}, {Kind: OpGet, Key: []byte("k")}, {Kind: OpIncr, Key: []byte("c")}}); err != nil {
		t.Fatal(err)
	}
}

func TestRESPReplyKinds(t *testing.T) {
	c := pipeConn(t, "*1\r\n$4\r\nPING\r\n",
		"*4\r\n$-1\r\n:-3\r\n*2\r\n+a\r\n$0\r\n\r\n*-1\r\n-ERR boom\r\n")
	r, err := c.Do("PING")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != '*' || len(r.Array) != 4 || !r.Array[0].Nil || r.Array[1].Int != -3 ||
		len(r.Array[2].Array) != 2 || r.Array[2].Array[0].Str != "a" || r.Array[2].Array[1].Str != "" || !r.Array[3].Nil {
		t.Fatalf("decoded %+v", r)
	}
	_, err = c.Read()
	var re RESPError
	if !errors.As(err, &re) || string(re) != "ERR boom" {
		t.Fatalf("error reply decoded as %v", err)
	}
}

func TestRESPSkipKeepsStepAfterErrorReply(t *testing.T) {
	c := pipeConn(t, "*1\r\n$4\r\nPING\r\n", "-ERR first\r\n+OK\r\n:1\r\n")
	c.AppendStrings("PING")
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	err := c.Skip(2)
	var re RESPError
	if !errors.As(err, &re) || string(re) != "ERR first" {
		t.Fatalf("Skip = %v, want the first error reply", err)
	}
	r, err := c.Read()
	if err != nil || r.Int != 1 {
		t.Fatalf("third reply %+v %v: Skip did not read both", r, err)
	}
}

func TestRESPProtocolErrors(t *testing.T) {
	for _, bad := range []string{"?x\r\n", ":12a\r\n", "$2\r\nabXY", "+no crlf\n", "$-2\r\n"} {
		c := pipeConn(t, "*1\r\n$4\r\nPING\r\n", bad)
		if _, err := c.Do("PING"); !errors.Is(err, ErrRESPProtocol) {
			t.Errorf("reply %q: err %v, want ErrRESPProtocol", bad, err)
		}
	}
}
