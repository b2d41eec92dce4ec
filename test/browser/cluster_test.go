package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// MaxShownDown is how long after a member stops the cluster view must
// show it suspect or unreachable (issue 16: within 2 s).
const MaxShownDown = 2 * time.Second

// testToken is the nodes' HTTP token: the page must pass the same auth as
// /v1. The browser presents it as HTTP Basic credentials, as a person does
// at the browser's prompt.
const testToken = "browser-test-token"

// TestClusterViewShowsAStoppedNode opens the cluster view of n1 in a
// three-node cluster, stops n3 with SIGKILL and expects its row to turn
// suspect or unreachable within MaxShownDown, then restarts n3 and
// expects it alive again.
func TestClusterViewShowsAStoppedNode(t *testing.T) {
	browser := newBrowser(t)
	nodes := startCluster(t, 3, "--token", testToken)
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	page, closePage := openPage(t, ctx, "http://"+nodes[0].addr+"/ui/")
	defer closePage()
	waitFor(t, page, 10*time.Second, memberRow("n2", "alive"), "n2 alive on n1's page")
	waitFor(t, page, 10*time.Second, memberRow("n3", "alive"), "n3 alive on n1's page")

	nodes[2].kill()
	stopped := time.Now()
	waitFor(t, page, MaxShownDown, memberRow("n3", "suspect,unreachable"), "n3 shown down after SIGKILL")
	t.Logf("n3 shown down %v after SIGKILL", time.Since(stopped).Round(time.Millisecond))

	// Writes while n3 is down make its lag bar and the write rate move.
	put(t, nodes[0].addr, 0, 100)

	nodes[2] = startSpookd(t, nodes[2].addr, nodes[2].args...)
	waitFor(t, page, 10*time.Second, memberRow("n3", "alive"), "n3 alive again after restart")
	waitFor(t, page, 5*time.Second, `li[data-event="peer-alive"]`, "a peer-alive event listed")
}

// put writes keys k<first>… k<first+n-1> to the node at addr over HTTP.
func put(t *testing.T, addr string, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("http://%s/v1/kv/k%d", addr, i), strings.NewReader("v"))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT k%d: %s", i, resp.Status)
		}
	}
}

// newBrowser starts a headless Chromium for the test, or skips it when
// there is none.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Skip("no chromium on PATH: apt-get install -y chromium (.ci/run installs it), or set CHROMIUM to a Chrome binary")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Skipf("chromium at %s does not start: %v", path, err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// openPage opens url in a new tab of browser, presenting the test token
// as HTTP Basic credentials on every request.
func openPage(t *testing.T, browser context.Context, url string) (context.Context, func()) {
	t.Helper()
	page, cancel := chromedp.NewContext(browser)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("tester:"+testToken))
	_, err := chromedp.Call(page, network.Enable, network.EnableParams{})
	if err == nil {
		_, err = chromedp.Call(page, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
	}
	if err == nil {
		err = chromedp.Do(page, chromedp.Navigate(url))
	}
	if err != nil {
		cancel()
		t.Fatalf("open %s: %v", url, err)
	}
	return page, cancel
}

// waitFor waits up to d for an element matching the CSS selector sel.
func waitFor(t *testing.T, page context.Context, d time.Duration, sel, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(page, d)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(sel))); err != nil {
		body, _ := chromedp.Run(page, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: not within %v (%s): %v\npage text:\n%s", what, d, sel, err, body)
	}
}

// screenshot saves the page to docs/img/name.
func screenshot(t *testing.T, page context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(page, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repoRoot(t), "docs", "img", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// The spookd binary is built once per test binary run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func spookd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spook-browser-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "spookd")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/spookd")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build spookd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is one running spookd.
type process struct {
	cmd  *exec.Cmd
	addr string
	args []string
	logs *safeBuffer
	done chan struct{}
}

// startCluster starts n nodes n1..nN on free loopback ports, each with a
// data directory (so a restart keeps its state), and stops them when the
// test ends.
func startCluster(t *testing.T, n int, extra ...string) []*process {
	t.Helper()
	var addrs, peers []string
	for i := range n {
		a := freePort(t)
		addrs = append(addrs, a)
		peers = append(peers, fmt.Sprintf("n%d=%s", i+1, a))
	}
	procs := make([]*process, n)
	for i, a := range addrs {
		args := append([]string{"--node-id", fmt.Sprint("n", i+1), "--peers", strings.Join(peers, ","),
			"--data", t.TempDir(), "--log-level", "warn"}, extra...)
		procs[i] = startSpookd(t, a, args...)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
	})
	return procs
}

// startSpookd starts spookd on addr and waits (at most 10 s) until it
// accepts connections.
func startSpookd(t *testing.T, addr string, args ...string) *process {
	t.Helper()
	p := &process{addr: addr, args: args, logs: &safeBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(spookd(t), append([]string{"--listen", addr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("spookd exited at start: %v\n%s", p.cmd.ProcessState, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("spookd not accepting on %s within 10s\n%s", addr, p.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits until the process is gone; killing one
// already gone does nothing.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// safeBuffer is a bytes.Buffer safe for a process's writes and the test's
// reads at once.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
