// Package lint holds the project's checkable rules as Go tests, so
// `go test ./...` enforces them on every run:
//
//   - the pure packages (causal, crdt, replica) import none of time, net,
//     os, sync, math/rand, crypto/rand or log, directly or through another
//     project package that does;
//   - every package has exactly one doc.go carrying the package comment.
//
// The package has no non-test code.
package lint
