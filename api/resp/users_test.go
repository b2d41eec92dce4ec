package resp

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/spooksystems/spook/api/apitest"
	"github.com/spooksystems/spook/replica"
)

func startUsers(t *testing.T, cfg Config) (*fixture, *apitest.UserBackend) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &apitest.UserBackend{Backend: apitest.New("n1")}
	s := New(b, cfg)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		<-served
		b.Close()
	})
	return &fixture{t: t, addr: l.Addr().String(), backend: b.Backend, server: s}, b
}

// TestAuthUsers: with a users file, AUTH NAME PASSWORD and HELLO AUTH
// NAME PASSWORD (by hand, and go-redis's HELLO 3) make the connection that user's (ACL WHOAMI), and every
// write path (a command, a pipeline, MULTI/EXEC) runs as that user; a
// wrong password gets WRONGPASS and leaves the connection's user as it
// was; RESET forgets the user. Without --password the default user is
// off.
func TestAuthUsers(t *testing.T) {
	f, b := startUsers(t, Config{Users: apitest.Users(t)})
	r := f.raw()
	r.expect("-NOAUTH Authentication required.", "SET", "a", "1")
	r.expect("-NOAUTH Authentication required.", "ACL", "WHOAMI")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "anything")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "default", "anything")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "alice", "bob-pw")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "carol", "alice-pw")
	r.expect("+OK", "AUTH", "alice", "alice-pw")
	r.expect(`"alice"`, "ACL", "WHOAMI")
	r.expect("+OK", "SET", "a", "1")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "bob", "wrong")
	r.expect(`"alice"`, "ACL", "WHOAMI")
	r.expect("+OK", "MULTI")
	r.expect("+QUEUED", "SET", "b", "2")
	r.expect("+QUEUED", "INCR", "c")
	r.expect("[+OK :1]", "EXEC")
	if got := b.TakeUsers(); !slices.Equal(got, []string{"alice", "alice"}) {
		t.Fatalf("users of alice's writes: %q", got)
	}
	if got := r.do("HELLO", "2", "AUTH", "bob", "bob-pw"); !strings.HasPrefix(got, `["server"`) {
		t.Fatalf("HELLO 2 AUTH bob: %s", got)
	}
	r.expect(`"bob"`, "ACL", "WHOAMI")
	r.expect("-ERR unknown subcommand 'SETUSER'. Try ACL HELP.", "ACL", "SETUSER", "x")
	r.expect("+RESET", "RESET")
	r.expect("-NOAUTH Authentication required.", "ACL", "WHOAMI")

	// go-redis: HELLO 3 AUTH, then pipelined writes.
	c := f.client(func(o *redis.Options) { o.Username, o.Password = "bob", "bob-pw" })
	if who, err := c.Do(bg(), "ACL", "WHOAMI").Text(); err != nil || who != "bob" {
		t.Fatalf("ACL WHOAMI: %q %v", who, err)
	}
	b.TakeUsers()
	p := c.Pipeline()
	for i := range 5 {
		p.Set(bg(), "p"+string(rune('0'+i)), "v", 0)
	}
	if _, err := p.Exec(bg()); err != nil {
		t.Fatal(err)
	}
	for _, u := range b.TakeUsers() {
		if u != "bob" {
			t.Fatalf("a pipelined write of bob's ran as %q", u)
		}
	}
	bad := f.client(func(o *redis.Options) { o.Username, o.Password = "alice", "bob-pw" })
	if err := bad.Ping(bg()).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v, want WRONGPASS", err)
	}
}

// TestAuthDefaultUser: --password is the default user's (AUTH PASSWORD
// and AUTH default PASSWORD alike) next to the named users; with no
// credential at all every connection is the default user from the start.
func TestAuthDefaultUser(t *testing.T) {
	f, b := startUsers(t, Config{Password: "s3cret", Users: apitest.Users(t)})
	r := f.raw()
	r.expect("+OK", "AUTH", "s3cret")
	r.expect(`"default"`, "ACL", "WHOAMI")
	r.expect("+OK", "AUTH", "alice", "alice-pw")
	r.expect(`"alice"`, "ACL", "WHOAMI")
	r.expect("+OK", "AUTH", "default", "s3cret")
	r.expect("+OK", "SET", "a", "1")
	if got := b.TakeUsers(); !slices.Equal(got, []string{"default"}) {
		t.Fatalf("users: %q", got)
	}

	f, b = startUsers(t, Config{})
	r = f.raw()
	r.expect(`"default"`, "ACL", "WHOAMI")
	r.expect("+OK", "SET", "a", "1")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "alice", "x")
	if got := b.TakeUsers(); !slices.Equal(got, []string{"default"}) {
		t.Fatalf("users: %q", got)
	}
}

// TestUserRightsErrorText: a write refused by the user rules reads, in
// RESP, as Redis's permission error with the key and the policy version.
func TestUserRightsErrorText(t *testing.T) {
	err := &replica.UserRightsError{User: "alice", Key: []byte("app/bob/x"), Version: 2}
	if got, want := errorText(err), "NOPERM this user has no rights to write key 'app/bob/x' (policy version 2)"; got != want {
		t.Fatalf("errorText = %q, want %q", got, want)
	}
}
