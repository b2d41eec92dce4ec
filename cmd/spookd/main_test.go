package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
)

func noEnv(string) string { return "" }

// config parses args and builds the node config, as run does.
func config(args ...string) error {
	o, _, err := parse(args, noEnv)
	if err != nil {
		return err
	}
	_, err = buildConfig(o, io.Discard)
	return err
}

// TestFlagErrorsNameFlags: every refusal names the flag the operator
// typed, never a Go field, and says what would be accepted.
func TestFlagErrorsNameFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--tick", "-5ms"}, []string{"--tick -5ms", "1ms"}},
		{[]string{"--peers", "a=127.0.0.1:7001", "--join", "127.0.0.1:7002"}, []string{"--peers", "--join", "not both"}},
		{[]string{"--log-level", "verbose"}, []string{"--log-level", `"verbose"`, "debug, info, warn or error"}},
		{[]string{"--listen", ":7624"}, []string{":7624", "all interfaces"}},
		{[]string{"--peers", "a=127.0.0.1:7624;b=127.0.0.1:7625"}, []string{"--peers", "127.0.0.1:7624;b=127.0.0.1:7625"}},
		{[]string{"--peers", "a=127.0.0.1:7001,a=127.0.0.1:7002"}, []string{"--peers", `"a"`, "twice"}},
		{[]string{"--peers", "a=127.0.0.1:7001,b=127.0.0.1:7001"}, []string{"--peers", "127.0.0.1:7001", "twice"}},
		{[]string{"--peers", "a=:7001"}, []string{"--peers", `":7001"`}},
		{[]string{"--join", "127.0.0.1"}, []string{"--join", `"127.0.0.1"`}},
		{[]string{"--fsync", "sometimes"}, []string{"--fsync", "always, batch or none"}},
		{[]string{"--region", "eu west"}, []string{"--region", `"eu west"`, "letter, digit"}},
		{[]string{"--region", strings.Repeat("r", 65)}, []string{"--region", "65 bytes", "64"}},
	} {
		err := config(c.args...)
		if err == nil {
			t.Errorf("%q accepted", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %q does not say %q", c.args, err, w)
			}
		}
		for _, field := range []string{"TickInterval", "Members", "Join ", "Listen "} {
			if strings.Contains(err.Error(), field) {
				t.Errorf("%q: %q names the Go field %s", c.args, err, field)
			}
		}
	}
	for _, ok := range [][]string{
		{"--peers", "n1=127.0.0.1:7001,n2=ws://127.0.0.1:7002/v1/peer,n3=[::1]:7003"},
		{"--join", "127.0.0.1:7002,localhost:7003"},
		{"--region", "eu-west-1"},
	} {
		if err := config(ok...); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

// TestUsageErrorsAreShort: a bad flag is a usage error (main prints it and
// one hint line); --help is flag.ErrHelp with the help printed.
func TestUsageErrorsAreShort(t *testing.T) {
	var out strings.Builder
	code := mainCode([]string{"--bogus"}, noEnv, &out)
	if code != 2 || out.String() != "spookd: flag provided but not defined: -bogus\nRun 'spookd --help' for usage.\n" {
		t.Errorf("--bogus: exit %d, %q", code, out.String())
	}
	out.Reset()
	code = mainCode([]string{"--log-level", "verbose"}, noEnv, &out)
	if code != 2 || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("--log-level verbose: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := mainCode([]string{"--help"}, noEnv, &out); code != 0 || !strings.Contains(out.String(), "usage: spookd") ||
		!strings.Contains(out.String(), "-leave-on-terminate") {
		t.Errorf("--help: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := mainCode([]string{"--version"}, noEnv, &out); code != 0 || !strings.HasPrefix(out.String(), "spookd devel commit ") {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
	if _, _, err := parse([]string{"--help"}, noEnv); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parse --help: %v", err)
	}
}

// TestStartWarnings: a node that will silently be an island, or silently
// forget everything, says so at start, naming the flag that changes it.
func TestStartWarnings(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"--peers", "--join", "--data"}},
		{[]string{"--data", "d"}, []string{"--peers", "--join"}},
		{[]string{"--peers", "n1=127.0.0.1:7001,n2=127.0.0.1:7002"}, []string{"--data"}},
		{[]string{"--peers", "n1=127.0.0.1:7001,n2=127.0.0.1:7002", "--data", "d"}, nil},
	} {
		o, _, err := parse(c.args, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(startWarnings(o), "\n")
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%q: warnings %q do not name %s", c.args, got, w)
			}
		}
		if c.want == nil && got != "" {
			t.Errorf("%q: unexpected warnings %q", c.args, got)
		}
	}
}

