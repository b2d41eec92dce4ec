package replica

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/limits"
)

// testNode is one replica of a hand-wired test cluster plus what its
// driver persisted.
type testNode struct {
	name     string
	cfg      Config
	r        *Replica
	snapshot []byte
	records  [][]byte
	events   []Event
	changes  []Change
	down     bool
}

type link struct{ from, to causal.NodeID }

type payload struct {
	from, to causal.NodeID
	typ      MessageType
	bytes    []byte
}

// cluster wires replicas through LinkCodecs, one per directed link
// session, so every test also exercises the wire format. It is driven by
// hand: tick, deliver, partition, heal.
type cluster struct {
	t       testing.TB
	nodes   map[string]*testNode
	names   []string
	byID    map[causal.NodeID]*testNode
	codecs  map[link]*LinkCodec
	cut     map[link]bool // partitioned links: messages dropped before encoding
	queue   []payload
	nowMs   uint64
	bytesBy map[MessageType]int
	msgsBy  map[MessageType]int
	drop    func(p payload) bool // optional fault injection
	before  func(p payload)      // optional hook run before each delivery
	dup     func(p payload) bool // optional: step the decoded message twice (a duplicating transport)
}

const testStartMs = 1_700_000_000_000

func newCluster(t testing.TB, names ...string) *cluster {
	c := &cluster{t: t, nodes: map[string]*testNode{}, byID: map[causal.NodeID]*testNode{},
		codecs: map[link]*LinkCodec{}, cut: map[link]bool{}, nowMs: testStartMs,
		bytesBy: map[MessageType]int{}, msgsBy: map[MessageType]int{}}
	var members []Peer
	for _, n := range names {
		members = append(members, Peer{Name: n, Addr: n + ":7000"})
	}
	for i, n := range names {
		c.add(Config{Name: n, Addr: n + ":7000", Members: members, Seed: uint64(i + 1), NowMs: c.nowMs})
	}
	return c
}

func (c *cluster) add(cfg Config) *testNode {
	r, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	n := &testNode{name: cfg.Name, cfg: cfg, r: r}
	c.nodes[cfg.Name] = n
	c.names = append(c.names, cfg.Name)
	slices.Sort(c.names)
	c.byID[r.ID()] = n
	return n
}

func (c *cluster) node(name string) *testNode {
	n := c.nodes[name]
	if n == nil {
		c.t.Fatalf("no node %q", name)
	}
	return n
}

func id(name string) causal.NodeID { return causal.NodeIDFromName(name) }

// collect drains every node's Ready: persists, encodes messages onto the
// queue, records changes and events.
func (c *cluster) collect() bool {
	any := false
	for _, name := range c.names {
		n := c.nodes[name]
		if n.down || !n.r.HasReady() {
			continue
		}
		any = true
		rd := n.r.Ready()
		if rd.Snapshot != nil {
			n.snapshot, n.records = rd.Snapshot, nil
		}
		for _, rec := range rd.Records {
			if len(rec) > limits.MaxRecordBytes {
				c.t.Fatalf("%s: record of %d bytes > limits.MaxRecordBytes %d", name, len(rec), limits.MaxRecordBytes)
			}
		}
		n.records = append(n.records, rd.Records...)
		for _, env := range rd.Messages {
			l := link{n.r.ID(), env.To}
			to := c.byID[env.To]
			if c.cut[l] || to == nil || to.down {
				continue
			}
			cd := c.codecs[l]
			if cd == nil {
				cd = NewLinkCodec()
				c.codecs[l] = cd
			}
			b, err := cd.Encode(nil, &env.Message)
			if err != nil {
				c.t.Fatalf("%s: encode %s: %v", name, env.Message.Type, err)
			}
			if len(b) >= limits.MaxFrameBytes {
				c.t.Fatalf("%s: %s payload of %d bytes does not fit a frame of %d", name, env.Message.Type, len(b), limits.MaxFrameBytes)
			}
			c.bytesBy[env.Message.Type] += len(b)
			c.msgsBy[env.Message.Type]++
			c.queue = append(c.queue, payload{from: l.from, to: l.to, typ: env.Message.Type, bytes: b})
		}
		n.changes = append(n.changes, rd.Changes...)
		n.events = append(n.events, rd.Events...)
		n.r.Advance()
	}
	return any
}

