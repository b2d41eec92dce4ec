package node

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
)

// Audit retention (docs/audit.md, "Retention"): which records of its
// history an audit-mode node keeps.
const (
	// AuditBaseFile is the retention base in the data directory: what a
	// verifier knew after the last record retention dropped (chain heads,
	// every stored hash of the Merkle tree, every signed tree head;
	// replica.HistoryVerifier.AppendBase).
	AuditBaseFile = "audit.base"
	// DefaultAuditRetentionInterval is how often a node applies a
	// retention policy other than "all".
	DefaultAuditRetentionInterval = time.Minute
	// MaxAuditBaseBytes bounds the retention base, which verification
	// reads whole: it grows by about 64 bytes per transaction (two tree
	// hashes) and a few hundred per checkpoint. When a new base would be
	// larger, the node keeps the old one and its records (nothing more is
	// dropped) and logs a warning; the history is then kept whole again,
	// as under "all".
	MaxAuditBaseBytes = 1 << 30
)

// AuditRetention is audit mode's retention policy. The zero value is
// "all": every record is kept.
//
// Checkpoints, MaxAge and MaxBytes are limits: each, alone, drops the
// records it names, and given together, records go as soon as one of
// them lets them go (the furthest cut wins). Whatever the limits say, a
// record goes only when a checkpoint covers it and the retention base
// stands for it, never past the oldest snapshot kept, and only whole log
// segments, never the active one.
type AuditRetention struct {
	// Checkpoints, when above zero, keeps the records of the last
	// Checkpoints checkpoints (and those no checkpoint covers yet); older
	// records leave the log once a snapshot covers them.
	Checkpoints int
	// MaxAge, when above zero, drops the log segments last written more
	// than MaxAge ago (the segment file's modification time, by the
	// node's clock), up to the newest checkpoint record they hold: every
	// record written within MaxAge is kept. spookd: days=N or
	// age=DURATION.
	MaxAge time.Duration
	// MaxBytes, when above zero, keeps at most MaxBytes bytes of log
	// segments: the oldest go until the rest fit, the base moving to the
	// first checkpoint record at or after the last record dropped. The
	// active segment and the records after the newest checkpoint (or the
	// oldest snapshot) are kept even when they alone exceed it.
	MaxBytes int64
	// ArchiveDir, when set, moves the segments retention removes to
	// this directory instead of deleting them (spook audit verify
	// --archive checks them). Without another limit it keeps the records
	// from the newest checkpoint on.
	ArchiveDir string
	// Interval is how often the policy is applied. Zero:
	// DefaultAuditRetentionInterval.
	Interval time.Duration
}

// ErrRetention: a retention policy that cannot be parsed or applied.
var ErrRetention = errors.New("node: audit retention")

// ParseAuditRetention reads spookd --audit-retention: "all", or a comma
// list of at most one each of "checkpoints=N", "days=N" or
// "age=DURATION" (time.ParseDuration: "72h"), "bytes=SIZE" (a count of
// bytes, or with a 1024-based suffix K, M, G or T, alone or followed by
// B or iB: "64MiB") and "archive=DIR".
func ParseAuditRetention(s string) (AuditRetention, error) {
	var r AuditRetention
	if s == "" || s == "all" {
		return r, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		limit := k
		if k == "days" {
			limit = "age" // days=N and age=D set the same limit
		}
		if ok && seen[limit] {
			return r, fmt.Errorf("%w: %q: %s given twice", ErrRetention, s, limit)
		}
		seen[limit] = true
		switch {
		case ok && k == "checkpoints":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("%w: checkpoints=%q: want a count ≥ 1", ErrRetention, v)
			}
			r.Checkpoints = n
		case ok && k == "days":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxRetentionDays {
				return r, fmt.Errorf("%w: days=%q: want a whole count of days, 1..%d", ErrRetention, v, maxRetentionDays)
			}
			r.MaxAge = time.Duration(n) * 24 * time.Hour
		case ok && k == "age":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return r, fmt.Errorf("%w: age=%q: want a duration above zero, such as 72h", ErrRetention, v)
			}
			r.MaxAge = d
		case ok && k == "bytes":
			n, err := parseBytes(v)
			if err != nil {
				return r, fmt.Errorf("%w: bytes=%q: %v", ErrRetention, v, err)
			}
			r.MaxBytes = n
		case ok && k == "archive" && v != "":
			r.ArchiveDir = v
		default:
			return r, fmt.Errorf("%w: %q: want all, or checkpoints=N, days=N (or age=DURATION), bytes=SIZE and archive=DIR separated by commas", ErrRetention, part)
		}
	}
	return r, nil
}

