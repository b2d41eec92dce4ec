package test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spooksystems/spook/internal/completion"
)

// The deploy/ files are checked here without a container runtime or a
// cluster: they parse, they pass spookd only flags it has, the config
// example loads, the dashboard reads only series spookd serves, and the
// systemd unit passes systemd-analyze verify where that is installed.

// spookdFlags lists the flags of the spookd built from this tree.
func spookdFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command(spookd(t), "--help").CombinedOutput()
	flags := map[string]bool{}
	for _, f := range completion.ParseDefaults(string(out)) {
		flags[f.Name] = true
	}
	if !flags["listen"] || !flags["peers"] {
		t.Fatalf("could not read spookd's flags from --help:\n%s", out)
	}
	return flags
}

var flagRef = regexp.MustCompile(`(?:^|[\s"'\[,(])--([a-z][a-z0-9-]*)`)

// checkFlags fails for every --flag in text that spookd does not have.
func checkFlags(t *testing.T, where, text string, flags map[string]bool) int {
	t.Helper()
	n := 0
	for _, m := range flagRef.FindAllStringSubmatch(text, -1) {
		n++
		if !flags[m[1]] {
			t.Errorf("%s passes spookd --%s, which spookd does not have", where, m[1])
		}
	}
	return n
}

func deployFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeployCompose(t *testing.T) {
	flags := spookdFlags(t)
	var doc struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Ports   []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(deployFile(t, "compose/compose.yaml")), &doc); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"n1", "n2", "n3"} {
		svc, ok := doc.Services[name]
		if !ok {
			t.Fatalf("compose.yaml has no service %s", name)
		}
		cmd := strings.Join(svc.Command, " ")
		if checkFlags(t, "compose.yaml "+name, cmd, flags) == 0 || !strings.Contains(cmd, "--tls-cert /certs/"+name+".crt") ||
			!strings.Contains(cmd, "--node-id "+name) {
			t.Errorf("compose.yaml %s: %q does not run a TLS node named %s", name, cmd, name)
		}
	}
}

func TestDeployKubernetes(t *testing.T) {
	flags := spookdFlags(t)
	dec := yaml.NewDecoder(strings.NewReader(deployFile(t, "kubernetes/spook.yaml")))
	kinds := map[string]map[string]any{}
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("spook.yaml: %v", err)
		}
		name, _ := obj["metadata"].(map[string]any)["name"].(string)
		kinds[obj["kind"].(string)+"/"+name] = obj
	}
	get := func(obj any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := obj.(map[string]any)
				obj = m[k]
			case int:
				l, _ := obj.([]any)
				if k >= len(l) {
					return nil
				}
				obj = l[k]
			}
		}
		return obj
	}
	sts, svc, pdb := kinds["StatefulSet/spook"], kinds["Service/spook"], kinds["PodDisruptionBudget/spook"]
	if sts == nil || svc == nil || pdb == nil {
		t.Fatalf("spook.yaml lacks the StatefulSet, the headless Service or the PodDisruptionBudget: %v", kinds)
	}
	if get(svc, "spec", "clusterIP") != "None" || get(sts, "spec", "serviceName") != "spook" {
		t.Error("the StatefulSet's service is not headless")
	}
	c := get(sts, "spec", "template", "spec", "containers", 0)
	if get(c, "readinessProbe", "httpGet", "path") != "/readyz" || get(c, "livenessProbe", "httpGet", "path") != "/healthz" {
		t.Error("probes are not /readyz (readiness) and /healthz (liveness)")
	}
	script, _ := get(c, "args", 0).(string)
	if checkFlags(t, "spook.yaml", script, flags) == 0 || !strings.Contains(script, "--join spook-0.$domain:7001") {
		t.Errorf("the pods do not join through spook-0's DNS name:\n%s", script)
	}
	if get(sts, "spec", "template", "spec", "volumes", 0, "secret", "secretName") != "spook-tls" {
		t.Error("certificates do not come from the spook-tls Secret")
	}
}

func TestDeployConfigExample(t *testing.T) {
	flags := spookdFlags(t)
	text := deployFile(t, "spookd.conf")
	// Every flag is in the example, set or commented out with its default.
	key := regexp.MustCompile(`(?m)^#? ?([a-z][a-z0-9-]*) =`)
	seen := map[string]bool{}
	for _, m := range key.FindAllStringSubmatch(text, -1) {
		seen[m[1]] = true
		if !flags[m[1]] {
			t.Errorf("spookd.conf names %q, which is not a spookd flag", m[1])
		}
	}
	for f := range flags {
		switch f {
		case "config", "version", "completion", "help":
			continue // command-line actions, not settings
		}
		if !seen[f] {
			t.Errorf("spookd.conf does not mention %s", f)
		}
	}
	// It loads: spookd reads every line (and exits at --version).
	out, err := exec.Command(spookd(t), "--config", filepath.Join("..", "deploy", "spookd.conf"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "spookd ") {
		t.Errorf("spookd --config deploy/spookd.conf: %v\n%s", err, out)
	}
}

func TestDeployDockerfileAndUnit(t *testing.T) {
	flags := spookdFlags(t)
	docker := deployFile(t, "Dockerfile")
	for _, want := range []string{"CGO_ENABLED=0", "USER 10001", "./cmd/spookd ./cmd/spook", "ENTRYPOINT"} {
		if !strings.Contains(docker, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	cmdLine := regexp.MustCompile(`(?m)^CMD .*$`).FindString(docker)
	checkFlags(t, "Dockerfile CMD", strings.NewReplacer(`"--`, ` --`).Replace(cmdLine), flags)

	unit := deployFile(t, "systemd/spookd.service")
	exec1 := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindStringSubmatch(unit)
	if exec1 == nil || checkFlags(t, "spookd.service", exec1[1], flags) == 0 {
		t.Fatalf("spookd.service has no ExecStart with flags")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit is not verified")
		return
	}
	// Verify a copy whose ExecStart is the binary built here (verify
	// checks that it exists).
	dir := t.TempDir()
	file := filepath.Join(dir, "spookd.service")
	if err := os.WriteFile(file, []byte(strings.Replace(unit, "/usr/local/bin/spookd", spookd(t), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", file).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestDeployGrafanaDashboard(t *testing.T) {
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(deployFile(t, "grafana/spook.json")), &dash); err != nil {
		t.Fatalf("spook.json: %v", err)
	}
	// The series a node with one (unreachable) peer serves from the start.
	addr := freePort(t)
	p := startSpookd(t, addr, "--node-id", "a", "--peers", "a="+addr+",b=127.0.0.1:1", "--log-level", "error")
	defer p.kill()
	var body string
	for range 50 {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			// The per-peer series appear together once the node has
			// refreshed its metrics with the peer known; wait for the
			// first and the last of them, not only the state.
			if strings.Contains(body, "spook_peer_state{") && strings.Contains(body, "spook_peer_lag_transactions{") &&
				strings.Contains(body, "spook_peer_links_total{") {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	series := regexp.MustCompile(`\b((?:spook|go|process)_[a-z0-9_]+)`)
	n := 0
	for _, panel := range dash.Panels {
		for _, target := range panel.Targets {
			for _, m := range series.FindAllStringSubmatch(target.Expr, -1) {
				n++
				if !strings.Contains(body, "\n"+m[1]+"{") && !strings.Contains(body, "\n"+m[1]+" ") {
					t.Errorf("panel %q queries %s, which spookd does not serve", panel.Title, m[1])
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("the dashboard queries only %d series", n)
	}
}
