package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/spooksystems/spook/limits"
	"github.com/spooksystems/spook/storage/vfs"
)

const (
	// DefaultMaxSegmentBytes is the default segment size: large enough
	// that roll-over (an fsync, a create and a directory fsync) is rare,
	// small enough that TruncateFront frees space soon after a snapshot.
	DefaultMaxSegmentBytes = 64 << 20
	// DefaultMaxRecordBytes is the default largest payload, the table's
	// limits.MaxRecordBytes: it holds the largest record the replica
	// emits (a maximal transaction, or one chunk of a repair), and is low
	// enough that a garbled length field cannot make recovery allocate
	// much. Append refuses a larger record with ErrRecordTooLarge.
	DefaultMaxRecordBytes = limits.MaxRecordBytes
	// maxRecordBytesCeiling is the largest MaxRecordBytes the 4-byte
	// length field can express (kept below 2^31 so int is safe on 32-bit).
	maxRecordBytesCeiling = 1<<31 - 1 - recordHeaderBytes
	// maxSegmentBytesCeiling is the largest MaxSegmentBytes accepted. A
	// segment is read whole into memory at open, so this bounds that.
	maxSegmentBytesCeiling = 1 << 30
	// minSegmentBytes is the smallest MaxSegmentBytes accepted: a header
	// and a small record. Tests use tiny segments to exercise roll-over.
	minSegmentBytes = segmentHeaderBytes + recordHeaderBytes + 1
	// maxWriteBufferBytes is how many bytes of appended records the log
	// buffers before it writes them to the segment file without waiting
	// for Sync. A single record larger than this is written at once.
	maxWriteBufferBytes = 256 << 10
	// segmentSuffix ends every segment file name; the name before it is
	// the segment's first index in segmentNameDigits decimal digits.
	segmentSuffix     = ".seg"
	segmentNameDigits = 20
)

// LogOptions configures a Log. The zero value is valid.
type LogOptions struct {
	// MaxSegmentBytes is the size at which the log starts a new segment
	// file, at most 1 GiB. A segment exceeds it only to hold a single
	// record larger than it. Zero means DefaultMaxSegmentBytes. It may
	// change between opens.
	MaxSegmentBytes int64
	// MaxRecordBytes is the largest payload Append accepts and recovery
	// believes. Zero means DefaultMaxRecordBytes. A log must be reopened
	// with a MaxRecordBytes at least as large as it was written with.
	MaxRecordBytes int
	// FirstIndex is the index of the first record of a log created empty
	// (a node that starts from a snapshot at index i passes i+1). Ignored
	// when the log already has segments. Zero means 1.
	FirstIndex uint64
}

