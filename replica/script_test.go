package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Golden-script tests. Each testdata/*.txt file opens with a paragraph of
// '#' lines saying what it tests, then alternates commands ("> cmd args")
// and their expected output. go test ./replica -rewrite regenerates the
// outputs; read the diff before committing it.
//
// Commands:
//
//	cluster n1 n2 n3          start a fresh cluster of those members
//	join n4 via n2            start n4 as a joining node with join peer n2
//	propose n1 set k v        also: incr k by, del k, sadd k m...
//	deliver                   deliver messages until quiet
//	tick N                    N ticks of 10 ms on every live node, delivering after each
//	partition n1 | n2 n3      cut the links between the groups
//	heal                      restore every link
//	down n3 / up n3           stop / restart delivery to and ticks of a node
//	restart n2                recreate n2 from what it persisted
//	remove n1 n3              n1 proposes the removal of n3
//	leave n2                  n2 proposes its departure
//	corrupt n2 k              inject a foreign value into k on n2 only
//	clock n1 +120000          move n1's physical clock (ms)
//	get k                     k's value on every member
//	status                    one line per node
//	collapsed n1 n1:3         whether n1 sees dot n1:3 collapsed, and by how many applied
//
// deliver and tick print the events raised meanwhile, node ids as names.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runScript(t, file) })
	}
}

type scriptBlock struct {
	cmd      string
	expected string
}

func parseScript(t *testing.T, text string) (header string, blocks []scriptBlock) {
	lines := strings.Split(text, "\n")
	i := 0
	var h []string
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "> "); i++ {
		h = append(h, lines[i])
	}
	header = strings.TrimRight(strings.Join(h, "\n"), "\n")
	if !strings.HasPrefix(header, "#") {
		t.Fatal("script must open with a '#' paragraph saying what it tests")
	}
	for i < len(lines) {
		b := scriptBlock{cmd: strings.TrimPrefix(lines[i], "> ")}
		i++
		var out []string
		for ; i < len(lines) && !strings.HasPrefix(lines[i], "> "); i++ {
			out = append(out, lines[i])
		}
		b.expected = strings.TrimRight(strings.Join(out, "\n"), "\n")
		blocks = append(blocks, b)
	}
	return header, blocks
}

func runScript(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	header, blocks := parseScript(t, string(raw))
	s := &scriptRun{t: t}
	var out strings.Builder
	out.WriteString(header + "\n\n")
	for _, b := range blocks {
		got := strings.TrimRight(s.run(b.cmd), "\n")
		fmt.Fprintf(&out, "> %s\n", b.cmd)
		if got != "" {
			out.WriteString(got + "\n")
		}
		out.WriteString("\n")
		if !*rewrite && got != b.expected {
			t.Errorf("%s: > %s\n--- got\n%s\n--- want\n%s", file, b.cmd, got, b.expected)
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scriptRun struct {
	t    *testing.T
	c    *cluster
	seen map[string]int // events printed per node
}

func (s *scriptRun) name(id causal.NodeID) string {
	if n := s.c.byID[id]; n != nil {
		return n.name
	}
	return id.String()
}

func (s *scriptRun) vector(v causal.VersionVector) string {
	var parts []string
	for _, e := range v.Entries() {
		parts = append(parts, fmt.Sprintf("%s:%d", s.name(e.Node), e.Counter))
	}
	sortStrings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// newEvents renders events raised since the last call, node ids as names
// (reasons are elided when they carry hashes or ids).
func (s *scriptRun) newEvents() string {
	var b strings.Builder
	for _, name := range s.c.names {
		n := s.c.nodes[name]
		for _, e := range n.events[s.seen[name]:] {
			fmt.Fprintf(&b, "%s: %s", name, e.Type)
			if e.Node != 0 {
				fmt.Fprintf(&b, " %s", s.name(e.Node))
			}
			if !e.Dot.IsZero() {
				fmt.Fprintf(&b, " %s:%d", s.name(e.Dot.Node), e.Dot.Counter)
			}
			switch e.Type {
			case EventRepaired, EventBufferFull, EventMessageRefused:
				fmt.Fprintf(&b, " (%s)", e.Reason)
			}
			b.WriteString("\n")
		}
		s.seen[name] = len(n.events)
	}
	return b.String()
}

func (s *scriptRun) run(cmd string) string {
	t := s.t
	f := strings.Fields(cmd)
	if len(f) == 0 {
		t.Fatal("empty command")
	}
	if f[0] != "cluster" && s.c == nil {
		t.Fatalf("%q before cluster", cmd)
	}
	fail := func(err error) string { return "error: " + err.Error() }
	switch f[0] {
	case "cluster":
		s.c = newCluster(t, f[1:]...)
		s.seen = map[string]int{}
		return ""
	case "join":
		if len(f) != 4 || f[2] != "via" {
			t.Fatalf("usage: join n4 via n2")
		}
		s.c.add(Config{Name: f[1], Addr: f[1] + ":7000", Join: []Peer{{Name: f[3]}},
			Seed: uint64(len(s.c.names) + 1), NowMs: s.c.nowMs})
		return ""
	case "propose":
		n := s.c.node(f[1])
		key := []byte(f[3])
		tok, err := n.r.Propose(func(b *crdt.Builder) error {
			switch f[2] {
			case "set":
				return b.Set(key, []byte(f[4]))
			case "incr":
				by, _ := strconv.ParseInt(f[4], 10, 64)
				_, err := b.Increment(key, by)
				return err
			case "del":
				return b.Delete(key)
			case "sadd":
				var ms [][]byte
				for _, m := range f[4:] {
					ms = append(ms, []byte(m))
				}
				_, err := b.SetAdd(key, ms...)
				return err
			}
			t.Fatalf("unknown operation %q", f[2])
			return nil
		})
		if err != nil {
			return fail(err)
		}
		return fmt.Sprintf("%s:%d", s.name(tok.Node), tok.Counter)
	case "deliver":
		msgs := s.c.deliver()
		return s.newEvents() + fmt.Sprintf("%d messages", msgs)
	case "tick":
		n, _ := strconv.Atoi(f[1])
		s.c.tick(n)
		return s.newEvents()
	case "partition":
		var groups [][]string
		var g []string
		for _, w := range f[1:] {
			if w == "|" {
				groups, g = append(groups, g), nil
				continue
			}
			g = append(g, w)
		}
		s.c.partition(append(groups, g)...)
		return ""
	case "heal":
		s.c.heal()
		return ""
	case "down", "up":
		s.c.node(f[1]).down = f[0] == "down"
		if f[0] == "up" {
			// A restarted link: fresh sessions in both directions.
			for l := range s.c.codecs {
				if l.from == id(f[1]) || l.to == id(f[1]) {
					delete(s.c.codecs, l)
				}
			}
		}
		return ""
	case "restart":
		n := s.c.node(f[1])
		r, err := Restore(n.cfg, n.snapshot, n.records)
		if err != nil {
			return fail(err)
		}
		r.Tick(s.c.nowMs)
		n.r = r
		for l := range s.c.codecs {
			if l.from == id(f[1]) || l.to == id(f[1]) {
				delete(s.c.codecs, l)
			}
		}
		n.events, s.seen[f[1]] = nil, 0
		return ""
	case "remove":
		tok, err := s.c.node(f[1]).r.Remove(id(f[2]))
		if err != nil {
			return fail(err)
		}
		return fmt.Sprintf("%s:%d", s.name(tok.Node), tok.Counter)
	case "leave":
		tok, err := s.c.node(f[1]).r.Leave()
		if err != nil {
			return fail(err)
		}
		return fmt.Sprintf("%s:%d", s.name(tok.Node), tok.Counter)
	case "corrupt":
		s.c.corrupt(f[1], f[2], "garbage")
		return ""
	case "clock":
		d, _ := strconv.ParseInt(f[2], 10, 64)
		s.c.node(f[1]).r.Tick(uint64(int64(s.c.nowMs) + d))
		return ""
	case "get":
		var b strings.Builder
		for _, name := range s.c.names {
			fmt.Fprintf(&b, "%s: %s\n", name, s.c.get(name, f[1]))
		}
		return b.String()
	case "status":
		var b strings.Builder
		hashes := map[uint64]string{}
		for _, name := range s.c.names {
			n := s.c.nodes[name]
			st := n.r.Status()
			label, ok := hashes[st.Hash]
			if !ok {
				label = string(rune('A' + len(hashes)))
				hashes[st.Hash] = label
			}
			var peers []string
			for _, m := range st.Members {
				if !m.Self {
					peers = append(peers, fmt.Sprintf("%s=%s", s.name(m.ID), m.State))
				}
			}
			sortStrings(peers)
			down := ""
			if n.down {
				down = " (down)"
			}
			fmt.Fprintf(&b, "%s%s: %s keys=%d state=%s applied=%s collapsed=%s pending=%d peers=[%s]\n",
				name, down, st.State, st.Keys, label, s.vector(st.Applied), s.vector(st.Collapsed), st.Pending,
				strings.Join(peers, " "))
		}
		return b.String()
	case "collapsed":
		n := s.c.node(f[1])
		parts := strings.Split(f[2], ":")
		c, _ := strconv.ParseUint(parts[1], 10, 64)
		d := causal.Dot{Node: id(parts[0]), Counter: c}
		return fmt.Sprintf("collapsed=%v applied-by=%d", n.r.Collapsed(d), n.r.AppliedBy(d))
	}
	t.Fatalf("unknown command %q", cmd)
	return ""
}
