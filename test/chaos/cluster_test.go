package chaos

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/api"
)

// Process and client limits.
const (
	// spookdPort is the one port every node listens on, on its host's IP.
	spookdPort = 7001
	// startTimeout bounds how long a started spookd may take to accept
	// connections and answer /readyz with 200.
	startTimeout = 20 * time.Second
	// exitTimeout bounds the wait for a killed process to be reaped.
	exitTimeout = 10 * time.Second
	// clientTimeout is every client call's dial, read and write timeout:
	// a call on a paused or unreachable node ends as "timeout" (maybe
	// applied) after this long.
	clientTimeout = 2 * time.Second
	// logTailBytes is how much of a node's log a failure report shows.
	logTailBytes = 4 << 10
)

// logLevel is spookd's --log-level: SPOOK_CHAOS_LOG_LEVEL, or warn.
func logLevel() string {
	if l := os.Getenv("SPOOK_CHAOS_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

// buildSpookd compiles this tree's spookd into dir (once per suite).
func buildSpookd(dir string) (string, error) {
	bin := filepath.Join(dir, "spookd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/spooksystems/spook/cmd/spookd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build spookd: %v\n%s", err, out)
	}
	return bin, nil
}

// proc is one spookd process on one host.
type proc struct {
	host    int
	name    string
	dataDir string
	joined  bool // it joined a running cluster (--join) rather than starting with --peers
	offset  time.Duration
	logFile string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
}

// exited reports whether the process is gone.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cluster is a set of spookd processes, one per host of a network, and the
// clients the test process uses to reach them. Methods are safe for
// concurrent use.
type cluster struct {
	nw      *network
	bin     string
	dir     string
	ca      *authority
	tls     *tls.Config
	http    *http.Client
	cluster string

	mu    sync.Mutex
	procs map[int]*proc // by host: the current process (running or not)
	gen   map[int]int   // by host: incremented at every start
}

// newCluster prepares the CA and the client certificate; start issues
// each node's certificate (a node certificate names its node, so a node
// replaced under a new name on the same host gets a new one) and
// launches it.
func newCluster(nw *network, bin, dir string) (*cluster, error) {
	ca, err := newAuthority(dir)
	if err != nil {
		return nil, err
	}
	clientTLS, err := ca.clientTLS()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: clientTLS.Clone(), DialContext: (&net.Dialer{Timeout: clientTimeout}).DialContext,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 5 * time.Second}
	return &cluster{nw: nw, bin: bin, dir: dir, ca: ca, tls: clientTLS, cluster: "chaos",
		http:  &http.Client{Transport: tr, Timeout: clientTimeout},
		procs: map[int]*proc{}, gen: map[int]int{}}, nil
}

// addr is host i's spookd address.
func (c *cluster) addr(i int) string {
	return net.JoinHostPort(c.nw.host(i).ip.String(), strconv.Itoa(spookdPort))
}

// peersFlag is the --peers list of a fresh cluster over every host.
func (c *cluster) peersFlag() string {
	var parts []string
	for _, h := range c.nw.hosts {
		parts = append(parts, fmt.Sprintf("n%d=%s", h.index, c.addr(h.index)))
	}
	return strings.Join(parts, ",")
}

// startOpts says how to start a node.
type startOpts struct {
	name    string
	dataDir string
	join    []string // --join addresses; empty: --peers (a member of the initial cluster)
	// rejoined: restart a node that joined: neither --join nor --peers,
	// its data directory holds the membership. (With --join, spookd
	// refuses to start while no join address answers, so a joined node
	// could not restart during a partition.)
	rejoined bool
	offset   time.Duration
}

