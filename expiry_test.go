package spook_test

import (
	"context"
	"testing"
	"time"

	"github.com/spooksystems/spook"
)

// TestGetHidesExpiredKeys: DB.Get reads an expired key as absent, as
// every other read path does.
func TestGetHidesExpiredKeys(t *testing.T) {
	db, err := spook.Open(spook.Config{Name: "solo", Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var deadline uint64
	_, err = db.Update(context.Background(), func(tx *spook.Tx) error {
		if err := tx.Set([]byte("k"), []byte("v")); err != nil {
			return err
		}
		deadline = tx.Now() + 50
		_, err := tx.Expire([]byte("k"), deadline)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := db.Get([]byte("k")); !ok || string(v) != "v" {
		t.Fatalf("Get before the deadline = %q, %v", v, ok)
	}
	// Between the deadline and the reclaiming DEL (up to a sweep later)
	// the key must read as absent too.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		now := uint64(time.Now().UnixMilli())
		if v, ok := db.Get([]byte("k")); ok && now >= deadline {
			t.Fatalf("Get %d ms after the deadline = %q, want absent", now-deadline, v)
		}
	}
}
