package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Runnable documentation: a fenced ```sh block preceded by the line
// <!-- runnable --> in README.md or docs/*.md is run by TestDocsRunnable,
// in order, against a local cluster started as the quick start says
// (spook up, ports 7001-7003), each block as one bash script with -e and
// pipefail, in one scratch directory. <!-- runnable: standalone --> marks
// a block that starts its own nodes on those ports; it runs before the
// cluster starts, and every process it leaves behind is stopped after it.
//
// The blocks run verbatim with two substitutions, both stated here:
//   - 'go run ./cmd/spook ARGS' runs the spook binary built from this tree,
//     and 'go build -o DIR ./cmd/...' copies the binaries built from this
//     tree into DIR (the test builds them exactly so, from the repository
//     root, and checks both binaries appear: a plain 'go build ./cmd/...'
//     of several packages writes none);
//   - when a port of 7001-7003 is taken on this machine, three free
//     consecutive ports replace them throughout, and SPOOK_ADDR names the
//     first (the CLI's default address is 7001's).
var runnableMark = regexp.MustCompile(`^<!-- runnable(?::\s*(\w+))?\s*-->$`)

// docBlock is one runnable shell block.
type docBlock struct {
	file string
	line int // of the opening fence
	mode string
	text string
}

// MaxDocBlockTime bounds one block's run.
const MaxDocBlockTime = 60 * time.Second

func runnableBlocks(t *testing.T, root string) []docBlock {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var out []docBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			m := runnableMark.FindStringSubmatch(strings.TrimSpace(lines[i]))
			if m == nil {
				continue
			}
			rel, _ := filepath.Rel(root, f)
			if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
				t.Fatalf("%s:%d: a runnable mark must be followed by a ```sh block", rel, i+1)
			}
			blk := docBlock{file: rel, line: i + 2, mode: m[1]}
			j := i + 2
			for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
				blk.text += lines[j] + "\n"
			}
			if j == len(lines) {
				t.Fatalf("%s:%d: unterminated block", rel, blk.line)
			}
			if blk.mode != "" && blk.mode != "standalone" {
				t.Fatalf("%s:%d: unknown runnable mode %q", rel, blk.line, blk.mode)
			}
			out = append(out, blk)
			i = j
		}
	}
	return out
}

// freeBase returns 7001 when 7001-7003 are free (and preferred), else the
// first port of three free consecutive ones.
func freeBase(t *testing.T, prefer7001 bool) int {
	t.Helper()
	free := func(base int) bool {
		var lns []net.Listener
		defer func() {
			for _, l := range lns {
				l.Close()
			}
		}()
		for p := base; p < base+3; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				return false
			}
			lns = append(lns, l)
		}
		return true
	}
	if prefer7001 && free(7001) {
		return 7001
	}
	for range 50 {
		_, port, _ := net.SplitHostPort(freePort(t))
		p, _ := strconv.Atoi(port)
		if p+2 < 65536 && free(p) {
			return p
		}
	}
	t.Fatal("no three consecutive free ports")
	return 0
}

var docPort = regexp.MustCompile(`\b700([123])\b`)

// goShim is the preamble of every block: see the substitutions above.
const goShim = `go() {
	if [ "$1" = run ] && [ "$2" = ./cmd/spook ]; then shift 2; spook "$@"; return; fi
	if [ "$1" = build ] && [ "$2" = -o ] && [ "$4" = ./cmd/... ]; then
		mkdir -p "$3" && cp "$SPOOK_TEST_BIN/spook" "$SPOOK_TEST_BIN/spookd" "$3"; return
	fi
	command go "$@"
}
`

// runBlock runs one block in dir and stops every process it left.
func runBlock(t *testing.T, blk docBlock, dir string, env []string, base int) {
	t.Helper()
	text := docPort.ReplaceAllStringFunc(blk.text, func(s string) string {
		return strconv.Itoa(base + int(s[3]-'1'))
	})
	ctx, cancel := context.WithTimeout(context.Background(), MaxDocBlockTime)
	defer cancel()
	// Output goes to a file, not a pipe: processes a block leaves in the
	// background would hold a pipe open, and Wait would wait for them.
	outFile, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+goShim+text)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, outFile, outFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err = cmd.Run()
	if cmd.Process != nil {
		stopGroup(cmd.Process.Pid)
	}
	out, _ := os.ReadFile(outFile.Name())
	if err != nil {
		t.Fatalf("%s:%d: runnable block failed: %v\n--- block\n%s--- output\n%s", blk.file, blk.line, err, text, out)
	}
	t.Logf("%s:%d: ok", blk.file, blk.line)
}

