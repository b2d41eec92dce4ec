package resp

import (
	"errors"
	"slices"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// Pub/sub on Redis keyspace-notification channels, fed by Backend.Watch.
//
// A client's first SUBSCRIBE or PSUBSCRIBE shares its connection: from
// then on, while it has subscriptions, a pump goroutine pushes
// notifications, and the connection's goroutine runs its commands one at
// a time. Both write under client.mu and flush after each command or
// notification. The connection stays shared after the client
// unsubscribes from everything, and serves ordinary commands again.

// Channel prefixes of Redis keyspace notifications (database 0 only).
const (
	keyspaceChannel = "__keyspace@0__:"
	keyeventChannel = "__keyevent@0__:"
)

// eventName names a change with a Redis notification event. A Change says
// what a key holds after a transaction, not which command wrote it, so the
// name is derived from the type: a key deleted after its deadline passed
// (the reclaim of an expired key) is "expired", another deleted key "del",
// a register "set", a counter "incrby", a set "sadd", a hash "hset", a
// sorted set "zadd", a stream "xadd" (XDEL and XTRIM too), a list "lpush"
// (every list write that leaves elements). SREM, HDEL and HINCRBY
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
	case crdt.TypeZSet:
		return "zadd"
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
		c.out.WritePush(3)
		c.out.WriteBulkString(kind)
		c.out.WriteBulk(ch)
		c.out.WriteInt(len(c.channels) + len(c.patterns))
	}
	if !c.shared {
		// Share once the command has returned (runBuffered).
		c.sharePending = c.subscribed()
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
		c.out.WritePush(3)
		c.out.WriteBulkString(kind)
		c.out.WriteNull()
		c.out.WriteInt(len(c.channels) + len(c.patterns))
		return
	}
	for _, n := range names {
		delete(set, n)
		c.out.WritePush(3)
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
	if c.pump != nil || !c.subscribed() || !c.shared {
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
					nc := c.out.nc
					_ = nc.SetWriteDeadline(time.Now().Add(PubSubWriteTimeout))
					c.out.WriteError("ERR max number of watchers reached on this node")
					_ = c.out.Flush()
					c.mu.Unlock()
				}
				c.out.nc.Close()
				return
			}
			c.mu.Lock()
			if c.pump != p {
				c.mu.Unlock()
				return
			}
			if c.notify(ch) {
				nc := c.out.nc
				_ = nc.SetWriteDeadline(time.Now().Add(PubSubWriteTimeout))
				if err := c.out.Flush(); err != nil {
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
	flags := c.server.notify.Load()
	if flags&eventClass(event) == 0 {
		return false
	}
	wrote := false
	pairs := [2][2]string{
		{keyspaceChannel + string(ch.Key), event},
		{keyeventChannel + event, string(ch.Key)},
	}
	for i, pair := range pairs {
		if flags&[2]uint32{notifyKeyspace, notifyKeyevent}[i] == 0 {
			continue
		}
		channel, message := pair[0], pair[1]
		if _, ok := c.channels[channel]; ok {
			c.out.WritePush(3)
			c.out.WriteBulkString("message")
			c.out.WriteBulkString(channel)
			c.out.WriteBulkString(message)
			wrote = true
		}
		for pat := range c.patterns {
			if globMatch([]byte(pat), []byte(channel)) {
				c.out.WritePush(4)
				c.out.WriteBulkString("pmessage")
				c.out.WriteBulkString(pat)
				c.out.WriteBulkString(channel)
				c.out.WriteBulkString(message)
				wrote = true
			}
		}
	}
	return wrote
}
