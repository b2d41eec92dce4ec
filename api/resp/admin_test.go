package resp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
)

func TestClientHelpScanCursorInfoSections(t *testing.T) {
	f := start(t, Config{Version: "1.2.3"})
	r := f.raw()
	if help := r.do("CLIENT", "HELP"); !strings.HasPrefix(help, "[+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:") ||
		!strings.Contains(help, "+SETNAME <name>") {
		t.Errorf("CLIENT HELP: %s", help)
	}
	r.expect("-ERR wrong number of arguments for 'client|help' command", "CLIENT", "HELP", "x")

	r.expect("+OK", "SET", "a", "1")
	// Redis 7.0 reads the cursor with strtoul: -1 is 2^64−1, past every
	// key; a sign alone, spaces or junk are invalid.
	r.expect(`["0" []]`, "SCAN", "-1")
	r.expect(`["0" ["a"]]`, "SCAN", "+0")
	r.expect(`["0" ["a"]]`, "SCAN", "")
	r.expect("-ERR invalid cursor", "SCAN", "-")
	r.expect("-ERR invalid cursor", "SCAN", " 1")
	r.expect("-ERR invalid cursor", "SCAN", "18446744073709551616")

	info, err := unquote(r.do("INFO"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Server\r\n", "spook_version:1.2.3\r\n", "# Clients\r\n", "blocked_clients:0\r\n",
		"# Memory\r\n", "used_memory:", "maxmemory_policy:noeviction\r\n", "# Stats\r\n", "total_connections_received:1\r\n",
		"# Replication\r\n", "role:master\r\n", "connected_slaves:0\r\n", "master_repl_offset:1\r\n",
		"spook_replication:active-active\r\n", "spook_peers:0\r\n", "# Keyspace\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	for section, want := range map[string]string{"memory": "# Memory", "MEMORY": "# Memory", "stats": "# Stats", "replication": "# Replication"} {
		got, _ := unquote(r.do("INFO", section))
		if !strings.HasPrefix(got, want+"\r\n") || strings.Count(got, "# ") != 1 {
			t.Errorf("INFO %s:\n%s", section, got)
		}
	}
}

// eventsBackend reports a fail-stop cause and one event in Status.
type eventsBackend struct{ *apitest.Backend }

func (b eventsBackend) Status() api.Status {
	st := b.Backend.Status()
	st.Failed = "sync log: input/output error"
	st.Events = []api.Event{{Type: "divergence", Time: time.Unix(1, 0), Peer: "n2", Detail: "hash a, hash b"}}
	return st
}

// TestInfoShowsRecentEvents: INFO's Spook section carries the fail-stop
// cause and the recent events, as docs/operations.md says.
func TestInfoShowsRecentEvents(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := eventsBackend{apitest.New("n1")}
	s := New(b, Config{})
	go s.Serve(l)
	defer func() { s.Close(); b.Close() }()
	c := redis.NewClient(&redis.Options{Addr: l.Addr().String(), Protocol: 2})
	defer c.Close()
	info, err := c.Info(context.Background(), "spook").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"failed:sync log: input/output error\r\n", "recent_events:1\r\n",
		"event0:time=1970-01-01T00:00:01Z,type=divergence,peer=n2,txn=,detail=hash a; hash b\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO spook lacks %q:\n%s", want, info)
		}
	}
}
