package api

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Client users. A client surface authenticates each connection (RESP
// AUTH and HELLO AUTH) or request (HTTP Basic auth) as a user, and runs
// its writes with that user in the context (WithUser); the node checks
// the user rules of the write-rights policy in force against it
// (docs/audit.md, "Write rights"). The users come from a users file
// (spookd --users), one a line:
//
//	# comment
//	alice pbkdf2-sha256$100000$<salt, 32 hex digits>$<key, 64 hex digits>
//
// NAME, then blanks, then the hash `spook users hash` prints: PBKDF2 with
// HMAC-SHA-256 (crypto/pbkdf2) of the password, the salt and the
// iteration count given, a 32-byte key. Blank lines and lines starting
// with '#' are skipped. The user DefaultUser is the one Redis clients
// that send AUTH PASSWORD (no name) or nothing at all get: spookd
// --password gives its password; without it, a users file may.
const (
	// DefaultUser is the user of AUTH with a password alone, of the HTTP
	// bearer token, and of every client when no credential is configured.
	DefaultUser = "default"

	// MaxUsers bounds the users of a users file; ParseUsers refuses a
	// file with more (the node does not start).
	MaxUsers = 4096
	// MaxUserNameBytes bounds a user name, in bytes: a policy names users
	// in rules of at most audit.MaxPolicyNameBytes. ParseUsers refuses a
	// longer one.
	MaxUserNameBytes = 128
	// MaxUsersFileBytes bounds a users file, in bytes; ParseUsers refuses
	// a larger one.
	MaxUsersFileBytes = 1 << 20

	// DefaultPasswordIterations is the PBKDF2 iteration count HashPassword
	// uses unless told otherwise: about 14 ms per check on one 2020s
	// core. A client pays it at its first successful AUTH (later ones
	// with the same password hit the verified cache) and at every failed
	// one.
	DefaultPasswordIterations = 100_000
	// MinPasswordIterations and MaxPasswordIterations bound the iteration
	// count of a hash: ParseUsers and HashPassword refuse one outside
	// them (too weak to slow a guesser; so slow one AUTH stalls a core
	// for seconds).
	MinPasswordIterations = 10_000
	MaxPasswordIterations = 10_000_000
	// PasswordSaltBytes is the salt length HashPassword draws; ParseUsers
	// accepts salts of 8 to 64 bytes.
	PasswordSaltBytes = 16
	// MaxVerifiedPasswords bounds the verified cache of a users table
	// (an HMAC of name and password under a key drawn at start, for each
	// pair that authenticated): HTTP Basic auth checks on every request,
	// and one key derivation a request would cap a node at a few hundred
	// requests a second. The cache is emptied when full.
	MaxVerifiedPasswords = 1024
	// MaxConcurrentPasswordChecks bounds the key derivations running at
	// once. A wrong password costs one (about 14 ms of a core at the
	// default count) and anyone who reaches the port can send one, so
	// without a bound failed logins alone could occupy every core; past
	// it, a check waits for its turn (a pair in the verified cache waits
	// for nothing).
	MaxConcurrentPasswordChecks = 1

	passwordScheme  = "pbkdf2-sha256"
	passwordKeySize = sha256.Size
	minSaltBytes    = 8
	maxSaltBytes    = 64
)

// ErrBadUsers: a users file that does not parse or breaks a limit;
// ParseUsers returns it with the line number and the reason.
var ErrBadUsers = errors.New("api: bad users file")

// Users is a table of client users and their password hashes, read once
// (ParseUsers). Safe for concurrent use. A nil *Users has no users.
type Users struct {
	byName map[string]passwordHash
	// dummy is checked for an unknown name, so that the time an AUTH
	// takes does not tell which names exist.
	dummy passwordHash

	// cacheKey keys the verified cache's HMACs; drawn at parse.
	cacheKey [32]byte
	mu       sync.Mutex
	verified map[[sha256.Size]byte]struct{}
}

type passwordHash struct {
	iterations int
	salt, key  []byte
}

// HashPassword returns the users-file hash of password under a fresh
// random salt with the given iteration count (DefaultPasswordIterations
// if unsure).
func HashPassword(password []byte, iterations int) (string, error) {
	if iterations < MinPasswordIterations || iterations > MaxPasswordIterations {
		return "", fmt.Errorf("api: %d iterations: give %d to %d", iterations, MinPasswordIterations, MaxPasswordIterations)
	}
	salt := make([]byte, PasswordSaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, passwordKeySize)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s$%d$%x$%x", passwordScheme, iterations, salt, key), nil
}

// parseHash reads a hash HashPassword made; the error says what is wrong.
func parseHash(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != passwordScheme {
		return passwordHash{}, fmt.Errorf("want %s$ITERATIONS$SALT$KEY (from 'spook users hash')", passwordScheme)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || strconv.Itoa(n) != parts[1] || n < MinPasswordIterations || n > MaxPasswordIterations {
		return passwordHash{}, fmt.Errorf("iterations %.12q: want a decimal from %d to %d", parts[1], MinPasswordIterations, MaxPasswordIterations)
	}
	salt, err := hex.DecodeString(parts[2])
	if err != nil || len(salt) < minSaltBytes || len(salt) > maxSaltBytes {
		return passwordHash{}, fmt.Errorf("salt: want %d to %d bytes in hex", minSaltBytes, maxSaltBytes)
	}
	key, err := hex.DecodeString(parts[3])
	if err != nil || len(key) != passwordKeySize {
		return passwordHash{}, fmt.Errorf("hash: want %d bytes in hex", passwordKeySize)
	}
	return passwordHash{iterations: n, salt: salt, key: key}, nil
}

// ValidUserName reports whether name may name a user: 1 to
// MaxUserNameBytes printable ASCII bytes without blanks, quotes or ':'
// (HTTP Basic auth ends the name at the first ':'), and not the policy
// wildcard "*".
func ValidUserName(name string) bool {
	if name == "" || len(name) > MaxUserNameBytes || name == "*" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < '!' || c > '~' || c == '"' || c == ':' {
			return false
		}
	}
	return true
}

// ParseUsers reads a users file (the format above). An empty file is a
// table without users.
func ParseUsers(text []byte) (*Users, error) {
	if len(text) > MaxUsersFileBytes {
		return nil, fmt.Errorf("%w: %d bytes > MaxUsersFileBytes %d", ErrBadUsers, len(text), MaxUsersFileBytes)
	}
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrBadUsers, line, fmt.Sprintf(format, args...))
	}
	u := &Users{byName: map[string]passwordHash{}}
	firstLine := map[string]int{}
	for i, line := range strings.Split(string(text), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, bad(n, "want NAME PASSWORD-HASH, got %d fields", len(fields))
		}
		name := fields[0]
		if !ValidUserName(name) {
			return nil, bad(n, "user name of %d bytes: want 1 to %d (MaxUserNameBytes) printable bytes without blanks, quotes or ':', and not \"*\"", len(name), MaxUserNameBytes)
		}
		if first, dup := firstLine[name]; dup {
			return nil, bad(n, "user %q listed twice (first on line %d)", name, first)
		}
		h, err := parseHash(fields[1])
		if err != nil {
			return nil, bad(n, "password hash: %v", err)
		}
		if len(u.byName) == MaxUsers {
			return nil, bad(n, "more than MaxUsers %d users", MaxUsers)
		}
		u.byName[name], firstLine[name] = h, n
	}
	u.dummy = passwordHash{iterations: DefaultPasswordIterations, salt: make([]byte, PasswordSaltBytes), key: make([]byte, passwordKeySize)}
	if _, err := rand.Read(u.cacheKey[:]); err != nil {
		return nil, err
	}
	return u, nil
}