// deliverOnce delivers what is queued now; it returns how many messages.
func (c *cluster) deliverOnce() int {
	q := c.queue
	c.queue = nil
	for _, p := range q {
		to := c.byID[p.to]
		if to == nil || to.down || c.cut[link{p.from, p.to}] {
			continue
		}
		if c.before != nil {
			c.before(p)
		}
		if c.drop != nil && c.drop(p) {
			// A dropped payload desynchronizes the link: reset its session.
			delete(c.codecs, link{p.from, p.to})
			continue
		}
		cd := c.codecs[link{p.from, p.to}]
		if cd == nil {
			continue // the session was reset after this payload was queued
		}
		m, err := cd.Decode(p.bytes)
		if err != nil {
			c.t.Fatalf("decode %s %s→%s: %v", p.typ, c.byID[p.from].name, to.name, err)
		}
		if err := to.r.Step(p.from, m); err != nil {
			c.t.Fatalf("%s: step %s from %s: %v", to.name, p.typ, c.byID[p.from].name, err)
		}
		if c.dup != nil && c.dup(p) {
			if err := to.r.Step(p.from, m); err != nil {
				c.t.Fatalf("%s: step duplicate %s from %s: %v", to.name, p.typ, c.byID[p.from].name, err)
			}
		}
	}
	return len(q)
}

// deliver runs collect/deliver rounds until quiet (bounded).
func (c *cluster) deliver() int {
	total := 0
	for round := 0; round < 1000; round++ {
		c.collect()
		if len(c.queue) == 0 {
			return total
		}
		total += c.deliverOnce()
	}
	c.t.Fatal("deliver: no quiescence after 1000 rounds")
	return total
}

// tick advances every live node by n ticks of 10 ms, delivering after each.
func (c *cluster) tick(n int) {
	for i := 0; i < n; i++ {
		c.nowMs += 10
		for _, name := range c.names {
			if nd := c.nodes[name]; !nd.down {
				nd.r.Tick(c.nowMs)
			}
		}
		c.deliver()
	}
}

// partition cuts every link between the groups (in both directions) and
// resets their sessions.
func (c *cluster) partition(groups ...[]string) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					l := link{id(a), id(b)}
					c.cut[l] = true
					delete(c.codecs, l)
				}
			}
		}
	}
}

func (c *cluster) heal() { clear(c.cut) }

func (c *cluster) propose(name string, fn func(b *crdt.Builder) error) Token {
	tok, err := c.node(name).r.Propose(fn)
	if err != nil {
		c.t.Fatalf("%s: propose: %v", name, err)
	}
	return tok
}

func (c *cluster) set(name, key, value string) Token {
	return c.propose(name, func(b *crdt.Builder) error { return b.Set([]byte(key), []byte(value)) })
}

func (c *cluster) incr(name, key string, by int64) Token {
	return c.propose(name, func(b *crdt.Builder) error { _, err := b.Increment([]byte(key), by); return err })
}

// get renders a key's value on a node.
func (c *cluster) get(name, key string) string {
	return renderValue(c.node(name).r.Keyspace().Get([]byte(key)))
}

func renderValue(v *crdt.Value) string {
	if v == nil {
		return "<nil>"
	}
	switch v.Type() {
	case crdt.TypeRegister:
		b, _ := v.Register()
		return string(b)
	case crdt.TypeCounter:
		n, _ := v.Counter()
		return fmt.Sprint(n)
	case crdt.TypeSet:
		var ms []string
		v.Members(func(m []byte) bool { ms = append(ms, string(m)); return true })
		return "{" + strings.Join(ms, " ") + "}"
	}
	return v.Type().String()
}

// converged reports whether every live member has the same state hash.
func (c *cluster) converged() bool {
	var h uint64
	first := true
	for _, name := range c.names {
		n := c.nodes[name]
		if n.down || n.r.state != NodeMember {
			continue
		}
		if first {
			h, first = n.r.Keyspace().Hash(), false
		} else if n.r.Keyspace().Hash() != h {
			return false
		}
	}
	return true
}

func (c *cluster) requireConverged() {
	c.t.Helper()
	if !c.converged() {
		for _, name := range c.names {
			n := c.nodes[name]
			c.t.Logf("%s: state=%s hash=%016x applied=%v", name, n.r.state, n.r.Keyspace().Hash(), n.r.Applied())
		}
		c.t.Fatal("replicas did not converge")
	}
}

func (n *testNode) hasEvent(t EventType, about causal.NodeID) bool {
	for _, e := range n.events {
		if e.Type == t && (about == 0 || e.Node == about) {
			return true
		}
	}
	return false
}

// corrupt injects a register sibling into key on one node without
// touching its context: the state diverges while the applied vectors stay
// equal (what a bit flip or a buggy join would leave behind).
func (c *cluster) corrupt(name, key, value string) {
	other := crdt.NewKeyspace()
	b := other.Begin(causal.Dot{Node: causal.NodeIDFromName("corruption"), Counter: 1}, causal.Timestamp{WallMs: 1})
	if err := b.Set([]byte(key), []byte(value)); err != nil {
		c.t.Fatal(err)
	}
	if err := other.Apply(b.Finish()); err != nil {
		c.t.Fatal(err)
	}
	c.node(name).r.Keyspace().JoinKey([]byte(key), other.Get([]byte(key)), &causal.Context{})
}
