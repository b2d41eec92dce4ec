package node

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/wire"
)

// maxCollapseTracked bounds the local writes whose time to collapse is
// being measured, and separately those whose time to region collapse is;
// writes beyond it are not measured (never queued).
const maxCollapseTracked = 1 << 16

// metrics is one node's Prometheus registry (private: several nodes may
// share a process, as `spook up` does).
type metrics struct {
	reg           *prometheus.Registry
	writes        prometheus.Counter
	events        *prometheus.CounterVec
	bytesSent     *prometheus.CounterVec
	bytesReceived *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	windowDropped prometheus.Counter
	links         *prometheus.CounterVec
	peerState     *prometheus.GaugeVec
	lag           *prometheus.GaugeVec
	keys          prometheus.Gauge
	applied       prometheus.Gauge
	collapse      prometheus.Histogram
	// regionCollapse times local writes until every member of this
	// node's region has them (the region collapsed cut).
	regionCollapse prometheus.Histogram
	wire           *wire.Counters

	mu            sync.Mutex
	windowSeen    uint64         // driver.Core.Dropped at the last observe (under mu)
	pending       []collapseMark // local writes awaiting collapse, in dot order
	regionPending []collapseMark // local writes awaiting region collapse, in dot order
}

type collapseMark struct {
	dot causal.Dot
	at  time.Time
}

func newMetrics() *metrics {
	m := &metrics{
		reg:           prometheus.NewRegistry(),
		writes:        prometheus.NewCounter(prometheus.CounterOpts{Name: "spook_writes_total", Help: "Transactions committed on this node."}),
		events:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spook_events_total", Help: "Replica events by type."}, []string{"type"}),
		bytesSent:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spook_peer_sent_bytes_total", Help: "Message payload bytes sent to each peer."}, []string{"peer"}),
		bytesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spook_peer_received_bytes_total", Help: "Message payload bytes received from each peer."}, []string{"peer"}),
		windowDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "spook_window_dropped_batches_total", Help: "Pushed transaction batches not sent because a peer's flow-control window was full (the peer fetches them)."}),
		dropped:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spook_peer_dropped_messages_total", Help: "Messages dropped because a peer's send queue was full."}, []string{"peer"}),
		links:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spook_peer_links_total", Help: "Outbound link sessions established to each peer."}, []string{"peer"}),
		peerState:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "spook_peer_state", Help: "1 for each peer's current state, labelled with its region (empty if none)."}, []string{"peer", "region", "state"}),
		lag:           prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "spook_peer_lag_transactions", Help: "Transactions applied here that a peer has not acknowledged."}, []string{"peer"}),
		keys:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "spook_keys", Help: "Live keys in the keyspace."}),
		applied:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "spook_applied_transactions", Help: "Transactions applied (sum of the applied vector)."}),
		collapse: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "spook_collapse_seconds", Help: "Time from a local commit until every member has applied it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		regionCollapse: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "spook_region_collapse_seconds", Help: "Time from a local commit until every member of this node's region has applied it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		wire: &wire.Counters{},
	}
	m.reg.MustRegister(m.writes, m.events, m.bytesSent, m.bytesReceived, m.dropped, m.links,
		m.peerState, m.lag, m.keys, m.applied, m.collapse, m.regionCollapse, m.windowDropped,
		// The standard go_* and process_* series, as every Go service
		// exports them (on this node's registry, not the global one).
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Counters exist from the start at 0, so a rate() or an alert on
	// them works before the first event (Prometheus practice: initialise
	// every label value known in advance).
	for t := replica.EventType(1); t < maxEventTypes && !strings.HasPrefix(t.String(), "event("); t++ {
		m.events.WithLabelValues(t.String())
	}
	return m
}

// maxEventTypes bounds the scan for replica event type names.
const maxEventTypes = 255

// knowPeer creates the per-peer counters of a member at 0, so they are
// served before its first message, drop or link.
func (m *metrics) knowPeer(name string) {
	m.dropped.WithLabelValues(name)
	m.bytesSent.WithLabelValues(name)
	m.bytesReceived.WithLabelValues(name)
	m.links.WithLabelValues(name)
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// trackCollapse starts timing a local write until it collapses.
func (m *metrics) trackCollapse(dot causal.Dot, now time.Time) {
	m.mu.Lock()
	if len(m.pending) < maxCollapseTracked {
		m.pending = append(m.pending, collapseMark{dot, now})
	}
	if len(m.regionPending) < maxCollapseTracked {
		m.regionPending = append(m.regionPending, collapseMark{dot, now})
	}
	m.mu.Unlock()
}

// observe refreshes gauges from the node and finishes collapse timings.
func (m *metrics) observe(n *Node) {
	n.mu.RLock()
	st := n.r.Status()
	windowDropped := n.core.Dropped()
	n.mu.RUnlock()
	m.mu.Lock()
	if windowDropped > m.windowSeen {
		m.windowDropped.Add(float64(windowDropped - m.windowSeen))
		m.windowSeen = windowDropped
	}
	m.mu.Unlock()
	m.keys.Set(float64(st.Keys))
	m.applied.Set(float64(st.Applied.Sum()))
	m.peerState.Reset()
	for _, mem := range st.Members {
		if mem.Self {
			continue
		}
		m.knowPeer(mem.Name)
		m.peerState.WithLabelValues(mem.Name, mem.Region, mem.State.String()).Set(1)
		m.lag.WithLabelValues(mem.Name).Set(float64(st.Applied.Sum() - min(st.Applied.Sum(), mem.Applied.Sum())))
	}
	now := n.cfg.now()
	m.mu.Lock()
	i := 0
	for ; i < len(m.pending) && st.Collapsed.Contains(m.pending[i].dot); i++ {
		m.collapse.Observe(now.Sub(m.pending[i].at).Seconds())
	}
	m.pending = append(m.pending[:0], m.pending[i:]...)
	i = 0
	for ; i < len(m.regionPending) && st.RegionCollapsed.Contains(m.regionPending[i].dot); i++ {
		m.regionCollapse.Observe(now.Sub(m.regionPending[i].at).Seconds())
	}
	m.regionPending = append(m.regionPending[:0], m.regionPending[i:]...)
	m.mu.Unlock()
}
