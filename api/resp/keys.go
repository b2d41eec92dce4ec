package resp

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Key commands: RENAME, RENAMENX, COPY, RANDOMKEY, TIME, OBJECT.
//
// RENAME and COPY write the destination as a copy of what the writer sees
// at the source, in one transaction (RENAME also deletes the source): a
// string stays a string, a counter stays a counter of the same value (so
// concurrent increments of the copy still add), a set copies its members
// and a hash its fields, counter fields as counters. Like DEL, the delete
// of the source removes only what the writer observed.

// snapshot is a copy of one key's visible value, independent of the
// keyspace, so it can be written elsewhere in the same transaction.
type snapshot struct {
	typ     crdt.Type
	str     []byte
	n       int64
	members [][]byte
	fields  []fieldSnapshot
	zpairs  []zpair // sorted set: members and scores
	// entries and last are a stream's (entries' bytes copied).
	entries []crdt.StreamEntry
	last    crdt.StreamID
	// elems is a list's elements, in order (copied).
	elems [][]byte
	// deadline is the key's expiry deadline (0: none); RENAME and COPY
	// carry it to the destination, as Redis does.
	deadline uint64
}

type fieldSnapshot struct {
	name    []byte
	counter bool
	n       int64
	str     []byte
}

func takeSnapshot(val *crdt.Value) snapshot {
	s := snapshot{typ: val.Type()}
	s.deadline, _ = val.Deadline()
	switch s.typ {
	case crdt.TypeRegister:
		b, _ := val.Register()
		s.str = bytes.Clone(b)
	case crdt.TypeText:
		s.str = []byte(val.Text())
	case crdt.TypeCounter:
		s.n, _ = val.Counter()
	case crdt.TypeSet:
		val.Members(func(m []byte) bool {
			s.members = append(s.members, bytes.Clone(m))
			return true
		})
	case crdt.TypeMap:
		val.Fields(func(name []byte, f *crdt.Value) bool {
			fs := fieldSnapshot{name: bytes.Clone(name)}
			if n, ok := f.Counter(); ok {
				fs.counter, fs.n = true, n
			} else {
				b, _ := f.Register()
				fs.str = bytes.Clone(b)
			}
			s.fields = append(s.fields, fs)
			return true
		})
	case crdt.TypeZSet:
		val.ZAscend(0, func(m []byte, score float64) bool {
			s.zpairs = append(s.zpairs, zpair{member: bytes.Clone(m), score: score})
			return true
		})
	case crdt.TypeList:
		for _, e := range val.List() {
			s.elems = append(s.elems, bytes.Clone(e))
		}
	case crdt.TypeStream:
		s.last = val.StreamLast()
		val.StreamRange(crdt.StreamID{}, maxStreamID, false, func(e crdt.StreamEntry) bool {
			e.Fields = slices.Clone(e.Fields)
			for i := range e.Fields {
				e.Fields[i] = bytes.Clone(e.Fields[i])
			}
			s.entries = append(s.entries, e)
			return true
		})
	}
	return s
}

// write replaces dst with the snapshot. Errors here follow earlier
// operations of the transaction, so they abort it.
func (s *snapshot) write(tx *crdt.Builder, dst []byte) error {
	if tx.Get(dst) != nil {
		if err := tx.Delete(dst); err != nil {
			return err
		}
	}
	var err error
	switch s.typ {
	case crdt.TypeRegister:
		err = tx.Set(dst, s.str)
	case crdt.TypeText: // a new text: its history stays with the source
		_, err = tx.TextInsert(dst, 0, s.str)
	case crdt.TypeCounter:
		_, err = tx.Increment(dst, s.n)
	case crdt.TypeSet:
		_, err = tx.SetAdd(dst, s.members...)
	case crdt.TypeMap:
		for _, f := range s.fields {
			if f.counter {
				_, err = tx.MapIncrement(dst, f.name, f.n)
			} else {
				_, err = tx.MapSet(dst, f.name, f.str)
			}
			if err != nil {
				break
			}
		}
	case crdt.TypeZSet:
		for _, p := range s.zpairs {
			if _, err = tx.ZAdd(dst, p.member, p.score); err != nil {
				break
			}
		}
	case crdt.TypeList:
		_, err = tx.ListPush(dst, false, s.elems...)
	case crdt.TypeStream:
		// Entries with one ID (added concurrently on two nodes) are
		// copied once: the copy is one writer's stream.
		var prev crdt.StreamID
		for i, e := range s.entries {
			if i > 0 && e.ID == prev {
				continue
			}
			prev = e.ID
			if _, err = tx.StreamAdd(dst, crdt.StreamIDExplicit, e.ID, e.Fields); err != nil {
				break
			}
		}
		if err == nil {
			err = tx.StreamSetLast(dst, s.last)
		}
	}
	if err == nil && s.deadline != 0 {
		_, err = tx.Expire(dst, s.deadline)
	}
	return err
}

func writeRename(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return rename(tx, args, out, false)
}

func writeRenameNX(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	return rename(tx, args, out, true)
}

func rename(tx *crdt.Builder, args [][]byte, out []byte, nx bool) ([]byte, error) {
	src, dst := args[1], args[2]
	if err := checkKey(src); err != nil {
		return out, err
	}
	if err := checkKey(dst); err != nil {
		return out, err
	}
	val := tx.Get(src)
	if val == nil {
		return out, respErr("ERR no such key")
	}
	done := func() []byte {
		if nx {
			return redcon.AppendInt(out, 1)
		}
		return redcon.AppendOK(out)
	}
	if bytes.Equal(src, dst) {
		if nx {
			return redcon.AppendInt(out, 0), nil
		}
		return done(), nil
	}
	if nx && tx.Get(dst) != nil {
		return redcon.AppendInt(out, 0), nil
	}
	if val.Type() == crdt.TypeBCounter {
		return out, errBCNoCopy // a copy would double the rights
	}
	snap := takeSnapshot(val)
	if err := snap.write(tx, dst); err != nil {
		return out, mutationError(err)
	}
	if err := tx.Delete(src); err != nil {
		return out, err
	}
	return done(), nil
}

