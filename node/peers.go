package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/transport"
	"github.com/spooksystems/spook/wire"
)

// peerSet holds one outbound link per peer.
type peerSet struct {
	n *Node

	mu    sync.Mutex
	peers map[causal.NodeID]*peer
	// heard holds who introduced themselves on inbound links: a joining
	// node is not a member yet (nor a join peer), and this is the only
	// place its address is known, so replies to it can be sent.
	heard map[causal.NodeID]replica.Peer
	// inbound holds the open inbound sessions by peer, so reconcile can
	// close those of a member removed while connected.
	inbound map[causal.NodeID]map[*inboundSession]struct{}
	done    bool
	wg      sync.WaitGroup
	// stop is closed by close, after the node's loop has queued its last
	// messages: links then flush their queues and end.
	stop chan struct{}
}

// peer is the outbound side of one peer: a queue drained by one goroutine
// that keeps a link open. Pushed transactions in the queue are bounded in
// bytes by the driver core's window for the peer; other messages (probes,
// digests, answers) by count, PeerQueueMax.
type peer struct {
	id   causal.NodeID
	name string
	addr string
	stop chan struct{}
	// stopText, set before stop is closed, is the Close text telling a
	// removed member why ("" for any other stop).
	stopText string

	mu       sync.Mutex
	queue    []replica.Message // oldest first
	control  int               // messages in queue that are not MsgTxns or MsgPublish
	publish  int               // MsgPublish messages in queue (MaxQueuedPublishes)
	wake     chan struct{}     // capacity 1: the queue is not empty
	redial   chan struct{}     // capacity 1: cut a reconnect backoff short
	dropped  uint64            // messages refused because the queue was full
	maxQueue int               // PeerQueueMax
}

// push queues m unless it would take the control messages past their
// bound. Pushed transactions are never refused here: the core's window
// bounds them (and maxTxnMessages guards against a core that does not).
func (p *peer) push(m replica.Message) bool {
	p.mu.Lock()
	isTxns, isPublish := m.Type == replica.MsgTxns, m.Type == replica.MsgPublish
	if (isPublish && p.publish >= MaxQueuedPublishes) || (!isTxns && !isPublish && p.control >= p.maxQueue) || len(p.queue) >= maxQueuedMessages {
		p.dropped++
		p.mu.Unlock()
		return false
	}
	switch {
	case isPublish:
		p.publish++
	case !isTxns:
		p.control++
	}
	p.queue = append(p.queue, m)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves every queued message into dst (emptied first) and returns it.
func (p *peer) take(dst []replica.Message) []replica.Message {
	p.mu.Lock()
	dst = append(dst[:0], p.queue...)
	clear(p.queue)
	p.queue, p.control, p.publish = p.queue[:0], 0, 0
	p.mu.Unlock()
	return dst
}

// redial cuts short the reconnect backoff of the link to id, if any.
func (ps *peerSet) redial(id causal.NodeID) {
	ps.mu.Lock()
	p := ps.peers[id]
	ps.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case p.redial <- struct{}{}:
	default:
	}
}

// discard empties the queue, returning how many messages it dropped.
func (p *peer) discard() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.queue)
	p.dropped += uint64(n)
	clear(p.queue)
	p.queue, p.control, p.publish = p.queue[:0], 0, 0
	return n
}

// maxQueuedMessages caps the messages queued for one peer whatever their
// kind: 64 Ki, far above what the window admits in small batches.
const maxQueuedMessages = 1 << 16

func newPeerSet(n *Node) *peerSet {
	return &peerSet{n: n, peers: map[causal.NodeID]*peer{}, heard: map[causal.NodeID]replica.Peer{},
		inbound: map[causal.NodeID]map[*inboundSession]struct{}{}, stop: make(chan struct{})}
}

