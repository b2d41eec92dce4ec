package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spooksystems/spook/node"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// MaxUpNodes bounds --nodes. Every node links to every other (full mesh:
// n·(n−1) connections, two descriptors each in one process) and ticks on
// its own goroutines; 64 nodes are about 8,000 descriptors and a few
// hundred MiB. Beyond it, up refuses to start.
const MaxUpNodes = 64

func init() {
	register("up", "start a local cluster on 127.0.0.1 (the quick start)", runUp)
}

// upOptions are the flags of `spook up`.
type upOptions struct {
	nodes    int
	regions  int // --regions: node i (from 0) in region r(i mod regions + 1); 0: none
	basePort int
	data     string
	mem      bool
	fsync    string
	verbose  bool
	// ready, when set, is called once every node is serving (tests).
	ready func(addrs []string)
	// stop, when set, replaces waiting for SIGINT/SIGTERM (tests).
	stop <-chan struct{}
	out  io.Writer
}

const upHelp = `usage: spook up [flags]

Starts a local cluster of nodes on 127.0.0.1 in this process and keeps it
running until Ctrl-C. Each node serves Redis clients, HTTP and its peers on
one port. State is kept under --data (restarting 'spook up' resumes it).

With --base-port 0 the kernel picks a free port for each node; the
addresses are printed.

With --regions K the nodes are spread over regions r1..rK round-robin
(n1 in r1, n2 in r2, ...); SPOOK.WAITREGION then waits for a region only.

Example:
  spook up --nodes 3 --base-port 7001
  redis-cli -p 7001 set hello world
  redis-cli -p 7002 get hello
`

func runUp(args []string) error {
	o := upOptions{out: os.Stdout}
	fs := newFlagSet("up", upHelp)
	fs.IntVar(&o.nodes, "nodes", 3, "number of nodes (1 to 64)")
	fs.IntVar(&o.regions, "regions", 0, "spread the nodes over this many regions, r1..rK, round-robin (0: no regions)")
	fs.IntVar(&o.basePort, "base-port", 7001, "port of the first node; the others follow (0: ports chosen by the kernel)")
	fs.StringVar(&o.data, "data", "spook-data", "directory holding one data directory per node")
	fs.BoolVar(&o.mem, "mem", false, "keep state in memory only (nothing survives)")
	fs.StringVar(&o.fsync, "fsync", "batch", "durability policy: always, batch or none")
	fs.BoolVar(&o.verbose, "v", false, "log every node's events")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return up(o)
}

