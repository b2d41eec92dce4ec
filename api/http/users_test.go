package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
)

// TestBasicAuthUsers: with users, /v1 takes HTTP Basic auth as a user
// and runs the request's writes as that user; the bearer token is the
// default user, as is Basic "default" with the default user's password;
// a wrong password is 401 with both challenges; a cross-site browser
// write carrying Basic credentials is refused (a browser would send
// cached credentials on its own; the bearer header it cannot).
func TestBasicAuthUsers(t *testing.T) {
	var b *apitest.UserBackend
	f := startWrapped(t, Config{Token: "tok", Password: "s3cret", Users: apitest.Users(t)}, func(ab *apitest.Backend) api.Backend {
		b = &apitest.UserBackend{Backend: ab}
		return b
	})
	f.token = ""
	alice := "Basic " + basic("alice", "alice-pw")
	f.expect(http.StatusOK, "", "PUT", "/v1/kv/a", "1", "Authorization", alice)
	f.expect(http.StatusOK, "", "POST", "/v1/txn", `[{"op":"set","key":"b","value":"2"}]`, "Authorization", alice)
	f.expect(http.StatusOK, "", "PUT", "/v1/kv/c", "3", "Authorization", "Bearer tok")
	f.expect(http.StatusOK, "", "PUT", "/v1/kv/d", "4", "Authorization", "Basic "+basic("default", "s3cret"))
	f.expect(http.StatusOK, "", "PUT", "/v1/kv/e", "5", "Authorization", "Basic "+basic("bob", "bob-pw"))
	if got := b.TakeUsers(); !slices.Equal(got, []string{"alice", "alice", "default", "default", "bob"}) {
		t.Fatalf("users of the writes: %q", got)
	}
	for _, h := range []string{"Basic " + basic("alice", "bob-pw"), "Basic " + basic("carol", "x"), "Basic " + basic("anyone", "tok"), "Bearer nope", ""} {
		code, _, hdr := f.do("PUT", "/v1/kv/f", "x", "Authorization", h)
		if code != http.StatusUnauthorized || len(hdr.Values("WWW-Authenticate")) != 2 {
			t.Errorf("PUT with %q: %d, challenges %q; want 401 with Bearer and Basic", h, code, hdr.Values("WWW-Authenticate"))
		}
	}
	if got := b.TakeUsers(); len(got) != 0 {
		t.Fatalf("refused requests wrote: %q", got)
	}
	// A cross-site browser request with Basic credentials writes nothing.
	code, body, _ := f.do("PUT", "/v1/kv/g", "x", "Authorization", alice, "Sec-Fetch-Site", "cross-site")
	if code != http.StatusForbidden || !strings.Contains(body, "cross_origin") {
		t.Fatalf("cross-site Basic write: %d %s, want 403 cross_origin", code, body)
	}
	f.expect(http.StatusOK, "", "PUT", "/v1/kv/g", "x", "Authorization", "Bearer tok", "Sec-Fetch-Site", "cross-site")
	// The web page takes the users too.
	if code, _, _ := f.do("GET", "/ui/api/status", "", "Authorization", alice); code != http.StatusOK {
		t.Fatalf("GET /ui/api/status as alice: %d", code)
	}
}

// TestNoCredentialsIsDefault: with no token and no users, every request
// is the default user's.
func TestNoCredentialsIsDefault(t *testing.T) {
	var b *apitest.UserBackend
	f := startWrapped(t, Config{}, func(ab *apitest.Backend) api.Backend {
		b = &apitest.UserBackend{Backend: ab}
		return b
	})
	f.expect(http.StatusOK, "", "PUT", "/v1/kv/a", "1")
	if got := b.TakeUsers(); !slices.Equal(got, []string{api.DefaultUser}) {
		t.Fatalf("users: %q", got)
	}
}

// TestTextSocketEditsAsTheUser: the text WebSocket outlives its upgrade
// request, but its edits are still the authenticated user's, on /v1 and
// on the web page's /ui/api/ route.
func TestTextSocketEditsAsTheUser(t *testing.T) {
	var b *apitest.UserBackend
	f := startWrapped(t, Config{Users: apitest.Users(t)}, func(ab *apitest.Backend) api.Backend {
		b = &apitest.UserBackend{Backend: ab}
		return b
	})
	for _, path := range []string{"/v1/text/doc", "/ui/api/text/doc"} {
		ws, _, err := dialText(t, f, path, http.Header{"Authorization": {"Basic " + basic("alice", "alice-pw")}})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ws.read()
		ws.edit(0, textOp{Pos: 0, Insert: "a"})
		if m := ws.read(); m.Type != "ack" {
			t.Fatalf("%s: after an edit: %+v, want ack", path, m)
		}
		if got := b.TakeUsers(); !slices.Equal(got, []string{"alice"}) {
			t.Fatalf("%s: users of the socket's edit: %q", path, got)
		}
	}
}
