package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfoReadsVCSSettings(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "5049e3c1a2b4c5d6e7f8091a2b3c4d5e6f708192"},
			{Key: "vcs.time", Value: "2026-12-06T21:40:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	got := fromBuildInfo(bi, true)
	want := Info{Version: "v1.2.3", Commit: "5049e3c1a2b4c5d6e7f8091a2b3c4d5e6f708192",
		Time: "2026-12-06T21:40:00Z", Modified: true, Go: "go1.26.8"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if s := got.String(); s != "v1.2.3 commit 5049e3c1a2b4 (2026-12-06T21:40:00Z, modified) go1.26.8" {
		t.Fatalf("String() = %q", s)
	}
	if s := got.Short(); s != "v1.2.3+5049e3c1a2b4+dirty" {
		t.Fatalf("Short() = %q", s)
	}
}

func TestFromBuildInfoDefaults(t *testing.T) {
	for _, bi := range []*debug.BuildInfo{nil, {Main: debug.Module{Version: "(devel)"}}} {
		got := fromBuildInfo(bi, bi != nil)
		if got.Version != "devel" || got.Commit != "unknown" || got.Time != "unknown" || got.Go == "" {
			t.Fatalf("defaults for %+v: %+v", bi, got)
		}
		if !strings.HasPrefix(got.String(), "devel commit unknown (unknown) go") {
			t.Fatalf("String() = %q", got.String())
		}
	}
}

func TestGetIsStable(t *testing.T) {
	if Get() != Get() || Get().Go == "" {
		t.Fatalf("Get() = %+v", Get())
	}
}

func TestOverrides(t *testing.T) {
	base := Info{Version: "devel", Commit: "unknown", Time: "unknown", Go: "go1.26.8"}
	got := withOverrides(base, "v1.0.0", "abc", "")
	if got.Version != "v1.0.0" || got.Commit != "abc" || got.Time != "unknown" {
		t.Fatalf("%+v", got)
	}
	if withOverrides(base, "", "", "") != base {
		t.Fatal("empty overrides changed the info")
	}
}
