package sim

import "github.com/spooksystems/spook/replica"

// frame is one message in flight on a directed link.
type frame struct {
	payload   []byte
	deliverAt int    // step at which it arrives
	session   uint32 // the link session it was sent in
}

// link is one directed link between two nodes: a FIFO session, as a TCP
// connection would be, with its own codec state at each end (held by the
// simulator's node glue, indexed by the same from/to pair). A break loses
// every frame in flight and starts a new session, whose codecs start
// empty.
type link struct {
	from, to int     // node indexes
	queue    []frame // in send order; deliverAt never decreases along it
	head     int     // queue[:head] already delivered
	lastAt   int     // deliverAt of the newest frame (FIFO floor)
	session  uint32  // incremented by every break
	blocked  bool    // a partition cuts this direction
	active   bool    // listed in linkTable.active (sparse tables)

	// enc encodes at the sender, dec decodes at the receiver: the two
	// ends of one session's codec state. Nil until first use in a session.
	enc, dec *replica.LinkCodec
}

// pending is the number of frames in flight.
func (l *link) pending() int { return len(l.queue) - l.head }

// push queues a frame to arrive at step at. With fifo (a byte stream) a
// frame never overtakes the one before it; without (datagrams) frames are
// kept in arrival order, so a later one may arrive first.
func (l *link) push(payload []byte, at int, fifo bool) {
	f := frame{payload: payload, deliverAt: at, session: l.session}
	if fifo {
		if f.deliverAt < l.lastAt {
			f.deliverAt = l.lastAt
		}
		l.lastAt = f.deliverAt
		l.queue = append(l.queue, f)
		return
	}
	i := len(l.queue)
	for i > l.head && l.queue[i-1].deliverAt > at {
		i--
	}
	l.queue = append(l.queue, frame{})
	copy(l.queue[i+1:], l.queue[i:])
	l.queue[i] = f
}

// due returns the next frame if it is due at step now.
func (l *link) due(now int) (frame, bool) {
	if l.head == len(l.queue) || l.queue[l.head].deliverAt > now {
		return frame{}, false
	}
	return l.queue[l.head], true
}

// pop removes the head frame, reusing the queue's storage once drained.
func (l *link) pop() {
	l.queue[l.head] = frame{}
	l.head++
	if l.head == len(l.queue) {
		l.queue = l.queue[:0]
		l.head = 0
	}
}

// reset drops every frame in flight and starts a new session. It returns
// how many frames were lost.
func (l *link) reset() int {
	lost := l.pending()
	clear(l.queue)
	l.queue = l.queue[:0]
	l.head = 0
	l.lastAt = 0
	l.session++
	return lost
}

// partitionMatrix returns which directed links (from*n+to) shape s cuts
// for n nodes in regions regions, drawn from g. Only the up nodes take
// part in the choice of groups, but cuts apply to every node.
func partitionMatrix(g *rng, s shape, n, regions int) []bool {
	cut := make([]bool, n*n)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := g.intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	group := make([]int, n) // group[node]
	switch s {
	case shapeRegion:
		// One region, drawn, against the rest.
		cutOff := g.intn(max(1, regions))
		for i := range group {
			if i%max(1, regions) == cutOff {
				group[i] = 1
			}
		}
	case shapeIsolate:
		group[perm[0]] = 1
	case shapeMinority:
		k := 1 + g.intn(max(1, (n-1)/2))
		for i := 0; i < k; i++ {
			group[perm[i]] = 1
		}
	case shapeRing:
		// Node perm[i] reaches perm[i±1] only.
		pos := make([]int, n)
		for i, p := range perm {
			pos[p] = i
		}
		for a := 0; a < n; a++ {
			for b := 0; b < n; b++ {
				d := (pos[a] - pos[b] + n) % n
				if a != b && d != 1 && d != n-1 {
					cut[a*n+b] = true
				}
			}
		}
		return cut
	case shapeBridge:
		// perm[0] is the bridge; the rest split into two halves that
		// reach each other only through it.
		for i := 1; i < n; i++ {
			group[perm[i]] = 1 + i%2
		}
		for a := 0; a < n; a++ {
			for b := 0; b < n; b++ {
				if group[a] != 0 && group[b] != 0 && group[a] != group[b] {
					cut[a*n+b] = true
				}
			}
		}
		return cut
	case shapeOneWay:
		victim := perm[0]
		outbound := g.chance(0.5)
		for o := 0; o < n; o++ {
			if o == victim {
				continue
			}
			if outbound {
				cut[victim*n+o] = true
			} else {
				cut[o*n+victim] = true
			}
		}
		return cut
	}
	for a := 0; a < n; a++ {
		for b := 0; b < n; b++ {
			if group[a] != group[b] {
				cut[a*n+b] = true
			}
		}
	}
	return cut
}
