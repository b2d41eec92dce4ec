package crdt

import (
	"bytes"
	"slices"
	"strconv"
	"unsafe"
)

// smallIndex is how many keys, members or fields a Builder scans linearly
// before it builds a map index: most transactions touch one key.
const smallIndex = 8

// Builder assembles one transaction. Each operation sees the keyspace plus
// the operations before it in the same transaction (so INCR twice adds
// twice, SADD then SREM of one member cancels). Nothing changes the
// keyspace until the caller applies the result of Finish. An operation
// that fails (overflow, limits, not an integer, wrong type) returns an
// error and leaves the builder as it was before that operation.
//
// Cost: an operation is O(1) amortized in the size of the value it
// touches (SADD of one member to a large set looks the member up, it does
// not copy the set); Delete and Set of a map are O(its counter fields).
// Get materializes the key's value as the transaction sees it: a copy of
// the stored value with the pending operation applied, O(value size),
// cached until the next operation on that key.
//
// The Builder copies every key, member and value passed to it.
type Builder struct {
	ks       *Keyspace
	txn      Txn
	hdr      txnHeader
	keys     []*keyBuild
	index    map[string]*keyBuild // by key once len(keys) > smallIndex
	arena    []byte               // copies of caller bytes
	ops      int                  // member and field slots, bounded by MaxTxnOps
	scratch  counter              // counter views
	h        hasher
	finished bool
	// kbChunk is storage for the next keyBuilds: allocated a chunk at a
	// time (maxKeyBuildChunk), so a pipelined batch of single-key writes
	// does not cost one allocation per key.
	kbChunk []keyBuild
	// spare is a keyBuild taken from kbChunk by prepare and not yet filed
	// by commit (the operation failed): the next prepare reuses it.
	spare *keyBuild

	// Inline storage for the common single-key transaction, so building
	// one costs two allocations (the Builder and its Deps).
	firstKey   keyBuild
	keysBuf    [1]*keyBuild
	opsBuf     [1]keyOp
	arenaBuf   [128]byte
	scratchBuf [4]counterNode
}

// keyBuild is the pending operation on one key plus what the Builder needs
// to answer questions about the key as the transaction sees it.
type keyBuild struct {
	key     []byte
	base    *Value // the keyspace's value, hidden parts included; nil if none
	op      valueOp
	members nameIndex // op.set.members by member
	fields  nameIndex // op.mp.fields by name
	setLive int       // members of the set as the transaction sees it
	mapLive int       // live fields as the transaction sees it
	view    *Value    // Get's materialization; nil when stale
	expired bool      // base had expired at the transaction's time: op starts as its clear
	list    *listView // list view and offsets (sequence_build.go); nil until used
	text    *textView // text view and offsets; nil until used
	zs      *zsBuild  // sorted-set bookkeeping (zset.go); nil if none
}

// nameIndex maps names to slot indexes once there are more than
// smallIndex slots.
type nameIndex map[string]int

func (b *Builder) check() {
	if b.finished {
		panic("crdt: Builder used after Finish")
	}
}

// copy returns a copy of p in the builder's arena. Large values get their
// own allocation so the arena stays small.
func (b *Builder) copy(p []byte) []byte {
	if len(p) > 1024 {
		return bytes.Clone(p)
	}
	if b.arena == nil {
		b.arena = b.arenaBuf[:0]
	}
	if cap(b.arena)-len(b.arena) < len(p) {
		size := max(256, 2*cap(b.arena), len(p))
		b.arena = make([]byte, 0, min(size, 64<<10))
	}
	n := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[n : n+len(p) : n+len(p)]
}

// maxKeyBuildChunk bounds how many keyBuilds the Builder allocates at once
// (chunks double from 4 up to this), so a transaction of a few keys does
// not allocate room for many.
const maxKeyBuildChunk = 64

// newKeyBuild returns storage for one more keyBuild.
func (b *Builder) newKeyBuild() *keyBuild {
	if len(b.kbChunk) == cap(b.kbChunk) {
		b.kbChunk = make([]keyBuild, 0, min(max(4, 2*cap(b.kbChunk)), maxKeyBuildChunk))
	}
	b.kbChunk = b.kbChunk[:len(b.kbChunk)+1]
	return &b.kbChunk[len(b.kbChunk)-1]
}

