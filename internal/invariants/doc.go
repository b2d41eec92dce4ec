// Package invariants gates expensive self-checks behind the `invariants`
// build tag, which CI turns on (go test -tags invariants ./...). Code asks
//
//	if invariants.Enabled { ...check, panic on a programmer error... }
//
// and the compiler removes the block from ordinary builds, so the hot path
// pays nothing. Assertions are for programmer errors only; operating errors
// (bad input, I/O failure) are returned, never asserted.
package invariants
