package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// testHash is a password hash at the lowest iteration count ParseUsers
// accepts, so the tests stay fast.
func testHash(t *testing.T, password string) string {
	t.Helper()
	h, err := HashPassword([]byte(password), MinPasswordIterations)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestUsersFileAuthenticates: a users file of two users and comments
// authenticates each with its own password only, and nobody else; the
// same password hashes differently each time (a fresh salt).
func TestUsersFileAuthenticates(t *testing.T) {
	alice, bob := testHash(t, "alice-pw"), testHash(t, "bob pw with spaces")
	if again := testHash(t, "alice-pw"); again == alice {
		t.Fatalf("two hashes of one password are equal: %s (no salt?)", again)
	}
	text := fmt.Sprintf("# client users\n\nalice %s\n  # indented comment\nbob\t%s   \n", alice, bob)
	u, err := ParseUsers([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 2 || !u.Has("alice") || !u.Has("bob") || u.Has("carol") {
		t.Fatalf("users: len %d", u.Len())
	}
	for _, c := range []struct {
		name, password string
		ok             bool
	}{
		{"alice", "alice-pw", true},
		{"alice", "alice-pw", true}, // again: from the verified cache
		{"bob", "bob pw with spaces", true},
		{"alice", "bob pw with spaces", false},
		{"bob", "alice-pw", false},
		{"alice", "", false},
		{"alice", "alice-pw ", false},
		{"carol", "alice-pw", false},
		{"", "", false},
	} {
		if got := u.Authenticate(c.name, []byte(c.password)); got != c.ok {
			t.Errorf("Authenticate(%q, %q) = %v, want %v", c.name, c.password, got, c.ok)
		}
	}
	var none *Users
	if none.Authenticate("alice", []byte("alice-pw")) || none.Has("alice") || none.Len() != 0 {
		t.Fatal("a nil table authenticates someone")
	}
}

// TestUsersFileRefusesBadLines: each mistake is refused with its line
// number and what is wrong.
func TestUsersFileRefusesBadLines(t *testing.T) {
	h := testHash(t, "pw")
	long := strings.Repeat("n", MaxUserNameBytes+1)
	for _, c := range []struct{ text, want string }{
		{"alice\n", "line 1: want NAME PASSWORD-HASH"},
		{"# c\nalice " + h + " extra\n", "line 2: want NAME PASSWORD-HASH"},
		{"alice " + h + "\nalice " + h + "\n", "line 2: user \"alice\" listed twice (first on line 1)"},
		{long + " " + h + "\n", "line 1: user name of 129 bytes"},
		{"al:ice " + h + "\n", "line 1: user name"},
		{"al\"ice " + h + "\n", "line 1: user name"},
		{"* " + h + "\n", "line 1: user name"},
		{"alice secret\n", "line 1: password hash"},
		{"alice sha256$00$00\n", "line 1: password hash"},
		{"alice pbkdf2-sha256$10$00112233445566778899aabbccddeeff$" + strings.Repeat("00", 32) + "\n", "line 1: password hash: iterations"},
		{"alice pbkdf2-sha256$100000$zz$" + strings.Repeat("00", 32) + "\n", "line 1: password hash: salt"},
		{"alice pbkdf2-sha256$100000$00112233445566778899aabbccddeeff$00\n", "line 1: password hash: hash"},
		{"alice pbkdf2-sha256$0100000$00112233445566778899aabbccddeeff$" + strings.Repeat("00", 32) + "\n", "line 1: password hash: iterations"},
	} {
		_, err := ParseUsers([]byte(c.text))
		if !errors.Is(err, ErrBadUsers) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseUsers(%.60q) = %v, want ErrBadUsers saying %q", c.text, err, c.want)
		}
	}
}

// TestUsersFileLimits: MaxUsers users are accepted, one more is refused;
// a file over MaxUsersFileBytes is refused before it is read line by line.
func TestUsersFileLimits(t *testing.T) {
	h := testHash(t, "pw")
	var b strings.Builder
	for i := range MaxUsers {
		fmt.Fprintf(&b, "u%d %s\n", i, h)
	}
	u, err := ParseUsers([]byte(b.String()))
	if err != nil || u.Len() != MaxUsers {
		t.Fatalf("MaxUsers users: %v", err)
	}
	fmt.Fprintf(&b, "one-more %s\n", h)
	if _, err := ParseUsers([]byte(b.String())); !errors.Is(err, ErrBadUsers) || !strings.Contains(err.Error(), "MaxUsers") {
		t.Fatalf("MaxUsers+1 users: %v, want refused", err)
	}
	big := strings.Repeat("#", MaxUsersFileBytes+1)
	if _, err := ParseUsers([]byte(big)); !errors.Is(err, ErrBadUsers) || !strings.Contains(err.Error(), "MaxUsersFileBytes") {
		t.Fatalf("a file over MaxUsersFileBytes: %v, want refused", err)
	}
	if _, err := ParseUsers(nil); err != nil {
		t.Fatalf("an empty file: %v, want no users", err)
	}
}

// TestHashPasswordIterations: HashPassword refuses iteration counts
// ParseUsers would refuse, so it never prints a line the node rejects.
func TestHashPasswordIterations(t *testing.T) {
	for _, n := range []int{0, MinPasswordIterations - 1, MaxPasswordIterations + 1} {
		if _, err := HashPassword([]byte("pw"), n); err == nil {
			t.Errorf("HashPassword with %d iterations: no error", n)
		}
	}
}

// TestUserContext: the user travels in a context; none is "".
func TestUserContext(t *testing.T) {
	if got := UserOf(context.Background()); got != "" {
		t.Fatalf("UserOf(Background) = %q", got)
	}
	if got := UserOf(WithUser(context.Background(), "alice")); got != "alice" {
		t.Fatalf("UserOf(WithUser(alice)) = %q", got)
	}
}

// TestCredentialsVerify: the default user's password comes from
// Password, or from the users file when Password is empty; Verify never
// admits a user without a credential (no "nopass" default).
func TestCredentialsVerify(t *testing.T) {
	u, err := ParseUsers([]byte("alice " + testHash(t, "a") + "\ndefault " + testHash(t, "d") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		creds          Credentials
		name, password string
		ok             bool
	}{
		{Credentials{}, DefaultUser, "", false},
		{Credentials{}, DefaultUser, "x", false},
		{Credentials{Password: "p"}, DefaultUser, "p", true},
		{Credentials{Password: "p"}, DefaultUser, "q", false},
		{Credentials{Password: "p"}, "alice", "a", false},
		{Credentials{Users: u}, DefaultUser, "d", true},
		{Credentials{Users: u}, "alice", "a", true},
		{Credentials{Users: u}, "alice", "d", false},
	} {
		if got := c.creds.Verify(c.name, []byte(c.password)); got != c.ok {
			t.Errorf("%+v Verify(%q, %q) = %v, want %v", c.creds, c.name, c.password, got, c.ok)
		}
	}
	if (Credentials{}).Required() || !(Credentials{Password: "p"}).Required() || !(Credentials{Users: u}).Required() {
		t.Fatal("Required wrong")
	}
}

// TestPasswordChecksBounded: wrong passwords sent at once (what anyone
// who can reach the port can send) run at most
// MaxConcurrentPasswordChecks key derivations at a time, so failed
// logins cannot take more than that many cores; a pair in the verified
// cache waits for no slot.
func TestPasswordChecksBounded(t *testing.T) {
	u, err := ParseUsers([]byte("alice " + testHash(t, "alice-pw") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !u.Authenticate("alice", []byte("alice-pw")) {
		t.Fatal("alice's password refused")
	}
	var mu sync.Mutex
	running, most := 0, 0
	derive := deriveKey
	deriveKey = func(password string, h passwordHash) ([]byte, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // hold the slot, as a slow core would
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		return derive(password, h)
	}
	defer func() { deriveKey = derive }()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if u.Authenticate("alice", fmt.Appendf(nil, "guess %d", i)) {
				t.Errorf("guess %d admitted", i)
			}
		}()
	}
	// The cached pair goes through while the guesses queue.
	if !u.Authenticate("alice", []byte("alice-pw")) {
		t.Error("cached pair refused under load")
	}
	wg.Wait()
	if most == 0 || most > MaxConcurrentPasswordChecks {
		t.Fatalf("%d key derivations ran at once, limit %d", most, MaxConcurrentPasswordChecks)
	}
}

// BenchmarkPasswordCheck: what one failed login costs the node (a key
// derivation at the default iteration count) against one that hits the
// verified cache.
func BenchmarkPasswordCheck(b *testing.B) {
	h, err := HashPassword([]byte("alice-pw"), DefaultPasswordIterations)
	if err != nil {
		b.Fatal(err)
	}
	u, err := ParseUsers([]byte("alice " + h + "\n"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wrong", func(b *testing.B) {
		for b.Loop() {
			if u.Authenticate("alice", []byte("guess")) {
				b.Fatal("a guess admitted")
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		if !u.Authenticate("alice", []byte("alice-pw")) {
			b.Fatal("refused")
		}
		for b.Loop() {
			if !u.Authenticate("alice", []byte("alice-pw")) {
				b.Fatal("refused")
			}
		}
	})
}