func writeCopy(tx *crdt.Builder, args [][]byte, out []byte) ([]byte, error) {
	src, dst := args[1], args[2]
	replace := false
	for i := 3; i < len(args); i++ {
		switch {
		case strings.EqualFold(string(args[i]), "replace"):
			replace = true
		case strings.EqualFold(string(args[i]), "db") && i+1 < len(args):
			db, err := parseInt(args[i+1])
			if err != nil || db < -1<<31 || db >= 1<<31 {
				return out, errNotInteger
			}
			if db != 0 {
				return out, respErr("ERR DB index is out of range")
			}
			i++
		default:
			return out, errSyntax
		}
	}
	if bytes.Equal(src, dst) {
		return out, respErr("ERR source and destination objects are the same")
	}
	if err := checkKey(src); err != nil {
		return out, err
	}
	if err := checkKey(dst); err != nil {
		return out, err
	}
	val := tx.Get(src)
	if val == nil {
		return redcon.AppendInt(out, 0), nil
	}
	if !replace && tx.Get(dst) != nil {
		return redcon.AppendInt(out, 0), nil
	}
	if val.Type() == crdt.TypeBCounter {
		return out, errBCNoCopy // a copy would double the rights
	}
	snap := takeSnapshot(val)
	if err := snap.write(tx, dst); err != nil {
		return out, mutationError(err)
	}
	return redcon.AppendInt(out, 1), nil
}

// cmdRandomKey is RANDOMKEY: a key chosen uniformly by this node, or nil
// for an empty keyspace (or one whose keys have all expired). It walks the keyspace to the chosen position, so
// it costs O(keys); Redis's is O(1).
func cmdRandomKey(s *Server, c *client, args [][]byte) {
	var key []byte
	err := s.backend.View(func(ks *crdt.Keyspace) error {
		n := visibleLen(ks)
		if n == 0 {
			return nil
		}
		// An expired key not yet reclaimed passes the pick on to the next
		// live key (wrapping around once).
		skip := rand.IntN(n)
		now := wallMs()
		pick := func(k []byte, v *crdt.Value) bool {
			if isReserved(k) {
				return true
			}
			if skip > 0 {
				skip--
				return true
			}
			if v.Expired(now) {
				return true
			}
			key = bytes.Clone(k)
			return false
		}
		ks.Range(nil, pick)
		if key == nil {
			ks.Range(nil, pick)
		}
		return nil
	})
	switch {
	case err != nil:
		c.out.WriteError(errorText(err))
	case key == nil:
		c.out.WriteNull()
	default:
		c.out.WriteBulk(key)
	}
}

// readTime is TIME: this node's wall clock as [seconds, microseconds].
func readTime(_ view, _ [][]byte, out []byte) []byte {
	now := time.Now()
	out = redcon.AppendArray(out, 2)
	out = redcon.AppendBulkString(out, strconv.FormatInt(now.Unix(), 10))
	return redcon.AppendBulkString(out, strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

// objectHelp is OBJECT HELP's reply.
var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of replicated value holding <key>: register (a string), counter",
	"    (a string INCR made), orset (a set) or ormap (a hash).",
	"FREQ <key>",
	"    Not tracked by Spook: an error.",
	"IDLETIME <key>",
	"    Not tracked by Spook: an error.",
	"REFCOUNT <key>",
	"    Return the number of references of the value stored at <key>: always 1.",
	"HELP",
	"    Print this help.",
}

// encodingName is OBJECT ENCODING's honest answer: the replicated type
// that holds the value (Spook has none of Redis's encodings).
func encodingName(v *crdt.Value) string {
	switch v.Type() {
	case crdt.TypeCounter:
		return "counter"
	case crdt.TypeSet:
		return "orset"
	case crdt.TypeMap:
		return "ormap"
	case crdt.TypeZSet:
		return "orzset"
	case crdt.TypeText:
		return "text"
	case crdt.TypeStream:
		return "stream"
	case crdt.TypeList:
		return "sequence"
	case crdt.TypeBCounter:
		return "bcounter"
	}
	return "register"
}

func readObject(v view, args [][]byte, out []byte) []byte {
	sub := strings.ToLower(string(args[1]))
	if sub == "help" {
		if len(args) != 2 {
			return redcon.AppendError(out, "ERR wrong number of arguments for 'object|help' command")
		}
		return appendHelp(out, objectHelp)
	}
	switch sub {
	case "encoding", "refcount", "idletime", "freq":
	default:
		return redcon.AppendError(out, "ERR unknown subcommand '"+oneLine(string(args[1]))+"'. Try OBJECT HELP.")
	}
	if len(args) != 3 {
		return redcon.AppendError(out, "ERR wrong number of arguments for 'object|"+sub+"' command")
	}
	val := v.get(args[2])
	if val == nil {
		return redcon.AppendNull(out)
	}
	switch sub {
	case "encoding":
		return redcon.AppendBulkString(out, encodingName(val))
	case "refcount":
		return redcon.AppendInt(out, 1)
	case "idletime":
		return redcon.AppendError(out, "ERR Spook does not track idle time")
	}
	return redcon.AppendError(out, "ERR Spook does not track access frequency")
}

// appendHelp appends a HELP reply: an array of status lines.
func appendHelp(out []byte, lines []string) []byte {
	out = redcon.AppendArray(out, len(lines))
	for _, l := range lines {
		out = redcon.AppendString(out, l)
	}
	return out
}
