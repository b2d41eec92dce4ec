package vfs

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Op is a kind of FS or File call, as a bit so kinds combine into a set.
type Op uint32

// The kinds of call ErrorFS counts. Append-only: the values are stable.
const (
	OpCreate Op = 1 << iota
	OpOpen      // Open and OpenAppend
	OpRead      // Read and ReadAt
	OpWrite
	OpSync // File.Sync
	OpTruncate
	OpClose
	OpRename
	OpRemove
	OpReadDir
	OpMkdir
	OpStat
	OpSyncDir
	OpLock
)

const (
	// OpMutating is every call that can change what is on disk, now or
	// after a crash. Crash-point sweeps count these.
	OpMutating = OpCreate | OpWrite | OpSync | OpTruncate | OpRename | OpRemove | OpMkdir | OpSyncDir
	// OpAll is every kind of call.
	OpAll = OpMutating | OpOpen | OpRead | OpClose | OpReadDir | OpStat | OpLock
)

var opNames = [...]string{"create", "open", "read", "write", "sync", "truncate", "close", "rename", "remove", "readdir", "mkdir", "stat", "syncdir", "lock"}

// String names a single kind, or lists a set.
func (op Op) String() string {
	s := ""
	for i, name := range opNames {
		if op&(1<<i) != 0 {
			if s != "" {
				s += "|"
			}
			s += name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// ErrInjected is the error ErrorFS returns for an injected failure.
var ErrInjected = errors.New("vfs: injected error")

// Injection says which call ErrorFS fails. The zero value fails nothing.
type Injection struct {
	// Ops is the set of call kinds that are counted; others pass through
	// uncounted.
	Ops Op
	// At is the 1-based number of the counted call that fails; zero means
	// no call fails (ErrorFS then only counts).
	At int
	// Sticky makes every counted call after the At-th fail too, as after
	// the process died or the device went away. A crash-point sweep uses
	// Sticky with Ops = OpMutating and At = k+1 to stop the world right
	// after the k-th mutating call.
	Sticky bool
	// PartialWrite makes a failing Write first write the first half of its
	// bytes, as a real short write does. Ignored for calls failed only
	// because of Sticky.
	PartialWrite bool
}

// ErrorFS wraps an FS and fails the call an Injection names with
// ErrInjected (wrapped with the call's kind and number), counting calls so
// a test can run a workload once to learn the number of calls and then
// sweep At over all of them. A failing call has no effect on the wrapped
// FS, except a PartialWrite. ErrorFS is safe for concurrent use.
type ErrorFS struct {
	inner FS

	mu        sync.Mutex
	injection Injection
	calls     int // counted calls so far
	failures  int // calls failed so far
}

// NewErrorFS wraps inner.
func NewErrorFS(inner FS, injection Injection) *ErrorFS {
	return &ErrorFS{inner: inner, injection: injection}
}

// Calls returns the number of counted calls so far (failed ones included).
func (e *ErrorFS) Calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// Failures returns the number of calls failed so far.
func (e *ErrorFS) Failures() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failures
}

// SetInjection replaces the injection and resets the counters.
func (e *ErrorFS) SetInjection(injection Injection) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.injection, e.calls, e.failures = injection, 0, 0
}

// inject counts a call of kind op and returns the error to fail it with,
// and whether a failing Write should write part of its bytes first.
func (e *ErrorFS) inject(op Op, name string) (err error, partial bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	in := e.injection
	if in.Ops&op == 0 {
		return nil, false
	}
	e.calls++
	switch {
	case in.At == 0 || e.calls < in.At:
		return nil, false
	case e.calls == in.At:
		partial = in.PartialWrite
	case !in.Sticky:
		return nil, false
	}
	e.failures++
	return fmt.Errorf("%s %s (call %d): %w", op, name, e.calls, ErrInjected), partial
}

// Create implements FS.
func (e *ErrorFS) Create(name string) (File, error) {
	if err, _ := e.inject(OpCreate, name); err != nil {
		return nil, err
	}
	f, err := e.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{fs: e, inner: f, name: name}, nil
}

// OpenAppend implements FS.
func (e *ErrorFS) OpenAppend(name string) (File, error) {
	if err, _ := e.inject(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.inner.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{fs: e, inner: f, name: name}, nil
}

// Open implements FS.
func (e *ErrorFS) Open(name string) (File, error) {
	if err, _ := e.inject(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{fs: e, inner: f, name: name}, nil
}

// Rename implements FS.
func (e *ErrorFS) Rename(oldname, newname string) error {
	if err, _ := e.inject(OpRename, oldname); err != nil {
		return err
	}
	return e.inner.Rename(oldname, newname)
}

// Remove implements FS.
func (e *ErrorFS) Remove(name string) error {
	if err, _ := e.inject(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

// ReadDir implements FS.
func (e *ErrorFS) ReadDir(dir string) ([]string, error) {
	if err, _ := e.inject(OpReadDir, dir); err != nil {
		return nil, err
	}
	return e.inner.ReadDir(dir)
}

// MkdirAll implements FS.
func (e *ErrorFS) MkdirAll(dir string) error {
	if err, _ := e.inject(OpMkdir, dir); err != nil {
		return err
	}
	return e.inner.MkdirAll(dir)
}

// Stat implements FS.
func (e *ErrorFS) Stat(name string) (FileInfo, error) {
	if err, _ := e.inject(OpStat, name); err != nil {
		return FileInfo{}, err
	}
	return e.inner.Stat(name)
}

// SyncDir implements FS.
func (e *ErrorFS) SyncDir(dir string) error {
	if err, _ := e.inject(OpSyncDir, dir); err != nil {
		return err
	}
	return e.inner.SyncDir(dir)
}

// Lock implements FS.
func (e *ErrorFS) Lock(name string) (io.Closer, error) {
	if err, _ := e.inject(OpLock, name); err != nil {
		return nil, err
	}
	return e.inner.Lock(name)
}

type errorFile struct {
	fs    *ErrorFS
	inner File
	name  string
}

func (f *errorFile) Read(p []byte) (int, error) {
	if err, _ := f.fs.inject(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.inner.Read(p)
}

func (f *errorFile) ReadAt(p []byte, offBytes int64) (int, error) {
	if err, _ := f.fs.inject(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, offBytes)
}

func (f *errorFile) Write(p []byte) (int, error) {
	err, partial := f.fs.inject(OpWrite, f.name)
	if err == nil {
		return f.inner.Write(p)
	}
	if !partial {
		return 0, err
	}
	n, werr := f.inner.Write(p[:len(p)/2])
	if werr != nil {
		return n, werr
	}
	return n, err
}

func (f *errorFile) Sync() error {
	if err, _ := f.fs.inject(OpSync, f.name); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *errorFile) Truncate(sizeBytes int64) error {
	if err, _ := f.fs.inject(OpTruncate, f.name); err != nil {
		return err
	}
	return f.inner.Truncate(sizeBytes)
}

func (f *errorFile) Close() error {
	if err, _ := f.fs.inject(OpClose, f.name); err != nil {
		return err
	}
	return f.inner.Close()
}
