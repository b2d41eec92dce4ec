package resp

import (
	"errors"
	"slices"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Pub/sub on Redis keyspace-notification channels, fed by Backend.Watch.
//
// A client's first SUBSCRIBE or PSUBSCRIBE detaches its connection from
// redcon's loop: from then on a reader goroutine (serveDetached) runs its
// commands and, while it has subscriptions, a pump goroutine pushes
// notifications. Both write under client.mu and flush after each command
// or notification. The connection stays detached after the client
// unsubscribes from everything, and serves ordinary commands again.

// Channel prefixes of Redis keyspace notifications (database 0 only).
const (
	keyspaceChannel = "__keyspace@0__:"
	keyeventChannel = "__keyevent@0__:"
)

// eventName names a change with a Redis notification event. A Change says
// what a key holds after a transaction, not which command wrote it, so the
// name is derived from the type: a key deleted after its deadline passed
// (the reclaim of an expired key) is "expired", another deleted key "del", a register "set",
// a counter "incrby", a set "sadd", a hash "hset", a stream "xadd" (XDEL
// and XTRIM too), a list "lpush" (every list write that leaves elements). SREM, HDEL and HINCRBY
// that leave the key live are therefore reported as "sadd", "hset" and
// "hset" (docs/api.md).
func eventName(ch api.Change) string {
	if ch.Expired {
		return "expired"
	}
	if ch.Deleted {
		return "del"
	}
	switch ch.Type {
	case crdt.TypeRegister:
		return "set"
	case crdt.TypeCounter:
		return "incrby"
	case crdt.TypeSet:
		return "sadd"
	case crdt.TypeMap:
		return "hset"
	case crdt.TypeStream:
		return "xadd"
	case crdt.TypeList:
		return "lpush"
	}
	return "del"
}

func cmdSubscribe(s *Server, c *client, args [][]byte)  { subscribe(s, c, args, false) }
func cmdPSubscribe(s *Server, c *client, args [][]byte) { subscribe(s, c, args, true) }

func subscribe(s *Server, c *client, args [][]byte, pattern bool) {
	kind := "subscribe"
	set := &c.channels
	if pattern {
		kind, set = "psubscribe", &c.patterns
	}
	if *set == nil {
		*set = map[string]struct{}{}
	}
	for _, ch := range args[1:] {
		name := string(ch)
		if _, ok := (*set)[name]; !ok {
			if len(c.channels)+len(c.patterns) >= MaxSubscriptions {
				c.out.WriteError("ERR too many subscriptions (at most 4096 channels and patterns)")
				continue
			}
			(*set)[name] = struct{}{}
		}
		c.out.WriteArray(3)
		c.out.WriteBulkString(kind)
		c.out.WriteBulk(ch)
		c.out.WriteInt(len(c.channels) + len(c.patterns))
	}
	if c.dconn == nil {
		// Detach after the replies are written, once the handler
		// returns (Server.handle): the detached goroutine flushes them.
		c.detachPending = c.subscribed()
		return
	}
	c.ensurePump()
}

func cmdUnsubscribe(s *Server, c *client, args [][]byte)  { unsubscribe(c, args, false) }
func cmdPUnsubscribe(s *Server, c *client, args [][]byte) { unsubscribe(c, args, true) }

func unsubscribe(c *client, args [][]byte, pattern bool) {
	kind := "unsubscribe"
	set := c.channels
	if pattern {
		kind, set = "punsubscribe", c.patterns
	}
	names := make([]string, 0, len(args)-1)
	for _, a := range args[1:] {
		names = append(names, string(a))
	}
	if len(names) == 0 {
		for n := range set {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	if len(names) == 0 {
		c.out.WriteArray(3)
		c.out.WriteBulkString(kind)
		c.out.WriteNull()
		c.out.WriteInt(len(c.channels) + len(c.patterns))
		return
	}
	for _, n := range names {
		delete(set, n)
		c.out.WriteArray(3)
		c.out.WriteBulkString(kind)
		c.out.WriteBulkString(n)
		c.out.WriteInt(len(c.channels) + len(c.patterns))
	}
	if !c.subscribed() {
		c.stopPump()
	}
}

// pump is one running notification goroutine of a client.
type pump struct{ stop chan struct{} }

// ensurePump starts the client's pump if it has subscriptions and none
// runs. Called with c.mu held (or before the connection is shared).
func (c *client) ensurePump() {
	if c.pump != nil || !c.subscribed() || c.dconn == nil {
		return
	}
	p := &pump{stop: make(chan struct{})}
	c.pump = p
	sub := c.server.backend.Watch(nil, PubSubBuffer)
	c.server.wg.Add(1)
	go c.runPump(p, sub)
}

// stopPump tells the running pump, if any, to end. Called with c.mu held.
func (c *client) stopPump() {
	if c.pump != nil {
		close(c.pump.stop)
		c.pump = nil
	}
}

// runPump pushes notifications until stopped. If the watch ends (the
// client fell PubSubBuffer changes behind, the node stops, or it has as
// many watchers as it allows: then the client is told) or a push
// blocks longer than PubSubWriteTimeout, the client is disconnected: a
// subscriber never silently misses notifications, as Redis disconnects a
// subscriber over its output buffer limit.
func (c *client) runPump(p *pump, sub api.Subscription) {
	defer c.server.wg.Done()
	defer sub.Close()
	for {
		select {
		case <-p.stop:
			return
		case ch, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), api.ErrTooManyWatchers) {
					// Say why before hanging up.
					c.mu.Lock()
					nc := c.dconn.NetConn()
					_ = nc.SetWriteDeadline(time.Now().Add(PubSubWriteTimeout))
					c.dconn.WriteError("ERR max number of watchers reached on this node")
					_ = c.dconn.Flush()
					c.mu.Unlock()
				}
				c.dconn.NetConn().Close()
				return
			}
			c.mu.Lock()
			if c.pump != p {
				c.mu.Unlock()
				return
			}
			if c.notify(ch) {
				nc := c.dconn.NetConn()
				_ = nc.SetWriteDeadline(time.Now().Add(PubSubWriteTimeout))
				if err := c.dconn.Flush(); err != nil {
					nc.Close()
				}
				_ = nc.SetWriteDeadline(time.Time{})
			}
			c.mu.Unlock()
		}
	}
}

