package httpapi

import (
	"net/http"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/ui"
)

// routeUI mounts the web page (package ui) and the endpoints it reads,
// under /ui/. They pass uiAuth: the same token as /v1, which a browser
// can also present as the password of HTTP Basic auth (it prompts for it
// on the 401), or a user's name and password. /v1 accepts the token only
// as the bearer header, and refuses cross-site writes that carry Basic
// credentials, so a site the user visits cannot ride the browser's
// cached credentials to /v1 writes; the page's one write path, the text
// WebSocket, checks the Origin.
func (s *Server) routeUI(mux *http.ServeMux) {
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, s.uiAuth(h)) }
	route("GET /ui/", ui.Handler())
	route("GET /ui/api/status", http.HandlerFunc(s.status))
	route("GET /ui/api/text/{key...}", http.HandlerFunc(s.getText))
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusFound))
}

// uiAuth admits a request that carries the token as a bearer header or as
// the password of HTTP Basic auth (any user name: the default user), or
// a user's Basic credentials (that user, whose text edits the node checks
// against the policy's user rules), compared in constant time; others
// get 401 with a Basic challenge.
func (s *Server) uiAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := api.DefaultUser
		if s.authRequired() {
			var ok bool
			if user, _, ok = s.authenticate(r, true); !ok {
				w.Header().Set("WWW-Authenticate", `Basic realm="spook", charset="UTF-8"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "the node's token is required (as the password, any user name), or a user's name and password")
				return
			}
		}
		h.ServeHTTP(w, r.WithContext(api.WithUser(r.Context(), user)))
	})
}