// maxRetentionDays keeps days=N within a time.Duration (about 292
// years); no policy needs more.
const maxRetentionDays = 100 * 365

// byteUnits are the suffixes bytes=SIZE takes, 1024-based.
var byteUnits = []struct {
	suffix string
	shift  uint
}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

// parseBytes reads a size: digits, then optionally K, M, G or T (any
// case), alone or followed by B or iB. It must be at least 1 and below
// 2^63.
func parseBytes(v string) (int64, error) {
	num, shift := v, uint(0)
	for _, u := range byteUnits {
		for _, tail := range []string{u.suffix + "iB", u.suffix + "B", u.suffix} {
			if len(v) > len(tail) && strings.EqualFold(v[len(v)-len(tail):], tail) {
				num, shift = v[:len(v)-len(tail)], u.shift
				break
			}
		}
		if shift != 0 {
			break
		}
	}
	if shift == 0 && len(v) > 1 && (v[len(v)-1] == 'B' || v[len(v)-1] == 'b') {
		num = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<63-1)>>shift {
		return 0, errors.New("want a size ≥ 1 such as 4096, 512MiB or 2G")
	}
	return n << shift, nil
}

// formatBytes is the inverse of parseBytes: the largest unit that
// divides n exactly.
func formatBytes(n int64) string {
	for _, u := range byteUnits {
		if n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix + "iB"
		}
	}
	return strconv.FormatInt(n, 10)
}

// String is the policy as ParseAuditRetention reads it.
func (r AuditRetention) String() string {
	var parts []string
	if r.ArchiveDir != "" {
		parts = append(parts, "archive="+r.ArchiveDir)
	}
	if r.Checkpoints > 0 {
		parts = append(parts, "checkpoints="+strconv.Itoa(r.Checkpoints))
	}
	if r.MaxAge > 0 {
		if day := 24 * time.Hour; r.MaxAge%day == 0 {
			parts = append(parts, "days="+strconv.FormatInt(int64(r.MaxAge/day), 10))
		} else {
			parts = append(parts, "age="+r.MaxAge.String())
		}
	}
	if r.MaxBytes > 0 {
		parts = append(parts, "bytes="+formatBytes(r.MaxBytes))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}

func (r AuditRetention) keepsAll() bool {
	return r.Checkpoints == 0 && r.ArchiveDir == "" && r.MaxAge <= 0 && r.MaxBytes <= 0
}

// logSegment is what retention reads of one log segment.
type logSegment struct {
	first, last uint64 // its first and last record
	sizeBytes   int64
	modTime     time.Time // when it was last written; zero: unknown
}

// choose applies the policy's limits to a history whose signed tree
// heads are notes (oldest first, each with its record) and whose log is
// segs (in index order, the last active), at time now. It returns the
// checkpoint the base moves to and the index from which the log keeps
// its records (trim ≤ cut.Record+1: nothing the base does not stand for
// is dropped; storage.Store.TrimLog removes whole segments below it and
// stops at the oldest snapshot). ok is false when no limit drops
// anything. Each limit, alone, picks a (cut, trim); the furthest of each
// wins.
func (r AuditRetention) choose(notes []replica.SignedCheckpoint, segs []logSegment, now time.Time) (cut replica.SignedCheckpoint, trim uint64, ok bool) {
	take := func(c replica.SignedCheckpoint, t uint64) {
		if !ok || c.Record > cut.Record {
			cut = c
		}
		trim = max(trim, min(t, c.Record+1))
		ok = true
	}
	if len(notes) == 0 {
		return cut, 0, false
	}
	if r.Checkpoints > 0 && len(notes) > r.Checkpoints {
		c := notes[len(notes)-1-r.Checkpoints]
		take(c, c.Record+1)
	}
	if r.ArchiveDir != "" && r.Checkpoints <= 0 && r.MaxAge <= 0 && r.MaxBytes <= 0 {
		c := notes[len(notes)-1]
		take(c, c.Record+1)
	}
	if r.MaxAge > 0 && len(segs) > 1 {
		// The old prefix: segments last written more than MaxAge ago, up
		// to the first one that is not (or has no known time). The active
		// segment is being written: never old.
		var oldUntil uint64
		for _, s := range segs[:len(segs)-1] {
			if s.modTime.IsZero() || now.Sub(s.modTime) <= r.MaxAge {
				break
			}
			oldUntil = s.last
		}
		// The newest checkpoint among the old records: the base moves
		// there, and only segments it covers whole go, so every record
		// written within MaxAge stays and stays provable.
		if i := newestAtOrBefore(notes, oldUntil); i >= 0 {
			take(notes[i], notes[i].Record+1)
		}
	}
	if r.MaxBytes > 0 && len(segs) > 1 {
		var total int64
		for _, s := range segs {
			total += s.sizeBytes
		}
		keepFrom := 0 // the first segment kept
		for keepFrom < len(segs)-1 && total > r.MaxBytes {
			total -= segs[keepFrom].sizeBytes
			keepFrom++
		}
		if keepFrom > 0 {
			// Dropping the segments before keepFrom needs a base at or
			// after their last record: the first checkpoint there. When
			// none covers it yet, the newest checkpoint is as far as
			// retention may go.
			need := segs[keepFrom].first - 1
			i := len(notes) - 1
			for i > 0 && notes[i-1].Record >= need {
				i--
			}
			take(notes[i], segs[keepFrom].first)
		}
	}
	return cut, trim, ok
}

// newestAtOrBefore is the index in notes of the newest note whose
// record is at most record (and not 0, unknown), or -1.
func newestAtOrBefore(notes []replica.SignedCheckpoint, record uint64) int {
	for i := len(notes) - 1; i >= 0; i-- {
		if notes[i].Record != 0 && notes[i].Record <= record {
			return i
		}
	}
	return -1
}

// RetentionReport says what ApplyAuditRetention did.
type RetentionReport struct {
	// BaseRecord and BaseCheckpoint: the base now stands for records
	// 1..BaseRecord and checkpoints 1..BaseCheckpoint.
	BaseRecord, BaseCheckpoint uint64
	// FirstRecord is the first record the log still holds.
	FirstRecord uint64
	// Archived is how many segment files went to the archive.
	Archived int
}

// readBase loads the retention base of dataDir into v, if there is one,
// and returns the last record it stands for (0: none).
func readBase(fsys vfs.FS, dataDir string, v *replica.HistoryVerifier) (uint64, error) {
	data, err := readWhole(fsys, path.Join(dataDir, AuditBaseFile), MaxAuditBaseBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return v.LoadBase(data)
}

func readWhole(fsys vfs.FS, name string, limit int64) ([]byte, error) {
	st, err := fsys.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.SizeBytes > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, above %d", ErrRetention, name, st.SizeBytes, limit)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, st.SizeBytes)
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, err
	}
	return data, nil
}

// writeSynced writes name durably: a temporary file, synced, renamed
// over name, and the directory synced.
func writeSynced(fsys vfs.FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		return err
	}
	return fsys.SyncDir(path.Dir(name))
}

