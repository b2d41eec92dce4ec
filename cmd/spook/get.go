package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
)

func init() { register("get", "print a key's value", runGet) }

const getHelp = `usage: spook get KEY [--json | --raw] [--addr HOST:PORT] [--token T]

Prints the value this node holds for KEY (GET /v1/kv/KEY), by type:

  string (register)  the value, then a newline
  counter            its decimal value
  set                one member per line
  hash (map)         one field=value line per field, fields sorted
  sorted set         one "member score" line per member, lowest score first

A string written concurrently on two replicas holds both values
(siblings) until a later write replaces them; get prints the one reads
resolve to and says on stderr how many there are (--json lists them).
A key that does not exist prints "(nil)" on stderr and exits 1.

Example:
  spook get greeting
  hello
  spook get tags
  a
  b
  spook get --raw photo > photo.jpg
`

// keyDoc is GET /v1/kv/{key}'s JSON document (docs/api.md). Byte strings
// are base64 when Encoding says so.
type keyDoc struct {
	Key      string         `json:"key"`
	Type     string         `json:"type"`
	Encoding string         `json:"encoding"`
	Value    any            `json:"value"`    // register: string; counter: json.Number
	Siblings []string       `json:"siblings"` // register with concurrent values
	Members  []string       `json:"members"`  // set
	Fields   map[string]any `json:"fields"`   // map: string or json.Number
	ZSet     []zsetEntry    `json:"zset"`     // sorted set, in rank order
}

// zsetEntry is one sorted-set member; Score is a json.Number, or the
// string "inf" or "-inf".
type zsetEntry struct {
	Member string `json:"member"`
	Score  any    `json:"score"`
}

// runGet prints one key.
func runGet(args []string) error {
	fs := newFlagSet("get", getHelp)
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print the node's JSON document as is")
	raw := fs.Bool("raw", false, "print a string's bytes exactly, with no newline added (strings and counters only)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageErrorf("want exactly one KEY, got %d arguments", len(rest))
	}
	if *asJSON && *raw {
		return errors.New("--json and --raw exclude each other")
	}
	key := rest[0]
	p, err := keyPath(key)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := requestContext()
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, p, nil, "Accept", "application/json")
	if ne := (*nodeError)(nil); errors.As(err, &ne) && ne.Code == "not_found" {
		return fmt.Errorf("%w: no key %s", errAbsent, displayKey(key))
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if *asJSON {
		if _, err := io.Copy(stdout, resp.Body); err != nil {
			return c.readError(ctx, err)
		}
		return nil
	}
	var doc keyDoc
	if err := decodeReply(resp.Body, &doc); err != nil {
		return err
	}
	if err := doc.decodeBytes(); err != nil {
		return err
	}
	return doc.print(stdout, *raw)
}

// decodeBytes turns a base64 document's byte strings into bytes (held in
// strings), so the document reads the same whatever its encoding.
func (d *keyDoc) decodeBytes() error {
	switch d.Encoding {
	case "":
		return nil
	case "base64":
	default:
		return fmt.Errorf("bad reply from node: unknown encoding %q", d.Encoding)
	}
	var bad error
	dec := func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil && bad == nil {
			bad = fmt.Errorf("bad reply from node: %w", err)
		}
		return string(b)
	}
	d.Key = dec(d.Key)
	if s, ok := d.Value.(string); ok {
		d.Value = dec(s)
	}
	for i := range d.Siblings {
		d.Siblings[i] = dec(d.Siblings[i])
	}
	for i := range d.Members {
		d.Members[i] = dec(d.Members[i])
	}
	for i := range d.ZSet {
		d.ZSet[i].Member = dec(d.ZSet[i].Member)
	}
	fields := make(map[string]any, len(d.Fields))
	for name, v := range d.Fields {
		if s, ok := v.(string); ok {
			v = dec(s)
		}
		fields[dec(name)] = v
	}
	d.Fields = fields
	return bad
}

// print writes the document's value by its type (see getHelp).
func (d *keyDoc) print(w io.Writer, raw bool) error {
	var b bytes.Buffer
	switch d.Type {
	case "register", "counter":
		fmt.Fprint(&b, d.Value)
		if !raw {
			b.WriteByte('\n')
		}
		if len(d.Siblings) > 1 {
			fmt.Fprintf(stderr, "(%d concurrent values; spook get --json lists them)\n", len(d.Siblings))
		}
	case "set", "map", "zset":
		if raw {
			return fmt.Errorf("--raw: key %s is a %s, which has no raw form", displayKey(d.Key), d.Type)
		}
		for _, m := range d.Members {
			b.WriteString(m)
			b.WriteByte('\n')
		}
		for _, name := range slices.Sorted(maps.Keys(d.Fields)) {
			fmt.Fprintf(&b, "%s=%v\n", name, d.Fields[name])
		}
		for _, e := range d.ZSet {
			fmt.Fprintf(&b, "%s %v\n", e.Member, e.Score)
		}
	default:
		return fmt.Errorf("bad reply from node: unknown type %q", d.Type)
	}
	_, err := w.Write(b.Bytes())
	return err
}
