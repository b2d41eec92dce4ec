package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/check"
	"github.com/spooksystems/spook/crdt"
)

// Key namespaces of the workload. Each kind of value lives under its own
// prefix, so a key never changes type and each checker knows what a key
// holds:
//
//	c/<k>       counters: only ever incremented (by positive and negative amounts)
//	r/<k>       registers: set and deleted
//	s/<k>       sets: members added and removed, key deleted
//	h/<k>       maps: register fields f0..f3 set and deleted, counter field n
//	            incremented and deleted
//	p/<k>/a,b   transaction pairs: always written together in one
//	            transaction with one marker value, or deleted together
//	own/<id>    a session's own counter: incremented only by that session
//	            (read-your-writes and monotonic reads are checked on it)
//	x/<k>       expiring registers: set with a deadline, given a new
//	            deadline, persisted and reclaimed (an expired key's DEL)
//	mark/<id>   a register the session sets, in a transaction of its own,
//	            to the number of own/<id> increments it had proposed: any
//	            replica that shows mark/<id> = m must show own/<id> ≥ m,
//	            because the increments are in the mark's causal past
//	            (causal consistency, checked across sessions and nodes)
//	z/<k>       sorted sets: members added with a score, incremented and
//	            removed, key deleted
//	xs/<k>      streams: entries added with generated IDs (XADD *, trimmed
//	            to a few entries now and then), the oldest entry deleted
//	            (XDEL), the key deleted
//	l/<k>       lists: pushed at either end, popped at either end, an
//	            element set or inserted in the middle, trimmed, deleted
//	bc/<k>      bounded counters (floor 0): created, incremented,
//	            decremented from the session node's rights (a want when
//	            they are short), rights moved by the transfer policy
//	            (replica Tick's policy, run here as client writes so the
//	            history holds them), the node's want withdrawn now and
//	            then (as the replica's tick does when a want stays
//	            unmet), deleted now and then; only in
//	            clusters of at most BCounterReplicasMax replicas
const (
	prefixCounter  = "c/"
	prefixRegister = "r/"
	prefixSet      = "s/"
	prefixMap      = "h/"
	prefixPair     = "p/"
	prefixOwn      = "own/"
	prefixMark     = "mark/"
	prefixExpiring = "x/"
	prefixZSet     = "z/"
	prefixStream   = "xs/"
	prefixList     = "l/"
	prefixBCounter = "bc/"
)

// opKind is one kind of client operation.
type opKind uint8

const (
	opIncrement opKind = iota
	opSet
	opDelete
	opSetAdd
	opSetRemove
	opMapSet
	opMapDelete
	opMapIncrement
	opOwnIncrement
	opPairTxn    // multi-key: both pair keys, a counter and a set member
	opPairDelete // multi-key: both pair keys deleted
	opMark       // the session's causal mark
	opExpireSet  // SET x/<k> with a deadline (SET … PX)
	opExpire     // a new deadline for x/<k> (PEXPIRE)
	opPersist    // PERSIST x/<k>
	opReclaim    // the DEL a reclaiming node makes of x/<k> once expired
	opZAdd       // ZADD z/<k> with a score that is a multiple of 1/4
	opZIncr      // ZINCRBY z/<k>
	opZRem       // ZREM z/<k> of one member, or DEL z/<k>
	opStreamAdd  // XADD xs/<k> * (with MAXLEN 3 one time in four)
	opStreamDel  // XDEL of the oldest entry of xs/<k>, or DEL xs/<k> one time in four
	opListPush   // LPUSH or RPUSH l/<k>, or an insert in the middle
	opListPop    // LPOP or RPOP l/<k>, or LSET, LTRIM or DEL of it
	opBCCreate   // BCOUNTER.CREATE bc/<k> 0 20 when absent; DEL of it one time in six
	opBCIncr     // BCOUNTER.INCRBY bc/<k> 1..3
	opBCDecr     // BCOUNTER.DECRBY bc/<k> 1..3 from this node's rights, or a want
	// opBCRebalance runs the transfer policy on bc/<k>; one time in six
	// it withdraws the node's want instead.
	opBCRebalance
	opKindCount
)

