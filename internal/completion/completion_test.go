package completion

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func testProgram() Program {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("addr", "", "node address [host:port]: it's 'quoted'")
	fs.Bool("json", false, "print JSON")
	return Program{Name: "spook", Flags: []Flag{{Name: "version", Usage: "print the build"}},
		Commands: []Command{
			{Name: "get", Summary: "print a key's value", Flags: FlagsOf(fs)},
			{Name: "member", Summary: "operator actions: leave, remove", Flags: FlagsOf(fs), Actions: []string{"leave", "remove"}},
		}}
}

func TestFlagsOfAndParseDefaults(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("addr", "", "node address")
	fs.Bool("json", false, "print JSON")
	fs.Duration("timeout", 0, "how long\nsecond line")
	fs.Bool("v", false, "verbose")
	want := []Flag{{"addr", "node address", true}, {"json", "print JSON", false}, {"timeout", "how long", true}, {"v", "verbose", false}}
	if got := FlagsOf(fs); !equal(got, want) {
		t.Errorf("FlagsOf: %+v", got)
	}
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	if got := ParseDefaults(b.String()); !equal(got, want) {
		t.Errorf("ParseDefaults: %+v from\n%s", got, b.String())
	}
}

func equal(a, b []Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestScriptsParse: each script is valid in its shell (checked with the
// shell's own parser where the shell is installed), names every command,
// flag and action.
func TestScriptsParse(t *testing.T) {
	p := testProgram()
	for _, shell := range Shells {
		var b strings.Builder
		if err := Write(&b, shell, p); err != nil {
			t.Fatal(err)
		}
		script := b.String()
		for _, want := range []string{"get", "member", "addr", "json", "leave", "remove"} {
			if !strings.Contains(script, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		path, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s not installed: syntax not checked", shell)
			continue
		}
		file := filepath.Join(t.TempDir(), "c."+shell)
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(path, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s\n%s", shell, err, out, script)
		}
	}
	if err := Write(&strings.Builder{}, "tcsh", p); err == nil {
		t.Error("tcsh accepted")
	}
}

// TestBashCompletes runs the bash function as bash would on a partial
// command line.
func TestBashCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	var b strings.Builder
	Write(&b, "bash", testProgram())
	for _, c := range []struct {
		line string
		want string
	}{
		{"spook ge", "get"},
		{"spook get --ad", "--addr"},
		{"spook member l", "leave"},
	} {
		words := strings.Fields(c.line)
		script := b.String() + "\nCOMP_WORDS=(" + c.line + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_spook\necho \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command(bash, "-c", script).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("%q: %q %v", c.line, out, err)
		}
	}
}