// hello is this node's handshake greeting.
func (ps *peerSet) hello() wire.Hello {
	n := ps.n
	return wire.Hello{
		ClusterID: n.cfg.Cluster,
		Node:      causal.NodeIDFromName(n.cfg.Name),
		NodeName:  n.cfg.Name,
		Addr:      n.advertised(),
		// This node takes client messages from its peers (publish.go).
		Capabilities: wire.CapPublish,
	}
}

// identify dials each join address once to learn who answers there, so
// the replica can be told which peers to fetch a snapshot from.
func (ps *peerSet) identify(addrs []string) ([]replica.Peer, error) {
	var peers []replica.Peer
	var errs []error
	for _, addr := range addrs {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultDialTimeout+DefaultHandshakeTimeout)
		conn, raw, err := ps.dial(ctx, addr, 0)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		remote := conn.Remote()
		raw.Close()
		peers = append(peers, replica.Peer{ID: remote.Node, Name: remote.NodeName, Addr: addr})
	}
	if len(peers) == 0 {
		return nil, fmt.Errorf("node: no join address answered: %w", errors.Join(errs...))
	}
	return peers, nil
}

// dial opens a link to addr: TCP (or a WebSocket for a ws:// or wss://
// address), TLS if configured, then the handshake, admitting the peer by
// admitPeer (want, if not zero, is the node expected there).
func (ps *peerSet) dial(ctx context.Context, addr string, want causal.NodeID) (*wire.Conn, net.Conn, error) {
	var raw net.Conn
	var err error
	if strings.HasPrefix(addr, "ws://") || strings.HasPrefix(addr, "wss://") {
		dctx, cancel := context.WithTimeout(ctx, DefaultDialTimeout)
		raw, err = (&transport.WSDialer{}).Dial(dctx, addr)
		cancel()
	} else {
		d := net.Dialer{Timeout: DefaultDialTimeout}
		raw, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, nil, err
	}
	if tc := ps.n.cfg.ClientTLS; tc != nil {
		tc = tc.Clone()
		if tc.ServerName == "" {
			tc.ServerName = dialHost(addr)
		}
		tlsConn := tls.Client(raw, tc)
		tlsConn.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, fmt.Errorf("tls: %w", err)
		}
		raw = tlsConn
	}
	raw.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
	conn, err := wire.Handshake(raw, wire.Initiator, ps.n.wireConfig(ps.n.admitPeer(raw, want)))
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	raw.SetDeadline(time.Time{})
	return conn, raw, nil
}

// send queues a message for its peer. It reports false, dropping the
// message, when the peer's queue is full: the loop tells the driver core
// (NotSent), and the replica's anti-entropy repairs what the message
// would have carried, so a stalled peer costs bounded memory.
func (ps *peerSet) send(env replica.Envelope) bool {
	p := ps.get(env.To)
	if p == nil {
		return true // no address known (yet): as good as a lost message
	}
	if p.push(env.Message) {
		return true
	}
	ps.n.metrics.dropped.WithLabelValues(p.name).Inc()
	return false
}

// get returns the peer for id, starting its dialing link if the replica
// knows an address for it. With attach set, a peer without an address is
// created too (it is reached only through bridged sessions, see
// serveBridged).
func (ps *peerSet) get(id causal.NodeID) *peer {
	return ps.getOrAttach(id, "", false)
}

