package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Info identifies one build.
type Info struct {
	// Version is the main module's version ("v1.2.3"), or "devel" for a
	// build from a checkout (Go reports "(devel)").
	Version string `json:"version"`
	// Commit is the full VCS revision, or "unknown".
	Commit string `json:"commit"`
	// Time is the commit's time (RFC 3339), or "unknown". Go records the
	// commit's time, not the build's, so rebuilding one commit gives the
	// same answer (reproducible builds).
	Time string `json:"time"`
	// Modified reports a build from a tree with uncommitted changes.
	Modified bool `json:"modified"`
	// Go is the toolchain that built the binary ("go1.26.8").
	Go string `json:"go"`
}

// shortCommitChars is how much of the commit String prints, as git does
// in `git log --oneline` for a repository of this size.
const shortCommitChars = 12

// Overrides for builds without VCS information (a container build from
// a source tree without .git, or -buildvcs=false), set with
//
//	go build -ldflags "-X github.com/spooksystems/spook/internal/buildinfo.version=v1.2.3 \
//	  -X github.com/spooksystems/spook/internal/buildinfo.commit=$(git rev-parse HEAD) \
//	  -X github.com/spooksystems/spook/internal/buildinfo.commitTime=2026-12-06T21:40:00Z"
//
// Each, when set, wins over what the build information says.
var version, commit, commitTime string

var (
	once sync.Once
	info Info
)

// Get returns this binary's build information.
func Get() Info {
	once.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		info = withOverrides(fromBuildInfo(bi, ok), version, commit, commitTime)
	})
	return info
}

// withOverrides replaces the fields whose override is not empty.
func withOverrides(i Info, version, commit, commitTime string) Info {
	if version != "" {
		i.Version = version
	}
	if commit != "" {
		i.Commit = commit
	}
	if commitTime != "" {
		i.Time = commitTime
	}
	return i
}

// fromBuildInfo extracts Info from what the runtime reported; ok false
// (a binary built without module support) gives the defaults.
func fromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	out := Info{Version: "devel", Commit: "unknown", Time: "unknown", Go: runtime.Version()}
	if !ok || bi == nil {
		return out
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		out.Version = v
	}
	if bi.GoVersion != "" {
		out.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Commit = s.Value
		case "vcs.time":
			out.Time = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		}
	}
	return out
}

// Short is the version and the abbreviated commit, for one log field or a
// status line: "devel+5049e3c1a2b4" ("+dirty" appended when modified).
func (i Info) Short() string {
	s := i.Version
	if i.Commit != "unknown" {
		s += "+" + abbreviate(i.Commit)
	}
	if i.Modified {
		s += "+dirty"
	}
	return s
}

// String is the one line the version commands print.
func (i Info) String() string {
	s := i.Version + " commit " + abbreviate(i.Commit) + " (" + i.Time
	if i.Modified {
		s += ", modified"
	}
	return s + ") " + i.Go
}

func abbreviate(commit string) string {
	if len(commit) > shortCommitChars {
		return commit[:shortCommitChars]
	}
	return commit
}
