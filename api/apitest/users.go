package apitest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// Users is the client users of the RESP and HTTP users tests: alice
// (password "alice-pw") and bob ("bob-pw"), hashed at the lowest
// iteration count api.ParseUsers accepts, so the tests stay fast.
func Users(t testing.TB) *api.Users {
	t.Helper()
	var text strings.Builder
	for _, u := range [][2]string{{"alice", "alice-pw"}, {"bob", "bob-pw"}} {
		h, err := api.HashPassword([]byte(u[1]), api.MinPasswordIterations)
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(u[0] + " " + h + "\n")
	}
	users, err := api.ParseUsers([]byte(text.String()))
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// UserBackend is a Backend that records the client user of every Update
// (api.UserOf of its context), for tests of the surfaces that carry it.
type UserBackend struct {
	*Backend
	mu    sync.Mutex
	users []string
}

// Update records the context's user and updates the Backend.
func (b *UserBackend) Update(ctx context.Context, fn func(tx *crdt.Builder) error) (api.Token, error) {
	b.mu.Lock()
	b.users = append(b.users, api.UserOf(ctx))
	b.mu.Unlock()
	return b.Backend.Update(ctx, fn)
}

// TakeUsers returns the users recorded since the last call.
func (b *UserBackend) TakeUsers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users
	b.users = nil
	return u
}
