package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/transport/certs"
)

// BenchmarkReplication measures how fast transactions committed on one
// node are applied on another over a real loopback link: SETs of a 16-byte
// key and a 32-byte value, proposed as fast as the node takes them, timed
// until the second node has applied every one. Sub-benchmarks run the link
// over plain TCP and over mutual TLS, and copy the same number of payload
// bytes over a raw TCP socket for comparison. Reported: txn/s and the
// replication payload MB/s (from the sender's peer byte counter).
//
//	go test ./node -run '^$' -bench Replication -benchtime 20000x
func BenchmarkReplication(b *testing.B) {
	for _, mode := range []string{"tcp", "tls"} {
		b.Run(mode, func(b *testing.B) { benchReplication(b, mode == "tls") })
	}
	b.Run("raw-tcp-copy", benchRawCopy)
}

// replicationBytesPerTxn is the payload a SET costs on the link, measured
// by the tcp sub-benchmark and used to size the raw copy (default from
// docs/BENCHMARKS.md until measured in this run).
var replicationBytesPerTxn = 38.0

func benchReplication(b *testing.B, useTLS bool) {
	addrs := freeAddrs(b, 2)
	members := []replica.Peer{{Name: "a", Addr: addrs[0]}, {Name: "b", Addr: addrs[1]}}
	var tlsFor func(name string) (*Config, error)
	if useTLS {
		now := time.Now()
		ca, err := certs.NewCA("bench", certs.Year, now)
		if err != nil {
			b.Fatal(err)
		}
		tlsFor = func(name string) (*Config, error) {
			pair, err := ca.Issue(certs.Request{Name: name}, now)
			if err != nil {
				return nil, err
			}
			bundle := certs.NewBundle(ca, pair)
			return &Config{ServerTLS: bundle.ServerConfig(certs.RequirePeerCert), ClientTLS: bundle.ClientConfig(""), RequireTLS: true}, nil
		}
	}
	var nodes []*Node
	for i, m := range members {
		cfg := Config{Name: m.Name, Listen: addrs[i], Members: members, Fsync: storage.SyncNone,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if tlsFor != nil {
			t, err := tlsFor(m.Name)
			if err != nil {
				b.Fatal(err)
			}
			cfg.ServerTLS, cfg.ClientTLS, cfg.RequireTLS = t.ServerTLS, t.ClientTLS, true
		}
		n, err := Start(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	a, bn := nodes[0], nodes[1]
	ctx := context.Background()
	value := make([]byte, 32)
	sentBefore := sentBytes(a)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		key := fmt.Appendf(nil, "key-%011d", i%100_000) // 16 bytes
		if _, err := a.Update(ctx, func(tx *crdt.Builder) error { return tx.Set(key, value) }); err != nil {
			b.Fatal(err)
		}
	}
	want := a.AppliedVector()
	for {
		got := bn.AppliedVector()
		if got.Dominates(&want) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("b applied %v of %v", got, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	bytes := sentBytes(a) - sentBefore
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "txn/s")
	b.ReportMetric(bytes/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(bytes/float64(b.N), "B/txn")
	if !useTLS && b.N >= 1000 {
		replicationBytesPerTxn = bytes / float64(b.N)
	}
}

// sentBytes is the node's replication payload bytes sent to all peers.
func sentBytes(n *Node) float64 {
	mfs, err := n.metrics.reg.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() == "spook_peer_sent_bytes_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// benchRawCopy copies b.N × replicationBytesPerTxn bytes over a loopback
// TCP socket in 64 KiB writes: the ceiling a link could approach.
func benchRawCopy(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	total := int64(float64(b.N) * replicationBytesPerTxn)
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.ResetTimer()
	start := time.Now()
	for sent := int64(0); sent < total; {
		n := min(int64(len(buf)), total-sent)
		if _, err := c.Write(buf[:n]); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	c.Close()
	got := <-done
	elapsed := time.Since(start)
	b.StopTimer()
	if got != total {
		b.Fatalf("copied %d of %d bytes", got, total)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "txn/s")
	b.ReportMetric(float64(total)/elapsed.Seconds()/1e6, "MB/s")
}

// BenchmarkWaitAll measures a write on one node of three followed by a
// wait until every member has it (collapse), as `SET` then `WAIT 2`:
//
//	go test ./node -run '^$' -bench WaitAll -benchtime 2000x
func BenchmarkWaitAll(b *testing.B) {
	addrs := freeAddrs(b, 3)
	var members []replica.Peer
	for i := range addrs {
		members = append(members, replica.Peer{Name: fmt.Sprint("n", i), Addr: addrs[i]})
	}
	var nodes []*Node
	for i, m := range members {
		n, err := Start(Config{Name: m.Name, Listen: addrs[i], Members: members, Fsync: storage.SyncNone,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	ctx := context.Background()
	value := make([]byte, 32)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		tok, err := nodes[0].Update(ctx, func(tx *crdt.Builder) error { return tx.Set(fmt.Appendf(nil, "k%d", i%1000), value) })
		if err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, err := nodes[0].Wait(wctx, tok, 0)
		cancel()
		if err != nil || got != 3 {
			b.Fatalf("Wait = %d, %v; members %+v", got, err, nodes[0].Status().Members)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkReplicatedSet counts what one replicated SET costs end to end
// on an in-process two-node cluster (policy none, loopback TCP): the
// allocations and bytes reported per op (-benchmem) cover both nodes, from
// the client's call through the origin's loop, log and link to the peer's
// keyspace, timed until the peer has applied every write. "serial" is one
// client (one SET per transaction); "clients16" is 16 concurrent clients,
// as redis-benchmark -c 16 drives a node; "pipelined16" is 16 clients
// each writing transactions of 16 SETs, as the RESP server batches a
// pipeline of 16 (redis-benchmark -P 16). Every figure is per SET.
//
//	go test ./node -run '^$' -bench ReplicatedSet -benchmem -benchtime 20000x
func BenchmarkReplicatedSet(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchReplicatedSet(b, 1, 1) })
	b.Run("clients16", func(b *testing.B) { benchReplicatedSet(b, 16, 1) })
	b.Run("pipelined16", func(b *testing.B) { benchReplicatedSet(b, 16, 16) })
}

// benchReplicatedSet runs b.N SETs from clients goroutines, perTxn SETs
// per transaction.
func benchReplicatedSet(b *testing.B, clients, perTxn int) {
	benchReplicatedSetWith(b, clients, perTxn, func(*Config) {})
}

// benchReplicatedSetWith is benchReplicatedSet with each node's Config
// adjusted by tune (audit_test.go turns audit mode on).
func benchReplicatedSetWith(b *testing.B, clients, perTxn int, tune func(*Config)) {
	addrs := freeAddrs(b, 2)
	members := []replica.Peer{{Name: "a", Addr: addrs[0]}, {Name: "b", Addr: addrs[1]}}
	var nodes []*Node
	for i, m := range members {
		cfg := Config{Name: m.Name, Listen: addrs[i], Members: members, Fsync: storage.SyncNone,
			DataDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		tune(&cfg)
		n, err := Start(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	a, bn := nodes[0], nodes[1]
	ctx := context.Background()
	value := make([]byte, 32)
	keys := make([][]byte, 100_000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%011d", i) // 16 bytes
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	per := (b.N + clients - 1) / clients
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		go func(c int) {
			for i := c * per; i < min(b.N, (c+1)*per); i += perTxn {
				first, last := i, min(b.N, (c+1)*per, i+perTxn)
				if _, err := a.Update(ctx, func(tx *crdt.Builder) error {
					for j := first; j < last; j++ {
						if err := tx.Set(keys[j%len(keys)], value); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(c)
	}
	for c := 0; c < clients; c++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	want := a.AppliedVector()
	for {
		got := bn.AppliedVector()
		if got.Dominates(&want) {
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("b applied %v of %v", got, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "SET/s")
}
