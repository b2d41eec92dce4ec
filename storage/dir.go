package storage

import (
	"errors"
	"io"
	"path"

	"github.com/spooksystems/spook/storage/vfs"
)

// ensureDir creates dir and any missing parents durably. It syncs the
// parent of every component of dir, not only of the ones it created: a
// directory that exists may still be undurable, if an earlier call made
// it and then failed before its SyncDir (the crash-point sweep found this
// when a failed snapshot write was retried). Directory fsyncs of clean
// directories are cheap, and ensureDir runs only at open and per snapshot.
func ensureDir(fsys vfs.FS, dir string) error {
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	for d := path.Clean(dir); ; d = path.Dir(d) {
		parent := path.Dir(d)
		if parent == d {
			return nil
		}
		if err := fsys.SyncDir(parent); err != nil {
			return err
		}
	}
}

// readFile reads the whole file name into buf (reused if large enough),
// refusing files above limitBytes.
func readFile(fsys vfs.FS, name string, buf []byte, limitBytes int64) ([]byte, error) {
	info, err := fsys.Stat(name)
	if err != nil {
		return nil, err
	}
	if info.SizeBytes > limitBytes {
		return nil, &CorruptionError{What: "file", File: name, OffsetBytes: limitBytes,
			Reason: "larger than the limit"}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if int64(cap(buf)) < info.SizeBytes {
		buf = make([]byte, info.SizeBytes)
	}
	buf = buf[:info.SizeBytes]
	n, err := f.ReadAt(buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		return nil, err
	}
	return buf, nil
}
