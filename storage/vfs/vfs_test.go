package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// implementations returns both FSes with a fresh root, so every
// behaviour the storage package relies on is checked on the real disk
// and on its in-memory twin.
func implementations(t *testing.T) map[string]struct {
	fs   FS
	root string
} {
	return map[string]struct {
		fs   FS
		root string
	}{
		"OS":    {OS{}, t.TempDir()},
		"MemFS": {NewMemFS(), "/data"},
	}
}

func mustWrite(t *testing.T, fsys FS, name string, b []byte) {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, fsys FS, name string) []byte {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	for implName, impl := range implementations(t) {
		t.Run(implName, func(t *testing.T) {
			fsys, root := impl.fs, impl.root
			start := time.Now()
			dir := path.Join(root, "a", "b")
			if err := fsys.MkdirAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := fsys.MkdirAll(dir); err != nil {
				t.Fatalf("MkdirAll on an existing dir: %v", err)
			}
			name := path.Join(dir, "f")
			mustWrite(t, fsys, name, []byte("hello"))

			f, err := fsys.OpenAppend(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte(" world")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if n, err := f.ReadAt(buf, 6); n != 5 || err != nil || string(buf) != "world" {
				t.Fatalf("ReadAt = %d %v %q", n, err, buf)
			}
			if n, err := f.ReadAt(buf, 8); n != 3 || !errors.Is(err, io.EOF) {
				t.Fatalf("ReadAt past end = %d %v", n, err)
			}
			if err := f.Truncate(4); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("!")); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, fsys, name); string(got) != "hell!" {
				t.Fatalf("after truncate and append: %q", got)
			}
			if info, err := fsys.Stat(name); err != nil || info.SizeBytes != 5 || info.IsDir {
				t.Fatalf("Stat = %+v %v", info, err)
			}
			if info, err := fsys.Stat(dir); err != nil || !info.IsDir {
				t.Fatalf("Stat dir = %+v %v", info, err)
			}
			// ModTime: the time of the last write where the FS keeps one
			// (OS), zero where it does not (MemFS).
			if info, _ := fsys.Stat(name); implName == "MemFS" && !info.ModTime.IsZero() ||
				implName == "OS" && (info.ModTime.Before(start.Add(-time.Minute)) || info.ModTime.After(time.Now().Add(time.Minute))) {
				t.Fatalf("Stat ModTime = %v (test started %v)", info.ModTime, start)
			}

			ro, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ro.Write([]byte("x")); err == nil {
				t.Fatal("Write on a file opened with Open succeeded")
			}
			ro.Close()

			mustWrite(t, fsys, path.Join(dir, "g"), []byte("g"))
			if err := fsys.Rename(path.Join(dir, "g"), name); err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, fsys, name); string(got) != "g" {
				t.Fatalf("rename did not replace: %q", got)
			}
			names, err := fsys.ReadDir(dir)
			if err != nil || !slices.Equal(names, []string{"f"}) {
				t.Fatalf("ReadDir = %v %v", names, err)
			}
			if err := fsys.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove(dir); err == nil {
				t.Fatal("Remove of a non-empty dir succeeded")
			}
			if err := fsys.Remove(name); err != nil {
				t.Fatal(err)
			}
			for _, err := range []error{
				func() error { _, err := fsys.Open(name); return err }(),
				func() error { _, err := fsys.OpenAppend(name); return err }(),
				func() error { _, err := fsys.Stat(name); return err }(),
				func() error { _, err := fsys.ReadDir(path.Join(root, "nope")); return err }(),
				fsys.Remove(name),
				fsys.Rename(name, name+"2"),
			} {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("want fs.ErrNotExist, got %v", err)
				}
			}
		})
	}
}

func TestMemFSCrashKeepsOnlyWhatWasSynced(t *testing.T) {
	m := NewMemFS()
	if err := m.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, m, "/d/synced", []byte("durable"))
	mustWrite(t, m, "/d/renamed", []byte("r"))
	mustWrite(t, m, "/d/removed", []byte("x"))
	if err := m.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	// After the SyncDir: a file whose name is never synced, an unsynced
	// rename, an unsynced remove, unsynced appended bytes.
	mustWrite(t, m, "/d/unnamed", []byte("lost"))
	if err := m.Rename("/d/renamed", "/d/renamed2"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("/d/removed"); err != nil {
		t.Fatal(err)
	}
	f, _ := m.OpenAppend("/d/synced")
	f.Write(bytes.Repeat([]byte("u"), 2000))

	for seed := int64(0); seed < 50; seed++ {
		c := m.Crash(seed)
		names, err := c.ReadDir("/d")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, []string{"removed", "renamed", "synced"}) {
			t.Fatalf("seed %d: entries after crash %v", seed, names)
		}
		got := mustRead(t, c, "/d/synced")
		if !bytes.HasPrefix(got, []byte("durable")) || len(got) > len("durable")+2000 {
			t.Fatalf("seed %d: synced prefix lost: %q", seed, got[:min(len(got), 20)])
		}
		if again := mustRead(t, m.Crash(seed), "/d/synced"); !bytes.Equal(again, got) {
			t.Fatalf("seed %d: crash is not deterministic", seed)
		}
	}
	// The original is untouched by Crash and its open file still works.
	if _, err := f.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, m, "/d/synced"); len(got) != len("durable")+2004 {
		t.Fatalf("original changed by Crash: %d bytes", len(got))
	}
}