// indexKey is kb's key as a map key without a copy: kb.key is the
// Builder's own copy (commit), never written after.
func indexKey(kb *keyBuild) string {
	return unsafe.String(unsafe.SliceData(kb.key), len(kb.key))
}

// find returns the pending operation on key, or nil.
func (b *Builder) find(key []byte) *keyBuild {
	if b.index != nil {
		return b.index[string(key)]
	}
	for _, kb := range b.keys {
		if bytes.Equal(kb.key, key) {
			return kb
		}
	}
	return nil
}

// prepare returns the pending operation on key, or a new detached one
// (added by commit once the operation succeeds).
func (b *Builder) prepare(key []byte) (*keyBuild, bool, error) {
	if len(key) > MaxKeyBytes {
		return nil, false, ErrKeyTooLong
	}
	if kb := b.find(key); kb != nil {
		return kb, false, nil
	}
	if len(b.keys) >= MaxTxnKeys {
		return nil, false, ErrTxnTooBig
	}
	var kb *keyBuild
	if len(b.keys) == 0 {
		kb = &b.firstKey // referenced only once committed, so free until then
	} else if kb = b.spare; kb == nil {
		kb = b.newKeyBuild()
		b.spare = kb // until commit files it
	}
	*kb = keyBuild{key: key, base: b.ks.lookup(key)}
	if kb.base.Reclaimable(b.txn.Time.WallMs) {
		if err := b.clearExpired(kb); err != nil {
			return nil, false, err
		}
		return kb, true, nil
	}
	if kb.base != nil {
		if kb.base.oset() != nil {
			kb.setLive = len(kb.base.oset().members)
		}
		if kb.base.omap() != nil {
			kb.mapLive = kb.base.omap().live
		}
		kb.initZSet()
	}
	return kb, true, nil
}

// commit files a new keyBuild and invalidates the key's view.
func (b *Builder) commit(kb *keyBuild, fresh bool) {
	kb.view = nil
	if !fresh {
		return
	}
	kb.key = b.copy(kb.key)
	if kb == b.spare {
		b.spare = nil
	}
	if b.keys == nil {
		b.keys = b.keysBuf[:0]
	}
	b.keys = append(b.keys, kb)
	switch {
	case b.index != nil:
		b.index[indexKey(kb)] = kb
	case len(b.keys) > smallIndex:
		b.index = make(map[string]*keyBuild, 2*len(b.keys))
		for _, k := range b.keys {
			b.index[indexKey(k)] = k
		}
	}
}

// slots is how many member and field slots kb holds (MaxTxnOps).
func (kb *keyBuild) slots() int {
	n := 0
	if kb.op.set != nil {
		n += len(kb.op.set.members)
	}
	if kb.op.mp != nil {
		n += len(kb.op.mp.fields)
	}
	if kb.op.zset != nil {
		n += len(kb.op.zset.members)
	}
	return n + seqSlots(&kb.op)
}

// regValue is the LWW register value as the transaction sees it.
func (kb *keyBuild) regValue() ([]byte, bool) {
	switch {
	case kb.op.flags&opRegSet != 0:
		return kb.op.value, true
	case kb.op.flags&opRegClear != 0:
		return nil, false // every stored entry was observed
	}
	return kb.base.Register()
}

// counterView returns the key's counter as the transaction sees it, in
// the builder's scratch (valid until the next call).
func (b *Builder) counterView(kb *keyBuild) *counter {
	c := &b.scratch
	if c.nodes == nil {
		c.nodes = b.scratchBuf[:0]
	}
	c.nodes = c.nodes[:0]
	if kb.base != nil && kb.base.ctr() != nil {
		c.nodes = append(c.nodes, kb.base.ctr().nodes...)
	}
	for _, r := range kb.op.resets {
		c.reset(r)
	}
	if kb.op.flags&opCounterInc != 0 {
		c.increment(counterDelta{node: b.txn.Dot.Node, k: b.txn.Dot.Counter, sum: kb.op.sum})
	}
	return c
}

// typeView is the key's visible type as the transaction sees it.
func (b *Builder) typeView(kb *keyBuild) Type {
	switch {
	case b.bcView(kb) != nil:
		return TypeBCounter
	case kb.streamPresent():
		return TypeStream
	case b.textLen(kb) > 0:
		return TypeText
	case b.listLen(kb) > 0:
		return TypeList
	case kb.zsLive() > 0:
		return TypeZSet
	case kb.mapLive > 0:
		return TypeMap
	case kb.setLive > 0:
		return TypeSet
	case b.counterView(kb).live():
		return TypeCounter
	}
	if _, ok := kb.regValue(); ok {
		return TypeRegister
	}
	return TypeNone
}

