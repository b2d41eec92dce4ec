package resp

import (
	"slices"
	"strings"
	"time"

	"github.com/spooksystems/spook/api"
)

// PUBLISH and PUBSUB: client messages.
//
// A message published on a node reaches the clients subscribed on that
// node at once and, when the backend is an api.Publisher (a node), the
// clients subscribed on every other member: it travels once on the peer
// links, is not replicated state, and is dropped rather than queued
// without bound (docs/api.md). PUBLISH's reply counts this node's
// deliveries only, as Redis Cluster's does; PUBSUB answers for this node.
// Delivery is at most once: a subscriber that cannot take a message
// within PubSubWriteTimeout is disconnected, as a keyspace subscriber
// that falls behind is, so it never silently misses one and stays
// connected.

// eachSubscriber calls fn, holding o.mu, for every shared connection o
// of the node other than self: every client with a subscription is among
// them. self cannot have subscriptions (in subscribed mode only the
// subscription commands run), so it is skipped. A shared self runs its
// command holding self.mu (runBuffered); that lock is released
// meanwhile, so two shared publishers never wait on each other.
func (s *Server) eachSubscriber(self *client, fn func(o *client)) {
	if self == nil {
		self = &client{} // a message from another member: no publishing connection
	}
	s.mu.Lock()
	others := make([]*client, 0, len(s.subscribers))
	for o := range s.subscribers {
		if o != self {
			others = append(others, o)
		}
	}
	s.mu.Unlock()
	if self.shared {
		self.mu.Unlock()
		defer self.mu.Lock()
	}
	for _, o := range others {
		o.mu.Lock()
		fn(o)
		o.mu.Unlock()
	}
}

// cmdPublish is PUBLISH channel message: it answers how many deliveries
// were made (a client subscribed to the channel and to a matching pattern
// gets, and counts, both), as Redis.
func cmdPublish(s *Server, c *client, args [][]byte) {
	channel, message := args[1], args[2]
	n := 0
	s.eachSubscriber(c, func(o *client) { n += o.deliver(channel, message) })
	if p, ok := s.backend.(api.Publisher); ok {
		p.Publish(channel, message)
	}
	c.out.WriteInt(n)
}

// DeliverPublished delivers a message PUBLISHed on another member to this
// node's subscribers (api.Publisher's handler).
func (s *Server) DeliverPublished(channel, message []byte) {
	s.eachSubscriber(nil, func(o *client) { o.deliver(channel, message) })
}

// deliver writes message to the client for each of its subscriptions
// that channel matches and flushes it; it returns the deliveries made.
// Called with c.mu held.
func (c *client) deliver(channel, message []byte) int {
	if !c.shared {
		return 0
	}
	n := 0
	if _, ok := c.channels[string(channel)]; ok {
		c.out.WritePush(3)
		c.out.WriteBulkString("message")
		c.out.WriteBulk(channel)
		c.out.WriteBulk(message)
		n++
	}
	for pat := range c.patterns {
		if globMatch([]byte(pat), channel) {
			c.out.WritePush(4)
			c.out.WriteBulkString("pmessage")
			c.out.WriteBulkString(pat)
			c.out.WriteBulk(channel)
			c.out.WriteBulk(message)
			n++
		}
	}
	if n > 0 {
		nc := c.out.nc
		_ = nc.SetWriteDeadline(time.Now().Add(PubSubWriteTimeout))
		if err := c.out.Flush(); err != nil {
			nc.Close()
		}
		_ = nc.SetWriteDeadline(time.Time{})
	}
	return n
}

// pubsubHelp is PUBSUB HELP's reply.
var pubsubHelp = []string{
	"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CHANNELS [<pattern>]",
	"    Return the currently active channels matching a <pattern> (default: '*'),",
	"    on this node.",
	"NUMPAT",
	"    Return number of subscriptions to patterns on this node.",
	"NUMSUB [<channel> ...]",
	"    Return the number of subscribers on this node for the specified channels.",
	"HELP",
	"    Print this help.",
}

// cmdPubSub is PUBSUB CHANNELS/NUMSUB/NUMPAT/HELP, counting this node's
// clients.
func cmdPubSub(s *Server, c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	arityOK := map[string]bool{
		"channels": len(args) <= 3, "numsub": true, "numpat": len(args) == 2, "help": len(args) == 2,
	}
	ok, known := arityOK[sub]
	if !known {
		c.out.WriteError("ERR unknown subcommand '" + oneLine(string(args[1])) + "'. Try PUBSUB HELP.")
		return
	}
	if !ok {
		c.out.WriteError("ERR wrong number of arguments for 'pubsub|" + sub + "' command")
		return
	}
	each := func(fn func(o *client)) { s.eachSubscriber(c, fn) }
	switch sub {
	case "help":
		c.out.WriteRaw(appendHelp(nil, pubsubHelp))
	case "channels":
		seen := map[string]struct{}{}
		each(func(o *client) {
			for ch := range o.channels {
				if len(args) == 2 || globMatch(args[2], []byte(ch)) {
					seen[ch] = struct{}{}
				}
			}
		})
		names := make([]string, 0, len(seen))
		for ch := range seen {
			names = append(names, ch)
		}
		slices.Sort(names)
		c.out.WriteArray(len(names))
		for _, ch := range names {
			c.out.WriteBulkString(ch)
		}
	case "numsub":
		counts := make([]int, len(args)-2)
		each(func(o *client) {
			for i, ch := range args[2:] {
				if _, ok := o.channels[string(ch)]; ok {
					counts[i]++
				}
			}
		})
		c.out.WriteArray(2 * len(counts))
		for i, ch := range args[2:] {
			c.out.WriteBulk(ch)
			c.out.WriteInt(counts[i])
		}
	case "numpat":
		patterns := map[string]struct{}{} // Redis counts distinct patterns
		each(func(o *client) {
			for p := range o.patterns {
				patterns[p] = struct{}{}
			}
		})
		c.out.WriteInt(len(patterns))
	}
}
