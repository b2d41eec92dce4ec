package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// crashBlockBytes is the unit a simulated disk writes atomically: when a
// crash tears a file's unsynced tail, the kept bytes of its last, partly
// written block may be garbled from the block's start (never reaching
// into the synced prefix), as happens when a size update reaches the disk
// before the data block it covers.
const crashBlockBytes = 512

var (
	errNotEmpty = errors.New("directory not empty")
	errReadOnly = errors.New("file opened read-only")
	errIsDir    = errors.New("is a directory")
	errNotDir   = errors.New("not a directory")
)

// MemFS is an in-memory FS that remembers what a power loss would keep.
//
// Per file it holds the current contents and the contents as of the last
// File.Sync; per directory the current entries and the entries as of the
// last SyncDir. Crash returns the state after a power loss: directory
// entries created, renamed or removed since the last SyncDir revert, and
// each file keeps its synced contents plus a random prefix of what was
// written after, possibly with its last partial block garbled.
//
// MemFS is safe for concurrent use; one mutex serializes every call. The
// zero value is not usable: call NewMemFS. The root directory always
// exists and is durable.
type MemFS struct {
	mu   sync.Mutex
	root *memNode
	// locks holds the cleaned names of held locks. Locks are process
	// state, not disk state: Crash returns a MemFS with none held.
	locks map[string]bool
}

// memNode is a file or a directory. Nodes are shared by pointer between
// the current and the synced entry maps, so a renamed file is one node
// reachable by its old name (synced) and its new name (current).
type memNode struct {
	isDir bool
	// Directories: current entries, and the entries as of the last SyncDir.
	children map[string]*memNode
	synced   map[string]*memNode
	// Files: current contents, and the contents as of the last Sync. The
	// two never share a backing array.
	data    []byte
	durable []byte
}

func newDirNode() *memNode {
	return &memNode{isDir: true, children: map[string]*memNode{}, synced: map[string]*memNode{}}
}

// NewMemFS returns an empty MemFS holding only its root directory.
func NewMemFS() *MemFS { return &MemFS{root: newDirNode()} }

// split cleans name into path components; the root has none.
func split(name string) []string {
	clean := path.Clean("/" + filepath.ToSlash(name))
	if clean == "/" {
		return nil
	}
	return strings.Split(clean[1:], "/")
}

// walkDir returns the directory node at components, or an error.
func (m *MemFS) walkDir(op, name string, components []string) (*memNode, error) {
	dir := m.root
	for _, c := range components {
		next, ok := dir.children[c]
		if !ok {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if !next.isDir {
			return nil, &fs.PathError{Op: op, Path: name, Err: errNotDir}
		}
		dir = next
	}
	return dir, nil
}

// parentOf returns the directory holding name and name's last component.
func (m *MemFS) parentOf(op, name string) (*memNode, string, error) {
	components := split(name)
	if len(components) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	dir, err := m.walkDir(op, name, components[:len(components)-1])
	if err != nil {
		return nil, "", err
	}
	return dir, components[len(components)-1], nil
}

func (m *MemFS) lookup(op, name string) (*memNode, error) {
	components := split(name)
	if len(components) == 0 {
		return m.root, nil
	}
	dir, err := m.walkDir(op, name, components[:len(components)-1])
	if err != nil {
		return nil, err
	}
	node, ok := dir.children[components[len(components)-1]]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return node, nil
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentOf("create", name)
	if err != nil {
		return nil, err
	}
	node, ok := dir.children[base]
	switch {
	case ok && node.isDir:
		return nil, &fs.PathError{Op: "create", Path: name, Err: errIsDir}
	case ok:
		node.data = nil
	default:
		node = &memNode{}
		dir.children[base] = node
	}
	return &memFile{fs: m, node: node, name: name, writable: true}, nil
}

// OpenAppend implements FS.
func (m *MemFS) OpenAppend(name string) (File, error) {
	return m.open("open", name, true)
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) {
	return m.open("open", name, false)
}

func (m *MemFS) open(op, name string, appending bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	node, err := m.lookup(op, name)
	if err != nil {
		return nil, err
	}
	if node.isDir && appending {
		return nil, &fs.PathError{Op: op, Path: name, Err: errIsDir}
	}
	return &memFile{fs: m, node: node, name: name, writable: appending, appending: appending}, nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldDir, oldBase, err := m.parentOf("rename", oldname)
	if err != nil {
		return err
	}
	node, ok := oldDir.children[oldBase]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	newDir, newBase, err := m.parentOf("rename", newname)
	if err != nil {
		return err
	}
	if oldDir == newDir && oldBase == newBase {
		return nil
	}
	if existing, ok := newDir.children[newBase]; ok && existing.isDir != node.isDir {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrExist}
	} else if ok && existing.isDir && len(existing.children) > 0 {
		return &fs.PathError{Op: "rename", Path: newname, Err: errNotEmpty}
	}
	newDir.children[newBase] = node
	delete(oldDir.children, oldBase)
	return nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentOf("remove", name)
	if err != nil {
		return err
	}
	node, ok := dir.children[base]
	if !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if node.isDir && len(node.children) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: errNotEmpty}
	}
	delete(dir.children, base)
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	node, err := m.lookup("readdir", dir)
	if err != nil {
		return nil, err
	}
	if !node.isDir {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: errNotDir}
	}
	return sortedNames(node.children), nil
}

