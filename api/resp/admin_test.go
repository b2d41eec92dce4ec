package resp

import (
	"strings"
	"testing"
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
