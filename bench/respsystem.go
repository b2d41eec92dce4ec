package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

var (
	cmdSet  = []byte("SET")
	cmdGet  = []byte("GET")
	cmdIncr = []byte("INCR")
)

// respClient is Client over a RESPConn.
type respClient struct{ c *RESPConn }

func (r respClient) Do(ops []Op) error {
	for _, op := range ops {
		switch op.Kind {
		case OpSet:
			r.c.Append(cmdSet, op.Key, op.Value)
		case OpGet:
			r.c.Append(cmdGet, op.Key)
		case OpIncr:
			r.c.Append(cmdIncr, op.Key)
		}
	}
	if err := r.c.Flush(); err != nil {
		return err
	}
	return r.c.Skip(len(ops))
}

func (r respClient) Close() error { return r.c.Close() }

// RESPSystem is implemented by the systems that speak RESP (Spook, Redis):
// the harness also runs redis-benchmark, WAIT and keyspace notifications
// against them.
type RESPSystem interface {
	System
	Addr(i int) string
	// PrepareNotify makes node i publish keyspace notifications.
	PrepareNotify(i int) error
	// Restart kills node 0 with SIGKILL and starts it again on the same
	// data; it returns once the process is started (not serving).
	Restart() error
}

// Spook is three spookd processes.
type Spook struct {
	Bin       string // path of the spookd binary
	Fsync     string // always, batch or none
	procGroup        // scratch directory and processes
	addrs     []string
	args      [][]string
}

func (s *Spook) Name() string { return "spook/" + s.Fsync }
func (s *Spook) Peer() string { return "spook" }
func (s *Spook) Durability() Durability {
	if s.Fsync == "always" {
		return PerWrite
	}
	return Default
}
func (s *Spook) Pipelined() bool         { return true }
func (s *Spook) Addr(i int) string       { return s.addrs[i] }
func (s *Spook) PrepareNotify(int) error { return nil } // always on
func (s *Spook) Method() string {
	return "bytes: sum over the 3 nodes of spook_peer_sent_bytes_total (message payload, excluding the 9-byte frame header per frame; includes acknowledgements and heartbeats)"
}

func (s *Spook) Start(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "spookbench-spook-")
	if err != nil {
		return err
	}
	s.dir = dir
	ports, err := FreePorts(3)
	if err != nil {
		return err
	}
	var peers []string
	s.addrs = nil
	for i, p := range ports {
		a := "127.0.0.1:" + strconv.Itoa(p)
		s.addrs = append(s.addrs, a)
		peers = append(peers, fmt.Sprintf("n%d=%s", i+1, a))
	}
	s.args = nil
	for i := range ports {
		s.args = append(s.args, []string{"--listen", s.addrs[i], "--data", filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			"--node-id", fmt.Sprintf("n%d", i+1), "--peers", strings.Join(peers, ","), "--fsync", s.Fsync, "--log-level", "warn"})
		p, err := StartProcess(filepath.Join(dir, fmt.Sprintf("n%d.log", i+1)), s.Bin, s.args[i]...)
		if err != nil {
			s.Stop()
			return err
		}
		s.procs = append(s.procs, p)
	}
	for i, p := range s.procs {
		if err := WaitTCP(p, s.addrs[i], 15*time.Second); err != nil {
			s.Stop()
			return err
		}
	}
	// Ready when a write on node 1 reaches both others.
	return waitReplicated(ctx, s.addrs[0], 15*time.Second)
}

