package main

import (
	"errors"
	"testing"
)

// TestDefaultMemoryLimit checks where the default soft memory limit comes
// from: the cgroup's bound, else the machine's memory, and never when the
// environment already decides.
func TestDefaultMemoryLimit(t *testing.T) {
	meminfo := "MemTotal:       24683784 kB\nMemFree:        1000 kB\n"
	files := func(cgroup string) func(string) ([]byte, error) {
		return func(path string) ([]byte, error) {
			switch {
			case path == "/sys/fs/cgroup/memory.max" && cgroup != "":
				return []byte(cgroup), nil
			case path == "/proc/meminfo":
				return []byte(meminfo), nil
			}
			return nil, errors.New("no such file")
		}
	}
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		name   string
		getenv func(string) string
		cgroup string
		want   int64
		from   string
	}{
		{"cgroup bound", env(), "4294967296\n", 4294967296 / 100 * DefaultMemoryLimitPercent, "cgroup memory.max"},
		{"cgroup unbounded", env(), "max\n", 24683784 * 1024 / 100 * DefaultMemoryLimitPercent, "MemTotal"},
		{"no cgroup file", env(), "", 24683784 * 1024 / 100 * DefaultMemoryLimitPercent, "MemTotal"},
		{"GOMEMLIMIT set", env("GOMEMLIMIT", "1GiB"), "4294967296", 0, ""},
		{"GOGC off", env("GOGC", "off"), "4294967296", 0, ""},
	}
	for _, c := range cases {
		got, from := defaultMemoryLimit(c.getenv, files(c.cgroup))
		if got != c.want || from != c.from {
			t.Errorf("%s: got %d from %q, want %d from %q", c.name, got, from, c.want, c.from)
		}
	}
	if got, _ := defaultMemoryLimit(env(), func(string) ([]byte, error) { return nil, errors.New("none") }); got != 0 {
		t.Errorf("no bound known: got %d, want 0", got)
	}
}
