//go:build unix

package resp

import "syscall"

// connGone peeks one byte from the socket (non-blocking, as Go keeps every
// socket) without consuming it: a zero-length
// read is the peer's close (EOF); data or "would block" mean it is open.
func connGone(c syscall.Conn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	var buf [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK)
		gone = n == 0 && err == nil || err == syscall.ECONNRESET
		return true
	})
	return gone
}