// waitReplicated writes a key and WAITs for 2 replicas until it succeeds.
func waitReplicated(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := DialRESP(addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			_, err = c.Do("SET", "bench.ready", "1")
			if err == nil {
				var r Reply
				r, err = c.Do("WAIT", "2", "1000")
				if err == nil && r.Int < 2 {
					err = fmt.Errorf("WAIT 2 answered %d", r.Int)
				}
			}
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cluster at %s not replicating: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Spook) Client(i int) (Client, error) {
	c, err := DialRESP(s.addrs[i])
	if err != nil {
		return nil, err
	}
	return respClient{c}, nil
}

func (s *Spook) PeerBytes() (int64, error) {
	var sum float64
	hc := http.Client{Timeout: 3 * time.Second}
	for _, a := range s.addrs {
		resp, err := hc.Get("http://" + a + "/metrics")
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		v, ok := SumPrometheus(b, "spook_peer_sent_bytes_total")
		if !ok {
			return 0, fmt.Errorf("no spook_peer_sent_bytes_total at %s", a)
		}
		sum += v
	}
	return int64(sum), nil
}

func (s *Spook) Restart() error {
	s.procs[0].Kill()
	p, err := StartProcess(filepath.Join(s.dir, "n1.log"), s.Bin, s.args[0]...)
	if err != nil {
		return err
	}
	s.procs[0] = p
	return nil
}

// Redis is a primary and two replicas of redis-server.
type Redis struct {
	Bin         string // redis-server
	AppendFsync string // always or everysec (AOF on in both)
	procGroup          // scratch directory and processes
	addrs       []string
	args        [][]string
}

func (r *Redis) Name() string { return "redis/" + r.AppendFsync }
func (r *Redis) Peer() string { return "redis" }
func (r *Redis) Durability() Durability {
	if r.AppendFsync == "always" {
		return PerWrite
	}
	return Default
}
func (r *Redis) Pipelined() bool   { return true }
func (r *Redis) Addr(i int) string { return r.addrs[i] }
func (r *Redis) Method() string {
	return "bytes: delta of the primary's master_repl_offset × 2 replicas (the replication stream; replicas' REPLCONF ACKs not counted)"
}

func (r *Redis) Start(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "spookbench-redis-")
	if err != nil {
		return err
	}
	r.dir = dir
	ports, err := FreePorts(3)
	if err != nil {
		return err
	}
	r.addrs = nil
	r.args = nil
	for i, p := range ports {
		r.addrs = append(r.addrs, "127.0.0.1:"+strconv.Itoa(p))
		d := filepath.Join(dir, fmt.Sprintf("r%d", i+1))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		args := []string{"--port", strconv.Itoa(p), "--bind", "127.0.0.1", "--dir", d, "--save", "",
			"--appendonly", "yes", "--appendfsync", r.AppendFsync, "--daemonize", "no", "--logfile", "",
			"--loglevel", "warning", "--protected-mode", "no"}
		if i > 0 {
			args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(ports[0]))
		}
		r.args = append(r.args, args)
		pr, err := StartProcess(filepath.Join(dir, fmt.Sprintf("r%d.log", i+1)), r.Bin, args...)
		if err != nil {
			r.Stop()
			return err
		}
		r.procs = append(r.procs, pr)
	}
	for i, p := range r.procs {
		if err := WaitTCP(p, r.addrs[i], 15*time.Second); err != nil {
			r.Stop()
			return err
		}
	}
	return waitReplicated(ctx, r.addrs[0], 15*time.Second)
}

func (r *Redis) Client(i int) (Client, error) {
	c, err := DialRESP(r.addrs[i])
	if err != nil {
		return nil, err
	}
	return respClient{c}, nil
}

func (r *Redis) PrepareNotify(i int) error {
	c, err := DialRESP(r.addrs[i])
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Do("CONFIG", "SET", "notify-keyspace-events", "KA")
	return err
}

func (r *Redis) PeerBytes() (int64, error) {
	c, err := DialRESP(r.addrs[0])
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	rep, err := c.Do("INFO", "replication")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(rep.Str, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_repl_offset:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, err
			}
			return 2 * n, nil
		}
	}
	return 0, fmt.Errorf("no master_repl_offset in INFO replication")
}

// Restart first compacts the AOF (BGREWRITEAOF, waited for) so the
// restarted primary loads an RDB-preamble base file, Redis's fastest load
// path, then kills and restarts the primary.
func (r *Redis) Restart() error {
	if err := r.rewriteAOF(2 * time.Minute); err != nil {
		return err
	}
	r.procs[0].Kill()
	p, err := StartProcess(filepath.Join(r.dir, "r1.log"), r.Bin, r.args[0]...)
	if err != nil {
		return err
	}
	r.procs[0] = p
	return nil
}

// rewriteAOF runs BGREWRITEAOF on the primary and waits until no rewrite is
// in progress or scheduled.
func (r *Redis) rewriteAOF(timeout time.Duration) error {
	c, err := DialRESP(r.addrs[0])
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Do("BGREWRITEAOF"); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		rep, err := c.Do("INFO", "persistence")
		if err != nil {
			return err
		}
		if strings.Contains(rep.Str, "aof_rewrite_in_progress:0") && strings.Contains(rep.Str, "aof_rewrite_scheduled:0") {
			return nil
		}
	}
	return fmt.Errorf("redis: AOF rewrite not done within %v", timeout)
}
