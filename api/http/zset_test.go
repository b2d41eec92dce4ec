package httpapi

import (
	"context"
	"math"
	"testing"

	"github.com/spooksystems/spook/crdt"
)

// TestKVZSet: a sorted set's JSON document lists its members in rank
// order with their scores, infinities as strings.
func TestKVZSet(t *testing.T) {
	f := start(t, Config{})
	_, err := f.backend.Update(context.Background(), func(b *crdt.Builder) error {
		for _, p := range []struct {
			m string
			s float64
		}{{"b", 2.5}, {"a", 1}, {"top", math.Inf(1)}} {
			if _, err := b.ZAdd([]byte("z"), []byte(p.m), p.s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"key":"z","type":"zset","zset":[{"member":"a","score":1},{"member":"b","score":2.5},{"member":"top","score":"inf"}]}`
	f.expect(200, want, "GET", "/v1/kv/z", "")
}

// TestTxnZSet: /v1/txn's sorted-set operations.
func TestTxnZSet(t *testing.T) {
	f := start(t, Config{})
	f.expect(200, "", "POST", "/v1/txn", `[
		{"op":"zadd","key":"b","members":["ann","bob"],"score":10},
		{"op":"zincrby","key":"b","members":["bob"],"score":2.5},
		{"op":"zincrby","key":"b","members":["cy"]},
		{"op":"zrem","key":"b","members":["ann","nope"]}
	]`)
	f.expect(200, `{"key":"b","type":"zset","zset":[{"member":"cy","score":1},{"member":"bob","score":12.5}]}`, "GET", "/v1/kv/b", "")
	f.expect(409, "", "POST", "/v1/txn", `[{"op":"set","key":"s","value":"x"},{"op":"zadd","key":"s","members":["m"],"score":1}]`)
	f.expect(400, "", "POST", "/v1/txn", `[{"op":"zadd","key":"b","members":["m"]}]`)
	f.expect(400, "", "POST", "/v1/txn", `[{"op":"zincrby","key":"b","members":["m","n"]}]`)
}
