package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"time"
)

// PollInterval is how often the cluster view asks for the node's status.
// A stopped or partitioned member shows as suspect once the failure
// detector says so (about a quarter second with the default ticks) plus at
// most this much. cluster.js holds the same number as POLL_MS (a test
// keeps the two equal).
const PollInterval = 500 * time.Millisecond

//go:embed assets
var assets embed.FS

// Handler serves the page's files under the path prefix /ui/.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded directory is part of this package
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
