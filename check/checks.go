package check

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Converged checks that every state has the same state hash.
func Converged(rep *Report, states []State) {
	if len(states) < 2 {
		return
	}
	first := states[0]
	want := first.Keyspace.Hash()
	for _, s := range states[1:] {
		if h := s.Keyspace.Hash(); h != want {
			rep.Addf(CheckConverged, "%s hash %016x (applied %v) != %s hash %016x (applied %v): %s",
				s.Name, h, s.Keyspace.Context().Vector, first.Name, want, first.Keyspace.Context().Vector,
				describeDifference(s.Keyspace, first.Keyspace))
		}
	}
}

// LostWrites checks that every acknowledged write is applied on every
// state, except writes of exempt nodes that no state holds, and that no
// acknowledged dot was reused for another transaction.
func LostWrites(rep *Report, h *History, states []State) {
	for _, d := range h.ReusedAcked {
		rep.Addf(CheckLostWrite, "acknowledged dot %v was proposed again for another transaction (its first write was lost)", d)
	}
	for _, w := range h.Writes {
		if !w.Acked {
			continue
		}
		if h.Exempt[w.Dot.Node] && !anyHolds(states, w.Dot) {
			continue
		}
		for _, s := range states {
			if !s.Keyspace.Context().Contains(w.Dot) {
				rep.Addf(CheckLostWrite, "acknowledged %v (session %d, step %d) not applied on %s (applied %v)",
					w.Dot, w.Session, w.Step, s.Name, s.Keyspace.Context().Vector)
			}
		}
	}
}

func anyHolds(states []State, d causal.Dot) bool {
	for _, s := range states {
		if s.Keyspace.Context().Contains(d) {
			return true
		}
	}
	return false
}

// Counters checks every counter key the history incremented: on every
// state its value is the sum of the increments of the writes that state
// applied.
func Counters(rep *Report, h *History, states []State) {
	for _, s := range states {
		ctx := s.Keyspace.Context()
		want := map[string]int64{}
		for _, w := range h.Writes {
			if !ctx.Contains(w.Dot) {
				continue
			}
			for _, inc := range w.Increments {
				want[inc.Key] += inc.By
			}
		}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			var got int64
			if v := s.Keyspace.Get([]byte(k)); v != nil {
				got, _ = v.Counter()
			}
			if got != want[k] {
				rep.Addf(CheckCounter, "%s: counter %q = %d, the increments it applied sum to %d", s.Name, k, got, want[k])
			}
		}
	}
}

// Atomic checks every pair read: both keys of a pair showed the same
// register values.
func Atomic(rep *Report, h *History) {
	for _, r := range h.PairReads {
		if !slices.Equal(r.A, r.B) {
			rep.Addf(CheckAtomic, "step %d on %v: pair %s shows a=%q b=%q: a transaction is partly visible",
				r.Step, r.Node, r.Pair, r.A, r.B)
		}
	}
}

// Sessions checks read-your-writes and monotonic reads of every session's
// own counter.
func Sessions(rep *Report, h *History) {
	type last struct {
		value int64
		step  int
		node  causal.NodeID
	}
	prev := map[[2]string]last{}
	for _, r := range h.Sessions {
		if r.Value < r.AckedSum {
			rep.Addf(CheckSession, "step %d: session %d read %q = %d on %v, but %d was acknowledged to it (read-your-writes)",
				r.Step, r.Session, r.Key, r.Value, r.Node, r.AckedSum)
		}
		k := [2]string{strconv.Itoa(r.Session), r.Key}
		if p, ok := prev[k]; ok && r.Value < p.value {
			rep.Addf(CheckSession, "step %d: session %d read %q = %d on %v after reading %d on %v at step %d (monotonic reads)",
				r.Step, r.Session, r.Key, r.Value, r.Node, p.value, p.node, p.step)
		}
		prev[k] = last{r.Value, r.Step, r.Node}
	}
}

// Causal checks every causal read: a replica that showed a session's mark
// showed every increment in the mark's causal past.
func Causal(rep *Report, h *History) {
	for _, r := range h.Causal {
		if r.Count < r.Mark {
			rep.Addf(CheckCausal, "step %d on %v: session %d's mark says %d increments came before it, its counter shows %d: causal order violated",
				r.Step, r.Node, r.Session, r.Mark, r.Count)
		}
	}
}