// notify writes the messages ch produces for the client's subscriptions
// and reports whether it wrote any. Called with c.mu held.
func (c *client) notify(ch api.Change) bool {
	if isReserved(ch.Key) {
		return false
	}
	event := eventName(ch)
	wrote := false
	pairs := [2][2]string{
		{keyspaceChannel + string(ch.Key), event},
		{keyeventChannel + event, string(ch.Key)},
	}
	for _, pair := range pairs {
		channel, message := pair[0], pair[1]
		if _, ok := c.channels[channel]; ok {
			c.dconn.WriteArray(3)
			c.dconn.WriteBulkString("message")
			c.dconn.WriteBulkString(channel)
			c.dconn.WriteBulkString(message)
			wrote = true
		}
		for pat := range c.patterns {
			if globMatch([]byte(pat), []byte(channel)) {
				c.dconn.WriteArray(4)
				c.dconn.WriteBulkString("pmessage")
				c.dconn.WriteBulkString(pat)
				c.dconn.WriteBulkString(channel)
				c.dconn.WriteBulkString(message)
				wrote = true
			}
		}
	}
	return wrote
}

// detach takes the connection out of redcon's loop after a first
// subscription and serves it from a goroutine of its own.
func (s *Server) detach(c *client, conn redcon.Conn) {
	dc := conn.Detach()
	c.mu.Lock()
	c.dconn, c.out = dc, dc
	c.mu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.detached[c] = struct{}{}
	s.mu.Unlock()
	if closed {
		dc.NetConn().Close() // Shutdown may have missed it; the reader ends at once
	}
	s.wg.Add(1)
	go s.serveDetached(c)
}

// serveDetached runs a detached connection's commands until it closes.
func (s *Server) serveDetached(c *client) {
	defer s.wg.Done()
	defer func() {
		c.mu.Lock()
		c.stopPump()
		c.dconn.Close()
		c.mu.Unlock()
		s.mu.Lock()
		delete(s.detached, c)
		s.mu.Unlock()
		s.clients.Add(-1)
	}()
	c.mu.Lock()
	c.ensurePump()
	err := c.dconn.Flush()
	c.mu.Unlock()
	if err != nil {
		return
	}
	for {
		cmd, err := c.dconn.ReadCommand()
		if err != nil {
			return
		}
		c.mu.Lock()
		s.dispatch(c, cmd.Args)
		err = c.dconn.Flush()
		quit := c.quit
		c.mu.Unlock()
		if err != nil || quit {
			return
		}
	}
}