// opWeights weight the write kinds; the mix leans on the multi-key
// transactions and counters whose checks are sharpest.
var opWeights = [opKindCount]int{
	opIncrement:    4,
	opSet:          3,
	opDelete:       1,
	opSetAdd:       3,
	opSetRemove:    2,
	opMapSet:       2,
	opMapDelete:    1,
	opMapIncrement: 1,
	opOwnIncrement: 3,
	opPairTxn:      0, // drawn through Params.TxnRate
	opPairDelete:   0,
	opMark:         2,
	opExpireSet:    2,
	opExpire:       1,
	opPersist:      1,
	opReclaim:      1,
	opZAdd:         1,
	opZIncr:        1,
	opZRem:         1,
	opStreamAdd:    1,
	opStreamDel:    1,
	opListPush:     1,
	opListPop:      1,
	opBCCreate:     1,
	opBCIncr:       1,
	opBCDecr:       2,
	opBCRebalance:  2,
}

// Expiry deadlines the workload draws, relative to the writing
// transaction's time: from a few steps to a few hundred.
const (
	expiryMsMin = 2 * TickMs
	expiryMsMax = 400 * TickMs
)

var opWeightTotal = func() int {
	t := 0
	for _, w := range opWeights {
		t += w
	}
	return t
}()

// BCounterReplicasMax is the largest cluster whose workload draws the
// bounded-counter ops (opBCCreate … opBCRebalance, the last kinds):
// larger runs (the scale tests and their figures) draw exactly the mix
// they drew before bounded counters existed, so their traces stay.
const BCounterReplicasMax = DenseReplicasMax

// bcWeightTotal is the weight of the bounded-counter ops.
var bcWeightTotal = opWeights[opBCCreate] + opWeights[opBCIncr] + opWeights[opBCDecr] + opWeights[opBCRebalance]

// session is one client session. It talks to one node at a time; when it
// moves it carries the applied vector it last saw and uses the new node
// only once that node has applied at least as much (so reads stay
// monotonic across the move). A session ends when its node crashes (its
// connection breaks); a new session with a new id takes its slot.
type session struct {
	id       int
	node     int                  // index of the node it talks to
	lastSeen causal.VersionVector // the applied vector at its last operation
	waitFor  int                  // node it is moving to, -1 if none
	acked    int64                // acknowledged increments of its own counter
	proposed int64                // proposed increments of its own counter
	seq      int                  // operations issued, for unique values
	ownKey   []byte
	markKey  []byte
}

func newSession(id, node int) *session {
	return &session{id: id, node: node, waitFor: -1,
		ownKey: []byte(prefixOwn + strconv.Itoa(id)), markKey: []byte(prefixMark + strconv.Itoa(id))}
}

// op is one drawn client write: enough to build it on any builder and to
// record what it should do.
type op struct {
	kind   opKind
	key    int   // index into the kind's key pool
	by     int64 // increment amount; for expiry ops, the deadline's distance in ms
	member int   // set member or map field index
	value  string
}

// largeKeys is how many registers hold large values (past the pool of
// small writes).
const largeKeys = 8

// drawOp draws a write for session s. large counts the large values
// drawn so far in the run (Params.LargeValueRate, Params.largeWritesMax).
func drawOp(g *rng, p *Params, s *session, step int, large *int) op {
	s.seq++
	o := op{key: g.intn(p.KeysPerKind), member: g.intn(6), by: int64(g.between(-5, 10))}
	o.value = fmt.Sprintf("v%d.%d.%d", s.id, s.seq, step)
	if p.LargeValueRate > 0 && *large < p.largeWritesMax() && g.chance(p.LargeValueRate) {
		*large++
		size := p.ValueBytesMax
		if !g.chance(0.15) {
			size = g.between(LargeValuesMin, p.ValueBytesMax)
		}
		// Unique (the prefix) and large (the padding).
		o.value += strings.Repeat(".", max(0, size-len(o.value)))
		// A large value goes to a register of its own, past the pool
		// small writes use, so large state accumulates (up to
		// largeKeys × ValueBytesMax) instead of being overwritten; or,
		// sometimes, to both keys of a pair: two values in one
		// transaction, above limits.MaxTxnBytes when each is over half.
		o.kind, o.key = opSet, p.KeysPerKind+g.intn(largeKeys)
		if g.chance(0.3) {
			o.kind, o.key = opPairTxn, g.intn(p.KeysPerKind)
		}
		return o
	}
	if g.chance(p.TxnRate) {
		o.kind = opPairTxn
		if g.chance(0.15) {
			o.kind = opPairDelete
		}
		return o
	}
	total := opWeightTotal
	if p.Replicas > BCounterReplicasMax {
		total -= bcWeightTotal // the bounded-counter kinds come last: never reached
	}
	n := g.intn(total)
	for k, w := range opWeights {
		if n < w {
			o.kind = opKind(k)
			break
		}
		n -= w
	}
	switch o.kind {
	case opOwnIncrement:
		o.by = 1
	case opExpireSet, opExpire:
		o.by = int64(g.between(expiryMsMin, expiryMsMax))
	case opBCIncr, opBCDecr:
		o.by = int64(1 + o.member%3)
	}
	return o
}