// ApplyAuditRetention applies the node's retention policy once: it
// verifies the history, chooses with the policy's limits the checkpoint
// record the base moves to and where the log is trimmed (choose), writes
// the retention base standing for the records up to that checkpoint
// (durably, before anything is removed), then removes (or archives) the
// log segments before the trim point that a snapshot covers. The node
// runs it every AuditRetention.Interval; it is exported for tests and
// tools.
func (n *Node) ApplyAuditRetention() (RetentionReport, error) {
	var rep RetentionReport
	pol := n.cfg.AuditRetention
	if n.cfg.AuditKeysDir == "" || n.store == nil || pol.keepsAll() {
		return rep, nil
	}
	n.auditMu.Lock()
	defer n.auditMu.Unlock()
	log := n.store.Log()
	// Pass 1: where the newest checkpoints' records are.
	v, err := newHistoryVerifier(n.cfg.Name, n.cfg.Cluster, n.cfg.AuditKeysDir)
	if err != nil {
		return rep, err
	}
	v.KeepNotes = true
	from, err := readBase(n.cfg.fs, n.cfg.DataDir, v)
	if err != nil {
		return rep, err
	}
	last := log.LastIndex()
	if _, err := readHistory(v, from+1, last, log); err != nil {
		return rep, fmt.Errorf("%w: the history does not verify, nothing dropped: %w", ErrRetention, err)
	}
	segs, err := n.logSegments()
	if err != nil {
		return rep, err
	}
	cut, trim, ok := pol.choose(v.Checkpoints(), segs, n.cfg.now())
	rep.BaseRecord, rep.FirstRecord = from, log.FirstIndex()
	rep.BaseCheckpoint = v.Report().BaseCheckpoint
	if !ok || cut.Record <= from {
		// The base already stands for every record the limits drop;
		// segments it covers whole (left by an earlier application that
		// moved the base inside a segment) may still go.
		if !ok || min(trim, from+1) <= rep.FirstRecord {
			return rep, nil
		}
		return n.trimLog(rep, min(trim, from+1))
	}
	// Pass 2: the base after the cut's record.
	b, err := newHistoryVerifier(n.cfg.Name, n.cfg.Cluster, n.cfg.AuditKeysDir)
	if err != nil {
		return rep, err
	}
	b.KeepNotes = true
	if _, err := readBase(n.cfg.fs, n.cfg.DataDir, b); err != nil {
		return rep, err
	}
	if _, err := readHistory(b, from+1, cut.Record, log); err != nil {
		return rep, err
	}
	data := b.AppendBase(nil, cut.Record)
	if len(data) > MaxAuditBaseBytes {
		n.log.Warn("audit retention: the base would exceed MaxAuditBaseBytes; keeping every record from now on",
			"bytes", len(data), "max", MaxAuditBaseBytes)
		return rep, fmt.Errorf("%w: base of %d bytes above MaxAuditBaseBytes", ErrRetention, len(data))
	}
	if err := writeSynced(n.cfg.fs, path.Join(n.cfg.DataDir, AuditBaseFile), data); err != nil {
		return rep, err
	}
	rep.BaseRecord, rep.BaseCheckpoint = cut.Record, cut.Index
	return n.trimLog(rep, trim)
}

