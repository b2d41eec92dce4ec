package resp

import (
	"bytes"
	"strings"
)

// CONFIG GET and CONFIG SET cover the parameters that mean something on
// one Spook node; everything else is configured by the node's flags and
// answers Redis's error for an unknown parameter. Settings are per node
// and not persisted: a restart goes back to the defaults.

// Keyspace notification flags (notify-keyspace-events), Redis's letters.
const (
	notifyKeyspace uint32 = 1 << iota // K: __keyspace@0__ channels
	notifyKeyevent                    // E: __keyevent@0__ channels
	notifyGeneric                     // g: del
	notifyString                      // $: set, incrby
	notifyList                        // l
	notifySet                         // s
	notifyHash                        // h
	notifyZSet                        // z
	notifyExpired                     // x
	notifyEvicted                     // e (Spook never evicts)
	notifyStream                      // t
	notifyModule                      // d (no modules)
	notifyKeyMiss                     // m (not published by Spook)
	notifyNew                         // n (not published by Spook)

	// notifyAll is Redis's A: every class but m and n.
	notifyAll = notifyGeneric | notifyString | notifyList | notifySet | notifyHash |
		notifyZSet | notifyExpired | notifyEvicted | notifyStream | notifyModule
	// defaultNotify is what Spook publishes until CONFIG SET changes it:
	// everything (Redis's default is nothing; Spook's notifications have
	// always been on).
	defaultNotify = notifyAll | notifyKeyspace | notifyKeyevent
)

// notifyLetters are the class letters in the order Redis prints them.
var notifyLetters = []struct {
	c    byte
	flag uint32
}{
	{'g', notifyGeneric}, {'$', notifyString}, {'l', notifyList}, {'s', notifySet},
	{'h', notifyHash}, {'z', notifyZSet}, {'x', notifyExpired}, {'e', notifyEvicted},
	{'t', notifyStream}, {'d', notifyModule},
}

// parseNotify parses a notify-keyspace-events value.
func parseNotify(v []byte) (uint32, bool) {
	var f uint32
	for _, c := range v {
		switch c {
		case 'A':
			f |= notifyAll
		case 'K':
			f |= notifyKeyspace
		case 'E':
			f |= notifyKeyevent
		case 'm':
			f |= notifyKeyMiss
		case 'n':
			f |= notifyNew
		default:
			i := bytes.IndexByte([]byte("g$lshzxetd"), c)
			if i < 0 {
				return 0, false
			}
			f |= notifyLetters[i].flag
		}
	}
	return f, true
}

// notifyText renders flags as Redis does.
func notifyText(f uint32) string {
	var b strings.Builder
	if f&notifyAll == notifyAll {
		b.WriteByte('A')
	} else {
		for _, l := range notifyLetters {
			if f&l.flag != 0 {
				b.WriteByte(l.c)
			}
		}
	}
	for _, l := range []struct {
		c    byte
		flag uint32
	}{{'K', notifyKeyspace}, {'E', notifyKeyevent}, {'m', notifyKeyMiss}} {
		if f&l.flag != 0 {
			b.WriteByte(l.c)
		}
	}
	return b.String()
}

// eventClass is the notification class of a Spook event name.
func eventClass(event string) uint32 {
	switch event {
	case "set", "incrby":
		return notifyString
	case "lpush":
		return notifyList
	case "sadd":
		return notifySet
	case "hset":
		return notifyHash
	case "zadd":
		return notifyZSet
	case "xadd":
		return notifyStream
	case "expired":
		return notifyExpired
	}
	return notifyGeneric
}

// maxmemoryPolicies are the values Redis accepts for maxmemory-policy.
var maxmemoryPolicies = []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"}

// configParams are the parameters CONFIG GET lists, in its order.
var configParams = []string{"maxmemory-policy", "notify-keyspace-events"}

func (s *Server) configValue(name string) string {
	switch name {
	case "maxmemory-policy":
		return "noeviction"
	case "notify-keyspace-events":
		return notifyText(s.notify.Load())
	}
	return ""
}

// cmdConfig is CONFIG GET pattern..., CONFIG SET (param value)...,
// CONFIG RESETSTAT; other subcommands are refused.
func cmdConfig(s *Server, c *client, args [][]byte) {
	switch strings.ToLower(string(args[1])) {
	case "get":
		if len(args) < 3 {
			c.out.WriteError("ERR wrong number of arguments for 'config|get' command")
			return
		}
		var names []string
		for _, p := range configParams {
			for _, pat := range args[2:] {
				if globMatch(bytes.ToLower(pat), []byte(p)) {
					names = append(names, p)
					break
				}
			}
		}
		c.out.WriteArray(2 * len(names))
		for _, n := range names {
			c.out.WriteBulkString(n)
			c.out.WriteBulkString(s.configValue(n))
		}
	case "set":
		configSet(s, c, args)
	case "resetstat":
		c.out.WriteString("OK")
	default:
		c.out.WriteError("ERR CONFIG " + strings.ToUpper(oneLine(string(args[1]))) + " is not supported by Spook")
	}
}

// configSet checks every pair before it applies any, as Redis does.
func configSet(s *Server, c *client, args [][]byte) {
	if len(args) < 4 {
		c.out.WriteError("ERR wrong number of arguments for 'config|set' command")
		return
	}
	if len(args)%2 != 0 {
		c.out.WriteError("ERR syntax error")
		return
	}
	failed := func(name, why string) {
		c.out.WriteError("ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + why)
	}
	seen := map[string]bool{}
	notify, setNotify := uint32(0), false
	for i := 2; i < len(args); i += 2 {
		name, v := strings.ToLower(string(args[i])), args[i+1]
		switch name {
		case "notify-keyspace-events":
			f, ok := parseNotify(v)
			if !ok {
				failed(name, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
				return
			}
			notify, setNotify = f, true
		case "maxmemory-policy":
			p := strings.ToLower(string(v))
			if p != "noeviction" {
				for _, ok := range maxmemoryPolicies {
					if p == ok {
						failed(name, "Spook never evicts keys: only noeviction is supported")
						return
					}
				}
				failed(name, "argument(s) must be one of the following: "+strings.Join(maxmemoryPolicies, ", "))
				return
			}
		default:
			c.out.WriteError("ERR Unknown option or number of arguments for CONFIG SET - '" + oneLine(string(args[i])) + "'")
			return
		}
		if seen[name] {
			failed(name, "duplicate parameter")
			return
		}
		seen[name] = true
	}
	if setNotify {
		s.notify.Store(notify)
	}
	c.out.WriteString("OK")
}
