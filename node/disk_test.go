package node

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
)

// TestDiskDrainsAndStopsAfterLoop checks that the disk goroutine, once the
// loop has ended, writes the jobs still queued and then returns (so Close
// does not hang). The loop's end and the queued job's wake-up are both
// ready when it starts, so either may be seen first; each way is tried.
func TestDiskDrainsAndStopsAfterLoop(t *testing.T) {
	for i := 0; i < 20; i++ {
		store, err := storage.OpenStore(vfs.OS{}, t.TempDir(), storage.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := &Node{loopDone: make(chan struct{}), synced: make(chan syncDone, 1),
			log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		d := newDisk(store)
		d.submit(diskJob{records: [][]byte{[]byte("record")}, upTo: 1})
		close(n.loopDone)
		n.wg.Add(1)
		stopped := make(chan struct{})
		go func() { n.runDisk(d); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Fatalf("run %d: the disk goroutine did not stop after the loop ended", i)
		}
		if got := store.Log().LastIndex(); got != 1 {
			t.Fatalf("run %d: log holds %d records, want the queued 1", i, got)
		}
		store.Close()
	}
}