func up(o upOptions) error {
	if o.nodes < 1 || o.nodes > MaxUpNodes {
		return fmt.Errorf("--nodes %d: give 1 to %d", o.nodes, MaxUpNodes)
	}
	if o.regions < 0 || o.regions > o.nodes {
		return fmt.Errorf("--regions %d: give 0 (none) to --nodes (%d)", o.regions, o.nodes)
	}
	if o.basePort < 0 || o.basePort+o.nodes-1 > 65535 {
		return fmt.Errorf("--base-port %d: out of range", o.basePort)
	}
	policy, err := storage.ParseSyncPolicy(o.fsync)
	if err != nil {
		return fmt.Errorf("--fsync: %w", err)
	}
	addrs, err := upAddrs(o)
	if err != nil {
		return err
	}
	var members []replica.Peer
	for i, addr := range addrs {
		// The member list names each region, so no node needs a
		// membership record to announce its own.
		members = append(members, replica.Peer{Name: fmt.Sprintf("n%d", i+1), Addr: addr, Region: upRegion(i, o.regions)})
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	where := "in memory"
	if !o.mem {
		abs, _ := filepath.Abs(o.data)
		where = "under " + abs
	}
	key, keyFile, err := upClusterKey(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "Starting %d Spook nodes on 127.0.0.1 (state %s, fsync %s)\n", o.nodes, where, policy)
	if keyFile != "" {
		fmt.Fprintf(o.out, "Cluster key (peer admission) in %s: give it to other nodes with --cluster-key-file\n", keyFile)
	}

	var nodes []*node.Node
	stopAll := func() {
		for i := len(nodes) - 1; i >= 0; i-- {
			nodes[i].Close()
		}
	}
	for i, m := range members {
		dir := ""
		if !o.mem {
			dir = filepath.Join(o.data, m.Name)
		}
		started := time.Now()
		n, err := node.Start(node.Config{
			Name: m.Name, Listen: m.Addr, Members: members, DataDir: dir,
			Fsync: policy, Logger: logger, ClusterKey: key, Region: upRegion(i, o.regions),
		})
		if err != nil {
			stopAll()
			return fmt.Errorf("start %s: %w", m.Name, err)
		}
		nodes = append(nodes, n)
		region := ""
		if r := upRegion(i, o.regions); r != "" {
			region = "  region " + r
		}
		fmt.Fprintf(o.out, "  [%d/%d] %s  redis://%s  http://%s%s  (%v)\n", i+1, o.nodes, m.Name, n.Addr(), n.Addr(),
			region, time.Since(started).Round(time.Millisecond))
	}
	// Wait until every node sees every other as a member (bounded:
	// upReadyWait).
	deadline := time.Now().Add(upReadyWait)
	for time.Now().Before(deadline) && !allReady(nodes) {
		time.Sleep(20 * time.Millisecond)
	}
	if !allReady(nodes) {
		fmt.Fprintln(o.out, "warning: not every node reports ready yet; see 'spook status'")
	}
	fmt.Fprintf(o.out, "\nCluster up. Try it:\n  redis-cli -p %s set hello world\n  redis-cli -p %s get hello\n  curl -s http://%s/v1/status\n\nPress Ctrl-C to stop.\n",
		port(addrs[0]), port(addrs[min(1, o.nodes-1)]), members[0].Addr)
	addrs = addrs[:0]
	for _, n := range nodes {
		addrs = append(addrs, n.Addr())
	}
	if o.ready != nil {
		o.ready(addrs)
	}
	stop := o.stop
	if stop == nil {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sig)
		ch := make(chan struct{})
		go func() { <-sig; close(ch) }()
		stop = ch
	}
	<-stop
	fmt.Fprintln(o.out, "\nStopping...")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { stopAll(); close(done) }()
	select {
	case <-done:
		fmt.Fprintln(o.out, "Stopped.")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nodes did not stop within 10s")
	}
}

// upRegion is the region of node i (from 0) of a cluster spread over
// regions regions round-robin: r1, r2, ..., rK, r1, ...; "" when regions
// is 0.
func upRegion(i, regions int) string {
	if regions <= 0 {
		return ""
	}
	return fmt.Sprintf("r%d", i%regions+1)
}

// upAddrs returns the nodes' listen addresses: consecutive ports from
// --base-port, each checked free first so a clash is named before
// anything starts, or (--base-port 0) ports the kernel picks, all held at
// once while choosing so no two nodes get the same one.
func upAddrs(o upOptions) ([]string, error) {
	var addrs []string
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	for i := 0; i < o.nodes; i++ {
		addr := "127.0.0.1:0"
		if o.basePort != 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", o.basePort+i)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("port %d is not free (%v); pick another with --base-port", o.basePort+i, err)
		}
		held = append(held, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// port is the port part of a host:port address.
func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// upReadyWait bounds the wait for every node to see every other alive
// before up prints the cluster as started (with a warning if not).
const upReadyWait = 20 * time.Second

// upKeyFile is the cluster key's file under --data.
const upKeyFile = "cluster.key"

// upClusterKey returns the cluster's key: the one under --data if an
// earlier run wrote it, else a new one, written there (mode 0600) unless
// the cluster lives in memory. keyFile is where it is, "" in memory.
func upClusterKey(o upOptions) (key []byte, keyFile string, err error) {
	if !o.mem {
		keyFile = filepath.Join(o.data, upKeyFile)
		if text, err := os.ReadFile(keyFile); err == nil {
			key, err := node.ParseClusterKey(string(text))
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", keyFile, err)
			}
			return key, keyFile, nil
		} else if !os.IsNotExist(err) {
			return nil, "", err
		}
	}
	text, err := node.GenerateClusterKey()
	if err != nil {
		return nil, "", err
	}
	if keyFile != "" {
		if err := os.MkdirAll(o.data, 0o700); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(keyFile, []byte(text+"\n"), 0o600); err != nil {
			return nil, "", err
		}
	}
	key, err = node.ParseClusterKey(text)
	return key, keyFile, err
}

func allReady(nodes []*node.Node) bool {
	for _, n := range nodes {
		st := n.Status()
		alive := 0
		for _, m := range st.Members {
			if m.State == "alive" || m.State == "self" {
				alive++
			}
		}
		if alive < len(nodes) {
			return false
		}
	}
	return true
}
