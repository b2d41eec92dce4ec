package test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/wire"
)

// handshakeFrame builds one handshake-phase frame as wire/doc.go lays it
// out, for tests that play a hand-made peer.
func handshakeFrame(sequence uint64, typ byte, payload []byte) []byte {
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	seed := crc32.Checksum([]byte("spook handshake"), castagnoli)
	header := binary.BigEndian.AppendUint32(nil, uint32(len(payload)+1))
	header = append(header, typ)
	sum := crc32.Update(seed, castagnoli, binary.BigEndian.AppendUint64(nil, sequence))
	sum = crc32.Update(sum, castagnoli, header)
	sum = crc32.Update(sum, castagnoli, payload)
	frame := append(header, payload...)
	return binary.BigEndian.AppendUint32(frame, sum)
}

// writeClusterKey writes a fresh 32-byte cluster key, hex-encoded, to a
// file in dir and returns its path.
func writeClusterKey(t *testing.T, dir, name string) string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startKeyedCluster runs n nodes with a cluster key, a Redis password and
// an HTTP token, named k1..kn in cluster "keyed", each with a data
// directory.
func startKeyedCluster(t *testing.T, n int, keyFile string, extra ...string) ([]string, []*process) {
	t.Helper()
	var addrs, peers []string
	for i := 0; i < n; i++ {
		a := freePort(t)
		addrs = append(addrs, a)
		peers = append(peers, fmt.Sprintf("k%d=%s", i+1, a))
	}
	var procs []*process
	for i, a := range addrs {
		args := append([]string{"--node-id", fmt.Sprint("k", i+1), "--cluster", "keyed", "--peers", strings.Join(peers, ","),
			"--cluster-key-file", keyFile, "--password", "s3cret", "--token", "tok123",
			"--data", filepath.Join(t.TempDir(), "data"), "--tick", "20ms", "--log-level", "info"}, extra...)
		p := startSpookd(t, a, args...)
		t.Cleanup(p.kill)
		procs = append(procs, p)
	}
	return addrs, procs
}

// httpDo sends one request with the cluster's token and returns status
// and body ("" and the error if the request failed).
func httpDo(method, url string) (int, string, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer tok123")
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), nil
}

// TestStrangerCannotJoinKeyedCluster is the repro of issue 12 item 1: a
// spookd without the cluster key (or with another) joins a cluster whose
// clients need a password and a token. It must be refused at the
// handshake: it gets no snapshot, cannot start, writes nothing, and so
// cannot remove a member through its own HTTP API. Over WebSocket too.
// And a raw stranger opening a peer handshake learns neither the node's
// name nor its cluster (item 3).
func TestStrangerCannotJoinKeyedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	dir := t.TempDir()
	keyFile := writeClusterKey(t, dir, "cluster.key")
	addrs, procs := startKeyedCluster(t, 3, keyFile)
	ctx := context.Background()
	c1 := redis.NewClient(&redis.Options{Addr: addrs[0], Password: "s3cret", Protocol: 2})
	defer c1.Close()
	if err := c1.Set(ctx, "secret", "value", 0).Err(); err != nil {
		t.Fatal(err)
	}

	wrongKey := writeClusterKey(t, dir, "wrong.key")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no key", []string{"--join", addrs[0]}},
		{"wrong key", []string{"--join", addrs[0], "--cluster-key-file", wrongKey}},
		{"no key over websocket", []string{"--join", "ws://" + addrs[0] + "/v1/peer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evil := freePort(t)
			args := append([]string{"--node-id", "evil", "--cluster", "keyed", "--data", filepath.Join(t.TempDir(), "evil"), "--log-level", "info"}, tc.args...)
			out := startSpookdExpectExit(t, evil, args...)
			if !strings.Contains(out, "admission") {
				t.Fatalf("the stranger's refusal does not say why:\n%s", out)
			}
			// It is not running, so nothing reaches the cluster through it.
			if _, _, err := httpDo("DELETE", "http://"+evil+"/v1/members/k3"); err == nil {
				t.Fatal("the refused stranger still serves HTTP")
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	status, body, err := httpDo("GET", "http://"+addrs[0]+"/v1/members")
	if err != nil || status != 200 {
		t.Fatalf("members: %d %v", status, err)
	}
	if strings.Contains(body, "evil") || strings.Count(body, `"state":"removed"`) != 0 {
		t.Fatalf("the stranger left a trace in the membership: %s", body)
	}
	if n, _ := c1.DBSize(ctx).Result(); n != 1 {
		t.Fatalf("k1 holds %d keys, want 1", n)
	}

	// Raw strangers: open peer handshakes by hand and read what comes
	// back. Neither the node's name, its address nor its cluster may be
	// in it. One speaks the version 1 handshake with a guessed cluster,
	// one the version 2 handshake with a made-up proof.
	hello := wire.AppendHello(nil, wire.Hello{MinVersion: 1, MaxVersion: 2, ClusterID: "guess", Node: 42,
		NodeName: "evil", Nonce: [wire.NonceBytes]byte{1}, MaxFrameBytes: wire.MaxHandshakeFrameBytes})
	challenge := append([]byte{2, 2}, make([]byte, wire.NonceBytes)...)
	challenge[2] = 1
	for name, frames := range map[string][]byte{
		"v1 hello":               handshakeFrame(0, 1, hello),
		"v2 challenge and hello": append(append(handshakeFrame(0, 5, challenge), handshakeFrame(1, 6, make([]byte, 32))...), handshakeFrame(2, 1, hello)...),
	} {
		conn, err := net.DialTimeout("tcp", addrs[0], time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(append([]byte(wire.Magic), frames...))
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		got, _ := io.ReadAll(conn)
		conn.Close()
		if len(got) == 0 {
			t.Fatalf("%s: no answer at all (want a refusal)", name)
		}
		for _, secret := range []string{"k1", "keyed", addrs[0]} {
			if strings.Contains(string(got), secret) {
				t.Fatalf("%s: a stranger got %q back, naming %q", name, got, secret)
			}
		}
	}
	for _, p := range procs {
		if strings.Contains(p.logs.String(), `peer=evil`) && strings.Contains(p.logs.String(), "link up") {
			t.Fatalf("a link to the stranger came up:\n%s", p.logs)
		}
	}
}
