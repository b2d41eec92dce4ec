package storage

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/spooksystems/spook/storage/vfs"
)

// IdentityFile is the file in a data directory that records whose
// directory it is. Format (UTF-8 text, one "key value" per line, in this
// order; later versions may add keys before crc32c):
//
//	spook-data-directory 1
//	node <node name>
//	cluster <cluster name>
//	removed_at_ms <ms since the Unix epoch, 0 if not removed>
//	crc32c <8 hex digits: CRC-32C of every byte before this line>
//
// Names are written with strconv.Quote, so any name survives. It is
// small, written whole (temp file, sync, rename, directory sync) and
// checked whole on read: a torn or edited file is a *CorruptionError.
const IdentityFile = "IDENTITY"

// maxIdentityBytes bounds the identity file read: two names of at most a
// few hundred bytes each.
const maxIdentityBytes = 4 << 10

// identityVersion is the format version on the first line.
const identityVersion = 1

// Identity is what a data directory records about its owner.
type Identity struct {
	Node    string // the node's name (spookd --node-id)
	Cluster string // the cluster's name (spookd --cluster)
	// RemovedAtMs is set, in milliseconds since the Unix epoch, once the
	// node learns an operator removed it: a restart on this directory
	// keeps refusing writes.
	RemovedAtMs uint64
}

// ErrIdentityMismatch is returned by CheckIdentity when a data directory
// belongs to another node or cluster.
var ErrIdentityMismatch = errors.New("storage: data directory belongs to another node or cluster")

// ReadIdentity reads dir's identity file; found is false if there is
// none (a new directory, or one from before identities were recorded).
func ReadIdentity(fsys vfs.FS, dir string) (id Identity, found bool, err error) {
	name := path.Join(dir, IdentityFile)
	data, err := readFile(fsys, name, nil, maxIdentityBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, false, nil
	}
	if err != nil {
		return Identity{}, false, err
	}
	id, reason := decodeIdentity(data)
	if reason != "" {
		return Identity{}, false, &CorruptionError{What: "identity", File: name, Reason: reason}
	}
	return id, true, nil
}

// WriteIdentity replaces dir's identity file durably.
func WriteIdentity(fsys vfs.FS, dir string, id Identity) error {
	final := path.Join(dir, IdentityFile)
	temp := final + ".tmp"
	f, err := fsys.Create(temp)
	if err != nil {
		return err
	}
	if _, err := f.Write(encodeIdentity(id)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(temp, final); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// CheckIdentity compares dir's recorded identity with want's node and
// cluster. A directory without one gets want recorded (its first start,
// or its first since identities were recorded). A mismatch is an error
// matching ErrIdentityMismatch that names both. It returns the recorded
// identity (with RemovedAtMs).
func CheckIdentity(fsys vfs.FS, dir string, want Identity) (Identity, error) {
	got, found, err := ReadIdentity(fsys, dir)
	if err != nil {
		return Identity{}, err
	}
	if !found {
		want.RemovedAtMs = 0
		if err := WriteIdentity(fsys, dir, want); err != nil {
			return Identity{}, fmt.Errorf("storage: record the data directory's identity: %w", err)
		}
		return want, nil
	}
	if got.Node != want.Node || got.Cluster != want.Cluster {
		return got, fmt.Errorf("%w: %s holds node %q of cluster %q; this node is %q of cluster %q "+
			"(start it with --node-id %s --cluster %s, or give another data directory)",
			ErrIdentityMismatch, dir, got.Node, got.Cluster, want.Node, want.Cluster, got.Node, got.Cluster)
	}
	return got, nil
}

func encodeIdentity(id Identity) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "spook-data-directory %d\n", identityVersion)
	fmt.Fprintf(&b, "node %s\n", strconv.Quote(id.Node))
	fmt.Fprintf(&b, "cluster %s\n", strconv.Quote(id.Cluster))
	fmt.Fprintf(&b, "removed_at_ms %d\n", id.RemovedAtMs)
	fmt.Fprintf(&b, "crc32c %08x\n", crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes()
}

// decodeIdentity parses an identity file, or says why it cannot.
func decodeIdentity(data []byte) (Identity, string) {
	body, last, ok := cutLastLine(data)
	if !ok {
		return Identity{}, "no checksum line"
	}
	sum, err := strconv.ParseUint(strings.TrimPrefix(last, "crc32c "), 16, 32)
	if err != nil || !strings.HasPrefix(last, "crc32c ") {
		return Identity{}, "bad checksum line"
	}
	if uint32(sum) != crc32.Checksum(body, castagnoli) {
		return Identity{}, "checksum mismatch"
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) < 4 || lines[0] != fmt.Sprintf("spook-data-directory %d", identityVersion) {
		return Identity{}, "unknown format"
	}
	var id Identity
	for _, f := range []struct {
		key string
		set func(string) error
	}{
		{"node", func(v string) (err error) { id.Node, err = strconv.Unquote(v); return }},
		{"cluster", func(v string) (err error) { id.Cluster, err = strconv.Unquote(v); return }},
		{"removed_at_ms", func(v string) (err error) { id.RemovedAtMs, err = strconv.ParseUint(v, 10, 64); return }},
	} {
		value, ok := findKey(lines[1:], f.key)
		if !ok {
			return Identity{}, "missing " + f.key
		}
		if err := f.set(value); err != nil {
			return Identity{}, fmt.Sprintf("bad %s: %v", f.key, err)
		}
	}
	return id, ""
}

func findKey(lines []string, key string) (string, bool) {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, key+" "); ok {
			return v, true
		}
	}
	return "", false
}

// cutLastLine splits data ending in "\n" into everything before its
// last line and that line (without the newline).
func cutLastLine(data []byte) (body []byte, last string, ok bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	return data[:i+1], string(data[i+1 : len(data)-1]), true
}