func (o *LogOptions) validate() error {
	if o.MaxSegmentBytes == 0 {
		o.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.FirstIndex == 0 {
		o.FirstIndex = 1
	}
	switch {
	case o.MaxSegmentBytes < minSegmentBytes || o.MaxSegmentBytes > maxSegmentBytesCeiling:
		return fmt.Errorf("%w: MaxSegmentBytes %d outside %d..%d", ErrOptions, o.MaxSegmentBytes, minSegmentBytes, maxSegmentBytesCeiling)
	case o.MaxRecordBytes < 0 || o.MaxRecordBytes > maxRecordBytesCeiling:
		return fmt.Errorf("%w: MaxRecordBytes %d outside 1..%d", ErrOptions, o.MaxRecordBytes, maxRecordBytesCeiling)
	}
	return nil
}

// RecoveryReport says what OpenLog repaired. The node logs it.
type RecoveryReport struct {
	// TruncatedFile is the segment whose torn tail was cut, or "".
	TruncatedFile string
	// TruncatedBytes is how many bytes were cut from it.
	TruncatedBytes int64
	// TornReason says what the first torn record failed.
	TornReason string
	// RemovedFile is a last segment removed because its header was torn
	// (it held no record), or "".
	RemovedFile string
}

// segment is one file of the log.
type segment struct {
	name       string // path
	firstIndex uint64
	records    uint64 // lastIndex = firstIndex + records - 1
	sizeBytes  int64  // including buffered, not yet written bytes
}

// Log is a segmented append-only log of records with consecutive uint64
// indexes. See the package doc for its format and recovery rules.
//
// A Log is safe for concurrent use. Append, TruncateFront, Iterate and
// Close are serialized; Sync releases the lock while it waits for the
// disk, so Appends continue during an fsync (group commit: many Appends,
// then one Sync from any goroutine covers them all).
//
// Fail-stop: after any error from the FS while writing, syncing, rolling
// over or removing segments, the Log is failed: every later Append, Sync
// and TruncateFront returns that first error. A failed fsync is never
// retried, because after one the kernel may have dropped the dirty pages
// and a later fsync that succeeds proves nothing (PostgreSQL's
// "fsyncgate", 2018). Reopen the log to recover what is durable.
type Log struct {
	fs   vfs.FS
	dir  string
	opts LogOptions

	// syncMu is held by Sync while it waits for the disk and by roll-over,
	// so a roll-over never closes the file a Sync is fsyncing.
	// Lock order: syncMu before mu.
	syncMu sync.Mutex

	mu          sync.Mutex
	segments    []segment // sorted by firstIndex; the last is active
	active      vfs.File  // the last segment, open for append
	buf         []byte    // encoded records not yet written to active
	lastIndex   uint64    // index of the last appended record
	syncedIndex uint64    // every record up to it is durable
	err         error     // sticky: the first failure
	closed      bool
	report      RecoveryReport
}

// OpenLog opens the log in dir, creating dir and an empty log if needed,
// and recovers it: a torn tail of the last segment is cut and the cut
// synced, a last segment with a torn header is removed, and any other
// damage is refused with a *CorruptionError (errors.Is ErrCorrupt) naming
// the file and offset. After OpenLog every record it kept is durable.
func OpenLog(fsys vfs.FS, dir string, opts LogOptions) (*Log, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	l := &Log{fs: fsys, dir: path.Clean(dir), opts: opts}
	if err := l.recover(); err != nil {
		if l.active != nil {
			l.active.Close()
		}
		return nil, err
	}
	return l, nil
}

// indexFileName is the name of a file named for a log index: the index
// zero-padded to segmentNameDigits, then suffix. Segments (named for
// their first index) and snapshots (for the last index they cover) both
// use it, so a directory listing sorts them in index order.
func indexFileName(index uint64, suffix string) string {
	return fmt.Sprintf("%0*d%s", segmentNameDigits, index, suffix)
}

// parseIndexFileName returns the index an indexFileName with suffix holds.
func parseIndexFileName(name, suffix string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != segmentNameDigits {
		return 0, false
	}
	index, err := strconv.ParseUint(digits, 10, 64)
	return index, err == nil
}

func segmentName(firstIndex uint64) string { return indexFileName(firstIndex, segmentSuffix) }

// parseSegmentName returns the first index a segment file name holds.
func parseSegmentName(name string) (uint64, bool) { return parseIndexFileName(name, segmentSuffix) }

func (l *Log) recover() error {
	if err := ensureDir(l.fs, l.dir); err != nil {
		return err
	}
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var segs []segment
	for _, name := range names { // sorted, and fixed-width names sort by index
		if first, ok := parseSegmentName(name); ok {
			segs = append(segs, segment{name: path.Join(l.dir, name), firstIndex: first})
		}
	}
	// One buffer, as large as the largest segment, serves every read;
	// it is dropped when recovery ends rather than kept for the log's life.
	var buf []byte
	limitBytes := l.maxSegmentFileBytes()
	for i := 0; i < len(segs); i++ {
		seg := &segs[i]
		last := i == len(segs)-1
		data, err := readFile(l.fs, seg.name, buf, limitBytes)
		if err != nil {
			return err
		}
		buf = data[:0]
		scan, err := scanSegment(data, seg.name, last, l.opts.MaxRecordBytes, nil)
		if err != nil {
			return err
		}
		if scan.headerTorn {
			if err := l.fs.Remove(seg.name); err != nil {
				return err
			}
			if err := l.fs.SyncDir(l.dir); err != nil {
				return err
			}
			l.report.RemovedFile, l.report.TornReason = seg.name, scan.tornReason
			segs = segs[:i]
			break
		}
		if scan.firstIndex != seg.firstIndex {
			return &CorruptionError{What: "segment header", File: seg.name, OffsetBytes: 0,
				Reason: fmt.Sprintf("header names first index %d, file name %d", scan.firstIndex, seg.firstIndex)}
		}
		if i > 0 {
			prev := segs[i-1]
			if want := prev.firstIndex + prev.records; seg.firstIndex != want {
				return &CorruptionError{What: "segment", File: seg.name, OffsetBytes: 0,
					Reason: fmt.Sprintf("starts at index %d, previous segment ends before %d", seg.firstIndex, want)}
			}
		}
		seg.records, seg.sizeBytes = scan.records, int64(scan.validBytes)
		if cut := int64(len(data)) - seg.sizeBytes; cut > 0 {
			if err := l.cutTail(seg.name, seg.sizeBytes); err != nil {
				return err
			}
			l.report.TruncatedFile, l.report.TruncatedBytes, l.report.TornReason = seg.name, cut, scan.tornReason
		}
	}
	l.segments = segs
	if len(segs) == 0 {
		// The first index follows a removed torn segment if there was
		// one; otherwise the log is new.
		first := l.opts.FirstIndex
		if l.report.RemovedFile != "" {
			first, _ = parseSegmentName(path.Base(l.report.RemovedFile))
		}
		return l.createSegment(first)
	}
	tail := &l.segments[len(l.segments)-1]
	l.lastIndex = tail.firstIndex + tail.records - 1
	f, err := l.fs.OpenAppend(tail.name)
	if err != nil {
		return err
	}
	l.active = f
	// What recovery read may still sit in the page cache (the previous
	// process died, the machine did not): make it durable before anyone
	// builds on it, and make every segment name durable too.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return err
	}
	l.syncedIndex = l.lastIndex
	return nil
}

