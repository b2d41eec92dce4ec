package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spooksystems/spook/bench"
	"github.com/spooksystems/spook/node"
	"github.com/spooksystems/spook/replica"
)

// inproc is three Spook nodes in this process (node.Start), so that
// runtime/pprof sees the servers: spookd has no pprof endpoint yet.
type inproc struct {
	nodes []*node.Node
	addrs []string
}

func (s *inproc) Name() string                 { return "spook/in-process" }
func (s *inproc) Peer() string                 { return "spook" }
func (s *inproc) Durability() bench.Durability { return bench.Default }
func (s *inproc) Pipelined() bool              { return true }
func (s *inproc) Start(context.Context) error  { return nil }
func (s *inproc) PeerBytes() (int64, error)    { return 0, nil }
func (s *inproc) PIDs() []int                  { return []int{os.Getpid()} }
func (s *inproc) Method() string               { return "" }
func (s *inproc) Stop() error {
	for _, n := range s.nodes {
		n.Close()
	}
	return nil
}

func (s *inproc) Client(i int) (bench.Client, error) {
	c, err := bench.DialRESP(s.addrs[i])
	if err != nil {
		return nil, err
	}
	return respClient{c}, nil
}

// respClient mirrors the harness's RESP client for the in-process nodes.
type respClient struct{ c *bench.RESPConn }

func (r respClient) Do(ops []bench.Op) error {
	for _, op := range ops {
		r.c.Append([]byte("SET"), op.Key, op.Value)
	}
	if err := r.c.Flush(); err != nil {
		return err
	}
	return r.c.Skip(len(ops))
}

func (r respClient) Close() error { return r.c.Close() }

// runProfile is "spookbench profile": profileSpook with its flags, printed.
func runProfile(args []string) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	out := fs.String("out", "spook-set.pprof", "CPU profile file")
	d := fs.Duration("duration", 10*time.Second, "profiled load duration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	summary, err := profileSpook(*out, *d)
	fmt.Println(summary)
	return err
}

// profileTopLines is how many lines of `go tool pprof -top` are kept.
const profileTopLines = 22

