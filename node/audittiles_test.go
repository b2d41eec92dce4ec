package node

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// httpTiles is an outside auditor's tlog.TileReader: it fetches tiles of
// height h from a node's /v1/audit/tile/ over HTTP and nothing else.
type httpTiles struct {
	base    string
	h       int
	fetched int
}

func (r *httpTiles) Height() int { return r.h }

func (r *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := httpGet(r.base + "/v1/audit/" + t.Path())
		if err != nil {
			return nil, err
		}
		out[i] = data
		r.fetched++
	}
	return out, nil
}

func (r *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body, nil
}

// openTreeHead fetches /v1/audit/checkpoint and checks its signature with
// the member's public key: the auditor's trusted (N, root).
func openTreeHead(t *testing.T, base, name string, pub ed25519.PublicKey) tlog.Tree {
	t.Helper()
	msg, err := httpGet(base + "/v1/audit/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	vk, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vk)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestAuditTiles: an outside auditor with nothing but
// golang.org/x/mod/sumdb fetches a node's signed tree head and tiles
// over HTTP and, through tlog.TileHashReader (which checks every tile
// against the signed root), proves the inclusion of the leaf a key's
// proof names, reads that leaf from a data tile, and proves consistency
// with an older tree head; after retention dropped old records, the hash
// tiles are still served and still check, and the dropped leaves' data
// tile is refused.
func TestAuditTiles(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	n := startRetentionNode(t, dir, keys, AuditRetention{Checkpoints: 1})
	defer n.Close()
	pub := mustPub(t, filepath.Join(keys, "r.pub"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	writeCheckpointed(t, ctx, n, 2)
	base := "http://" + n.Addr()
	old := openTreeHead(t, base, "r", pub)
	writeCheckpointed(t, ctx, n, 3)
	check := func(key string, wantData bool) {
		tree := openTreeHead(t, base, "r", pub)
		var p InclusionProof
		if st := getAuditJSON(t, n, "/v1/audit/proof?key="+key, &p); st != http.StatusOK {
			t.Fatalf("proof of %s: %d", key, st)
		}
		tiles := &httpTiles{base: base, h: 2}
		thr := tlog.TileHashReader(tree, tiles)
		proof, err := tlog.ProveRecord(tree.N, p.LeafIndex, thr)
		if err != nil {
			t.Fatalf("prove leaf %d of %d from tiles: %v", p.LeafIndex, tree.N, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, p.LeafIndex, tlog.RecordHash(p.Leaf)); err != nil {
			t.Fatalf("inclusion from tiles: %v", err)
		}
		cons, err := tlog.ProveTree(tree.N, old.N, thr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(cons, tree.N, tree.Hash, old.N, old.Hash); err != nil {
			t.Fatalf("consistency %d→%d from tiles: %v", old.N, tree.N, err)
		}
		if tiles.fetched == 0 {
			t.Fatal("no tile fetched")
		}
		dt := tlog.TileForIndex(2, tlog.StoredHashIndex(0, p.LeafIndex))
		dt.L = -1
		data, err := httpGet(base + "/v1/audit/" + dt.Path())
		if err != nil {
			t.Fatalf("data tile %s: %v", dt.Path(), err)
		}
		off := (p.LeafIndex - dt.N<<dt.H) * 48
		if string(data[off:off+48]) != string(p.Leaf) {
			t.Fatalf("data tile %s does not hold leaf %d", dt.Path(), p.LeafIndex)
		}
		if wantData {
			return
		}
		first := tlog.Tile{H: 2, L: -1, N: 0, W: 4}
		if _, err := httpGet(base + "/v1/audit/" + first.Path()); err == nil {
			t.Fatal("the dropped leaves' data tile was served")
		}
	}
	check("k2-5", true)
	beyond := tlog.Tile{H: 2, L: 0, N: 1 << 20, W: 4}
	if _, err := httpGet(base + "/v1/audit/" + beyond.Path()); err == nil {
		t.Fatal("a tile beyond the signed tree was served")
	}
	if _, err := n.ApplyAuditRetention(); err != nil {
		t.Fatal(err)
	}
	writeCheckpointed(t, ctx, n, 5) // rounds 0..4 rewritten: the keys' current transactions are recent again
	check("k4-5", false)
}
