package node

import (
	"errors"
	"testing"
	"time"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/replica"
)

// TestParseAuditRetention: every form spookd --audit-retention takes,
// what it means, and that String gives back a form that parses to the
// same policy; nonsense is refused with ErrRetention.
func TestParseAuditRetention(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		in   string
		want AuditRetention
		str  string
	}{
		{"", AuditRetention{}, "all"},
		{"all", AuditRetention{}, "all"},
		{"checkpoints=3", AuditRetention{Checkpoints: 3}, "checkpoints=3"},
		{"archive=/a", AuditRetention{ArchiveDir: "/a"}, "archive=/a"},
		{"archive=/a,checkpoints=2", AuditRetention{ArchiveDir: "/a", Checkpoints: 2}, "archive=/a,checkpoints=2"},
		{"days=7", AuditRetention{MaxAge: 7 * day}, "days=7"},
		{"age=72h", AuditRetention{MaxAge: 72 * time.Hour}, "days=3"},
		{"age=90m", AuditRetention{MaxAge: 90 * time.Minute}, "age=1h30m0s"},
		{"bytes=4096", AuditRetention{MaxBytes: 4096}, "bytes=4KiB"},
		{"bytes=1000b", AuditRetention{MaxBytes: 1000}, "bytes=1000"},
		{"bytes=64MiB", AuditRetention{MaxBytes: 64 << 20}, "bytes=64MiB"},
		{"bytes=2G", AuditRetention{MaxBytes: 2 << 30}, "bytes=2GiB"},
		{"bytes=10k", AuditRetention{MaxBytes: 10 << 10}, "bytes=10KiB"},
		{"bytes=1TB", AuditRetention{MaxBytes: 1 << 40}, "bytes=1TiB"},
		{"archive=/a,days=30", AuditRetention{ArchiveDir: "/a", MaxAge: 30 * day}, "archive=/a,days=30"},
		{"bytes=1GiB,archive=/a", AuditRetention{ArchiveDir: "/a", MaxBytes: 1 << 30}, "archive=/a,bytes=1GiB"},
		{"checkpoints=5,days=2,bytes=100", AuditRetention{Checkpoints: 5, MaxAge: 2 * day, MaxBytes: 100}, "checkpoints=5,days=2,bytes=100"},
	} {
		got, err := ParseAuditRetention(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseAuditRetention(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if s := got.String(); s != c.str {
			t.Errorf("%q: String() = %q, want %q", c.in, s, c.str)
		}
		if back, err := ParseAuditRetention(got.String()); err != nil || back != got {
			t.Errorf("%q: String() %q parses to %+v, %v", c.in, got.String(), back, err)
		}
	}
	for _, bad := range []string{
		"none", "checkpoints=0", "checkpoints=-1", "days=0", "days=-2", "days=1.5", "days=x",
		"age=0s", "age=-1h", "age=soon", "bytes=0", "bytes=-5", "bytes=12XB", "bytes=", "bytes=MiB",
		"bytes=99999999999T", "archive=", "days=7,", "days=2,age=48h",
	} {
		if r, err := ParseAuditRetention(bad); !errors.Is(err, ErrRetention) {
			t.Errorf("ParseAuditRetention(%q) = %+v, %v; want ErrRetention", bad, r, err)
		}
	}
}

// TestRetentionChoose: which checkpoint the base moves to and where the
// log is trimmed, for each limit alone and together, on a made-up log
// of ten 100-byte segments of ten records each (the tenth active),
// written a day apart, with a checkpoint record every 7 records.
func TestRetentionChoose(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var segs []logSegment
	for i := 0; i < 10; i++ {
		segs = append(segs, logSegment{first: uint64(10*i + 1), last: uint64(10*i + 10), sizeBytes: 100,
			modTime: now.Add(-time.Duration(10-i) * day)}) // segment 0: 10 days old, segment 9: 1 day
	}
	var notes []replica.SignedCheckpoint
	for r := uint64(7); r <= 98; r += 7 {
		notes = append(notes, replica.SignedCheckpoint{Checkpoint: audit.Checkpoint{Index: r / 7}, Record: r})
	}
	type result struct {
		ok         bool
		cut, trim  uint64 // cut: the checkpoint record the base moves to
		dropsUntil uint64 // the last record of the last segment trim drops (0: none)
	}
	for _, c := range []struct {
		name string
		pol  AuditRetention
		segs []logSegment
		want result
	}{
		// checkpoints=2: the checkpoint two before the newest (record 84).
		{"checkpoints", AuditRetention{Checkpoints: 2}, segs, result{true, 84, 85, 80}},
		{"checkpoints beyond the history", AuditRetention{Checkpoints: 14}, segs, result{}},
		{"archive alone", AuditRetention{ArchiveDir: "/a"}, segs, result{true, 98, 99, 90}},
		// days=5: segments 0..4 (records 1..50) are more than 5 days
		// old; the newest checkpoint in them is record 49: segments 0..3
		// go, segment 4 (41..50) stays, as its records after 49 do.
		{"days", AuditRetention{MaxAge: 5 * day}, segs, result{true, 49, 50, 40}},
		{"days, nothing that old", AuditRetention{MaxAge: 11 * day}, segs, result{}},
		// The active segment never counts as old: its newest record is
		// being written now.
		{"days, all old", AuditRetention{MaxAge: time.Hour}, segs, result{true, 84, 85, 80}},
		// A segment without a time (or newer than the one after it, as
		// in a partly copied directory) stops the old prefix.
		{"days, unknown time", AuditRetention{MaxAge: 5 * day}, withModTime(segs, 2, time.Time{}), result{true, 14, 15, 10}},
		{"days, newer segment", AuditRetention{MaxAge: 5 * day}, withModTime(segs, 1, now), result{true, 7, 8, 0}},
		// bytes=350: the newest 3 segments (300 bytes) fit, so records
		// 1..70 must go; the first checkpoint at or after record 70 is
		// 70: the log keeps 71.. exactly.
		{"bytes", AuditRetention{MaxBytes: 350}, segs, result{true, 70, 71, 70}},
		// bytes=450: keep 4 segments, drop 1..60: the first checkpoint at
		// or after 60 is 63; the base moves there but only whole
		// segments before 61 go.
		{"bytes, base past the trim", AuditRetention{MaxBytes: 450}, segs, result{true, 63, 61, 60}},
		// bytes=50: not even the active segment fits; everything before
		// it goes (to the first checkpoint at or after record 90: 91).
		{"bytes below the active segment", AuditRetention{MaxBytes: 50}, segs, result{true, 91, 91, 90}},
		{"bytes, everything fits", AuditRetention{MaxBytes: 1000}, segs, result{}},
		// Together: each limit drops what it would alone; the furthest wins.
		{"checkpoints and days", AuditRetention{Checkpoints: 10, MaxAge: 5 * day}, segs, result{true, 49, 50, 40}},
		{"days and bytes", AuditRetention{MaxAge: 5 * day, MaxBytes: 350}, segs, result{true, 70, 71, 70}},
		{"archive and days", AuditRetention{ArchiveDir: "/a", MaxAge: 5 * day}, segs, result{true, 49, 50, 40}},
	} {
		cut, trim, ok := c.pol.choose(notes, c.segs, now)
		got := result{ok: ok}
		if ok {
			got.cut, got.trim = cut.Record, trim
			for _, s := range c.segs[:len(c.segs)-1] {
				if s.last < trim {
					got.dropsUntil = s.last
				}
			}
		}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if ok && (trim > cut.Record+1 || got.dropsUntil > cut.Record) {
			t.Errorf("%s: trims to %d past the base at %d", c.name, trim, cut.Record)
		}
	}
}

// TestRetentionChooseKeepsUncovered: records no checkpoint covers stay,
// whatever a limit says: with checkpoints only up to record 35, bytes=1
// drops the segments before it and no more, and days=0.5 as well.
func TestRetentionChooseKeepsUncovered(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var segs []logSegment
	for i := 0; i < 10; i++ {
		segs = append(segs, logSegment{first: uint64(10*i + 1), last: uint64(10*i + 10), sizeBytes: 100, modTime: now.Add(-48 * time.Hour)})
	}
	var notes []replica.SignedCheckpoint
	for r := uint64(7); r <= 35; r += 7 {
		notes = append(notes, replica.SignedCheckpoint{Checkpoint: audit.Checkpoint{Index: r / 7}, Record: r})
	}
	for _, pol := range []AuditRetention{{MaxBytes: 1}, {MaxAge: 12 * time.Hour}} {
		cut, trim, ok := pol.choose(notes, segs, now)
		if !ok || cut.Record != 35 || trim != 36 {
			t.Errorf("%s: cut %d trim %d ok %v; want the newest checkpoint, 35, and 36", pol, cut.Record, trim, ok)
		}
	}
	if _, _, ok := (AuditRetention{MaxBytes: 1}).choose(nil, segs, now); ok {
		t.Error("with no checkpoint at all, bytes=1 would drop records")
	}
}

func withModTime(segs []logSegment, i int, at time.Time) []logSegment {
	out := append([]logSegment(nil), segs...)
	out[i].modTime = at
	return out
}
