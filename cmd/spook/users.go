package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spooksystems/spook/api"
)

func init() { register("users", "make client users for spookd --users (hash)", runUsers) }

const usersHelp = `usage: spook users hash NAME [--iterations N] < PASSWORD

hash reads a password from standard input (its first line, without the
line end) and prints the line of spookd's users file (spookd --users)
that makes NAME a client user with that password:

  NAME pbkdf2-sha256$ITERATIONS$SALT$KEY

PBKDF2 with HMAC-SHA-256 under a fresh random salt. Redis clients then
AUTH NAME PASSWORD (or HELLO 3 AUTH NAME PASSWORD), HTTP clients send
Basic auth NAME:PASSWORD; the write-rights policy's 'user NAME "prefix"'
rules say what each may write (docs/audit.md, "Write rights"). A name is
1 to 128 printable bytes without blanks, quotes or ':'. "default" is the
user of clients that AUTH with a password alone; spookd --password gives
it instead when set.

Example:
  printf '%s\n' "$ALICE_PASSWORD" | spook users hash alice >> /etc/spook/users
  redis-cli --user alice --pass "$ALICE_PASSWORD" SET app/alice/x 1
`

// runUsers runs "spook users hash NAME".
func runUsers(args []string) error {
	fs := newFlagSet("users", usersHelp)
	iterations := fs.Int("iterations", api.DefaultPasswordIterations,
		fmt.Sprintf("PBKDF2 iterations (%d to %d): each AUTH that is not cached costs the node this many", api.MinPasswordIterations, api.MaxPasswordIterations))
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 || rest[0] != "hash" {
		return usageErrorf("want: users hash NAME")
	}
	if len(rest) != 2 {
		return usageErrorf("hash takes one NAME (the password comes on standard input)")
	}
	name := rest[1]
	if !api.ValidUserName(name) {
		return usageErrorf("user name %q: want 1 to %d printable bytes without blanks, quotes or ':', and not \"*\"", name, api.MaxUserNameBytes)
	}
	if *iterations < api.MinPasswordIterations || *iterations > api.MaxPasswordIterations {
		return usageErrorf("--iterations %d: give %d to %d", *iterations, api.MinPasswordIterations, api.MaxPasswordIterations)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password from standard input: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if password == "" {
		return errors.New("empty password on standard input")
	}
	hash, err := api.HashPassword([]byte(password), *iterations)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s %s\n", name, hash)
	return err
}