// cutTail truncates a torn tail away and syncs the cut.
func (l *Log) cutTail(name string, sizeBytes int64) error {
	f, err := l.fs.OpenAppend(name)
	if err != nil {
		return err
	}
	if err := f.Truncate(sizeBytes); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// createSegment creates an empty segment whose first record will have
// index firstIndex, makes it and its name durable, and makes it active.
// The previous active file, if any, must be synced and closed already.
func (l *Log) createSegment(firstIndex uint64) error {
	name := path.Join(l.dir, segmentName(firstIndex))
	f, err := l.fs.Create(name)
	if err != nil {
		return err
	}
	header := appendSegmentHeader(nil, firstIndex)
	if _, err := f.Write(header); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.active = f
	l.segments = append(l.segments, segment{name: name, firstIndex: firstIndex, sizeBytes: int64(len(header))})
	l.lastIndex = firstIndex - 1
	l.syncedIndex = l.lastIndex
	return nil
}

// maxSegmentFileBytes is the largest segment file the log reads into
// memory: a full segment plus one record that overflowed it, where a full
// segment is the larger of MaxSegmentBytes and maxSegmentBytesCeiling, so
// that lowering MaxSegmentBytes between opens never makes old, larger
// segments unreadable.
func (l *Log) maxSegmentFileBytes() int64 {
	return max(l.opts.MaxSegmentBytes, maxSegmentBytesCeiling) + recordHeaderBytes + int64(l.opts.MaxRecordBytes)
}

// Recovery reports what OpenLog repaired.
func (l *Log) Recovery() RecoveryReport { return l.report }

// fail makes err the log's sticky error unless it already has one, and
// returns the sticky error. Called with mu held.
func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("storage: log failed: %w", err)
	}
	return l.err
}

// usable returns why the log refuses writes, or nil. Called with mu held.
func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

// flush writes buffered records to the active file. Called with mu held.
func (l *Log) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.active.Write(l.buf)
	l.buf = l.buf[:0]
	if err != nil {
		return l.fail(err)
	}
	return nil
}

