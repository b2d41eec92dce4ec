package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/spooksystems/spook/internal/codec"
	"github.com/spooksystems/spook/storage/vfs"
)

const (
	// SnapshotsKeptDefault is how many snapshots WriteSnapshot keeps: the
	// newest and one older, so a newest snapshot found damaged on load
	// still leaves a valid one to fall back to (the log must then still
	// hold the records after the older one; Store trims it so).
	SnapshotsKeptDefault = 2
	// SnapshotBytesMax is the largest snapshot LoadSnapshot reads; a
	// larger file is reported as invalid rather than read into memory.
	SnapshotBytesMax = 1 << 36
	// snapshotMagic opens every snapshot file.
	snapshotMagic = "spooksnp"
	// snapshotVersion is the snapshot format version.
	snapshotVersion = 1
	// snapshotHeaderBytes = magic 8 + version 4 + index 8 + data length 8
	// + data crc 4 + header crc 4.
	snapshotHeaderBytes = 8 + 4 + 8 + 8 + 4 + 4
	snapshotSuffix      = ".snap"
	snapshotTempSuffix  = ".snap.tmp"
)

// Snapshot is a snapshot file's contents.
type Snapshot struct {
	// Index is the index of the last log record the snapshot covers.
	Index uint64
	// Data is the opaque state the caller wrote. It is owned by the caller.
	Data []byte
	// File is the path it was read from.
	File string
}

// SnapshotOptions configures WriteSnapshot. The zero value is valid.
type SnapshotOptions struct {
	// Kept is how many snapshots to keep, the new one included; older
	// ones are removed. Zero means SnapshotsKeptDefault.
	Kept int
}

func snapshotName(index uint64) string { return indexFileName(index, snapshotSuffix) }

func parseSnapshotName(name string) (uint64, bool) { return parseIndexFileName(name, snapshotSuffix) }

// appendSnapshot appends the encoding of a snapshot file.
func appendSnapshot(dst []byte, index uint64, data []byte) []byte {
	start := len(dst)
	dst = append(dst, snapshotMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, snapshotVersion)
	dst = binary.LittleEndian.AppendUint64(dst, index)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(data)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(data, castagnoli))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	return append(dst, data...)
}

// decodeSnapshot decodes a whole snapshot file. data aliases b. On error
// it returns the offset of the failed field and the reason.
func decodeSnapshot(b []byte) (index uint64, data []byte, offsetBytes int, reason string) {
	r := codec.NewReader(b)
	magic := r.Raw("magic", len(snapshotMagic))
	version := r.Raw("version", 4)
	indexBytes := r.Raw("index", 8)
	lengthBytes := r.Raw("data length", 8)
	dataSum := r.Raw("data checksum", 4)
	headerSum := r.Raw("header checksum", 4)
	switch {
	case r.Err() != nil:
		return 0, nil, 0, "short header"
	case string(magic) != snapshotMagic:
		return 0, nil, 0, "bad magic"
	case crc32.Checksum(b[:snapshotHeaderBytes-4], castagnoli) != binary.LittleEndian.Uint32(headerSum):
		return 0, nil, snapshotHeaderBytes - 4, "header checksum mismatch"
	case binary.LittleEndian.Uint32(version) != snapshotVersion:
		return 0, nil, len(magic), fmt.Sprintf("unknown version %d", binary.LittleEndian.Uint32(version))
	}
	length := binary.LittleEndian.Uint64(lengthBytes)
	if length != uint64(r.Len()) {
		return 0, nil, snapshotHeaderBytes, fmt.Sprintf("data length %d, file holds %d", length, r.Len())
	}
	data = r.Raw("data", r.Len())
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(dataSum) {
		return 0, nil, snapshotHeaderBytes, "data checksum mismatch"
	}
	return binary.LittleEndian.Uint64(indexBytes), data, 0, ""
}

