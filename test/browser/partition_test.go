package browser

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// MaxShownHealed is how long after a partition heals the cluster view
// may take to show the cut-off member alive again: its links must notice
// and redial, which takes longer than noticing the silence.
const MaxShownHealed = 10 * time.Second

// TestClusterViewShowsAPartition starts three nodes whose links to and
// from n3 go through linkProxy, opens n1's cluster view, and cuts n3 off
// without stopping it: n1's page must show n3 suspect or unreachable
// within MaxShownDown, and alive again after the links are restored.
func TestClusterViewShowsAPartition(t *testing.T) {
	browser := newBrowser(t)
	nodes, links := startClusterIsolating(t, 3, 2, "--token", testToken)
	ctx, cancel := context.WithTimeout(browser, 40*time.Second)
	defer cancel()
	page, closePage := openPage(t, ctx, "http://"+nodes[0].addr+"/ui/")
	defer closePage()
	waitFor(t, page, 10*time.Second, memberRow("n2", "alive"), "n2 alive on n1's page")
	waitFor(t, page, 10*time.Second, memberRow("n3", "alive"), "n3 alive on n1's page")

	links.cut()
	cut := time.Now()
	waitFor(t, page, MaxShownDown, memberRow("n3", "suspect,unreachable"), "n3 shown cut off by the partition")
	t.Logf("n3 shown down %v after the partition", time.Since(cut).Round(time.Millisecond))
	waitFor(t, page, MaxShownDown, memberRow("n2", "alive"), "n2 still alive during the partition")
	// Writes during the partition leave n3 behind: its lag bar and the
	// write rate move.
	put(t, nodes[0].addr, 0, 100)
	if os.Getenv("SPOOK_SCREENSHOTS") != "" {
		for i := range 40 { // two seconds of writes: a few polls draw the rate
			put(t, nodes[1].addr, 100+i, 1)
			time.Sleep(50 * time.Millisecond)
		}
		waitFor(t, page, 5*time.Second, memberRow("n3", "unreachable"), "n3 unreachable for the screenshot")
		screenshot(t, page, "cluster.png")
	}
	select {
	case <-nodes[2].done:
		t.Fatalf("n3 exited during the partition: %v\n%s", nodes[2].cmd.ProcessState, nodes[2].logs)
	default:
	}

	links.heal()
	healed := time.Now()
	waitFor(t, page, MaxShownHealed, memberRow("n3", "alive"), "n3 alive again after the partition healed")
	t.Logf("n3 shown alive %v after the partition healed", time.Since(healed).Round(time.Millisecond))
}

// memberRow is the CSS selector of name's row on the cluster view in one
// of states (comma-separated).
func memberRow(name, states string) string {
	var alt []string
	for _, s := range strings.Split(states, ",") {
		alt = append(alt, fmt.Sprintf(`tr[data-member=%q][data-state=%q]`, name, s))
	}
	return strings.Join(alt, ", ")
}

// startClusterIsolating starts n nodes as startCluster does, except that
// every peer link to or from node index isolated goes through a
// linkProxy of its own (each node's --peers names the proxy in place of
// that member's address: members of a fresh cluster dial the addresses
// their own list gives). It returns the nodes and the proxies, which cut
// and heal together.
func startClusterIsolating(t *testing.T, n, isolated int, extra ...string) ([]*process, proxies) {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freePort(t)
	}
	var links proxies
	procs := make([]*process, n)
	for i := range n {
		var peers []string
		for j := range n {
			addr := addrs[j]
			if i != j && (i == isolated || j == isolated) {
				p := newLinkProxy(t, addrs[j])
				links = append(links, p)
				addr = p.addr
			}
			peers = append(peers, fmt.Sprintf("n%d=%s", j+1, addr))
		}
		args := append([]string{"--node-id", fmt.Sprint("n", i+1), "--peers", strings.Join(peers, ","),
			"--data", t.TempDir(), "--log-level", "warn"}, extra...)
		procs[i] = startSpookd(t, addrs[i], args...)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
	})
	return procs, links
}

type proxies []*linkProxy

func (ps proxies) cut() {
	for _, p := range ps {
		p.setCut(true)
	}
}

func (ps proxies) heal() {
	for _, p := range ps {
		p.setCut(false)
	}
}

// linkProxy forwards the TCP connections it accepts on a loopback port
// to target. Cut, it forwards nothing, either way, and opens nothing to
// target: bytes wait in the kernels' buffers, as over a network that
// drops every packet while TCP retransmits, and no connection is
// refused or reset (the nodes must notice the silence). Healed, the
// waiting bytes flow again.
type linkProxy struct {
	t      *testing.T
	addr   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	open   *sync.Cond // signalled when cut or closed changes
	isCut  bool
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{t: t, addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.open = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *linkProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = cut
	p.open.Broadcast()
}

// wait blocks while the proxy is cut; false once it is closed.
func (p *linkProxy) wait() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.isCut && !p.closed {
		p.open.Wait()
	}
	return !p.closed
}

// track records c for close; false (and c closed) once the proxy is.
func (p *linkProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *linkProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *linkProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	if !p.wait() {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil || !p.track(up) {
		return
	}
	defer p.untrack(c, up)
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, c); done <- struct{}{} }()
	go func() { p.pipe(c, up); done <- struct{}{} }()
	<-done // one side ended: close both, which ends the other
	c.Close()
	up.Close()
	<-done
}

// pipe copies src to dst, holding each chunk while the proxy is cut.
func (p *linkProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or closed: serve closes both ends
			return
		}
	}
}

// close stops the proxy and every connection through it.
func (p *linkProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.open.Broadcast()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
