package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuditUserRights runs two audited nodes with client users (spookd
// --users, lines made by 'spook users hash') and a policy whose user
// rules give alice app/alice/ and bob app/bob/, and checks through the
// real redis-cli and net/http: each user writes under its own prefix and
// gets -NOPERM (RESP) or 403 no_rights (HTTP) under the other's, and the
// refused write is on neither node; a MULTI with one forbidden key
// writes nothing; a wrong password gets WRONGPASS; ACL WHOAMI names the
// user.
func TestAuditUserRights(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (apt-get install redis-tools; .ci/run installs it)")
	}
	spook := build(t, "spook")
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(spook, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("spook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	keys, work := t.TempDir(), t.TempDir()
	users := run("alice-pw\n", "users", "hash", "alice", "--iterations", "10000") +
		run("bob-pw\n", "users", "hash", "bob", "--iterations", "10000")
	usersFile := filepath.Join(work, "users")
	os.WriteFile(usersFile, []byte("# client users\n"+users), 0o600)
	var addrs, peers, dirs []string
	for i := 1; i <= 2; i++ {
		a := freePort(t)
		addrs, dirs = append(addrs, a), append(dirs, t.TempDir())
		peers = append(peers, fmt.Sprintf("n%d=%s", i, a))
		run("", "audit", "keygen", fmt.Sprint("n", i), "--data", dirs[i-1], "--keys", keys)
	}
	opKey := filepath.Join(work, "op.key")
	run("", "audit", "policy", "keygen", "--out", opKey, "--keys", keys)
	draft := filepath.Join(work, "policy.txt")
	os.WriteFile(draft, []byte("spook-policy v1\nversion 1\nnode * \"\"\nuser alice \"app/alice/\"\nuser bob \"app/bob/\"\n"), 0o644)
	signed := filepath.Join(work, "policy.signed")
	os.WriteFile(signed, []byte(run("", "audit", "policy", "sign", "--key", opKey, "--cluster", "spook", draft)), 0o644)
	for i, a := range addrs {
		p := startSpookd(t, a, "--node-id", fmt.Sprint("n", i+1), "--peers", strings.Join(peers, ","),
			"--data", dirs[i], "--audit-keys", keys, "--users", usersFile, "--token", "admin-token", "--log-level", "warn")
		t.Cleanup(p.kill)
	}
	if out := run("", "audit", "policy", "apply", signed, "--addr", addrs[0], "--token", "admin-token"); !strings.Contains(out, "applied policy version 1") {
		t.Fatalf("apply: %s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// redis runs redis-cli on node i as user:password, the commands on
	// its standard input, and returns what it printed.
	redis := func(i int, user, password, commands string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, cli, "-h", "127.0.0.1", "-p", strings.Split(addrs[i], ":")[1],
			"--user", user, "--pass", password, "--no-auth-warning")
		cmd.Stdin = strings.NewReader(commands)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", commands, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := redis(0, "alice", "alice-pw", "ACL WHOAMI\nSET app/alice/x from-alice\n"); got != "alice\nOK" {
		t.Fatalf("alice WHOAMI and write: %q", got)
	}
	want := "NOPERM this user has no rights to write key 'app/bob/x' (policy version 1)"
	if got := redis(0, "alice", "alice-pw", "SET app/bob/x from-alice\n"); got != want {
		t.Fatalf("alice writes app/bob/x: %q, want %q", got, want)
	}
	if got := redis(1, "bob", "bob-pw", "SET app/bob/x from-bob\nSET app/alice/y from-bob\n"); got !=
		"OK\nNOPERM this user has no rights to write key 'app/alice/y' (policy version 1)" {
		t.Fatalf("bob's writes: %q", got)
	}
	if got := redis(0, "alice", "wrong", "PING\n"); !strings.Contains(got, "WRONGPASS") || strings.Contains(got, "PONG") {
		t.Fatalf("a wrong password: %q, want WRONGPASS", got)
	}
	got := redis(0, "alice", "alice-pw", "MULTI\nSET app/alice/m1 1\nSET app/bob/m2 2\nEXEC\n")
	if !strings.HasSuffix(got, "NOPERM this user has no rights to write key 'app/bob/m2' (policy version 1)") {
		t.Fatalf("MULTI with a forbidden key: %q", got)
	}

	// HTTP Basic auth.
	put := func(user, password, key string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+addrs[1]+"/v1/kv/"+key, strings.NewReader("via-http"))
		req.SetBasicAuth(user, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := put("bob", "bob-pw", "app/bob/h"); code != http.StatusOK {
		t.Fatalf("bob PUT app/bob/h: %d %s", code, body)
	}
	if code, body := put("bob", "bob-pw", "app/alice/h"); code != http.StatusForbidden || !strings.Contains(body, `"no_rights"`) ||
		!strings.Contains(body, "app/alice/h") {
		t.Fatalf("bob PUT app/alice/h: %d %s, want 403 no_rights", code, body)
	}
	if code, _ := put("bob", "alice-pw", "app/bob/h2"); code != http.StatusUnauthorized {
		t.Fatalf("bob with alice's password: %d, want 401", code)
	}

	// Both nodes converge on the allowed writes and hold none of the
	// refused ones.
	check := "GET app/alice/x\nGET app/bob/x\nGET app/bob/h\nGET app/alice/y\nGET app/alice/m1\nGET app/bob/m2\nGET app/alice/h\n"
	for i := range addrs {
		for {
			got := redis(i, "alice", "alice-pw", check)
			if got == "from-alice\nfrom-bob\nvia-http" {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("n%d: %q, want only the allowed writes", i+1, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