func keyOf(prefix string, k int) []byte { return []byte(prefix + strconv.Itoa(k)) }

func pairKeys(k int) (a, b []byte) {
	base := prefixPair + strconv.Itoa(k)
	return []byte(base + "/a"), []byte(base + "/b")
}

// build applies o to a transaction builder and returns the counter
// increments it made. It runs inside the replica's Propose.
func (o op) build(b *crdt.Builder, s *session) ([]check.Increment, error) {
	switch o.kind {
	case opIncrement:
		k := keyOf(prefixCounter, o.key)
		if _, err := b.Increment(k, o.by); err != nil {
			return nil, err
		}
		return []check.Increment{{Key: string(k), By: o.by}}, nil
	case opOwnIncrement:
		if _, err := b.Increment(s.ownKey, o.by); err != nil {
			return nil, err
		}
		return []check.Increment{{Key: string(s.ownKey), By: o.by}}, nil
	case opSet:
		return nil, b.Set(keyOf(prefixRegister, o.key), []byte(o.value))
	case opDelete:
		if o.key%2 == 0 {
			return nil, b.Delete(keyOf(prefixRegister, o.key))
		}
		return nil, b.Delete(keyOf(prefixSet, o.key))
	case opSetAdd:
		_, err := b.SetAdd(keyOf(prefixSet, o.key), []byte("m"+strconv.Itoa(o.member)))
		return nil, err
	case opSetRemove:
		_, err := b.SetRemove(keyOf(prefixSet, o.key), []byte("m"+strconv.Itoa(o.member)))
		return nil, err
	case opMapSet:
		_, err := b.MapSet(keyOf(prefixMap, o.key), []byte("f"+strconv.Itoa(o.member%4)), []byte(o.value))
		return nil, err
	case opMapDelete:
		_, err := b.MapDelete(keyOf(prefixMap, o.key), []byte("f"+strconv.Itoa(o.member%4)), []byte("n"))
		return nil, err
	case opMapIncrement:
		// Field "n" of a map is only ever a counter (the oracle judges it).
		_, err := b.MapIncrement(keyOf(prefixMap, o.key), []byte("n"), o.by)
		return nil, err
	case opPairTxn:
		a, bb := pairKeys(o.key)
		if err := b.Set(a, []byte(o.value)); err != nil {
			return nil, err
		}
		if err := b.Set(bb, []byte(o.value)); err != nil {
			return nil, err
		}
		// The same transaction also touches a counter and a set, so
		// atomicity is exercised across types (the oracle and the
		// counter check judge those parts).
		ck := keyOf(prefixCounter, o.key)
		if _, err := b.Increment(ck, o.by); err != nil {
			return nil, err
		}
		if _, err := b.SetAdd(keyOf(prefixSet, o.key), []byte(o.value)); err != nil {
			return nil, err
		}
		return []check.Increment{{Key: string(ck), By: o.by}}, nil
	case opMark:
		return nil, b.Set(s.markKey, []byte(strconv.FormatInt(s.proposed, 10)))
	case opPairDelete:
		a, bb := pairKeys(o.key)
		if err := b.Delete(a); err != nil {
			return nil, err
		}
		return nil, b.Delete(bb)
	case opExpireSet:
		k := keyOf(prefixExpiring, o.key)
		if err := b.Set(k, []byte(o.value)); err != nil {
			return nil, err
		}
		_, err := b.Expire(k, b.Now()+uint64(o.by))
		return nil, err
	case opExpire:
		_, err := b.Expire(keyOf(prefixExpiring, o.key), b.Now()+uint64(o.by))
		return nil, err
	case opPersist:
		_, err := b.Persist(keyOf(prefixExpiring, o.key))
		return nil, err
	case opReclaim:
		_, err := b.Reclaim(keyOf(prefixExpiring, o.key))
		return nil, err
	case opZAdd:
		_, err := b.ZAdd(keyOf(prefixZSet, o.key), []byte("m"+strconv.Itoa(o.member)), float64(o.by)/4)
		return nil, err
	case opZIncr:
		_, err := b.ZIncrement(keyOf(prefixZSet, o.key), []byte("m"+strconv.Itoa(o.member)), float64(o.by))
		return nil, err
	case opZRem:
		if o.member == 5 {
			return nil, b.Delete(keyOf(prefixZSet, o.key))
		}
		_, err := b.ZRemove(keyOf(prefixZSet, o.key), []byte("m"+strconv.Itoa(o.member)))
		return nil, err
	case opStreamAdd:
		k := keyOf(prefixStream, o.key)
		if _, err := b.StreamAdd(k, crdt.StreamIDAuto, crdt.StreamID{}, [][]byte{[]byte("v"), []byte(o.value)}); err != nil {
			return nil, err
		}
		if o.member%4 == 0 {
			_, err := b.StreamTrim(k, crdt.StreamTrim{MaxLen: 3})
			return nil, err
		}
		return nil, nil
	case opStreamDel:
		k := keyOf(prefixStream, o.key)
		if o.member%4 == 0 {
			return nil, b.Delete(k)
		}
		var oldest []crdt.StreamID
		b.Get(k).StreamRange(crdt.StreamID{}, crdt.StreamID{Ms: ^uint64(0), Seq: ^uint64(0)}, false, func(e crdt.StreamEntry) bool {
			oldest = append(oldest, e.ID)
			return false
		})
		_, err := b.StreamDelete(k, oldest...)
		return nil, err
	case opListPush:
		k := keyOf(prefixList, o.key)
		if v := b.Get(k); o.member == 5 && v != nil && v.Type() == crdt.TypeList {
			_, err := b.ListInsert(k, v.ListLen()/2, []byte(o.value))
			return nil, err
		}
		_, err := b.ListPush(k, o.member%2 == 0, []byte(o.value))
		return nil, err
	case opListPop:
		k := keyOf(prefixList, o.key)
		v := b.Get(k)
		switch {
		case o.member == 0:
			return nil, b.Delete(k)
		case v == nil || v.Type() != crdt.TypeList:
			return nil, nil
		case o.member == 1:
			return nil, b.ListSet(k, v.ListLen()-1, []byte(o.value))
		case o.member == 2:
			_, err := b.ListTrim(k, 0, 2)
			return nil, err
		}
		_, err := b.ListPop(k, o.member%2 == 0, 1)
		return nil, err
	case opBCCreate, opBCIncr, opBCDecr, opBCRebalance:
		return nil, o.buildBCounter(b)
	}
	panic("sim: unknown op kind")
}

// buildBCounter builds a bounded-counter op. The refusals a client sees
// (no counter yet, one already there, rights short) write nothing, or a
// want, and are not errors of the replica.
func (o op) buildBCounter(b *crdt.Builder) error {
	k := keyOf(prefixBCounter, o.key)
	var err error
	switch o.kind {
	case opBCCreate:
		if o.member == 5 {
			return b.Delete(k)
		}
		err = b.BCounterCreate(k, 0, 20)
	case opBCIncr:
		_, err = b.BCounterIncrement(k, o.by)
	case opBCDecr:
		_, err = b.BCounterDecrement(k, o.by)
		if errors.Is(err, crdt.ErrBCounterInsufficient) {
			err = b.BCounterWant(k, o.by)
		}
	case opBCRebalance:
		if o.member == 5 {
			_, err = b.BCounterWithdraw(k)
			break
		}
		_, err = b.BCounterRebalance(k)
	}
	if errors.Is(err, crdt.ErrBCounterMissing) || errors.Is(err, crdt.ErrBCounterExists) {
		return nil
	}
	return err
}