// clearValue makes op remove every observed component of base (and
// forget the transaction's own pending entries): the operation of DEL, and
// the first half of SET. dotsCleared says a map-level clear already
// removes base's register and set entries (a field of a cleared map).
func clearValue(op *valueOp, base *Value, dotsCleared bool) {
	op.flags, op.value, op.sum, op.deadline = 0, nil, 0, 0
	op.resets = op.resets[:0]
	op.set, op.mp, op.zset, op.stream, op.bcounter = nil, nil, nil, nil, nil
	clearSeqs(op, base)
	if base == nil {
		return
	}
	if base.bc() != nil {
		op.bcounter = &bcounterOp{clear: true}
	}
	clearZSet(op, base)
	if base.strm() != nil {
		op.stream = &streamOp{clear: true}
	}
	if len(base.expiry()) > 0 {
		op.flags |= opExpiry
	}
	if !dotsCleared && base.reg.len() > 0 {
		op.flags |= opRegClear
	}
	op.resets = base.ctr().observedResets(op.resets)
	if !dotsCleared && base.oset() != nil {
		op.set = &setOp{observed: true}
	}
	if base.omap() != nil {
		op.mp = &mapOp{observed: true}
		for name, f := range base.omap().fields {
			if f.ctr() != nil && f.ctr().live() {
				fo := fieldOp{name: bytesOf(name)}
				fo.op.resets = f.ctr().observedResets(nil)
				op.mp.fields = append(op.mp.fields, fo)
			}
		}
	}
}

// liveCounterFields counts the map fields a clear of base must list.
func liveCounterFields(base *Value) int {
	n := 0
	if base != nil && base.omap() != nil {
		for _, f := range base.omap().fields {
			if f.ctr() != nil && f.ctr().live() {
				n++
			}
		}
	}
	return n + liveZSetIncs(base)
}

// clearKey makes kb's operation a clear of the whole key.
func (b *Builder) clearKey(kb *keyBuild) error {
	before := kb.slots()
	if b.ops-before+liveCounterFields(kb.base) > MaxTxnOps {
		return ErrTxnTooBig
	}
	clearValue(&kb.op, kb.base, false)
	kb.list, kb.text = nil, nil
	kb.members, kb.fields = nil, nil
	kb.setLive, kb.mapLive = 0, 0
	kb.zs = nil
	b.ops += kb.slots() - before
	return nil
}

// Set overwrites key with a register holding value (Redis SET): it
// removes every observed component of the key, of any type.
func (b *Builder) Set(key, value []byte) error {
	b.check()
	if len(value) > MaxValueBytes {
		return ErrTooLarge
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return err
	}
	if err := b.clearKey(kb); err != nil {
		return err
	}
	kb.op.flags |= opRegSet
	kb.op.value = b.copy(value)
	b.commit(kb, fresh)
	return nil
}

// Delete removes every observed component of key (Redis DEL). Deleting a
// key that holds nothing live records nothing.
func (b *Builder) Delete(key []byte) error {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return err
	}
	if fresh && !kb.expired && (kb.base == nil || !kb.base.live()) {
		return nil // nothing observed to remove (a hidden counter is already reset everywhere)
	}
	if err := b.clearKey(kb); err != nil {
		return err
	}
	b.commit(kb, fresh)
	return nil
}

// parseInteger parses a register value as Redis does for INCR: a
// canonical decimal int64 (no sign on zero, no leading zeros, no spaces).
func parseInteger(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, false
	}
	var buf [20]byte
	return n, bytes.Equal(strconv.AppendInt(buf[:0], n, 10), s)
}

// recordIncrement records in op this transaction's increment planned as
// p on counter c (as the transaction sees it). A rebasing increment (see
// counter.plan) also resets the other nodes' live entries.
func (b *Builder) recordIncrement(op *valueOp, c *counter, p counterPlan) {
	if p.rebase {
		op.resets = c.rebaseResets(op.resets, b.txn.Dot.Node)
	}
	op.flags |= opCounterInc
	op.sum = p.sum
}