func sortedNames(entries map[string]*memNode) []string {
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	node := m.root
	for _, c := range split(dir) {
		next, ok := node.children[c]
		if !ok {
			next = newDirNode()
			node.children[c] = next
		} else if !next.isDir {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir}
		}
		node = next
	}
	return nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	node, err := m.lookup("stat", name)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{SizeBytes: int64(len(node.data)), IsDir: node.isDir}, nil
}

// SyncDir implements FS.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	node, err := m.lookup("syncdir", dir)
	if err != nil {
		return err
	}
	if !node.isDir {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: errNotDir}
	}
	node.synced = make(map[string]*memNode, len(node.children))
	for name, child := range node.children {
		node.synced[name] = child
	}
	return nil
}

// Lock implements FS. The lock file is created like any file (and is
// durable only after SyncDir); the lock itself lives in memory.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	f, err := m.open("lock", name, true)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = m.Create(name)
	}
	if err != nil {
		return nil, err
	}
	f.Close()
	key := path.Clean("/" + filepath.ToSlash(name))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[key] {
		return nil, fmt.Errorf("%s: %w", name, ErrLocked)
	}
	if m.locks == nil {
		m.locks = map[string]bool{}
	}
	m.locks[key] = true
	return &memLock{fs: m, key: key}, nil
}

type memLock struct {
	fs   *MemFS
	key  string
	once sync.Once
}

func (l *memLock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.locks, l.key)
		l.fs.mu.Unlock()
	})
	return nil
}

// Crash returns a new MemFS holding what a power loss at this moment
// would leave on disk; m itself is unchanged and files open on m keep
// writing to m. Everything random is drawn from seed, so equal seeds on
// equal states give equal results. In the result everything is durable.
//
// What survives: the entries of each directory as of its last SyncDir
// (recursively: a directory whose own entry was not synced vanishes with
// its contents); for each file, its contents as of its last Sync, plus:
//   - if it was only appended to since, a random prefix of the appended
//     bytes, whose last partial block (crashBlockBytes) may be garbled;
//   - if it was truncated or overwritten since, either the synced contents
//     or the longest common prefix of synced and current contents plus a
//     random, possibly garbled, prefix of the rest of the current ones.
func (m *MemFS) Crash(seed int64) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_c7a5))
	copies := map[*memNode]*memNode{}
	return &MemFS{root: crashCopy(m.root, rng, copies)}
}