// Append adds a record holding payload and returns its index. The record
// is buffered or written but not durable until a Sync returns after it.
// payload is copied; the caller may reuse it. A payload above
// MaxRecordBytes returns ErrRecordTooLarge and leaves the log usable.
func (l *Log) Append(payload []byte) (uint64, error) {
	if len(payload) > l.opts.MaxRecordBytes {
		return 0, fmt.Errorf("%w: %d bytes > %d", ErrRecordTooLarge, len(payload), l.opts.MaxRecordBytes)
	}
	recordBytes := int64(recordHeaderBytes + len(payload))
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	tail := &l.segments[len(l.segments)-1]
	if tail.records > 0 && tail.sizeBytes+recordBytes > l.opts.MaxSegmentBytes {
		// Roll over. Take syncMu (lock order: syncMu, then mu) so no
		// Sync is using the file we are about to close.
		l.mu.Unlock()
		l.syncMu.Lock()
		l.mu.Lock()
		err := l.usable()
		if err == nil {
			tail = &l.segments[len(l.segments)-1]
			if tail.records > 0 && tail.sizeBytes+recordBytes > l.opts.MaxSegmentBytes {
				err = l.roll()
			}
		}
		l.syncMu.Unlock()
		if err != nil {
			l.mu.Unlock()
			return 0, err
		}
	}
	defer l.mu.Unlock()
	l.buf = appendRecord(l.buf, payload)
	tail = &l.segments[len(l.segments)-1]
	tail.records++
	tail.sizeBytes += recordBytes
	l.lastIndex++
	if len(l.buf) >= maxWriteBufferBytes {
		if err := l.flush(); err != nil {
			return 0, err
		}
	}
	return l.lastIndex, nil
}

// roll syncs and closes the active segment and starts the next one.
// Called with syncMu and mu held.
func (l *Log) roll() error {
	if err := l.flush(); err != nil {
		return err
	}
	if err := l.active.Sync(); err != nil {
		return l.fail(err)
	}
	l.syncedIndex = l.lastIndex
	if err := l.active.Close(); err != nil {
		return l.fail(err)
	}
	l.active = nil
	if err := l.createSegment(l.lastIndex + 1); err != nil {
		return l.fail(err)
	}
	return nil
}

// Sync makes every record appended before the call durable. It returns
// nil only if they are; after an error the log is failed (see Log).
// Concurrent Syncs are serialized; Appends proceed while Sync waits for
// the disk.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	if err := l.flush(); err != nil {
		l.mu.Unlock()
		return err
	}
	target, f := l.lastIndex, l.active
	if target == l.syncedIndex {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()

	err := f.Sync() // roll-over and Close wait for syncMu, so f stays open

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return l.fail(err)
	}
	if l.err != nil {
		return l.err
	}
	l.syncedIndex = max(l.syncedIndex, target)
	return nil
}

// TruncateFront removes every segment whose records all have indexes
// below index (used after a snapshot covers them). It removes whole
// segments only and never the active one, so records below index may
// remain; FirstIndex says where the log now starts. The removals are made
// durable before it returns.
func (l *Log) TruncateFront(index uint64) error { return l.truncateFront(index, nil) }

// truncateFront is TruncateFront; keep, when set, is called with each
// segment's path before it is removed (to archive it), and an error from
// it stops the truncation there, without failing the log.
func (l *Log) truncateFront(index uint64, keep func(path string) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	removed := 0
	for removed < len(l.segments)-1 && l.segments[removed+1].firstIndex <= index {
		if keep != nil {
			if err := l.flush(); err != nil {
				return err
			}
			if err := keep(l.segments[removed].name); err != nil {
				err = errors.Join(err, l.syncRemoved(removed))
				return err
			}
		}
		if err := l.fs.Remove(l.segments[removed].name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.segments = l.segments[removed:]
			return l.fail(err)
		}
		removed++
	}
	return l.syncRemoved(removed)
}

