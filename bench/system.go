package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Durability names the two classes every system is run in.
type Durability string

const (
	// PerWrite: a write is acknowledged only after an fsync covers it
	// (Spook --fsync always, Redis appendfsync always, NATS sync always,
	// etcd always).
	PerWrite Durability = "per-write fsync"
	// Default: each system's default (Spook --fsync batch, Redis AOF
	// appendfsync everysec, NATS default sync interval, etcd as above).
	Default Durability = "default"
)

// OpKind is one kind of operation in a workload.
type OpKind uint8

const (
	OpSet OpKind = iota
	OpGet
	OpIncr
)

// Op is one operation. Key and Value are owned by the caller and must not
// change until Do returns.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte
}

// Client issues operations to one node. Not safe for concurrent use.
type Client interface {
	// Do runs ops; a RESP client pipelines them in one write, the others
	// run them one after another. It returns the first error.
	Do(ops []Op) error
	Close() error
}

// System is one three-node cluster under test.
type System interface {
	// Name is the system and its durability, e.g. "spook/always".
	Name() string
	// Peer is the family name: "spook", "redis", "etcd" or "nats".
	Peer() string
	Durability() Durability
	// Pipelined reports whether Client.Do pipelines (RESP systems).
	Pipelined() bool
	Start(ctx context.Context) error
	// Stop ends every process of the system and removes its data.
	Stop() error
	// Client connects to node i (0 is the node the workloads write to:
	// Spook's node 1, Redis's primary, etcd's leader, NATS's server 1).
	Client(i int) (Client, error)
	// PeerBytes is the sum over nodes of the bytes sent to other nodes so
	// far, as the system counts them (see Method).
	PeerBytes() (int64, error)
	// PIDs are the node processes, node 0 first.
	PIDs() []int
	// Method says how PeerBytes, lag and all-replica latency are measured.
	Method() string
}

// Process is one child process the harness started; its output goes to a
// log file in the system's temporary directory.
type Process struct {
	Cmd     *exec.Cmd
	LogPath string
	done    chan struct{}
	waitErr error
}

// registry holds every running child so an interrupted harness ends them.
var registry = struct {
	sync.Mutex
	live map[*Process]bool
}{live: map[*Process]bool{}}

// StartProcess starts name with args, output appended to logPath.
func StartProcess(logPath, name string, args ...string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &Process{Cmd: exec.Command(name, args...), LogPath: logPath, done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = f, f
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	registry.Lock()
	registry.live[p] = true
	registry.Unlock()
	go func() {
		p.waitErr = p.Cmd.Wait()
		f.Close()
		registry.Lock()
		delete(registry.live, p)
		registry.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to grace, then SIGKILL.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() {
	p.Cmd.Process.Kill()
	<-p.done
}

// Tail is the last bytes of the process's log, for error messages.
func (p *Process) Tail() string {
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// KillAll ends every child still running (on interrupt or exit).
func KillAll() {
	registry.Lock()
	ps := make([]*Process, 0, len(registry.live))
	for p := range registry.live {
		ps = append(ps, p)
	}
	registry.Unlock()
	for _, p := range ps {
		p.Kill()
	}
}

// WaitTCP waits until addr accepts a connection, p exits, or timeout.
func WaitTCP(p *Process, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil && p.Exited() {
			return fmt.Errorf("process exited before serving %s:\n%s", addr, p.Tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting within %v", addr, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePorts returns n distinct loopback ports free at the time of the call.
func FreePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// RSSBytes reads a process's resident set size from /proc.
func RSSBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, err
				}
				return kb * 1024, nil
			}
		}
	}
	return 0, errors.New("bench: VmRSS not found")
}

// SumPrometheus adds the values of every sample of metric in a Prometheus
// text exposition (any labels).
func SumPrometheus(text []byte, metric string) (float64, bool) {
	var sum float64
	found := false
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		rest := line[len(metric):]
		if len(rest) == 0 || (rest[0] != '{' && rest[0] != ' ') {
			continue // a longer metric name with this prefix
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// procGroup is what every benchmarked system keeps: a scratch directory
// and its processes. Stop and PIDs serve every system (etcd overrides
// PIDs to list its leader first).
type procGroup struct {
	dir   string
	procs []*Process
}

// Stop stops every process (5 s each before a kill) and removes the
// scratch directory.
func (g *procGroup) Stop() error {
	for _, p := range g.procs {
		p.Stop(5 * time.Second)
	}
	g.procs = nil
	if g.dir != "" {
		os.RemoveAll(g.dir)
	}
	return nil
}

// PIDs lists the processes' ids, node 1 first.
func (g *procGroup) PIDs() []int {
	var out []int
	for _, p := range g.procs {
		out = append(out, p.PID())
	}
	return out
}
