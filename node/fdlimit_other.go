//go:build !unix

package node

// openFileLimit is 0 (unknown) where the platform has no RLIMIT_NOFILE.
func openFileLimit() int { return 0 }