// Expiry checks every expiring-key read: a visible key's deadline was
// after the reader's clock, and not so far behind true time that every
// replica's clock (each within BoundMs of true time) had passed it: a
// read never returns a key that all replicas treat as expired.
func Expiry(rep *Report, h *History) {
	for _, r := range h.Expiry {
		switch {
		case !r.Visible || r.Deadline < 0:
		case r.Deadline <= int64(r.ReaderMs):
			rep.Addf(CheckExpiry, "step %d on %v: %s visible with deadline %d, not after the reader's clock %d",
				r.Step, r.Node, r.Key, r.Deadline, r.ReaderMs)
		case r.Deadline+r.BoundMs <= int64(r.TrueMs):
			rep.Addf(CheckExpiry, "step %d on %v: %s visible with deadline %d, %d ms past it in true time (every clock within %d ms)",
				r.Step, r.Node, r.Key, r.Deadline, int64(r.TrueMs)-r.Deadline, r.BoundMs)
		}
	}
}

// CollapsePresent checks, at the moment a replica reports the collapsed
// cut, that every state given (the current members that are up) has
// applied every dot below it.
func CollapsePresent(rep *Report, step int, reporter string, cut *causal.VersionVector, states []State) {
	for _, s := range states {
		if d, ok := missing(s.Keyspace.Context(), cut); !ok {
			rep.Addf(CheckCollapse, "step %d: %s reports cut %v collapsed but member %s has not applied %v (applied %v)",
				step, reporter, cut, s.Name, d, s.Keyspace.Context().Vector)
		}
	}
}

// CollapseFinal checks that every dot any replica reported collapsed
// during the run (h.Cut) is applied on every final state.
func CollapseFinal(rep *Report, h *History, states []State) {
	for _, s := range states {
		if d, ok := missing(s.Keyspace.Context(), &h.Cut); !ok {
			rep.Addf(CheckCollapse, "%v was reported collapsed during the run but is not applied on %s at the end (applied %v)",
				d, s.Name, s.Keyspace.Context().Vector)
		}
	}
}

// CollapsedEverywhere checks, after convergence, that every state calls
// every acknowledged write it holds collapsed (State.Collapsed): once all
// current members have applied everything, nothing may stay uncollapsed,
// whatever the failure detector thinks of members that are gone.
func CollapsedEverywhere(rep *Report, h *History, states []State) {
	for _, s := range states {
		if s.Collapsed == nil {
			continue
		}
		for _, w := range h.Writes {
			if w.Acked && s.Keyspace.Context().Contains(w.Dot) && !s.Collapsed(w.Dot) {
				rep.Addf(CheckCollapse, "after convergence %s does not call acknowledged %v collapsed", s.Name, w.Dot)
				break
			}
		}
	}
}

// missing returns the first dot of cut that ctx lacks, and false; or true
// if ctx holds every dot of cut.
func missing(ctx *causal.Context, cut *causal.VersionVector) (causal.Dot, bool) {
	if ctx.Vector.Dominates(cut) {
		return causal.Dot{}, true
	}
	for _, e := range cut.Entries() {
		for k := ctx.Vector.Get(e.Node) + 1; k <= e.Counter; k++ {
			if d := (causal.Dot{Node: e.Node, Counter: k}); !ctx.Contains(d) {
				return d, false
			}
		}
	}
	return causal.Dot{}, true
}

// ErrOracleStuck is returned by BuildOracle when recorded transactions
// cannot be applied in any causal order.
var ErrOracleStuck = errors.New("check: oracle cannot order the recorded transactions causally")

// BuildOracle returns a fresh keyspace that applied, in a causal order,
// every recorded write whose dot is in final. Dots that writes depend on
// but the history does not hold (the replica's own internal transactions,
// such as membership changes) are added to the oracle's context without
// content: they touch only internal keys, which the oracle does not judge.
func BuildOracle(h *History, final *causal.Context) (*crdt.Keyspace, error) {
	return buildOracle(h, final, false)
}

