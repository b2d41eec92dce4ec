package test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startCluster runs n spookd on loopback that know each other.
func startCluster(t *testing.T, n int, extra ...string) []*process {
	t.Helper()
	var addrs, peers []string
	for i := 0; i < n; i++ {
		a := freePort(t)
		addrs = append(addrs, a)
		peers = append(peers, fmt.Sprintf("n%d=%s", i+1, a))
	}
	var procs []*process
	for i, a := range addrs {
		args := append([]string{"--node-id", fmt.Sprint("n", i+1), "--peers", strings.Join(peers, ","), "--log-level", "warn"}, extra...)
		p := startSpookd(t, a, args...)
		t.Cleanup(p.kill)
		procs = append(procs, p)
	}
	return procs
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestRedisToolsAgainstCluster uses Debian's redis-cli and
// redis-benchmark against a three-node cluster, as a new user would.
func TestRedisToolsAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (apt-get install redis-tools; .ci/run installs it)")
	}
	procs := startCluster(t, 3)
	redisCLI := func(addr string, args ...string) string {
		out, err := exec.Command(cli, append([]string{"-p", port(addr)}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// SET and WAIT in one session: WAIT waits for this connection's last
	// write (a new connection has none and would answer at once).
	session := exec.Command(cli, "-p", port(procs[0].addr))
	session.Stdin = strings.NewReader("set hello world\nwait 2 5000\n")
	sessionOut, err := session.CombinedOutput()
	if got := strings.Fields(string(sessionOut)); err != nil || len(got) != 2 || got[0] != "OK" || got[1] != "2" {
		t.Fatalf("SET then WAIT 2 in one redis-cli session: %q, %v", sessionOut, err)
	}
	if got := redisCLI(procs[1].addr, "get", "hello"); got != "world" {
		t.Fatalf("GET on n2: %q", got)
	}
	if got := redisCLI(procs[2].addr, "incrby", "n", "5"); got != "5" {
		t.Fatalf("INCRBY: %q", got)
	}
	if got := redisCLI(procs[2].addr, "nosuchcommand"); !strings.Contains(got, "unknown command") {
		t.Fatalf("unknown command: %q", got)
	}
	bench, err := exec.LookPath("redis-benchmark")
	if err != nil {
		t.Skip("redis-benchmark not installed")
	}
	cmd := exec.Command(bench, "-p", port(procs[0].addr), "-t", "set,incr", "-n", "20000", "-P", "16", "-c", "8", "-q")
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("redis-benchmark did not finish in 60s:\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "SET:") || !strings.Contains(string(out), "INCR:") {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	t.Logf("redis-benchmark against n1:\n%s", out)
	// redis-benchmark's INCRs (20,000 on key "counter:__rand_int__") replicate.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := redisCLI(procs[1].addr, "get", "counter:__rand_int__")
		if got == "20000" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n2 has counter %q, want 20000", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
