// Package buildinfo reports which build of Spook is running: the module
// version, the VCS commit and its time, and the Go version, all read from
// the binary's embedded build information (runtime/debug.ReadBuildInfo).
//
// A binary built with `go build` inside a git checkout carries the commit
// (vcs.revision), its time (vcs.time) and whether the tree had local
// changes (vcs.modified); `go install module@version` carries the module
// version. Anything missing reads "unknown" (or "devel" for the version),
// so the answer is always printable:
//
//	spook version
//	spook v0.0.0-devel commit 5049e3c1a2b4 (2026-12-06T21:40:00Z, modified) go1.26.8
//
// `spook version`, `spook --version`, `spookd --version`, GET /v1/status
// ("version") and the node's start log line all print Get().String().
package buildinfo