// buildOracle applies in ascending dot order, or descending with reverse:
// two different causal orders of the same transactions.
func buildOracle(h *History, final *causal.Context, reverse bool) (*crdt.Keyspace, error) {
	ks := crdt.NewKeyspace()
	var pending []*Write
	for _, w := range h.Writes {
		if w.Txn != nil && !w.Internal && final.Contains(w.Dot) {
			pending = append(pending, w)
		}
	}
	slices.SortFunc(pending, func(a, b *Write) int {
		if reverse {
			a, b = b, a
		}
		switch {
		case a.Dot.Less(b.Dot):
			return -1
		case b.Dot.Less(a.Dot):
			return 1
		}
		return 0
	})
	for len(pending) > 0 {
		progress := false
		kept := pending[:0]
		for _, w := range pending {
			err := ks.Apply(w.Txn)
			switch {
			case err == nil:
				progress = true
			case errors.Is(err, crdt.ErrNotReady):
				kept = append(kept, w)
			default:
				return nil, fmt.Errorf("check: oracle apply %v: %w", w.Dot, err)
			}
		}
		pending = kept
		if progress || len(pending) == 0 {
			continue
		}
		// No progress: fill dependencies the history cannot supply.
		var unknown causal.Context
		for _, w := range pending {
			forEachDot(&w.Txn.Deps, func(d causal.Dot) {
				if w := h.Write(d); !ks.Context().Contains(d) && (w == nil || w.Internal) {
					unknown.Add(d)
				}
			})
		}
		if len(unknown.Vector.Entries()) == 0 && len(unknown.Outliers()) == 0 {
			return nil, fmt.Errorf("%w: %d left, first %v", ErrOracleStuck, len(pending), pending[0].Dot)
		}
		ks.MergeContext(&unknown)
	}
	return ks, nil
}

// forEachDot calls fn with every dot of c.
func forEachDot(c *causal.Context, fn func(causal.Dot)) {
	for _, e := range c.Vector.Entries() {
		for k := uint64(1); k <= e.Counter; k++ {
			fn(causal.Dot{Node: e.Node, Counter: k})
		}
	}
	for _, d := range c.Outliers() {
		fn(d)
	}
}

// Oracle checks every state's user keys against the oracle built from the
// history and the first state's context. internal reports keys the oracle
// does not judge (the replica's reserved keys); nil judges every key.
func Oracle(rep *Report, h *History, states []State, internal func(key []byte) bool) {
	if len(states) == 0 {
		return
	}
	oracle, err := BuildOracle(h, states[0].Keyspace.Context())
	if err != nil {
		rep.Addf(CheckOracle, "%v", err)
		return
	}
	want := renderAll(oracle, internal)
	commute(rep, h, states[0].Keyspace.Context(), want, internal)
	for _, s := range states {
		got := renderAll(s.Keyspace, internal)
		if got == want {
			continue
		}
		rep.Addf(CheckOracle, "%s differs from the oracle: %s", s.Name, firstDifference(got, want, "replica", "oracle"))
	}
}

// describeDifference names where two keyspaces with different hashes
// differ: the first key whose reads differ, or else the first live key
// whose hash differs (hidden metadata), or else the contexts.
func describeDifference(a, b *crdt.Keyspace) string {
	ra, rb := renderAll(a, nil), renderAll(b, nil)
	if ra != rb {
		return "reads differ at " + firstDifference(ra, rb, "first", "second")
	}
	var key []byte
	find := func(x, y *crdt.Keyspace) {
		x.RangeState(nil, func(k []byte, _ *crdt.Value) bool {
			if x.KeyHash(k) != y.KeyHash(k) {
				key = k
				return false
			}
			return true
		})
	}
	if find(a, b); key == nil {
		find(b, a)
	}
	if key != nil {
		return fmt.Sprintf("reads agree; key %q differs in hidden metadata: %x vs %x", key,
			crdt.AppendValue(nil, a.State(key)), crdt.AppendValue(nil, b.State(key)))
	}
	if !a.Context().Equal(b.Context()) {
		return fmt.Sprintf("contexts differ: outliers %v vs %v", a.Context().Outliers(), b.Context().Outliers())
	}
	return "reads and live keys agree; a hidden (deleted) key's metadata differs"
}

// Commute checks that the recorded writes whose dots are in final read
// the same when applied in two different causal orders (ascending and
// descending dots). It needs no converged replica, so it can tell, in a
// run that did not converge, whether the data types are to blame.
func Commute(rep *Report, h *History, final *causal.Context, internal func([]byte) bool) {
	oracle, err := BuildOracle(h, final)
	if err != nil {
		rep.Addf(CheckOracle, "%v", err)
		return
	}
	commute(rep, h, final, renderAll(oracle, internal), internal)
}