// crashCopy copies node as it would survive a crash. Names are visited in
// sorted order so the random draws do not depend on map iteration order;
// copies makes a node reachable by two names (an unsynced cross-directory
// rename) survive as one node.
func crashCopy(node *memNode, rng *rand.Rand, copies map[*memNode]*memNode) *memNode {
	if c, ok := copies[node]; ok {
		return c
	}
	if node.isDir {
		c := newDirNode()
		copies[node] = c
		for _, name := range sortedNames(node.synced) {
			child := crashCopy(node.synced[name], rng, copies)
			c.children[name] = child
			c.synced[name] = child
		}
		return c
	}
	content := crashContent(node.data, node.durable, rng)
	c := &memNode{data: content, durable: slices.Clone(content)}
	copies[node] = c
	return c
}

func crashContent(current, durable []byte, rng *rand.Rand) []byte {
	base := durable
	if !hasPrefix(current, durable) {
		if rng.IntN(2) == 0 {
			return slices.Clone(durable)
		}
		common := 0
		for common < len(current) && common < len(durable) && current[common] == durable[common] {
			common++
		}
		base = current[:common]
	}
	tail := current[len(base):]
	keep := rng.IntN(len(tail) + 1)
	out := make([]byte, 0, len(base)+keep)
	out = append(out, base...)
	out = append(out, tail[:keep]...)
	if keep > 0 && rng.IntN(2) == 0 {
		from := max(len(base), (len(out)-1)/crashBlockBytes*crashBlockBytes)
		zeros := rng.IntN(2) == 0
		for i := from; i < len(out); i++ {
			if zeros {
				out[i] = 0
			} else {
				out[i] = byte(rng.Uint32())
			}
		}
	}
	return out
}

func hasPrefix(b, prefix []byte) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == string(prefix)
}

// memFile is an open MemFS file. Its position is guarded by fs.mu.
type memFile struct {
	fs        *MemFS
	node      *memNode
	name      string
	writable  bool
	appending bool
	closed    bool
	posBytes  int64
}

func (f *memFile) check(op string) error {
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	if f.node.isDir && op != "read" && op != "close" && op != "sync" {
		return &fs.PathError{Op: op, Path: f.name, Err: errIsDir}
	}
	return nil
}

// Read implements File.
func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if f.posBytes >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[f.posBytes:])
	f.posBytes += int64(n)
	return n, nil
}

// ReadAt implements File.
func (f *memFile) ReadAt(p []byte, offBytes int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if offBytes < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	if offBytes >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[offBytes:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Write implements File.
func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if !f.writable {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: errReadOnly}
	}
	node := f.node
	if f.appending {
		f.posBytes = int64(len(node.data))
	}
	end := f.posBytes + int64(len(p))
	if end > int64(len(node.data)) {
		oldBytes := len(node.data)
		node.data = slices.Grow(node.data, int(end)-oldBytes)[:end]
		// A write past the end (after a shrinking Truncate) leaves a
		// hole that reads as zeros, not as the stale backing array.
		clear(node.data[oldBytes:min(f.posBytes, end)])
	}
	copy(node.data[f.posBytes:], p)
	f.posBytes = end
	return len(p), nil
}

// Sync implements File.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync"); err != nil {
		return err
	}
	if !f.node.isDir {
		f.node.durable = slices.Clone(f.node.data)
	}
	return nil
}

// Truncate implements File.
func (f *memFile) Truncate(sizeBytes int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate"); err != nil {
		return err
	}
	if !f.writable {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: errReadOnly}
	}
	if sizeBytes < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	node := f.node
	if sizeBytes <= int64(len(node.data)) {
		node.data = node.data[:sizeBytes]
	} else {
		node.data = append(node.data, make([]byte, sizeBytes-int64(len(node.data)))...)
	}
	return nil
}

// Close implements File.
func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("close"); err != nil {
		return err
	}
	f.closed = true
	return nil
}
