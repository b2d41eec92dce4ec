package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprofRefusesNonLoopback checks that --pprof never listens where
// another host could reach it, and says why.
func TestPprofRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		l, err := servePprof(addr)
		if err == nil {
			l.Close()
			t.Fatalf("servePprof(%q) listened; want a refusal", addr)
		}
		if !strings.Contains(err.Error(), "--pprof") {
			t.Errorf("servePprof(%q) error %q does not name the flag", addr, err)
		}
	}
}

// TestPprofServesProfiles checks that a loopback --pprof serves the index
// and the heap profile.
func TestPprofServesProfiles(t *testing.T) {
	l, err := servePprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1"} {
		resp, err := http.Get("http://" + l.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET %s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
	}
}