// profileSpook CPU-profiles three in-process nodes (fsync batch, data on
// disk) under SET with 16 clients × P=16 for d, writes the profile to out
// and returns a Markdown summary with the top of `go tool pprof -top`. The
// profile covers the whole process: the three nodes and the harness's 16
// RESP clients.
func profileSpook(out string, d time.Duration) (string, error) {
	dir, err := os.MkdirTemp("", "spookbench-profile-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	var members []replica.Peer
	var addrs []string
	for i := 0; i < 3; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addrs = append(addrs, ln.Addr().String())
		ln.Close()
		members = append(members, replica.Peer{Name: fmt.Sprintf("n%d", i+1), Addr: addrs[i]})
	}
	sys := &inproc{addrs: addrs}
	defer sys.Stop()
	for i := range addrs {
		n, err := node.Start(node.Config{Name: members[i].Name, Listen: addrs[i], Members: members,
			DataDir: fmt.Sprintf("%s/n%d", dir, i+1), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return "", err
		}
		sys.nodes = append(sys.nodes, n)
	}
	if err := waitInproc(addrs[0]); err != nil {
		return "", err
	}
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return "", err
	}
	cell := bench.Cell{Workload: bench.WorkloadSet, Clients: 16, Pipeline: 16}
	res, err := bench.RunCell(context.Background(), sys, cell, bench.Limits{Duration: d, MaxOps: 1 << 40}, 1)
	pprof.StopCPUProfile()
	f.Close()
	if err != nil {
		return "", err
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=100000", out).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(top)), "\n")
	for len(lines) > 0 && !strings.HasPrefix(strings.TrimSpace(lines[0]), "flat") {
		lines = lines[1:] // drop the header down to the column titles
	}
	groups := groupProfile(lines)
	cum := spookByCum(lines, 12)
	if len(lines) > profileTopLines+1 {
		lines = lines[:profileTopLines+1]
	}
	return fmt.Sprintf("%s\n\nSpook's functions by cumulative CPU (time in them and what they call):\n\n```\n%s\n```\n\n%s", groups, cum, fmt.Sprintf("CPU profile of three in-process nodes (node.Start, fsync batch, data on disk) under %s for %v in one process with the harness's clients "+
		"(spookd has no pprof endpoint yet, so the nodes run in-process here; the profile also holds the 16 RESP clients): %.0f ops/s, p99 %v. "+
		"Top functions by flat CPU (`go tool pprof -top`):\n\n```\n%s\n```", cell, d, res.OpsPerSec(), res.Lat.Quantile(0.99), strings.Join(lines, "\n"))), nil
}

// profileGroup maps a function name to the part of the system it belongs to.
func profileGroup(fn string) string {
	switch {
	case strings.HasPrefix(fn, "internal/runtime/syscall") || strings.HasPrefix(fn, "syscall."):
		return "system calls (socket and file I/O)"
	case strings.HasPrefix(fn, "runtime.") && containsAny(fn, "gc", "scan", "mark", "span", "Span", "malloc", "heap", "sweep", "memclr", "nextFree", "alloc", "wb"):
		return "Go GC and allocation"
	case strings.HasPrefix(fn, "github.com/spooksystems/spook/bench"):
		return "harness RESP clients"
	case strings.HasPrefix(fn, "github.com/spooksystems/spook/"):
		pkg := strings.TrimPrefix(fn, "github.com/spooksystems/spook/")
		if i := strings.IndexAny(pkg, "."); i >= 0 {
			pkg = pkg[:i]
		}
		return "spook " + pkg
	case strings.HasPrefix(fn, "github.com/tidwall/btree"):
		return "tidwall/btree (keyspace index)"
	case strings.HasPrefix(fn, "github.com/tidwall/redcon"):
		return "tidwall/redcon (RESP server)"
	case strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime") || fn == "cmpbody" || fn == "memeqbody" || strings.HasPrefix(fn, "aeshash"):
		return "Go runtime other (scheduler, maps, memmove, compare)"
	}
	return "other"
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// groupProfile sums the flat percentages of `pprof -top` lines by
// profileGroup and renders them as a Markdown table, largest first.
func groupProfile(lines []string) string {
	sums := map[string]float64{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		if err != nil {
			continue
		}
		sums[profileGroup(strings.Join(f[5:], " "))] += pct
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return sums[names[i]] > sums[names[j]] })
	var b strings.Builder
	b.WriteString("| where the CPU went (flat) | share |\n|---|---|\n")
	for _, n := range names {
		if sums[n] < 0.1 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f %% |\n", n, sums[n])
	}
	return b.String()
}

// waitInproc waits until a write on addr reaches both other nodes.
func waitInproc(addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := bench.DialRESP(addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			_, err = c.Do("SET", "bench.ready", "1")
			if err == nil {
				var r bench.Reply
				if r, err = c.Do("WAIT", "2", "1000"); err == nil && r.Int < 2 {
					err = fmt.Errorf("WAIT 2 answered %d", r.Int)
				}
			}
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("in-process cluster not replicating: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// spookByCum lists the n Spook functions with the largest cumulative share.
func spookByCum(lines []string, n int) string {
	type fn struct {
		name string
		cum  float64
	}
	var fns []fn
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasSuffix(f[4], "%") || !strings.HasPrefix(f[5], "github.com/spooksystems/spook/") ||
			strings.HasPrefix(f[5], "github.com/spooksystems/spook/bench") {
			continue
		}
		c, err := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err != nil {
			continue
		}
		fns = append(fns, fn{strings.TrimPrefix(strings.Join(f[5:], " "), "github.com/spooksystems/spook/"), c})
	}
	sort.SliceStable(fns, func(i, j int) bool { return fns[i].cum > fns[j].cum })
	var b strings.Builder
	for i, f := range fns {
		if i == n {
			break
		}
		fmt.Fprintf(&b, "%6.1f%%  %s\n", f.cum, f.name)
	}
	return strings.TrimRight(b.String(), "\n")
}