// Increment adds by to the counter at key (Redis INCRBY) and returns the
// new value. If the key holds a register whose value is a decimal integer,
// that register is replaced by a counter starting from its value (as Redis
// does); a non-integer register returns ErrNotInteger, a set or map
// ErrWrongType. ErrOverflow means the visible value would leave int64;
// nothing else (no history of the key before a clear) limits it.
func (b *Builder) Increment(key []byte, by int64) (int64, error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	var start int64
	convert := false
	switch b.typeView(kb) {
	case TypeNone, TypeCounter:
	case TypeRegister:
		s, _ := kb.regValue()
		n, ok := parseInteger(s)
		if !ok {
			return 0, ErrNotInteger
		}
		start, convert = n, true
	default:
		return 0, ErrWrongType
	}
	c := b.counterView(kb)
	p, err := c.plan(b.txn.Dot.Node, start, by)
	if err != nil {
		return 0, err
	}
	b.recordIncrement(&kb.op, c, p)
	if convert {
		kb.op.flags &^= opRegSet
		kb.op.value = nil
		if kb.base != nil && kb.base.reg.len() > 0 {
			kb.op.flags |= opRegClear
		}
	}
	b.commit(kb, fresh)
	return p.value, nil
}

// typed checks that the key's visible type is t or none, as an operation
// on a t requires (Redis's WRONGTYPE).
func (b *Builder) typed(kb *keyBuild, t Type) error {
	switch b.typeView(kb) {
	case TypeNone, t:
		return nil
	}
	return ErrWrongType
}

// findSlot returns the position of name among items (an operation's set
// members or map fields), through index once there are more than
// smallIndex of them, or -1.
func findSlot[T any](items []T, index nameIndex, name []byte, nameOf func(*T) []byte) int {
	if index != nil {
		if i, ok := index[string(name)]; ok {
			return i
		}
		return -1
	}
	for i := range items {
		if bytes.Equal(nameOf(&items[i]), name) {
			return i
		}
	}
	return -1
}

// appendSlot appends item to items and keeps index in step, building it
// when the slice outgrows smallIndex. It returns item's position.
func appendSlot[T any](items *[]T, index *nameIndex, item T, nameOf func(*T) []byte) int {
	*items = append(*items, item)
	i := len(*items) - 1
	switch {
	case *index != nil:
		(*index)[string(nameOf(&(*items)[i]))] = i
	case len(*items) > smallIndex:
		*index = make(nameIndex, 2*len(*items))
		for j := range *items {
			(*index)[string(nameOf(&(*items)[j]))] = j
		}
	}
	return i
}

func memberName(m *memberOp) []byte { return m.member }
func fieldName(f *fieldOp) []byte   { return f.name }

// findMember returns the slot of member in kb's set operation, or -1.
func (kb *keyBuild) findMember(member []byte) int {
	if kb.op.set == nil {
		return -1
	}
	return findSlot(kb.op.set.members, kb.members, member, memberName)
}

// memberSlot returns the slot of member, adding one if absent.
func (b *Builder) memberSlot(kb *keyBuild, member []byte) *memberOp {
	if kb.op.set == nil {
		kb.op.set = &setOp{}
	}
	i := kb.findMember(member)
	if i < 0 {
		i = appendSlot(&kb.op.set.members, &kb.members, memberOp{member: b.copy(member)}, memberName)
		b.ops++
	}
	return &kb.op.set.members[i]
}

// baseHasMember reports whether the stored set holds member.
func (kb *keyBuild) baseHasMember(member []byte) bool {
	return kb.base != nil && kb.base.Contains(member)
}

// memberPresent reports whether member is in the set as the transaction
// sees it.
func (kb *keyBuild) memberPresent(member []byte) bool {
	if i := kb.findMember(member); i >= 0 {
		m := &kb.op.set.members[i]
		if m.add {
			return true
		}
		if m.observed {
			return false
		}
	}
	if kb.op.set != nil && kb.op.set.observed {
		return false
	}
	return kb.baseHasMember(member)
}