func TestMemFSCrashTearsAndGarbles(t *testing.T) {
	m := NewMemFS()
	mustWrite(t, m, "/f", []byte("head"))
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	tail := bytes.Repeat([]byte{0xAB}, 3000)
	f, _ := m.OpenAppend("/f")
	f.Write(tail)
	lengths := map[int]bool{}
	garbled := false
	for seed := int64(0); seed < 200; seed++ {
		got := mustRead(t, m.Crash(seed), "/f")
		if string(got[:4]) != "head" {
			t.Fatalf("seed %d: synced bytes changed", seed)
		}
		lengths[len(got)] = true
		if !bytes.Equal(got[4:], tail[:len(got)-4]) {
			garbled = true
		}
	}
	if len(lengths) < 50 || !garbled {
		t.Fatalf("crash model too tame: %d distinct lengths, garbled=%v", len(lengths), garbled)
	}
}

func TestMemFSCrashLosesUnsyncedDirectory(t *testing.T) {
	m := NewMemFS()
	m.MkdirAll("/new/sub")
	mustWrite(t, m, "/new/sub/f", []byte("x"))
	m.SyncDir("/new/sub")
	c := m.Crash(1)
	if _, err := c.Stat("/new"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a directory whose entry was never synced survived: %v", err)
	}
	m.SyncDir("/")
	m.SyncDir("/new")
	if got := mustRead(t, m.Crash(1), "/new/sub/f"); string(got) != "x" {
		t.Fatalf("got %q", got)
	}
}

func TestMemFSCrashAfterUnsyncedTruncate(t *testing.T) {
	m := NewMemFS()
	mustWrite(t, m, "/f", []byte("abcdef"))
	m.SyncDir("/")
	f, _ := m.OpenAppend("/f")
	f.Truncate(2)
	f.Write([]byte("XY"))
	seen := map[string]bool{}
	for seed := int64(0); seed < 100; seed++ {
		got := string(mustRead(t, m.Crash(seed), "/f"))
		if got != "abcdef" && !(len(got) >= 2 && got[:2] == "ab" && len(got) <= 4) {
			t.Fatalf("seed %d: impossible state %q", seed, got)
		}
		seen[got] = true
	}
	if !seen["abcdef"] || !seen["ab"] {
		t.Fatalf("states seen %v: want both the old and the truncated file", seen)
	}
}

func TestErrorFSInjects(t *testing.T) {
	m := NewMemFS()
	e := NewErrorFS(m, Injection{Ops: OpWrite, At: 2, PartialWrite: true})
	f, err := e.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("1234")); err != nil {
		t.Fatal(err)
	}
	n, err := f.Write([]byte("5678"))
	if !errors.Is(err, ErrInjected) || n != 2 {
		t.Fatalf("second write: %d %v", n, err)
	}
	if _, err := f.Write([]byte("9")); err != nil {
		t.Fatalf("non-sticky injection failed a later write: %v", err)
	}
	if got := string(mustRead(t, m, "/f")); got != "1234569" {
		t.Fatalf("contents %q", got)
	}
	if e.Calls() != 3 || e.Failures() != 1 {
		t.Fatalf("calls %d failures %d", e.Calls(), e.Failures())
	}

	e.SetInjection(Injection{Ops: OpMutating, At: 2, Sticky: true})
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := e.Rename("/f", "/g"); !errors.Is(err, ErrInjected) {
		t.Fatalf("rename: %v", err)
	}
	if _, err := e.Stat("/f"); err != nil {
		t.Fatalf("uncounted Stat failed: %v", err)
	}
	if err := e.SyncDir("/"); !errors.Is(err, ErrInjected) {
		t.Fatalf("sticky: %v", err)
	}
	if _, err := m.Stat("/g"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a failed Rename took effect")
	}
}

func TestLock(t *testing.T) {
	for implName, impl := range implementations(t) {
		t.Run(implName, func(t *testing.T) {
			if err := impl.fs.MkdirAll(impl.root); err != nil {
				t.Fatal(err)
			}
			name := path.Join(impl.root, "LOCK")
			l, err := impl.fs.Lock(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := impl.fs.Lock(name); !errors.Is(err, ErrLocked) {
				t.Fatalf("second Lock: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2, err := impl.fs.Lock(name)
			if err != nil {
				t.Fatalf("Lock after release: %v", err)
			}
			l2.Close()
		})
	}
}

// TestLockNamesHolder: a lock refused on a real directory names the
// process that holds it (its pid is written into the lock file), so an
// operator sees "in use by another process (pid N)", not "locked by
// another user".
func TestLockNamesHolder(t *testing.T) {
	name := filepath.Join(t.TempDir(), "LOCK")
	l, err := OS{}.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = OS{}.Lock(name)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v", err)
	}
	if want := fmt.Sprintf("in use by another process (pid %d)", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Fatalf("second Lock: %q does not say %q", err, want)
	}
}
