// Package mem is an in-memory transport for tests: a Network of named
// listeners whose connections are buffered in-memory pipes.
//
// Unlike net.Pipe, each direction of a connection buffers up to
// Network.MaxPipeBytes, so two ends may write at the same time as they
// can over TCP; a writer blocks only when the buffer is full. Connections
// support deadlines, Close wakes blocked calls, and nothing touches the
// operating system.
//
//	n := mem.NewNetwork()
//	l, _ := n.Listen("node-a")
//	c, _ := n.Dial(ctx, "node-a") // *Network implements transport.Dialer
//	s, _ := l.Accept()
//
// Concurrency: a Network and its Listeners are safe for concurrent use; a
// connection is safe for one reader and one writer at a time (plus Close
// and the deadline setters from anywhere), like a net.Conn.
package mem