// SetAdd adds members to the set at key; it returns how many were absent.
func (b *Builder) SetAdd(key []byte, members ...[]byte) (int, error) {
	b.check()
	for _, m := range members {
		if len(m) > MaxValueBytes {
			return 0, ErrTooLarge
		}
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	if err := b.typed(kb, TypeSet); err != nil {
		return 0, err
	}
	if b.ops+len(members) > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	if kb.setLive+len(members) > MaxSetMembers {
		return 0, ErrTooLarge
	}
	added := 0
	for _, m := range members {
		present := kb.memberPresent(m)
		slot := b.memberSlot(kb, m)
		slot.add = true
		slot.observed = !kb.op.set.observed && kb.baseHasMember(m)
		if !present {
			added++
			kb.setLive++
		}
	}
	if len(members) > 0 {
		b.commit(kb, fresh)
	}
	return added, nil
}

// SetRemove removes the observed members; it returns how many were
// present. On a key of another type it returns ErrWrongType.
func (b *Builder) SetRemove(key []byte, members ...[]byte) (int, error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	if err := b.typed(kb, TypeSet); err != nil {
		return 0, err
	}
	if b.ops+len(members) > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	removed := 0
	for _, m := range members {
		if !kb.memberPresent(m) {
			continue
		}
		slot := b.memberSlot(kb, m)
		slot.add = false
		slot.observed = !kb.op.set.observed && kb.baseHasMember(m)
		removed++
		kb.setLive--
	}
	if removed > 0 {
		b.commit(kb, fresh)
	}
	return removed, nil
}

// findField returns the slot of field in kb's map operation, or -1.
func (kb *keyBuild) findField(name []byte) int {
	if kb.op.mp == nil {
		return -1
	}
	return findSlot(kb.op.mp.fields, kb.fields, name, fieldName)
}

// fieldSlot returns the slot of field, adding one if absent.
func (b *Builder) fieldSlot(kb *keyBuild, name []byte) *fieldOp {
	if kb.op.mp == nil {
		kb.op.mp = &mapOp{}
	}
	i := kb.findField(name)
	if i < 0 {
		i = appendSlot(&kb.op.mp.fields, &kb.fields, fieldOp{name: b.copy(name)}, fieldName)
		b.ops++
	}
	return &kb.op.mp.fields[i]
}

// baseField returns the stored value of a field (hidden included), or nil.
func (kb *keyBuild) baseField(name []byte) *Value {
	if kb.base == nil || kb.base.omap() == nil {
		return nil
	}
	return kb.base.omap().fields[string(name)]
}

// fieldView materializes a field as the transaction sees it. Fields hold
// registers and counters (small), so the copy is cheap.
func (b *Builder) fieldView(kb *keyBuild, name []byte) *Value {
	v := kb.baseField(name).clone()
	if kb.op.mp != nil && kb.op.mp.observed {
		v.clearDots(b.hdr.deps, &b.h)
	}
	if i := kb.findField(name); i >= 0 {
		applyOp(v, &kb.op.mp.fields[i].op, &b.hdr, &b.h)
	}
	return v
}

func (kb *keyBuild) dotsCleared() bool { return kb.op.mp != nil && kb.op.mp.observed }

// MapSet sets a map field to a register holding value; it returns whether
// the field was absent (Redis HSET counts new fields). The field's
// observed components of any type are removed, as SET does for a key.
func (b *Builder) MapSet(key, field, value []byte) (bool, error) {
	b.check()
	if len(field) > MaxKeyBytes {
		return false, ErrKeyTooLong
	}
	if len(value) > MaxValueBytes {
		return false, ErrTooLarge
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return false, err
	}
	if err := b.typed(kb, TypeMap); err != nil {
		return false, err
	}
	if b.ops+1 > MaxTxnOps {
		return false, ErrTxnTooBig
	}
	wasLive := b.fieldView(kb, field).live()
	if !wasLive && kb.mapLive+1 > MaxMapFields {
		return false, ErrTooLarge
	}
	slot := b.fieldSlot(kb, field)
	clearValue(&slot.op, kb.baseField(field), kb.dotsCleared())
	slot.op.flags |= opRegSet
	slot.op.value = b.copy(value)
	if !wasLive {
		kb.mapLive++
	}
	b.commit(kb, fresh)
	return !wasLive, nil
}

// MapIncrement adds by to a counter map field (Redis HINCRBY), converting
// an integer register field as Increment does.
func (b *Builder) MapIncrement(key, field []byte, by int64) (int64, error) {
	b.check()
	if len(field) > MaxKeyBytes {
		return 0, ErrKeyTooLong
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	if err := b.typed(kb, TypeMap); err != nil {
		return 0, err
	}
	if b.ops+1 > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	fv := b.fieldView(kb, field)
	var start int64
	convert := false
	switch fv.Type() {
	case TypeSet:
		return 0, ErrWrongType
	case TypeRegister:
		s, _ := fv.Register()
		n, ok := parseInteger(s)
		if !ok {
			return 0, ErrNotInteger
		}
		start, convert = n, true
	}
	p, err := fv.ctr().plan(b.txn.Dot.Node, start, by)
	if err != nil {
		return 0, err
	}
	wasLive := fv.live()
	if !wasLive && kb.mapLive+1 > MaxMapFields {
		return 0, ErrTooLarge
	}
	slot := b.fieldSlot(kb, field)
	b.recordIncrement(&slot.op, fv.ctr(), p)
	if convert {
		slot.op.flags &^= opRegSet
		slot.op.value = nil
		if bf := kb.baseField(field); bf != nil && bf.reg.len() > 0 && !kb.dotsCleared() {
			slot.op.flags |= opRegClear
		}
	}
	if !wasLive {
		kb.mapLive++
	}
	b.commit(kb, fresh)
	return p.value, nil
}

// MapDelete removes the observed fields; it returns how many were present.
func (b *Builder) MapDelete(key []byte, fields ...[]byte) (int, error) {
	b.check()
	for _, f := range fields {
		if len(f) > MaxKeyBytes {
			return 0, ErrKeyTooLong
		}
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	if err := b.typed(kb, TypeMap); err != nil {
		return 0, err
	}
	if b.ops+len(fields) > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	removed := 0
	for _, f := range fields {
		if !b.fieldView(kb, f).live() {
			continue
		}
		slot := b.fieldSlot(kb, f)
		clearValue(&slot.op, kb.baseField(f), kb.dotsCleared())
		kb.mapLive--
		removed++
	}
	if removed > 0 {
		b.commit(kb, fresh)
	}
	return removed, nil
}

// Get reads key as this transaction sees it so far (keyspace plus earlier
// operations of the transaction), or nil if nothing is live. The value is
// valid until the next operation on the builder.
func (b *Builder) Get(key []byte) *Value {
	b.check()
	kb := b.find(key)
	if kb == nil {
		if v := b.ks.Get(key); v != nil && !v.Expired(b.txn.Time.WallMs) {
			return v
		}
		return nil
	}
	if kb.view == nil {
		v := kb.base.clone()
		applyOp(v, &kb.op, &b.hdr, &b.h)
		kb.view = v
	}
	if !kb.view.live() {
		return nil
	}
	return kb.view
}

// Empty reports whether the transaction changes nothing yet.
func (b *Builder) Empty() bool {
	b.check()
	for _, kb := range b.keys {
		if !kb.op.empty() {
			return false
		}
	}
	return true
}

// Finish returns the transaction: operations sorted by key, members and
// fields sorted, emptied slots dropped. The builder must not be used after.
func (b *Builder) Finish() *Txn {
	b.check()
	b.finished = true
	ops := b.opsBuf[:0]
	if len(b.keys) > len(b.opsBuf) {
		ops = make([]keyOp, 0, len(b.keys))
	}
	for _, kb := range b.keys {
		normalize(&kb.op)
		if !kb.op.empty() {
			ops = append(ops, keyOp{key: kb.key, op: kb.op})
		}
	}
	slices.SortFunc(ops, func(x, y keyOp) int { return bytes.Compare(x.key, y.key) })
	b.txn.ops = ops
	return &b.txn
}

// normalize puts op in canonical form: empty member and field slots
// dropped, the rest sorted, empty set and map operations removed.
func normalize(op *valueOp) {
	if len(op.resets) == 0 {
		op.resets = nil
	}
	normalizeZSet(op)
	if op.stream != nil && op.stream.empty() {
		op.stream = nil
	}
	if op.bcounter.empty() {
		op.bcounter = nil
	}
	if s := op.set; s != nil {
		s.members = slices.DeleteFunc(s.members, func(m memberOp) bool { return m.empty() })
		slices.SortFunc(s.members, func(x, y memberOp) int { return bytes.Compare(x.member, y.member) })
		if !s.observed && len(s.members) == 0 {
			op.set = nil
		}
	}
	if m := op.mp; m != nil {
		for i := range m.fields {
			normalize(&m.fields[i].op)
		}
		m.fields = slices.DeleteFunc(m.fields, func(f fieldOp) bool { return f.op.empty() })
		slices.SortFunc(m.fields, func(x, y fieldOp) int { return bytes.Compare(x.name, y.name) })
		if !m.observed && len(m.fields) == 0 {
			op.mp = nil
		}
	}
}