// commute compares the descending-order replay with want, the rendering
// of the ascending one. If they differ, the data types depend on delivery
// order and an oracle mismatch says nothing about replication.
func commute(rep *Report, h *History, final *causal.Context, want string, internal func([]byte) bool) {
	other, err := buildOracle(h, final, true)
	if err != nil {
		return
	}
	if got := renderAll(other, internal); got != want {
		rep.Addf(CheckCommute, "applying the same transactions in two causal orders reads differently: %s",
			firstDifference(got, want, "descending dots", "ascending dots"))
	}
}

// renderAll renders every judged key, one line each.
func renderAll(ks *crdt.Keyspace, internal func([]byte) bool) string {
	var b strings.Builder
	ks.Range(nil, func(key []byte, v *crdt.Value) bool {
		if internal != nil && internal(key) {
			return true
		}
		b.WriteString(strconv.Quote(string(key)))
		b.WriteByte('=')
		b.WriteString(Render(v))
		b.WriteByte('\n')
		return true
	})
	return b.String()
}

// firstDifference names the first line where got and want differ,
// calling them by the given labels.
func firstDifference(got, want, gotLabel, wantLabel string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: %s %q, %s %q", i+1, gotLabel, gl, wantLabel, wl)
		}
	}
	return "(no line differs)"
}

// Render returns what reads of v return, as one line: every component the
// read API exposes (register siblings with their time and writer, counter,
// set members, map fields rendered recursively, sorted-set members in rank
// order with their scores). Two values that render
// equally are indistinguishable to a client.
func Render(v *crdt.Value) string {
	if v == nil {
		return "nil"
	}
	var b strings.Builder
	b.WriteString("type=")
	b.WriteString(strconv.Itoa(int(v.Type())))
	if sib := v.Siblings(); len(sib) > 0 {
		b.WriteString(" reg[")
		for i, s := range sib {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q@%v/%v", s.Value, s.Time, s.Dot.Node)
		}
		b.WriteByte(']')
	}
	if c, ok := v.Counter(); ok {
		fmt.Fprintf(&b, " ctr=%d", c)
	}
	var members []string
	v.Members(func(m []byte) bool { members = append(members, strconv.Quote(string(m))); return true })
	if len(members) > 0 {
		b.WriteString(" set{" + strings.Join(members, ",") + "}")
	}
	var fields []string
	v.Fields(func(name []byte, fv *crdt.Value) bool {
		fields = append(fields, strconv.Quote(string(name))+":("+Render(fv)+")")
		return true
	})
	if len(fields) > 0 {
		b.WriteString(" map{" + strings.Join(fields, ",") + "}")
	}
	var zmembers []string
	v.ZAscend(0, func(m []byte, score float64) bool {
		zmembers = append(zmembers, strconv.Quote(string(m))+":"+strconv.FormatFloat(score, 'g', -1, 64))
		return true
	})
	if len(zmembers) > 0 {
		b.WriteString(" zset{" + strings.Join(zmembers, ",") + "}")
	}
	if v.Type() == crdt.TypeStream {
		b.WriteString(" stream[")
		v.StreamRange(crdt.StreamID{}, crdt.StreamID{Ms: ^uint64(0), Seq: ^uint64(0)}, false, func(e crdt.StreamEntry) bool {
			b.WriteString(e.String())
			b.WriteByte(' ')
			return true
		})
		b.WriteString("last=" + v.StreamLast().String() + "]")
	}
	if d, ok := v.Deadline(); ok {
		fmt.Fprintf(&b, " deadline=%d/%v", d, v.DeadlineOwner())
	}
	if v.ListLen() > 0 {
		var elems []string
		for _, e := range v.List() {
			elems = append(elems, strconv.Quote(string(e)))
		}
		b.WriteString(" list[" + strings.Join(elems, ",") + "]")
	}
	if v.TextLen() > 0 {
		fmt.Fprintf(&b, " text=%q", v.Text())
	}
	return b.String()
}

// RegisterValues returns the sorted values of every register sibling of
// key in ks (nil if the key holds no register): what PairRead records.
func RegisterValues(ks *crdt.Keyspace, key []byte) []string {
	v := ks.Get(key)
	if v == nil {
		return nil
	}
	var out []string
	for _, s := range v.Siblings() {
		out = append(out, string(s.Value))
	}
	slices.Sort(out)
	return out
}
