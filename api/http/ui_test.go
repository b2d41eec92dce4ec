package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/spooksystems/spook/ui"
)

// TestUIServedBehindTheToken: with a token, the page and its status feed
// need it (bearer or as the Basic password); /v1 still takes only the
// bearer header; the files come with no-cache and a same-origin CSP.
func TestUIServedBehindTheToken(t *testing.T) {
	f := start(t, Config{Token: "s3cret"})
	f.token = ""
	for _, path := range []string{"/ui/", "/ui/cluster.js", "/ui/api/status"} {
		code, _, h := f.do("GET", path, "")
		if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s without the token: %d, challenge %q; want 401 with a Basic challenge", path, code, h.Get("WWW-Authenticate"))
		}
		if code, _, _ := f.do("GET", path, "", "Authorization", "Basic "+basic("x", "wrong")); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password: %d, want 401", path, code)
		}
	}
	code, body, h := f.do("GET", "/ui/", "", "Authorization", "Basic "+basic("anyone", "s3cret"))
	if code != http.StatusOK || !strings.Contains(body, "cluster.js") {
		t.Fatalf("GET /ui/ with the Basic password: %d %.80q", code, body)
	}
	if h.Get("Cache-Control") != "no-cache" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("GET /ui/ headers: Cache-Control %q, CSP %q", h.Get("Cache-Control"), h.Get("Content-Security-Policy"))
	}
	code, body, _ = f.do("GET", "/ui/api/status", "", "Authorization", "Bearer s3cret")
	if code != http.StatusOK || !strings.Contains(body, `"members"`) {
		t.Fatalf("GET /ui/api/status with the bearer token: %d %.80q", code, body)
	}
	if code, _, _ := f.do("GET", "/v1/status", "", "Authorization", "Basic "+basic("anyone", "s3cret")); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/status with Basic auth: %d, want 401 (only the bearer header is accepted on /v1)", code)
	}
}

// TestUIFiles: every page file is served with its type, and the cluster
// view polls as often as ui.PollInterval says.
func TestUIFiles(t *testing.T) {
	f := start(t, Config{})
	for path, typ := range map[string]string{"/ui/": "text/html", "/ui/app.css": "text/css", "/ui/cluster.js": "text/javascript"} {
		code, _, h := f.do("GET", path, "")
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), typ) {
			t.Errorf("GET %s: %d %q, want 200 %s", path, code, h.Get("Content-Type"), typ)
		}
	}
	_, js, _ := f.do("GET", "/ui/cluster.js", "")
	if want := fmt.Sprintf("const POLL_MS = %d;", ui.PollInterval.Milliseconds()); !strings.Contains(js, want) {
		t.Errorf("cluster.js lacks %q (ui.PollInterval)", want)
	}
	req, _ := http.NewRequest("GET", f.base+"/ui", nil)
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want a redirect to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func basic(user, password string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
