package crdt

import (
	"fmt"
	"testing"
)

// TestRange: bytewise order from the first key ≥ from, hidden keys
// skipped, early stop honoured.
func TestRange(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "SET b 1", "SET a 1", "SADD d m", "INCR c", "DEL c", "HSET e f v", "SET ab 1")
	var got []string
	r.ks.Range(nil, func(k []byte, v *Value) bool { got = append(got, string(k)); return true })
	if fmt.Sprint(got) != "[a ab b d e]" {
		t.Fatalf("Range(nil) = %v", got)
	}
	got = nil
	r.ks.Range([]byte("aa"), func(k []byte, v *Value) bool { got = append(got, string(k)); return len(got) < 2 })
	if fmt.Sprint(got) != "[ab b]" {
		t.Fatalf("Range(aa) with stop = %v", got)
	}
	if r.ks.Len() != 5 || r.ks.Get([]byte("c")) != nil || r.ks.KeyHash([]byte("c")) == 0 {
		t.Fatalf("hidden counter: Len %d, Get %v, KeyHash %x", r.ks.Len(), r.ks.Get([]byte("c")), r.ks.KeyHash([]byte("c")))
	}
	if r.ks.KeyHash([]byte("zz")) != 0 {
		t.Fatal("KeyHash of an absent key is not 0")
	}
}

// TestConcurrentReaders: the read methods do not mutate the keyspace, so
// readers may share it while nothing writes (run with -race).
func TestConcurrentReaders(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "SET s v", "INCR c", "SADD set a b c", "HSET h f v", "HINCRBY h n 2")
	done := make(chan string)
	for g := 0; g < 4; g++ {
		go func() {
			var out string
			for i := 0; i < 100; i++ {
				out = ""
				r.ks.Range(nil, func(k []byte, v *Value) bool {
					out += string(k) + ":" + v.Type().String() + " "
					v.Register()
					v.Counter()
					v.Members(func([]byte) bool { return true })
					v.Fields(func([]byte, *Value) bool { return true })
					return true
				})
				out += fmt.Sprint(r.ks.Hash(), r.ks.Len(), len(r.ks.AppendBinary(nil)))
			}
			done <- out
		}()
	}
	first := <-done
	for g := 1; g < 4; g++ {
		if got := <-done; got != first {
			t.Fatalf("readers disagree: %q vs %q", got, first)
		}
	}
}
