package vfs

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// File is an open file. Implementations are safe for concurrent use by
// several goroutines (a Sync may run while another goroutine Writes), but
// the order of two concurrent Writes is undefined.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes every byte written so far, and the file's size, durable.
	// It does not make the file's name durable: see FS.SyncDir.
	Sync() error
	// Truncate changes the file's size to sizeBytes. Like Write, the new
	// size is durable only after Sync.
	Truncate(sizeBytes int64) error
}

// FileInfo is what Stat reports.
type FileInfo struct {
	// SizeBytes is the file's current size (not necessarily durable).
	SizeBytes int64
	// IsDir is set for directories; SizeBytes is then meaningless.
	IsDir bool
	// ModTime is when the file was last written, by the system's clock
	// (audit retention by age reads it from log segments). Zero where the
	// FS keeps no such time (MemFS): the caller must treat it as unknown.
	ModTime time.Time
}

// FS is the filesystem seam every storage component writes through.
//
// Names are slash-separated paths. Errors for a missing or an existing
// file satisfy errors.Is(err, fs.ErrNotExist) / errors.Is(err, fs.ErrExist)
// from package io/fs in every implementation.
//
// Durability contract (what a crash-simulating implementation enforces and
// what a real disk may do): file contents and size become durable only by
// File.Sync; creating, renaming or removing a name becomes durable only by
// SyncDir on the directory holding that name (both directories for a
// rename across directories).
type FS interface {
	// Create creates name, or truncates it if it exists, and opens it for
	// reading and writing at offset 0.
	Create(name string) (File, error)
	// OpenAppend opens an existing file for reading and writing; every
	// Write goes to the end of the file.
	OpenAppend(name string) (File, error)
	// Open opens an existing file read-only; Write, Truncate fail.
	Open(name string) (File, error)
	// Rename renames oldname to newname, replacing newname if it exists.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// ReadDir returns the names (not paths) of the entries of dir, sorted.
	ReadDir(dir string) ([]string, error)
	// MkdirAll creates dir and any missing parents; it succeeds if dir
	// exists already. New directories are durable only after SyncDir on
	// their parents.
	MkdirAll(dir string) error
	// Stat describes name.
	Stat(name string) (FileInfo, error)
	// SyncDir makes the entries of dir (creates, renames, removes) durable.
	SyncDir(dir string) error
	// Lock creates name if needed and takes an exclusive lock on it, so
	// two processes (or two opens in one process) cannot use one data
	// directory at once. It fails with ErrLocked if the lock is held.
	// Closing the returned Closer releases it; so does process exit.
	Lock(name string) (io.Closer, error)
}

// ErrLocked is returned by FS.Lock when another holder has the lock,
// wrapped in a *LockedError when the holder is known.
var ErrLocked = errors.New("vfs: in use by another process")

// LockedError reports a lock held by another process: OS.Lock writes its
// holder's pid into the lock file and reads it back when refused. It
// unwraps to ErrLocked.
type LockedError struct {
	// Name is the lock file.
	Name string
	// PID is the holder's process id; 0 if the file does not say (a
	// holder from before pids were recorded, or another FS).
	PID int
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return e.Name + ": in use by another process"
	}
	return fmt.Sprintf("%s: in use by another process (pid %d)", e.Name, e.PID)
}

// Unwrap makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Unwrap() error { return ErrLocked }

var (
	_ FS = OS{}
	_ FS = (*MemFS)(nil)
	_ FS = (*ErrorFS)(nil)
)
