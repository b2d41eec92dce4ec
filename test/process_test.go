package test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The binaries are built once per test binary run.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func build(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "spook-bin")
		if buildErr != nil {
			return
		}
		for _, cmd := range []string{"spookd", "spook"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, cmd),
				"github.com/spooksystems/spook/cmd/"+cmd).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", cmd, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

func spookd(t *testing.T) string { return build(t, "spookd") }

// process is one running spookd.
type process struct {
	cmd  *exec.Cmd
	addr string
	logs *safeBuffer
	done chan struct{}
}

// launch starts spookd listening on addr with args; done closes when it
// exits.
func launch(t *testing.T, addr string, args ...string) *process {
	t.Helper()
	p := &process{addr: addr, logs: &safeBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(spookd(t), append([]string{"--listen", addr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	return p
}

// startSpookd starts spookd with args and waits until addr accepts
// connections (bounded: 10 s).
func startSpookd(t *testing.T, addr string, args ...string) *process {
	t.Helper()
	p := launch(t, addr, args...)
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

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// freePort returns a loopback address with a port free right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// envInt reads a positive integer from the environment, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
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