// syncRemoved drops the first removed segments, whose files are gone,
// and makes the removals durable.
func (l *Log) syncRemoved(removed int) error {
	if removed == 0 {
		return nil
	}
	l.segments = l.segments[removed:]
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.fail(err)
	}
	return nil
}

// SegmentInfo describes one segment file of a Log.
type SegmentInfo struct {
	// Path is the segment's file.
	Path string
	// FirstIndex and LastIndex are its first and last record's indexes
	// (LastIndex is FirstIndex-1 for an empty segment).
	FirstIndex, LastIndex uint64
	// SizeBytes is its size, records appended but not yet written to the
	// file included.
	SizeBytes int64
}

// Segments lists the log's segments in index order; the last is the
// active one, which TruncateFront never removes. Audit retention by
// bytes and by age chooses what to trim from it.
func (l *Log) Segments() []SegmentInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]SegmentInfo, len(l.segments))
	for i, s := range l.segments {
		out[i] = SegmentInfo{Path: s.name, FirstIndex: s.firstIndex, LastIndex: s.firstIndex + s.records - 1, SizeBytes: s.sizeBytes}
	}
	return out
}

// FirstIndex is the index of the first record the log holds (or would
// hold, if it is empty).
func (l *Log) FirstIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segments[0].firstIndex
}

// LastIndex is the index of the last appended record; FirstIndex-1 if the
// log is empty.
func (l *Log) LastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastIndex
}

// SyncedIndex is the index up to which every record is durable.
func (l *Log) SyncedIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncedIndex
}

// Err returns the error that failed the log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Iterate calls fn for every record with index from..LastIndex in order,
// reading them back from the segment files (buffered records are written
// first). payload aliases a buffer that is reused after fn returns: copy
// it to keep it. An error from fn stops the iteration and is returned.
// Iterate holds the log's lock throughout, so Appends wait; it is meant
// for replay at open and for occasional catch-up reads.
//
// from below FirstIndex returns ErrCompacted; from above LastIndex calls
// fn for nothing. Damage found on the way returns a *CorruptionError. A
// failed log returns its error: reopen it to read what is durable.
func (l *Log) Iterate(from uint64, fn func(index uint64, payload []byte) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if from < l.segments[0].firstIndex {
		return fmt.Errorf("%w: %d < first index %d", ErrCompacted, from, l.segments[0].firstIndex)
	}
	if err := l.flush(); err != nil {
		return err
	}
	var buf []byte // reused across segments, dropped on return
	limitBytes := l.maxSegmentFileBytes()
	for _, seg := range l.segments {
		if seg.records == 0 || seg.firstIndex+seg.records <= from {
			continue
		}
		data, err := readFile(l.fs, seg.name, buf, limitBytes)
		if err != nil {
			return err
		}
		buf = data[:0]
		if int64(len(data)) < seg.sizeBytes {
			return &CorruptionError{What: "segment", File: seg.name, OffsetBytes: int64(len(data)),
				Reason: fmt.Sprintf("shorter than the %d bytes written", seg.sizeBytes)}
		}
		data = data[:seg.sizeBytes]
		scan, err := scanSegment(data, seg.name, false, l.opts.MaxRecordBytes, func(index uint64, payload []byte) error {
			if index < from {
				return nil
			}
			return fn(index, payload)
		})
		if err != nil {
			return err
		}
		if scan.records != seg.records {
			return &CorruptionError{What: "segment", File: seg.name, OffsetBytes: int64(scan.validBytes),
				Reason: fmt.Sprintf("holds %d records, %d were written", scan.records, seg.records)}
		}
	}
	return nil
}

// Close syncs the log (unless it failed) and closes the active segment.
// Close after Close returns nil. The sticky error, if any, is returned.
func (l *Log) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.err == nil {
		if err := l.flush(); err == nil && l.syncedIndex != l.lastIndex {
			if err := l.active.Sync(); err != nil {
				l.fail(err)
			} else {
				l.syncedIndex = l.lastIndex
			}
		}
	}
	if l.active != nil {
		if err := l.active.Close(); err != nil && l.err == nil {
			l.fail(err)
		}
		l.active = nil
	}
	return l.err
}
