package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// Etcd is three etcd members (go.etcd.io/etcd/server/v3 embed), one per
// helper process. etcd fsyncs its WAL before every commit, so it is the
// same system in both durability classes.
type Etcd struct {
	Helper    string   // the spookbench binary, run as "helper etcd"
	procGroup          // scratch directory and processes
	clients   []string // client URLs, node 0 = the leader after Start
	order     []int    // procs index for node i
}

func (e *Etcd) Name() string           { return "etcd" }
func (e *Etcd) Peer() string           { return "etcd" }
func (e *Etcd) Durability() Durability { return PerWrite }
func (e *Etcd) Pipelined() bool        { return false }
func (e *Etcd) Method() string {
	return "bytes: sum over the 3 members of etcd_network_peer_sent_bytes_total; all-replica latency is the Put itself, which returns after a majority (2 of 3) committed, not all replicas"
}

func (e *Etcd) Start(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "spookbench-etcd-")
	if err != nil {
		return err
	}
	e.dir = dir
	ports, err := FreePorts(6)
	if err != nil {
		return err
	}
	var cluster []string
	for i := 0; i < 3; i++ {
		cluster = append(cluster, fmt.Sprintf("e%d=http://127.0.0.1:%d", i+1, ports[i]))
	}
	e.clients = nil
	for i := 0; i < 3; i++ {
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[3+i])
		e.clients = append(e.clients, client)
		p, err := StartProcess(filepath.Join(dir, fmt.Sprintf("e%d.log", i+1)), e.Helper, "helper", "etcd",
			"--name", fmt.Sprintf("e%d", i+1), "--dir", filepath.Join(dir, fmt.Sprintf("e%d", i+1)),
			"--peer", fmt.Sprintf("http://127.0.0.1:%d", ports[i]), "--client", client,
			"--cluster", strings.Join(cluster, ","))
		if err != nil {
			e.Stop()
			return err
		}
		e.procs = append(e.procs, p)
	}
	for i, p := range e.procs {
		if err := WaitTCP(p, strings.TrimPrefix(e.clients[i], "http://"), 30*time.Second); err != nil {
			e.Stop()
			return err
		}
	}
	// Find the leader and make it node 0 (writes to a follower are
	// forwarded; a user would write to the leader).
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.clients, DialTimeout: 5 * time.Second})
	if err != nil {
		e.Stop()
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader := -1
		for i, c := range e.clients {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := cli.Status(sctx, c)
			cancel()
			if err == nil && st.Leader != 0 && st.Header.MemberId == st.Leader {
				leader = i
			}
		}
		if leader >= 0 {
			e.clients[0], e.clients[leader] = e.clients[leader], e.clients[0]
			e.order = []int{0, 1, 2}
			e.order[0], e.order[leader] = leader, 0
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := cli.Put(pctx, "bench.ready", "1")
			cancel()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			e.Stop()
			return errors.New("etcd: no leader within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *Etcd) PIDs() []int {
	var out []int
	for _, i := range e.order {
		out = append(out, e.procs[i].PID())
	}
	return out
}

func (e *Etcd) client(i int) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{e.clients[i]}, DialTimeout: 5 * time.Second})
}

// etcdClient is Client over one clientv3 connection to one member.
type etcdClient struct{ c *clientv3.Client }

func (e *Etcd) Client(i int) (Client, error) {
	c, err := e.client(i)
	if err != nil {
		return nil, err
	}
	return etcdClient{c}, nil
}

func (c etcdClient) Close() error { return c.c.Close() }

func (c etcdClient) Do(ops []Op) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, op := range ops {
		var err error
		switch op.Kind {
		case OpSet:
			_, err = c.c.Put(ctx, string(op.Key), string(op.Value))
		case OpGet:
			_, err = c.c.Get(ctx, string(op.Key))
		case OpIncr:
			err = c.incr(ctx, string(op.Key))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxIncrAttempts bounds the compare-and-swap retries of one INCR.
const maxIncrAttempts = 100

// incr is read, then a transaction that writes value+1 if the key's
// revision is unchanged — what an etcd user does for a counter.
func (c etcdClient) incr(ctx context.Context, key string) error {
	for attempt := 0; attempt < maxIncrAttempts; attempt++ {
		g, err := c.c.Get(ctx, key)
		if err != nil {
			return err
		}
		var cmp clientv3.Cmp
		n := int64(0)
		if len(g.Kvs) == 0 {
			cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		} else {
			n, _ = strconv.ParseInt(string(g.Kvs[0].Value), 10, 64)
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", g.Kvs[0].ModRevision)
		}
		t, err := c.c.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, strconv.FormatInt(n+1, 10))).Commit()
		if err != nil {
			return err
		}
		if t.Succeeded {
			return nil
		}
	}
	return errors.New("etcd: incr: too many conflicts")
}

