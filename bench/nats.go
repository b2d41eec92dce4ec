package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// natsBucket is the KV bucket every NATS workload uses.
const natsBucket = "bench"

// NATS is three nats-server processes (JetStream, clustered), one per
// helper process, with a KV bucket of 3 replicas on file storage.
type NATS struct {
	Helper     string // the spookbench binary, run as "helper nats"
	SyncAlways bool   // sync_interval: always; else the default interval
	procGroup         // scratch directory and processes
	urls       []string
	http       []string
}

func (n *NATS) Name() string {
	if n.SyncAlways {
		return "nats/always"
	}
	return "nats/default"
}
func (n *NATS) Peer() string { return "nats" }
func (n *NATS) Durability() Durability {
	if n.SyncAlways {
		return PerWrite
	}
	return Default
}
func (n *NATS) Pipelined() bool { return false }
func (n *NATS) Method() string {
	return "bytes: sum over the 3 servers of routez out_bytes (route traffic, including client messages forwarded to the stream leader); all-replica latency is KV Put, which returns after the stream's quorum (2 of 3) stored it"
}

func (n *NATS) Start(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "spookbench-nats-")
	if err != nil {
		return err
	}
	n.dir = dir
	ports, err := FreePorts(9)
	if err != nil {
		return err
	}
	var routes []string
	for i := 0; i < 3; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
	}
	n.urls, n.http = nil, nil
	for i := 0; i < 3; i++ {
		n.urls = append(n.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		n.http = append(n.http, fmt.Sprintf("http://127.0.0.1:%d", ports[6+i]))
		args := []string{"helper", "nats", "--name", fmt.Sprintf("s%d", i+1), "--dir", filepath.Join(dir, fmt.Sprintf("s%d", i+1)),
			"--port", strconv.Itoa(ports[i]), "--cluster-port", strconv.Itoa(ports[3+i]), "--http-port", strconv.Itoa(ports[6+i]),
			"--routes", strings.Join(routes, ",")}
		if n.SyncAlways {
			args = append(args, "--sync-always")
		}
		p, err := StartProcess(filepath.Join(dir, fmt.Sprintf("s%d.log", i+1)), n.Helper, args...)
		if err != nil {
			n.Stop()
			return err
		}
		n.procs = append(n.procs, p)
	}
	for i, p := range n.procs {
		if err := WaitTCP(p, strings.TrimPrefix(n.urls[i], "nats://"), 30*time.Second); err != nil {
			n.Stop()
			return err
		}
	}
	nc, err := nats.Connect(n.urls[0], nats.Timeout(5*time.Second))
	if err != nil {
		n.Stop()
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		n.Stop()
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: natsBucket, Replicas: 3, Storage: nats.FileStorage})
		if err == nil {
			if _, err = kv.Put("bench.ready", []byte("1")); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			n.Stop()
			return fmt.Errorf("nats: KV bucket not ready: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// natsClient is Client over one connection's KV handle.
type natsClient struct {
	nc *nats.Conn
	kv nats.KeyValue
}

func (n *NATS) kv(i int) (*nats.Conn, nats.KeyValue, error) {
	nc, err := nats.Connect(n.urls[i], nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, err
	}
	js, err := nc.JetStream()
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	kv, err := js.KeyValue(natsBucket)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, kv, nil
}

func (n *NATS) Client(i int) (Client, error) {
	nc, kv, err := n.kv(i)
	if err != nil {
		return nil, err
	}
	return natsClient{nc, kv}, nil
}

func (c natsClient) Close() error { c.nc.Close(); return nil }

func (c natsClient) Do(ops []Op) error {
	for _, op := range ops {
		var err error
		switch op.Kind {
		case OpSet:
			_, err = c.kv.Put(string(op.Key), op.Value)
		case OpGet:
			_, err = c.kv.Get(string(op.Key))
			if errors.Is(err, nats.ErrKeyNotFound) {
				err = nil
			}
		case OpIncr:
			err = c.incr(string(op.Key))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// incr is Get, then Update at the read revision (Create if missing),
// retried on conflict — the KV way to keep a counter.
func (c natsClient) incr(key string) error {
	for attempt := 0; attempt < maxIncrAttempts; attempt++ {
		e, err := c.kv.Get(key)
		if errors.Is(err, nats.ErrKeyNotFound) {
			_, err := c.kv.Create(key, []byte("1"))
			if err == nil {
				return nil
			}
			if !isConflict(err) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		v, _ := strconv.ParseInt(string(e.Value()), 10, 64)
		_, err = c.kv.Update(key, []byte(strconv.FormatInt(v+1, 10)), e.Revision())
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return err // not a conflict
		}
	}
	return errors.New("nats: incr: too many conflicts")
}

func (n *NATS) PeerBytes() (int64, error) {
	var sum int64
	hc := http.Client{Timeout: 3 * time.Second}
	for _, h := range n.http {
		resp, err := hc.Get(h + "/routez")
		if err != nil {
			return 0, err
		}
		var rz struct {
			Routes []struct {
				OutBytes int64 `json:"out_bytes"`
			} `json:"routes"`
		}
		err = json.NewDecoder(resp.Body).Decode(&rz)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		for _, r := range rz.Routes {
			sum += r.OutBytes
		}
	}
	return sum, nil
}

// MeasureLag puts through server 1 and watches through server 2.
func (n *NATS) MeasureLag(ctx context.Context, count int) (*Hist, error) {
	wc, wkv, err := n.kv(1)
	if err != nil {
		return nil, err
	}
	defer wc.Close()
	pc, pkv, err := n.kv(0)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	w, err := wkv.Watch("lag.*", nats.UpdatesOnly())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	arrivals := make(chan string, 1024)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			now := time.Now()
			select {
			case arrivals <- e.Key() + "\x00" + strconv.FormatInt(now.UnixNano(), 10):
			case <-wctx.Done():
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for warmed := false; !warmed; {
		if _, err := pkv.Put("lag.warm", []byte("1")); err != nil {
			return nil, err
		}
		select {
		case <-arrivals:
			warmed = true
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				return nil, errors.New("nats: watch never delivered")
			}
		}
	}
	drain(arrivals)
	h := &Hist{}
	for i := 0; i < count; i++ {
		key := fmt.Sprintf("lag.%012d", i)
		t0 := time.Now()
		if _, err := pkv.Put(key, []byte("v")); err != nil {
			return nil, err
		}
		if err := awaitArrival(arrivals, key, t0, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// MeasureAllReplica times KV Put (acknowledged after the stream's quorum).
func (n *NATS) MeasureAllReplica(ctx context.Context, count int) (*Hist, error) {
	pc, pkv, err := n.kv(0)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	h := &Hist{}
	for i := 0; i < count; i++ {
		t0 := time.Now()
		if _, err := pkv.Put(fmt.Sprintf("all.%012d", i), []byte("v")); err != nil {
			return nil, err
		}
		h.Record(time.Since(t0), 1)
	}
	return h, nil
}

// RunNATSHelper is the body of "spookbench helper nats": one JetStream
// server that serves until SIGTERM or SIGINT.
func RunNATSHelper(args []string) error {
	fs := flag.NewFlagSet("helper nats", flag.ContinueOnError)
	name := fs.String("name", "", "server name")
	dir := fs.String("dir", "", "JetStream store directory")
	port := fs.Int("port", 0, "client port")
	clusterPort := fs.Int("cluster-port", 0, "route port")
	httpPort := fs.Int("http-port", 0, "monitoring port")
	routes := fs.String("routes", "", "route URLs, comma-separated")
	syncAlways := fs.Bool("sync-always", false, "fsync every write (sync_interval: always)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := &server.Options{
		ServerName: *name,
		Host:       "127.0.0.1",
		Port:       *port,
		HTTPHost:   "127.0.0.1",
		HTTPPort:   *httpPort,
		JetStream:  true,
		StoreDir:   *dir,
		SyncAlways: *syncAlways,
		NoSigs:     true,
		Cluster:    server.ClusterOpts{Name: "spookbench", Host: "127.0.0.1", Port: *clusterPort},
	}
	for _, r := range strings.Split(*routes, ",") {
		u, err := url.Parse(r)
		if err != nil {
			return err
		}
		opts.Routes = append(opts.Routes, u)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		return errors.New("nats server not ready within 30s")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// isConflict reports whether a KV Create or Update failed only because the
// key's revision moved (another client won the race).
func isConflict(err error) bool {
	return errors.Is(err, nats.ErrKeyExists) || strings.Contains(err.Error(), "wrong last sequence")
}
