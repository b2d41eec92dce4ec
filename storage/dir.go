package storage

import (
	"errors"
	"io"
	"io/fs"
	"path"

	"github.com/spooksystems/spook/storage/vfs"
)

// ensureDir creates dir and any missing parents durably: after MkdirAll
// it syncs the parent of every directory it had to create, so a crash
// cannot lose the directory under files that were synced into it.
func ensureDir(fsys vfs.FS, dir string) error {
	var created []string
	for d := path.Clean(dir); ; d = path.Dir(d) {
		if _, err := fsys.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if parent := path.Dir(d); parent == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	for _, d := range created {
		if err := fsys.SyncDir(path.Dir(d)); err != nil {
			return err
		}
	}
	return nil
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