func (ps *peerSet) getOrAttach(id causal.NodeID, name string, attach bool) *peer {
	if ps.n.removed() {
		return nil // members refuse a removed node: no link, no dial
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.peers[id]; ok || ps.done {
		return p
	}
	known, addr := ps.lookup(id)
	if addr == "" && !attach {
		return nil
	}
	if known != "" {
		name = known
	}
	p := &peer{id: id, name: name, addr: addr, stop: make(chan struct{}),
		wake: make(chan struct{}, 1), redial: make(chan struct{}, 1), maxQueue: ps.n.cfg.PeerQueueMax}
	ps.peers[id] = p
	if addr != "" {
		ps.wg.Add(1)
		go ps.run(p)
	}
	return p
}

// lookup finds a peer's name and address among the replica's members and
// the configured join peers. Called with ps.mu held (not n.mu).
func (ps *peerSet) lookup(id causal.NodeID) (name, addr string) {
	n := ps.n
	n.mu.RLock()
	members := n.r.Members()
	n.mu.RUnlock()
	for _, m := range members {
		if m.ID == id && !m.Self {
			return m.Name, m.Addr
		}
	}
	for _, p := range n.joinPeers {
		if p.ID == id {
			return p.Name, p.Addr
		}
	}
	if p, ok := ps.heard[id]; ok {
		return p.Name, p.Addr
	}
	return "", ""
}

// reconcile stops links to members that left or were removed, and
// closes their inbound links, telling a removed member why (it learns it
// was removed from the Close reason). Once this node itself is removed it
// stops every link: members refuse it anyway.
func (ps *peerSet) reconcile() {
	n := ps.n
	selfRemoved := n.noteRemoval()
	n.mu.RLock()
	members := n.r.Members()
	n.mu.RUnlock()
	gone := map[causal.NodeID]string{} // id → Close text for a removed member
	for _, m := range members {
		switch m.State {
		case replica.StateLeft:
			gone[m.ID] = ""
		case replica.StateRemoved:
			gone[m.ID], _ = n.removedMember(m.ID, m.Name)
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for id, p := range ps.peers {
		if _, ok := gone[id]; ok || selfRemoved {
			p.stopText = gone[id]
			close(p.stop)
			delete(ps.peers, id)
		}
	}
	for id, sessions := range ps.inbound {
		text, ok := gone[id]
		if !ok || text == "" {
			continue
		}
		for s := range sessions {
			go s.closeRemoved(text)
		}
		delete(ps.inbound, id)
	}
}

// inboundSession is one inbound link, tracked so a member removed while
// connected can be told.
type inboundSession struct {
	conn *wire.Conn
	raw  net.Conn
}

// closeRemoved tells the peer it was removed and ends the session. The
// session's reader is its only other user, and wire.Conn allows one
// writer beside it.
func (s *inboundSession) closeRemoved(text string) {
	s.raw.SetWriteDeadline(time.Now().Add(DefaultHandshakeTimeout))
	s.conn.WriteClose(wire.ReasonRemoved, text)
	s.raw.Close()
}

// trackInbound registers an inbound session of node id and returns the
// function that forgets it.
func (ps *peerSet) trackInbound(id causal.NodeID, conn *wire.Conn, raw net.Conn) func() {
	s := &inboundSession{conn: conn, raw: raw}
	ps.mu.Lock()
	if ps.inbound[id] == nil {
		ps.inbound[id] = map[*inboundSession]struct{}{}
	}
	ps.inbound[id][s] = struct{}{}
	ps.mu.Unlock()
	return func() {
		ps.mu.Lock()
		delete(ps.inbound[id], s)
		if len(ps.inbound[id]) == 0 {
			delete(ps.inbound, id)
		}
		ps.mu.Unlock()
	}
}

// run keeps one outbound link to p open and drains its queue into it,
// reconnecting with jittered exponential backoff.
func (ps *peerSet) run(p *peer) {
	defer ps.wg.Done()
	n := ps.n
	backoff := DefaultBackoffMin
	for {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-p.stop:
			case <-ps.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		conn, raw, err := ps.dial(ctx, p.addr, p.id)
		if err == nil {
			backoff = DefaultBackoffMin
			n.log.Debug("link up", "peer", p.name, "addr", p.addr)
			n.metrics.links.WithLabelValues(p.name).Inc()
			err = ps.pump(p, conn, raw)
			raw.Close()
			n.linkDown(p.id)
			n.log.Debug("link down", "peer", p.name, "err", err)
		} else if errors.Is(err, wire.ErrPeerRefused) {
			n.log.Warn("peer refused our link", "peer", p.name, "addr", p.addr, "err", err)
		} else {
			n.log.Debug("dial failed", "peer", p.name, "addr", p.addr, "err", err)
		}
		n.learnRemoval(err)
		cancel()
		if err != nil && p.discard() > 0 {
			// The peer cannot be reached: what waits for it would only
			// grow while it is down. Drop it; the core releases the
			// window, and the peer fetches what it lacks once back.
			n.linkDown(p.id)
		}
		// Full jitter: sleep a uniform time in [backoff/2, backoff).
		sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		select {
		case <-p.stop:
			return
		case <-ps.stop:
			return
		case <-p.redial:
			backoff = DefaultBackoffMin
			continue
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, DefaultBackoffMax)
	}
}

// pump writes queued messages to one link session until the link fails
// or the peer is stopped. The session's LinkCodec lives and dies with it.
func (ps *peerSet) pump(p *peer, conn *wire.Conn, raw net.Conn) error {
	// The remote never sends after the handshake except a Close frame; a
	// reader notices the link dying even when we have nothing to send.
	dead := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.ReadFrame(); err != nil {
				dead <- err
				return
			}
		}
	}()
	return ps.write(p, conn, raw, replica.NewLinkCodec(), dead)
}

// write drains p's queue into one session until the session dies (dead
// receives), the peer is stopped, or the node stops. It takes everything
// queued at once and flushes once per batch.
func (ps *peerSet) write(p *peer, conn *wire.Conn, raw net.Conn, codec *replica.LinkCodec, dead <-chan error) error {
	sent := ps.n.metrics.bytesSent.WithLabelValues(p.name)
	var buf []byte
	var batch []replica.Message
	for {
		select {
		case <-p.wake:
		case err := <-dead:
			return err
		case <-p.stop:
			if p.stopText != "" {
				conn.WriteClose(wire.ReasonRemoved, p.stopText)
			} else {
				conn.WriteClose(wire.ReasonShutdown, "peer left")
			}
			conn.Flush()
			return nil
		case <-ps.stop:
			// A fresh deadline: the last one may have expired while the
			// link sat idle, and would fail the drain at once.
			raw.SetWriteDeadline(time.Now().Add(DefaultHandshakeTimeout))
			batch = p.take(batch)
			ps.writeBatch(conn, codec, batch, buf)
			conn.WriteClose(wire.ReasonShutdown, "node shutting down")
			conn.Flush()
			return nil
		}
		batch = p.take(batch)
		raw.SetWriteDeadline(time.Now().Add(DefaultHandshakeTimeout))
		var bytes int
		var err error
		if buf, bytes, err = ps.writeBatch(conn, codec, batch, buf); err != nil {
			return err
		}
		sent.Add(float64(bytes))
		if err := conn.Flush(); err != nil {
			return err
		}
	}
}

// writeBatch encodes and writes msgs (not flushed), returning the buffer
// for reuse and the payload bytes written.
func (ps *peerSet) writeBatch(conn *wire.Conn, codec *replica.LinkCodec, msgs []replica.Message, buf []byte) ([]byte, int, error) {
	total := 0
	publish := conn.Capabilities()&wire.CapPublish != 0
	for i := range msgs {
		if msgs[i].Type == replica.MsgPublish && !publish {
			continue // the peer does not know the message type (publish.go)
		}
		var err error
		if buf, err = codec.Encode(buf[:0], &msgs[i]); err != nil {
			return buf, total, fmt.Errorf("encode: %w", err)
		}
		if err := conn.WriteFrame(wire.TypeMessage, buf); err != nil {
			return buf, total, err
		}
		total += len(buf)
	}
	clear(msgs) // drop references to transactions already written
	return buf, total, nil
}

// stopLinks ends every outbound link without flushing (fail-stop: a
// failed node sends nothing more) and starts no new one.
func (ps *peerSet) stopLinks() {
	ps.mu.Lock()
	ps.done = true
	for id, p := range ps.peers {
		close(p.stop)
		delete(ps.peers, id)
	}
	ps.mu.Unlock()
}

// close stops every link and waits for them.
func (ps *peerSet) close() {
	ps.mu.Lock()
	ps.done = true
	close(ps.stop)
	ps.mu.Unlock()
	ps.wg.Wait()
}

// serveInbound runs the handshake on an accepted peer connection and
// steps every message it carries into the replica until it closes.
func (n *Node) serveInbound(raw net.Conn) {
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
	conn, err := wire.Handshake(raw, wire.Responder, n.wireConfig(n.admitPeer(raw, 0)))
	if err != nil {
		// Nothing about a refused peer is kept: no heard entry, no link.
		n.log.Warn("peer refused", "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	raw.SetDeadline(time.Time{})
	remote := conn.Remote()
	if remote.Addr != "" {
		n.peers.mu.Lock()
		n.peers.heard[remote.Node] = replica.Peer{ID: remote.Node, Name: remote.NodeName, Addr: remote.Addr}
		n.peers.mu.Unlock()
	}
	defer n.peers.trackInbound(remote.Node, conn, raw)()
	// The peer is up: if our link to it waits out a backoff (it broke
	// while the peer restarted), dial now, so replies reach it at once
	// rather than after seconds of suspicion.
	n.peers.redial(remote.Node)
	n.learnRemoval(n.readSession(conn, replica.NewLinkCodec()))
}

// readSession steps every message of one session into the replica until
// the session ends, and returns why. A client message (MsgPublish) goes
// to this node's subscribers instead (publish.go).
func (n *Node) readSession(conn *wire.Conn, codec *replica.LinkCodec) error {
	remote := conn.Remote()
	for {
		t, payload, err := conn.ReadFrame()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				n.log.Debug("inbound link closed", "peer", remote.NodeName, "err", err)
			}
			return err
		}
		if t != wire.TypeMessage {
			continue
		}
		n.metrics.bytesReceived.WithLabelValues(remote.NodeName).Add(float64(len(payload)))
		m, err := codec.Decode(payload)
		if err != nil {
			n.log.Warn("undecodable message; closing link", "peer", remote.NodeName, "err", err)
			return err
		}
		if m.Type == replica.MsgPublish {
			n.receivePublish(remote.Node, m) // not replicated state: the replica never sees it
			continue
		}
		n.deliver(remote.Node, m)
	}
}

// BridgePreface opens a connection from a byte-stream bridge (`spook link
// --stdio`): these 8 bytes, then one role byte, BridgeInitiate or
// BridgeRespond, telling the node which side of the handshake to play on
// this connection. The two bridges of one stream agree on roles between
// themselves first, so exactly one node initiates.
const (
	BridgePreface  = "SPOOKLNK"
	BridgeInitiate = 'I'
	BridgeRespond  = 'R'
)

// serveBridged runs a peer session that arrived through a bridge. Unlike a
// dialed link it carries messages both ways: the remote node may have no
// address this node can dial (it is reachable only through the stream).
func (n *Node) serveBridged(raw net.Conn, role byte) {
	defer raw.Close()
	wrole := wire.Responder
	if role == BridgeInitiate {
		wrole = wire.Initiator
	}
	raw.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
	conn, err := wire.Handshake(raw, wrole, n.wireConfig(n.admitBridged(raw)))
	if err != nil {
		n.log.Warn("bridged peer refused", "err", err)
		n.learnRemoval(err)
		return
	}
	raw.SetDeadline(time.Time{})
	remote := conn.Remote()
	p := n.peers.getOrAttach(remote.Node, remote.NodeName, true)
	if p == nil {
		return // shutting down
	}
	n.log.Info("bridged link up", "peer", remote.NodeName)
	dead := make(chan error, 1)
	go func() { dead <- n.readSession(conn, replica.NewLinkCodec()) }()
	err = n.peers.write(p, conn, raw, replica.NewLinkCodec(), dead)
	raw.Close()
	n.linkDown(remote.Node)
	n.log.Info("bridged link down", "peer", remote.NodeName, "err", err)
	n.learnRemoval(err)
}