// Len is the number of users.
func (u *Users) Len() int {
	if u == nil {
		return 0
	}
	return len(u.byName)
}

// Has reports whether name is a user of u.
func (u *Users) Has(name string) bool {
	if u == nil {
		return false
	}
	_, ok := u.byName[name]
	return ok
}

// Authenticate reports whether password is name's. The key comparison
// is constant-time, and an unknown name costs a key derivation like a
// known one; a pair that authenticated before is answered from the
// verified cache (MaxVerifiedPasswords).
func (u *Users) Authenticate(name string, password []byte) bool {
	if u == nil {
		return false
	}
	mac := hmac.New(sha256.New, u.cacheKey[:])
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write(password)
	var id [sha256.Size]byte
	mac.Sum(id[:0])
	u.mu.Lock()
	_, hit := u.verified[id]
	u.mu.Unlock()
	if hit {
		return true
	}
	h, known := u.byName[name]
	if !known {
		h = u.dummy
	}
	passwordChecks <- struct{}{}
	key, err := deriveKey(string(password), h)
	<-passwordChecks
	if err != nil || subtle.ConstantTimeCompare(key, h.key) != 1 || !known {
		return false
	}
	u.mu.Lock()
	if u.verified == nil || len(u.verified) >= MaxVerifiedPasswords {
		u.verified = make(map[[sha256.Size]byte]struct{})
	}
	u.verified[id] = struct{}{}
	u.mu.Unlock()
	return true
}

// passwordChecks holds a token for each key derivation running
// (MaxConcurrentPasswordChecks), across every users table of the process:
// the cores are the process's.
var passwordChecks = make(chan struct{}, MaxConcurrentPasswordChecks)

// deriveKey is PBKDF2 for h (a variable: tests count what runs at once).
var deriveKey = func(password string, h passwordHash) ([]byte, error) {
	return pbkdf2.Key(sha256.New, password, h.salt, h.iterations, passwordKeySize)
}

// Credentials are what a client surface authenticates against: the
// default user's password (spookd --password) and the users file. The
// zero value configures no credential: every client is DefaultUser.
type Credentials struct {
	// Password, when not empty, is DefaultUser's password (compared in
	// constant time). When empty, Users may hold DefaultUser.
	Password string
	// Users, when not nil, holds the named users.
	Users *Users
}

// Required reports whether clients must authenticate: a password or a
// users file is configured. If not, every client is DefaultUser.
func (c Credentials) Required() bool { return c.Password != "" || c.Users != nil }

// Verify reports whether password is name's. It never admits a user
// without a credential: with none configured it is always false (a
// surface that needs no authentication does not ask).
func (c Credentials) Verify(name string, password []byte) bool {
	if name == DefaultUser && c.Password != "" {
		return subtle.ConstantTimeCompare(password, []byte(c.Password)) == 1
	}
	return c.Users.Authenticate(name, password)
}

// userKey is the context key of the client user.
type userKey struct{}

// WithUser returns ctx carrying the client user name: a Backend's
// Update checks the user rules of the write-rights policy in force
// against it (the node's does; docs/audit.md). Client surfaces set it
// for every authenticated write; the Go API sets none unless the
// embedding program does.
func WithUser(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, userKey{}, name)
}

// UserOf returns the client user WithUser put in ctx, "" if none.
func UserOf(ctx context.Context) string {
	name, _ := ctx.Value(userKey{}).(string)
	return name
}