// start launches spookd on host i and waits until /readyz answers 200.
func (c *cluster) start(i int, o startOpts) (*proc, error) {
	h := c.nw.host(i)
	c.mu.Lock()
	c.gen[i]++
	gen := c.gen[i]
	c.mu.Unlock()
	p := &proc{host: i, name: o.name, dataDir: o.dataDir, joined: len(o.join) > 0 || o.rejoined, offset: o.offset, done: make(chan struct{}),
		logFile: filepath.Join(c.dir, fmt.Sprintf("%s.%d.log", o.name, gen))}
	certFile, keyFile := filepath.Join(c.dir, o.name+".crt"), filepath.Join(c.dir, o.name+".key")
	if _, err := os.Stat(certFile); os.IsNotExist(err) {
		if _, err := c.ca.issue(o.name, h.ip); err != nil {
			return nil, err
		}
	}
	args := []string{"netns", "exec", h.ns, c.bin,
		"--listen", c.addr(i), "--data", o.dataDir, "--node-id", o.name, "--cluster", c.cluster,
		"--fsync", "always", "--log-level", logLevel(),
		"--tls-cert", certFile, "--tls-key", keyFile, "--tls-ca", c.ca.caFile}
	switch {
	case o.rejoined:
	case len(o.join) > 0:
		args = append(args, "--join", strings.Join(o.join, ","))
	default:
		args = append(args, "--peers", c.peersFlag())
	}
	if o.offset != 0 {
		args = append(args, "--test-clock-offset", o.offset.String())
	}
	logf, err := os.Create(p.logFile)
	if err != nil {
		return nil, err
	}
	// `ip netns exec` execs spookd after entering the namespace, so the
	// pid is spookd's own and signals reach it directly.
	p.cmd = exec.Command("ip", args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { p.cmd.Wait(); logf.Close(); close(p.done) }()
	c.mu.Lock()
	c.procs[i] = p
	c.mu.Unlock()
	if err := c.waitReady(p); err != nil {
		c.kill(i)
		return nil, fmt.Errorf("%s on host %d: %w\n%s", o.name, i, err, c.logTail(p))
	}
	return p, nil
}

// waitReady polls /readyz until 200, the process exits, or startTimeout.
func (c *cluster) waitReady(p *proc) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("exited at start: %v", p.cmd.ProcessState)
		}
		resp, err := c.http.Get("https://" + c.addr(p.host) + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz: %s: %s", resp.Status, bytes.TrimSpace(body))
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %v: %v", startTimeout, last)
}

// proc returns host i's current process.
func (c *cluster) proc(i int) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[i]
}

// signal sends sig to host i's process.
func (c *cluster) signal(i int, sig syscall.Signal) error {
	p := c.proc(i)
	if p == nil || p.exited() {
		return fmt.Errorf("host %d: no running process", i)
	}
	return p.cmd.Process.Signal(sig)
}

// kill sends SIGKILL to host i's process (continuing it first if paused)
// and waits until it has exited.
func (c *cluster) kill(i int) error {
	p := c.proc(i)
	if p == nil || p.exited() {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
		return nil
	case <-time.After(exitTimeout):
		return fmt.Errorf("host %d: %s did not exit after SIGKILL", i, p.name)
	}
}

// killAll kills every process; used at the end of a run and in cleanup.
func (c *cluster) killAll() {
	c.mu.Lock()
	hosts := make([]int, 0, len(c.procs))
	for i := range c.procs {
		hosts = append(hosts, i)
	}
	c.mu.Unlock()
	for _, i := range hosts {
		c.kill(i)
	}
}

// logTail is the end of a process's log.
func (c *cluster) logTail(p *proc) string {
	b, _ := os.ReadFile(p.logFile)
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
	}
	return string(b)
}

// redis opens a client to host i with one connection (so a session's
// commands, and the WAIT after a write, share it), no retries (a failed
// call is reported, never silently repeated) and clientTimeout on every
// step.
func (c *cluster) redis(i int) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: c.addr(i), TLSConfig: c.tls.Clone(), Protocol: 2, DisableIdentity: true,
		PoolSize: 1, PipelinePoolSize: -1, MaxRetries: -1,
		DialTimeout: clientTimeout, ReadTimeout: clientTimeout, WriteTimeout: clientTimeout,
		PoolTimeout: 2 * clientTimeout,
	})
}

// status fetches host i's /v1/status.
func (c *cluster) status(ctx context.Context, i int) (api.Status, error) {
	var st api.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+c.addr(i)+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return st, fmt.Errorf("/v1/status: %s: %s", resp.Status, b)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// removeMember asks host i to remove the member called name.
func (c *cluster) removeMember(ctx context.Context, i int, name string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "https://"+c.addr(i)+"/v1/members/"+name, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("DELETE /v1/members/%s: %s: %s", name, resp.Status, b)
	}
	return nil
}
