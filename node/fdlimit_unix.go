//go:build unix

package node

import "syscall"

// openFileLimit is the process's descriptor limit (RLIMIT_NOFILE, soft;
// the Go runtime raises it to the hard limit at start), or 0 if unknown.
func openFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 0
	}
	return int(min(rl.Cur, 1<<30))
}
