package httpapi

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/spooksystems/spook/crdt"
)

// TestKVExpiry: a key with a deadline shows it in its JSON document, and
// once the deadline has passed GET answers 404 like for an absent key.
func TestKVExpiry(t *testing.T) {
	f := start(t, Config{})
	var deadline uint64
	_, err := f.backend.Update(context.Background(), func(b *crdt.Builder) error {
		if err := b.Set([]byte("e"), []byte("v")); err != nil {
			return err
		}
		deadline = b.Now() + 60
		_, err := b.Expire([]byte("e"), deadline)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.expect(200, `{"key":"e","type":"register","value":"v","deadline_ms":`+strconv.FormatUint(deadline, 10)+`}`,
		"GET", "/v1/kv/e", "", "Accept", "application/json")
	time.Sleep(120 * time.Millisecond)
	f.expect(404, `{"error":{"code":"not_found","message":"no such key"}}`, "GET", "/v1/kv/e", "")
}
