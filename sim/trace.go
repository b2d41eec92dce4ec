package sim

import "github.com/cespare/xxhash/v2"

// Event kinds folded into the trace hash. Append only: renumbering changes
// every recorded trace hash.
const (
	evTick uint64 = iota + 1
	evDeliver
	evPropose
	evAck
	evRead
	evLinkBreak
	evPartition
	evHeal
	evPause
	evResume
	evCrash
	evRestart
	evClockJump
	evSync
	evRemove
	evStepError
	evDrop
	evDuplicate
	evKill
	evPhase
	evReplicaEvent
	evJoin
	evLeave
	evFail
)

// trace folds every event the simulator processes into one running
// 64-bit hash. Two runs of one seed must fold the same events in the same
// order; a different hash means the simulation is not deterministic (or
// the code changed). It is a checksum of behaviour, not a security hash.
type trace struct {
	h      uint64
	events uint64
}

const (
	traceMul1 = 0x9e3779b97f4a7c15
	traceMul2 = 0xbf58476d1ce4e5b9
)

// word folds one 64-bit value.
func (t *trace) word(w uint64) {
	h := (t.h ^ w) * traceMul1
	h ^= h >> 31
	h *= traceMul2
	t.h = h ^ h>>29
}

// event folds an event kind and its arguments.
func (t *trace) event(kind uint64, args ...uint64) {
	t.events++
	t.word(kind)
	for _, a := range args {
		t.word(a)
	}
}

// bytes folds a byte string (a frame's payload) by its xxhash.
func (t *trace) bytes(b []byte) {
	t.word(uint64(len(b)))
	t.word(xxhash.Sum64(b))
}

// Sum returns the hash so far.
func (t *trace) sum() uint64 { return t.h }