// TestCorruptDataHint: a refusal to open damaged data suggests
// rebuilding from peers; a directory in use names the other process.
func TestCorruptDataHint(t *testing.T) {
	corrupt := fmt.Errorf("node: replay log: %w", &storage.CorruptionError{What: "record", File: "d/log/1", Reason: "checksum mismatch"})
	if got := explain(corrupt, "d").Error(); !strings.Contains(got, "--rebuild-from-peers --join ADDR") || !strings.Contains(got, "checksum mismatch") {
		t.Errorf("%q", got)
	}
	locked := fmt.Errorf("node: open data directory d: %w", &vfs.LockedError{Name: "d/LOCK", PID: 42})
	if got := explain(locked, "d").Error(); !strings.Contains(got, "d is in use by another spookd process (pid 42)") {
		t.Errorf("%q", got)
	}
}

// TestRegionSources: the region comes from --region, SPOOK_REGION or the
// config file's region key, in that order, and reaches the node config.
func TestRegionSources(t *testing.T) {
	file := t.TempDir() + "/spookd.conf"
	if err := os.WriteFile(file, []byte("region = us-east\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SPOOK_REGION" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--region", "eu"}, "ap", "eu"},
		{nil, "ap", "ap"},
		{[]string{"--config", file}, "", "us-east"},
		{[]string{"--config", file}, "ap", "ap"},
		{nil, "", ""},
	} {
		o, _, err := parse(c.args, env(c.env))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := buildConfig(o, io.Discard)
		if err != nil || cfg.Region != c.want {
			t.Errorf("%q with SPOOK_REGION=%q: region %q (%v), want %q", c.args, c.env, cfg.Region, err, c.want)
		}
	}
}

// TestUsersFlag: --users (SPOOK_USERS, "users =" in the config file)
// reads a users file into the node config; a bad line is refused with
// the file and its line number, a missing file with its name, and a
// default user given by both --password and the file with both names.
func TestUsersFlag(t *testing.T) {
	dir := t.TempDir()
	hash, err := api.HashPassword([]byte("pw"), api.MinPasswordIterations)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "users")
	os.WriteFile(good, []byte("# users\nalice "+hash+"\ndefault "+hash+"\n"), 0o600)
	o, _, err := parse([]string{"--users", good}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := buildConfig(o, io.Discard)
	if err != nil || cfg.Users.Len() != 2 || !cfg.Users.Authenticate("alice", []byte("pw")) {
		t.Fatalf("--users %s: %v, %d users", good, err, cfg.Users.Len())
	}
	o, _, _ = parse(nil, func(k string) string { return map[string]string{"SPOOK_USERS": good}[k] })
	if cfg, err := buildConfig(o, io.Discard); err != nil || cfg.Users.Len() != 2 {
		t.Fatalf("SPOOK_USERS: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("alice "+hash+"\n\nbob not-a-hash\n"), 0o600)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--users", bad}, []string{"--users " + bad, "line 3", "password hash"}},
		{[]string{"--users", filepath.Join(dir, "absent")}, []string{"--users", "absent"}},
		{[]string{"--users", good, "--password", "x"}, []string{"--password", "--users", `"default"`}},
	} {
		err := config(c.args...)
		if err == nil {
			t.Errorf("%q accepted", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %q does not say %q", c.args, err, w)
			}
		}
	}
}
