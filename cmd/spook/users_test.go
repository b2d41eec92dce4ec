package main

import (
	"strings"
	"testing"

	"github.com/spooksystems/spook/api"
)

// TestUsersHash: 'spook users hash NAME' reads the password from stdin
// and prints a users-file line that authenticates NAME with it (and only
// it); a bad name or an empty password is a usage error.
func TestUsersHash(t *testing.T) {
	stdin = strings.NewReader("pass word\n")
	t.Cleanup(func() { stdin = strings.NewReader("") })
	out, _, err := run("users", "hash", "--iterations", "10000", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "alice pbkdf2-sha256$10000$") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("line %q", out)
	}
	u, err := api.ParseUsers([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if !u.Authenticate("alice", []byte("pass word")) || u.Authenticate("alice", []byte("pass word\n")) {
		t.Fatal("the line does not authenticate alice with exactly the password given")
	}
	for _, args := range [][]string{{"users", "hash"}, {"users", "hash", "a:b"}, {"users", "hash", "*"}, {"users", "bogus"}, {"users", "hash", "--iterations", "5", "bob"}} {
		stdin = strings.NewReader("pw\n")
		if _, _, err := run(args...); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	stdin = strings.NewReader("\n")
	if _, _, err := run("users", "hash", "bob"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty password: %v", err)
	}
}
