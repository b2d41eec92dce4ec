//go:build !unix

package resp

import "syscall"

// connGone cannot peek at a socket on this platform: a blocked client
// waits out its timeout.
func connGone(c syscall.Conn) bool { return false }
