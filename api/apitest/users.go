package apitest

import (
	"strings"
	"testing"

	"github.com/spooksystems/spook/api"
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