// stopGroup stops what is left of process group pgid: SIGTERM, then
// SIGKILL after a bounded wait.
func stopGroup(pgid int) {
	if syscall.Kill(-pgid, syscall.SIGTERM) != nil {
		return // nothing left
	}
	for range 50 {
		if syscall.Kill(-pgid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// waitReady polls /readyz on each port until it answers 200 (bounded),
// and reports false if the cluster's process exits first.
func waitReady(t *testing.T, base int, logs *safeBuffer, exited <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p := base; p < base+3; p++ {
		for {
			select {
			case <-exited:
				return false
			default:
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", p))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster is not ready on port %d within 30s\n%s", p, logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return true
}

func TestDocsRunnable(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	for _, tool := range []string{"bash", "curl", "redis-cli", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the documented blocks use it (.ci/run installs it)", tool)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := runnableBlocks(t, root)
	if len(blocks) < 5 {
		t.Fatalf("only %d runnable blocks found; the docs mark more", len(blocks))
	}

	// Build exactly as README says, into a directory of our own.
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-C", root, "-o", bin+"/", "./cmd/...").CombinedOutput(); err != nil {
		t.Fatalf("go build -o DIR/ ./cmd/...: %v\n%s", err, out)
	}
	for _, name := range []string{"spook", "spookd"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Fatalf("go build -o DIR/ ./cmd/... wrote no %s: %v", name, err)
		}
	}
	base := freeBase(t, true)
	if base != 7001 {
		t.Logf("ports 7001-7003 are taken here: the blocks run on %d-%d", base, base+2)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"SPOOK_TEST_BIN="+bin, "SPOOK_ADDR=127.0.0.1:"+strconv.Itoa(base))

	for _, blk := range blocks {
		if blk.mode == "standalone" {
			runBlock(t, blk, t.TempDir(), env, base)
		}
	}

	// The quick start's cluster, from a scratch directory. A port taken
	// between the check and spook up's listen (another process on this
	// machine) makes spook up exit at once: then another base is tried.
	dir := t.TempDir()
	var up *exec.Cmd
	var logs *safeBuffer
	for attempt := 0; ; attempt++ {
		logs = &safeBuffer{}
		up = exec.Command(filepath.Join(bin, "spook"), "up", "--base-port", strconv.Itoa(base))
		up.Dir, up.Env, up.Stdout, up.Stderr = dir, env, logs, logs
		up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := up.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { up.Wait(); close(exited) }()
		if waitReady(t, base, logs, exited) {
			defer func() {
				up.Process.Signal(syscall.SIGINT)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					syscall.Kill(-up.Process.Pid, syscall.SIGKILL)
					<-exited
				}
			}()
			break
		}
		if attempt == 2 {
			t.Fatalf("spook up exited three times:\n%s", logs)
		}
		t.Logf("spook up on %d exited (%s); trying other ports", base, strings.TrimSpace(logs.String()))
		base = freeBase(t, false)
		env = append(env, "SPOOK_ADDR=127.0.0.1:"+strconv.Itoa(base))
	}
	for _, blk := range blocks {
		if blk.mode == "" {
			runBlock(t, blk, dir, env, base)
		}
	}
}

// TestDocsUseTheQuickStartPorts: every shell example that names a local
// port uses the ones spook up listens on, so a reader can paste it.
func TestDocsUseTheQuickStartPorts(t *testing.T) {
	root, _ := filepath.Abs("..")
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"))
	local := regexp.MustCompile(`(?:127\.0\.0\.1:|localhost:|-p )(\d+)`)
	for _, f := range files {
		if strings.HasSuffix(f, "BENCHMARKS.md") {
			continue // measured setups with their own ports
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		inShell := false
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inShell = strings.TrimSpace(line) == "```sh"
				continue
			}
			if !inShell {
				continue
			}
			for _, m := range local.FindAllStringSubmatch(line, -1) {
				if p, _ := strconv.Atoi(m[1]); p < 7001 || p > 7009 {
					t.Errorf("%s:%d: port %s is not one spook up uses (7001-7003): %s", filepath.Base(f), n, m[1], line)
				}
			}
		}
		fh.Close()
	}
}
