package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limits and defaults.
const (
	// DefaultInterval is how long identical lines are collapsed: under an
	// attack one line per message per 10 s is readable, and a real
	// problem still shows within seconds.
	DefaultInterval = 10 * time.Second
	// MaxMessages bounds the distinct (level, message) pairs tracked.
	// When it is reached, entries whose interval is over are forgotten
	// (their counts reported first); if all are still current, a new
	// message passes unlimited. Log messages are constant strings in this
	// code base, so a few hundred are ever seen.
	MaxMessages = 1024
)

// Config configures a Handler. The zero value works.
type Config struct {
	// Interval: zero means DefaultInterval.
	Interval time.Duration
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time
}

// Handler is an slog.Handler that collapses repeated lines (see the
// package doc). It is safe for concurrent use; handlers derived with
// WithAttrs and WithGroup share its counts.
type Handler struct {
	inner slog.Handler
	state *state
}

var _ slog.Handler = (*Handler)(nil)

// state is shared by a Handler and every handler derived from it.
type state struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	seen map[key]*entry
}

type key struct {
	level   slog.Level
	message string
}

// entry tracks one (level, message) pair.
type entry struct {
	since   time.Time    // when the last record of it passed
	dropped int          // records dropped since then
	inner   slog.Handler // the handler of the last dropped record, for its summary
}

// New wraps inner.
func New(inner slog.Handler, cfg Config) *Handler {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{inner: inner, state: &state{interval: cfg.Interval, now: cfg.Now, seen: map[key]*entry{}}}
}

// Enabled reports what the wrapped handler reports.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// WithAttrs wraps the inner handler's WithAttrs, sharing counts.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), state: h.state}
}

// WithGroup wraps the inner handler's WithGroup, sharing counts.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), state: h.state}
}

// summary is a count to report for a message that did not recur.
type summary struct {
	inner   slog.Handler
	key     key
	dropped int
}

// Handle passes r on, drops it as a repeat, or passes it with the count
// of the repeats dropped before it. Summaries of other messages whose
// interval is over are emitted first.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		return h.inner.Handle(ctx, r)
	}
	s := h.state
	now := s.now()
	k := key{r.Level, r.Message}
	s.mu.Lock()
	due := s.dueSummaries(now, k)
	e := s.seen[k]
	pass, dropped := true, 0
	switch {
	case e != nil && now.Sub(e.since) < s.interval:
		e.dropped++
		e.inner = h.inner
		pass = false
	case e != nil:
		dropped = e.dropped
		e.since, e.dropped, e.inner = now, 0, nil
	case len(s.seen) < MaxMessages:
		s.seen[k] = &entry{since: now}
	}
	s.mu.Unlock()

	for _, d := range due {
		rec := slog.NewRecord(now, d.key.level, d.key.message, 0)
		rec.AddAttrs(slog.Int("repeated", d.dropped), slog.Duration("repeated_over", s.interval))
		d.inner.Handle(ctx, rec)
	}
	if !pass {
		return nil
	}
	if dropped > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", dropped), slog.Duration("repeated_over", s.interval))
	}
	return h.inner.Handle(ctx, r)
}

// dueSummaries removes and returns the counts of messages other than
// except whose interval is over with records dropped, and forgets idle
// entries when the table is full. Called with s.mu held.
func (s *state) dueSummaries(now time.Time, except key) []summary {
	var due []summary
	full := len(s.seen) >= MaxMessages
	for k, e := range s.seen {
		if k == except || now.Sub(e.since) < s.interval {
			continue
		}
		if e.dropped > 0 {
			due = append(due, summary{inner: e.inner, key: k, dropped: e.dropped})
			delete(s.seen, k)
		} else if full {
			delete(s.seen, k)
		}
	}
	return due
}
