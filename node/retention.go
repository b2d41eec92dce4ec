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
type AuditRetention struct {
	// Checkpoints, when above zero, keeps the records of the last
	// Checkpoints checkpoints (and those no checkpoint covers yet); older
	// records leave the log once a snapshot covers them.
	Checkpoints int
	// ArchiveDir, when set, moves the segments retention removes to
	// this directory instead of deleting them (spook audit verify
	// --archive checks them). Without Checkpoints it keeps the records
	// from the newest checkpoint on.
	ArchiveDir string
	// Interval is how often the policy is applied. Zero:
	// DefaultAuditRetentionInterval.
	Interval time.Duration
}

// ErrRetention: a retention policy that cannot be parsed or applied.
var ErrRetention = errors.New("node: audit retention")

// ParseAuditRetention reads spookd --audit-retention: "all",
// "checkpoints=N", "archive=DIR", or "archive=DIR,checkpoints=N".
func ParseAuditRetention(s string) (AuditRetention, error) {
	var r AuditRetention
	if s == "" || s == "all" {
		return r, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		switch {
		case ok && k == "checkpoints":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("%w: checkpoints=%q: want a count ≥ 1", ErrRetention, v)
			}
			r.Checkpoints = n
		case ok && k == "archive" && v != "":
			r.ArchiveDir = v
		default:
			return r, fmt.Errorf("%w: %q: want all, checkpoints=N or archive=DIR", ErrRetention, part)
		}
	}
	return r, nil
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
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}

func (r AuditRetention) keepsAll() bool { return r.Checkpoints == 0 && r.ArchiveDir == "" }

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
// chooses the last record to drop (the record of the checkpoint
// Checkpoints before the newest, or the newest with archive alone),
// writes the retention base standing for the records up to it (durably,
// before anything is removed), then removes (or archives) the log
// segments before it that a snapshot covers. The node runs it every
// AuditRetention.Interval; it is exported for tests and tools.
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
	notes := v.Checkpoints()
	keep := max(pol.Checkpoints, 0)
	if len(notes) <= keep || notes[len(notes)-1-keep].Record <= from {
		rep.BaseRecord, rep.FirstRecord = from, log.FirstIndex()
		rep.BaseCheckpoint = v.Report().BaseCheckpoint
		return rep, nil
	}
	cut := notes[len(notes)-1-keep]
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
	first, err := n.store.TrimLog(cut.Record+1, archive)
	rep.BaseRecord, rep.BaseCheckpoint, rep.FirstRecord = cut.Record, cut.Index, first
	if err != nil {
		return rep, err
	}
	n.log.Info("audit retention applied", "policy", pol.String(), "base_record", cut.Record,
		"base_checkpoint", cut.Index, "first_record", first, "archived", rep.Archived)
	return rep, nil
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