// trimLog removes (or archives) the log segments whose records all come
// before trim, once the base stands for them, and completes rep.
func (n *Node) trimLog(rep RetentionReport, trim uint64) (RetentionReport, error) {
	pol := n.cfg.AuditRetention
	var archive func(string) error
	if pol.ArchiveDir != "" {
		if err := n.cfg.fs.MkdirAll(pol.ArchiveDir); err != nil {
			return rep, err
		}
		archive = func(seg string) error {
			data, err := readWhole(n.cfg.fs, seg, 1<<31)
			if err != nil {
				return err
			}
			if err := writeSynced(n.cfg.fs, path.Join(pol.ArchiveDir, path.Base(seg)), data); err != nil {
				return err
			}
			rep.Archived++
			return nil
		}
	}
	first, err := n.store.TrimLog(trim, archive)
	rep.FirstRecord = first
	if err != nil {
		return rep, err
	}
	n.log.Info("audit retention applied", "policy", pol.String(), "base_record", rep.BaseRecord,
		"base_checkpoint", rep.BaseCheckpoint, "first_record", first, "archived", rep.Archived)
	return rep, nil
}

// logSegments lists the log's segments with the time each was last
// written (its file's modification time; zero when the file system
// keeps none, which retention by age reads as "not old").
func (n *Node) logSegments() ([]logSegment, error) {
	infos := n.store.Log().Segments()
	out := make([]logSegment, len(infos))
	for i, s := range infos {
		out[i] = logSegment{first: s.FirstIndex, last: s.LastIndex, sizeBytes: s.SizeBytes}
		if n.cfg.AuditRetention.MaxAge <= 0 || i == len(infos)-1 {
			continue // only age reads the times; the active segment is never old
		}
		st, err := n.cfg.fs.Stat(s.Path)
		if err != nil {
			return nil, err
		}
		out[i].modTime = st.ModTime
	}
	return out, nil
}

// retentionLoop applies the retention policy every interval until the
// node stops.
func (n *Node) retentionLoop() {
	defer n.wg.Done()
	every := n.cfg.AuditRetention.Interval
	if every <= 0 {
		every = DefaultAuditRetentionInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if _, err := n.ApplyAuditRetention(); err != nil {
				n.log.Warn("audit retention", "err", err)
			}
		}
	}
}

// readHistory feeds records from..to (to 0: to the end) to v, reading
// each log in turn (an archive, then the live log): each must hold the
// records from where the one before ended. It returns the last record
// read.
func readHistory(v recordReader, from, to uint64, logs ...*storage.Log) (uint64, error) {
	next := from
	for _, l := range logs {
		end := l.LastIndex()
		if to != 0 {
			end = min(end, to)
		}
		if next > end {
			continue
		}
		if first := l.FirstIndex(); first > next {
			return next - 1, &replica.HistoryError{Index: first, Err: fmt.Errorf(
				"%w: the log starts at record %d, the history needs record %d: records before it were dropped (retention without a base, or an archive is missing)",
				replica.ErrHistory, first, next)}
		}
		if err := readLogRange(l, next, end, v); err != nil {
			return next - 1, err
		}
		next = end + 1
	}
	return next - 1, nil
}
