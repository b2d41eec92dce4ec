package node

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// scrape returns what /metrics serves.
func scrape(t *testing.T, m *metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestMetricsFromTheStart: the Go runtime and process series are served,
// and the counters a dashboard or alert reads exist at 0 before anything
// happened: every event type, and each known peer's dropped messages.
func TestMetricsFromTheStart(t *testing.T) {
	body := scrape(t, newMetrics())
	for _, want := range []string{
		"go_goroutines ", "go_memstats_heap_alloc_bytes ", "process_cpu_seconds_total ", "process_resident_memory_bytes ",
		`spook_events_total{type="divergence"} 0`, `spook_events_total{type="peer-unreachable"} 0`,
		`spook_events_total{type="catch-up-too-far"} 0`, "spook_writes_total 0", "spook_window_dropped_batches_total 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `type="event(`) {
		t.Errorf("/metrics names an unknown event type")
	}

	nodes, _ := startCluster(t, 2, false)
	nodes[0].metrics.observe(nodes[0])
	body = scrape(t, nodes[0].metrics)
	for _, want := range []string{`spook_peer_dropped_messages_total{peer="n2"} 0`, `spook_peer_sent_bytes_total{peer="n2"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
