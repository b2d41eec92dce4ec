package main

import (
	"errors"
	"flag"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestUsageErrorIsShort: a mistake in a command's arguments gives the
// error and one hint line, not the whole help (and never the error twice);
// --help gives the help.
func TestUsageErrorIsShort(t *testing.T) {
	for _, args := range [][]string{
		{"get", "--bogus"},
		{"get"},
		{"set", "k"},
		{"member"},
		{"sim", "--bogus"},
		{"link", "--bogus"},
		{"bench", "--bogus"},
		{"bundle", "export", "--bogus"},
		{"up", "--bogus"},
	} {
		_, errOut, err := run(args...)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v is not a usage error", args, err)
			continue
		}
		if errOut != "" {
			t.Errorf("%q printed %q; the error alone should be printed, by main", args, errOut)
		}
		msg := usageMessage(args[0], ue)
		if lines := strings.Count(msg, "\n"); lines != 2 || !strings.Contains(msg, "spook "+args[0]+" --help") {
			t.Errorf("%q: usage message %q, want the error and one hint line", args, msg)
		}
	}
}

// TestHelpIsFull: every command's --help prints a synopsis, an example
// and its flags (spook sim's was a bare flag list).
func TestHelpIsFull(t *testing.T) {
	for name := range commands {
		if name == "up" || name == "certs" {
			continue // the edge helper's commands
		}
		_, errOut, err := run(name, "--help")
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "usage: spook "+name) || !strings.Contains(errOut, "Example") {
			t.Errorf("spook %s --help: %v\n%s", name, err, errOut)
		}
	}
}

// TestMainCode: exit codes and what main prints for version, help,
// unknown commands and usage errors.
func TestMainCode(t *testing.T) {
	for _, c := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"version"}, 0, "spook devel", ""},
		{[]string{"--version"}, 0, "spook devel", ""},
		{[]string{"version", "--json"}, 0, `"commit":`, ""},
		{[]string{"--help"}, 0, "usage: spook <command>", ""},
		{[]string{"nosuch"}, 2, "", "unknown command \"nosuch\"\nRun 'spook --help' for the commands.\n"},
		{[]string{"get", "--bogus"}, 2, "", "spook get: flag provided but not defined: -bogus\nRun 'spook get --help' for usage.\n"},
	} {
		var o, e strings.Builder
		stdout, stderr = &o, &e
		code := mainCode(c.args)
		stdout, stderr = io.Discard, io.Discard
		if code != c.code || !strings.Contains(o.String(), c.out) || !strings.HasSuffix(e.String(), c.errOut) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, o.String(), e.String())
		}
	}
}

// TestCompletion: spook completion prints a script per shell naming every
// command with its flags and actions; bash parses it.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, _, err := run("completion", shell)
		if err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		for _, want := range []string{"member", "leave", "remove", "tls-cert", "bundle", "export", "since"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s completion lacks %q", shell, want)
			}
		}
		if shell == "bash" {
			if bash, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command(bash, "-n")
				cmd.Stdin = strings.NewReader(out)
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("bash -n: %v %s", err, msg)
				}
			}
		}
	}
	if _, _, err := run("completion", "tcsh"); err == nil {
		t.Error("tcsh accepted")
	}
}