func (e *Etcd) PeerBytes() (int64, error) {
	var sum float64
	hc := http.Client{Timeout: 3 * time.Second}
	for _, c := range e.clients {
		resp, err := hc.Get(c + "/metrics")
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		v, ok := SumPrometheus(b, "etcd_network_peer_sent_bytes_total")
		if !ok {
			return 0, fmt.Errorf("no etcd_network_peer_sent_bytes_total at %s", c)
		}
		sum += v
	}
	return int64(sum), nil
}

// MeasureLag puts on the leader and watches on node 1 (a follower).
func (e *Etcd) MeasureLag(ctx context.Context, n int) (*Hist, error) {
	w, err := e.client(1)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	p, err := e.client(0)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := w.Watch(wctx, "lag.", clientv3.WithPrefix())
	arrivals := make(chan string, 1024)
	go func() {
		for resp := range wch {
			now := time.Now()
			for _, ev := range resp.Events {
				select {
				case arrivals <- string(ev.Kv.Key) + "\x00" + strconv.FormatInt(now.UnixNano(), 10):
				case <-wctx.Done():
					return
				}
			}
		}
	}()
	// The watch is established asynchronously: write a probe until it shows.
	if err := etcdWarmWatch(ctx, p, arrivals); err != nil {
		return nil, err
	}
	h := &Hist{}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("lag.%012d", i)
		t0 := time.Now()
		if _, err := p.Put(ctx, key, "v"); err != nil {
			return nil, err
		}
		if err := awaitArrival(arrivals, key, t0, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func etcdWarmWatch(ctx context.Context, p *clientv3.Client, arrivals chan string) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := p.Put(ctx, "lag.warm", "1"); err != nil {
			return err
		}
		select {
		case <-arrivals:
			return drain(arrivals)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("watch never delivered")
}

// drain empties a channel of arrivals left from warm-up.
func drain(ch chan string) error {
	for {
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
			return nil
		}
	}
}

// awaitArrival waits (bounded) for key to arrive and records arrival − t0.
func awaitArrival(arrivals chan string, key string, t0 time.Time, h *Hist) error {
	timeout := time.After(5 * time.Second)
	for {
		select {
		case a := <-arrivals:
			k, ts, _ := strings.Cut(a, "\x00")
			if k != key {
				continue
			}
			ns, _ := strconv.ParseInt(ts, 10, 64)
			h.Record(time.Unix(0, ns).Sub(t0), 1)
			return nil
		case <-timeout:
			return fmt.Errorf("%s not seen on the other node within 5s", key)
		}
	}
}

// MeasureAllReplica times Put on the leader (majority commit).
func (e *Etcd) MeasureAllReplica(ctx context.Context, n int) (*Hist, error) {
	p, err := e.client(0)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	h := &Hist{}
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := p.Put(ctx, fmt.Sprintf("all.%012d", i), "v"); err != nil {
			return nil, err
		}
		h.Record(time.Since(t0), 1)
	}
	return h, nil
}

// RunEtcdHelper is the body of "spookbench helper etcd": one member that
// serves until SIGTERM or SIGINT.
func RunEtcdHelper(args []string) error {
	fs := flag.NewFlagSet("helper etcd", flag.ContinueOnError)
	name := fs.String("name", "", "member name")
	dir := fs.String("dir", "", "data directory")
	peer := fs.String("peer", "", "peer URL")
	client := fs.String("client", "", "client URL")
	cluster := fs.String("cluster", "", "initial cluster name=peerURL,...")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pu, err := url.Parse(*peer)
	if err != nil {
		return err
	}
	cu, err := url.Parse(*client)
	if err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dir
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.InitialCluster = *cluster
	cfg.InitialClusterToken = "spookbench"
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		return errors.New("etcd member not ready within 60s")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-e.Err():
		return err
	}
	return nil
}