// WriteSnapshot durably stores data as the snapshot at index in dir
// (created if missing): it writes a temporary file, syncs it, renames it
// to its final name and syncs dir, so a crash leaves either no new
// snapshot or a whole one, never a partial one under the final name.
// Then it removes all but the newest opts.Kept snapshots and any leftover
// temporary files, and syncs dir again. It returns the indexes of the
// snapshots kept, oldest first.
//
// On error the new snapshot may or may not be durable; the caller must not
// trim its log on the strength of it, and may retry. One writer per dir.
func WriteSnapshot(fsys vfs.FS, dir string, index uint64, data []byte, opts SnapshotOptions) (kept []uint64, err error) {
	if opts.Kept == 0 {
		opts.Kept = SnapshotsKeptDefault
	}
	if opts.Kept < 1 {
		return nil, fmt.Errorf("%w: Kept %d", ErrOptions, opts.Kept)
	}
	if int64(len(data)) > SnapshotBytesMax-snapshotHeaderBytes {
		return nil, fmt.Errorf("%w: snapshot of %d bytes above SnapshotBytesMax", ErrOptions, len(data))
	}
	if err := ensureDir(fsys, dir); err != nil {
		return nil, err
	}
	final := path.Join(dir, snapshotName(index))
	temp := final + ".tmp"
	if err := writeFileSynced(fsys, temp, appendSnapshot(nil, index, data)); err != nil {
		return nil, err
	}
	if err := fsys.Rename(temp, final); err != nil {
		return nil, err
	}
	if err := fsys.SyncDir(dir); err != nil {
		return nil, err
	}

	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var indexes []uint64
	var doomed []string
	for _, name := range names {
		if i, ok := parseSnapshotName(name); ok {
			indexes = append(indexes, i)
		} else if strings.HasSuffix(name, snapshotTempSuffix) {
			doomed = append(doomed, name)
		}
	}
	slices.Sort(indexes)
	if len(indexes) > opts.Kept {
		for _, i := range indexes[:len(indexes)-opts.Kept] {
			doomed = append(doomed, snapshotName(i))
		}
		indexes = indexes[len(indexes)-opts.Kept:]
	}
	for _, name := range doomed {
		if err := fsys.Remove(path.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if len(doomed) > 0 {
		if err := fsys.SyncDir(dir); err != nil {
			return nil, err
		}
	}
	return indexes, nil
}

func writeFileSynced(fsys vfs.FS, name string, contents []byte) error {
	f, err := fsys.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(contents); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadSnapshot returns the newest valid snapshot in dir, or nil if there
// is none (or no dir). Invalid snapshot files newer than the one returned
// (damaged, partial, or of an unknown version) and leftover temporary
// files are skipped and reported in skipped, each a *CorruptionError; the
// caller logs them. err is for failures to read at all.
func LoadSnapshot(fsys vfs.FS, dir string) (snap *Snapshot, skipped []error, err error) {
	names, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var indexes []uint64
	for _, name := range names {
		if i, ok := parseSnapshotName(name); ok {
			indexes = append(indexes, i)
		} else if strings.HasSuffix(name, snapshotTempSuffix) {
			skipped = append(skipped, &CorruptionError{What: "snapshot", File: path.Join(dir, name),
				Reason: "leftover temporary file (a snapshot write did not finish)"})
		}
	}
	slices.Sort(indexes)
	for _, index := range slices.Backward(indexes) {
		name := path.Join(dir, snapshotName(index))
		b, err := readFile(fsys, name, nil, SnapshotBytesMax)
		var corrupt *CorruptionError
		if errors.As(err, &corrupt) {
			skipped = append(skipped, err)
			continue
		}
		if err != nil {
			return nil, skipped, err
		}
		got, data, offsetBytes, reason := decodeSnapshot(b)
		if reason == "" && got != index {
			offsetBytes, reason = len(snapshotMagic)+4, fmt.Sprintf("header names index %d, file name %d", got, index)
		}
		if reason != "" {
			skipped = append(skipped, &CorruptionError{What: "snapshot", File: name, OffsetBytes: int64(offsetBytes), Reason: reason})
			continue
		}
		return &Snapshot{Index: index, Data: data, File: name}, skipped, nil
	}
	return nil, skipped, nil
}
